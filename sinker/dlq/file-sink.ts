// The file DLQ: JSON lines appended and flushed to disk before `write` resolves, because the writer
// loads the rest of a batch only once its refused rows are safely dead-lettered.
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type DlqRecord, toJsonLine } from './record.ts';

export class FileDlqSink {
  readonly path: string;
  #chain: Promise<void> = Promise.resolve();
  /**
   * Records this file holds. A failed dead-letter write is retried with the same records until
   * every sink has them: while the topic DLQ is away, the file must not take them on every try.
   */
  readonly #written = new WeakSet<DlqRecord>();

  constructor(path: string) {
    this.path = path;
  }

  /** Append the records it does not hold yet (serialised with other writes to the same file). */
  write(records: readonly DlqRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    const next = this.#chain.then(async () => {
      // Asked once the writes before it are over: a retry may be queued behind the first try.
      const todo = records.filter((r) => !this.#written.has(r));
      if (todo.length === 0) return;
      await this.#append(`${todo.map(toJsonLine).join('\n')}\n`);
      for (const r of todo) this.#written.add(r);
    });
    this.#chain = next.catch(() => {});
    return next;
  }

  async #append(records: string): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const fh = await open(this.path, 'a+');
    try {
      // A file that does not end in a newline ends in part of a line: an append a full disk refused
      // part-way, or a crash mid-write (never acknowledged: those records are being written again).
      // Appended to, the first record would join that part in one line that is not JSON.
      const { size } = await fh.stat();
      const last = Buffer.alloc(1);
      const torn = size > 0 && (await fh.read(last, 0, 1, size - 1)).bytesRead === 1 && last[0] !== 0x0a;
      await fh.appendFile(torn ? `\n${records}` : records);
      await fh.datasync();
    } catch (e) {
      throw new Error(`DLQ file ${this.path}: ${(e as Error).message}`, { cause: e });
    } finally {
      await fh.close();
    }
  }

  async close(): Promise<void> {
    await this.#chain;
  }
}
