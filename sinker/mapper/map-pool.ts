// Mapping on worker threads: a small pool, each worker with its own Mapper of the same schema. The
// pipeline hands over the values of one fetched partition batch and gets back the encoded rows in
// one buffer plus each message's outcome (its row, or why it goes to the DLQ). Workers are pure
// functions of their input: order, offsets, labels, intents and commits stay with the pipeline.
import { Buffer } from 'node:buffer';
import { Worker } from 'node:worker_threads';
import type { LoadFormat } from '../encode/encoders.ts';
import type { TableSchema } from '../schema/types.ts';
import type { DlqCode, Mapper, MapperOptions, MapStatsSnapshot } from './mapper.ts';

export interface MapWorkerInit {
  schema: TableSchema;
  options: MapperOptions;
  format: LoadFormat;
}

export interface MapTask {
  id: number;
  /** The messages' values back to back; message i is values[ends[i-1], ends[i]). */
  values: Uint8Array;
  ends: Int32Array;
  /** 1 where the message had no value (null). */
  absent: Uint8Array;
  /** Result bodies the main thread is done with, for the worker to write the next rows into. */
  spares: ArrayBuffer[];
}

export interface MapTaskResult {
  id: number;
  /** Encoded rows back to back in body[0, used); row r ends at ends[r]. */
  body: ArrayBuffer;
  used: number;
  ends: Int32Array;
  /** Per message: its row, or -1 when it goes to the DLQ (see failures). */
  rowOf: Int32Array;
  failures: Array<{ index: number; code: DlqCode; reason: string }>;
  stats: MapStatsSnapshot;
  /** The task's values buffer, handed back for the next task. */
  values: ArrayBuffer;
}

export interface MappedRows {
  body: Buffer;
  ends: Int32Array;
  rowOf: Int32Array;
  failures: MapTaskResult['failures'];
  /** Call once the rows are copied out of body: its memory goes back to the workers. */
  release(): void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve: (r: MappedRows) => void; reject: (e: Error) => void }>;
}

// The worker's source next to this file: .ts when run from the sources, .js when built into dist/.
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './map-worker.ts' : './map-worker.js', import.meta.url);

const MAX_DEATHS = 5;
/** Buffers kept for reuse each way: fresh megabyte buffers per task are garbage that holds resident memory until V8 collects it. */
export const KEEP_BUFFERS = 4;
/** Buffer sizes are rounded up to this step (see reusableSize). */
const SIZE_STEP = 256 * 1024;

/**
 * The size to allocate for `n` bytes: rounded up, so that a kept buffer fits the next task of about
 * the same size. Sized exactly, half the tasks found no kept buffer big enough (a fetch is rarely the
 * same size twice) and took a fresh one, whose first writes are page faults.
 */
export function reusableSize(n: number): number {
  return Math.ceil(Math.max(n, 1) / SIZE_STEP) * SIZE_STEP;
}
const WORKER_YOUNG_GENERATION_MB = 16;

export class MapPool {
  readonly size: number;
  /** Workers kept dying: the caller should map on its own thread instead. */
  broken = false;
  /** Tasks whose values went into a newly allocated buffer, none of the kept ones being big enough. */
  freshInputs = 0;
  lastError: Error | undefined;
  readonly #init: MapWorkerInit;
  readonly #mapper: Mapper;
  readonly #slots: Slot[] = [];
  #nextId = 1;
  #closed = false;
  /** When workers died lately: past MAX_DEATHS a minute the pool gives up (see broken). */
  #deaths: number[] = [];
  /** Values buffers back from the workers, and result bodies released by the caller, for reuse. */
  readonly #inputs: ArrayBuffer[] = [];
  readonly #spares: ArrayBuffer[] = [];

  /** `mapper` is the main thread's mapper of the same schema: the workers' statistics are added to it. */
  constructor(size: number, mapper: Mapper, format: LoadFormat) {
    this.size = size;
    this.#mapper = mapper;
    this.#init = { schema: mapper.schema, options: mapper.options, format };
    for (let i = 0; i < size; i++) this.#slots.push(this.#spawn());
  }

  #spawn(): Slot {
    // A small young generation: the worker's garbage is short-lived rows and token text, and V8's
    // default lets it grow to tens of megabytes of resident memory per worker.
    const worker = new Worker(WORKER_URL, {
      workerData: this.#init,
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    });
    worker.unref();
    const slot: Slot = { worker, pending: new Map() };
    worker.on('message', (r: MapTaskResult) => {
      const p = slot.pending.get(r.id);
      if (!p) return;
      slot.pending.delete(r.id);
      this.#mapper.absorbStats(r.stats);
      if (this.#inputs.length < KEEP_BUFFERS) this.#inputs.push(r.values);
      let released = false;
      p.resolve({
        body: Buffer.from(r.body, 0, r.used),
        ends: r.ends,
        rowOf: r.rowOf,
        failures: r.failures,
        release: () => {
          if (!released && this.#spares.length < KEEP_BUFFERS) this.#spares.push(r.body);
          released = true;
        },
      });
    });
    const fail = (err: Error) => {
      for (const p of slot.pending.values()) p.reject(err);
      slot.pending.clear();
      // A dead worker is replaced; the batches it held fail and kafkajs delivers them again. A
      // worker that cannot run at all (it dies at once, again and again) is not respawned forever.
      const i = this.#slots.indexOf(slot);
      if (i < 0 || this.#closed) return;
      const now = Date.now();
      this.#deaths = this.#deaths.filter((t) => now - t < 60_000);
      this.#deaths.push(now);
      this.lastError = err;
      if (this.#deaths.length > MAX_DEATHS) this.broken = true;
      else this.#slots[i] = this.#spawn();
    };
    worker.on('error', (err) => fail(new Error(`mapping worker failed: ${err.message}`)));
    worker.on('exit', (code) => fail(new Error(`mapping worker exited with code ${code}`)));
    return slot;
  }

  /** Maps the values (one fetched batch, in order) on the least busy worker. */
  map(values: ReadonlyArray<Uint8Array | null>): Promise<MappedRows> {
    if (this.#closed || this.broken) return Promise.reject(new Error('mapping pool closed'));
    let total = 0;
    for (const v of values) if (v) total += v.length;
    // One copy into a buffer of its own (a returned one when large enough), handed over (transferred) to the worker.
    let ab: ArrayBuffer | undefined;
    for (let k = 0; k < this.#inputs.length; k++) {
      if (this.#inputs[k]!.byteLength >= total) {
        ab = this.#inputs.splice(k, 1)[0]!;
        break;
      }
    }
    if (!ab) this.freshInputs++;
    const buf = Buffer.from(ab ?? new ArrayBuffer(reusableSize(total)), 0, total);
    const ends = new Int32Array(values.length);
    const absent = new Uint8Array(values.length);
    let at = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v) {
        buf.set(v, at);
        at += v.length;
      } else absent[i] = 1;
      ends[i] = at;
    }
    let slot = this.#slots[0]!;
    for (const s of this.#slots) if (s.pending.size < slot.pending.size) slot = s;
    const id = this.#nextId++;
    const spares = this.#spares.splice(0, 2);
    const task: MapTask = { id, values: buf, ends, absent, spares };
    return new Promise<MappedRows>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage(task, [buf.buffer as ArrayBuffer, ends.buffer, absent.buffer, ...spares]);
    });
  }

  /** Stops the workers once their tasks in progress are done (at most `graceMs`). */
  async close(graceMs = 10_000): Promise<void> {
    this.#closed = true;
    const deadline = Date.now() + graceMs;
    while (this.#slots.some((s) => s.pending.size > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }
}
