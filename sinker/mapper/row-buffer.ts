// A growable byte buffer of encoded rows, written by Mapper.mapInto: row k is buf[start(k), ends[k]).
// One per consumed Kafka batch: the rows wait here while the batch's dead letters are written, then
// the batcher copies them into the load bodies.
import { Buffer } from 'node:buffer';

export class RowBuffer {
  buf: Buffer;
  pos = 0;
  /** End of each row (exclusive); a row starts where the previous one ended. */
  readonly ends: number[] = [];

  /** `capacity` in bytes, or a buffer to write into (a whole ArrayBuffer, reused). */
  constructor(capacity: number | Buffer = 64 * 1024) {
    // never from the shared pool: a worker hands the whole ArrayBuffer over to the main thread
    this.buf = typeof capacity === 'number' ? Buffer.allocUnsafeSlow(Math.max(256, capacity)) : capacity;
  }

  get rowCount(): number {
    return this.ends.length;
  }

  start(k: number): number {
    return k === 0 ? 0 : this.ends[k - 1]!;
  }

  /** Empties it for reuse (keeps the memory). */
  clear(): void {
    this.pos = 0;
    this.ends.length = 0;
  }

  /** Room for `n` more bytes. */
  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(need, this.buf.length * 2));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  writeString(s: string): void {
    this.ensure(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  endRow(): void {
    this.ends.push(this.pos);
  }

  /** Row k as text (tests, error paths). */
  row(k: number): string {
    return this.buf.toString('utf8', this.start(k), this.ends[k]);
  }
}
