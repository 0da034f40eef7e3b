// The file DLQ: JSON lines appended and flushed to disk before `write` resolves, because the writer
// loads the rest of a batch only once its refused rows are safely dead-lettered.
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type DlqRecord, toJsonLine } from './record.ts';

/** The file system calls the sink makes (a test wraps them to see what is synced). */
export interface FileDlqFs {
  mkdir: typeof mkdir;
  open: typeof open;
}

// fsync of a directory refused by the file system, or a directory this user may not open: nothing to do.
const DIR_SYNC_UNSUPPORTED = new Set(['EINVAL', 'EBADF', 'EISDIR', 'ENOTSUP', 'EPERM', 'EACCES']);

export class FileDlqSink {
  readonly path: string;
  readonly #fs: FileDlqFs;
  /**
   * Whether the file's name may not be on disk yet: at the first append of this process (an earlier
   * one may have crashed before syncing it), and whenever the file is new (created here, or by
   * another process after it was moved away or deleted). Its directory is fsynced then.
   */
  #dirPending = true;
  /** The inode appended to last: another one is a file another process created. */
  #ino: number | undefined;
  /** Directories `mkdir` created that are not fsynced into their parents yet. */
  #newDirs: string[] = [];
  #chain: Promise<void> = Promise.resolve();
  /**
   * Records this file holds. A failed dead-letter write is retried with the same records until
   * every sink has them: while the topic DLQ is away, the file must not take them on every try.
   */
  readonly #written = new WeakSet<DlqRecord>();

  constructor(path: string, fs: FileDlqFs = { mkdir, open }) {
    this.path = path;
    this.#fs = fs;
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
    const dir = dirname(this.path);
    const created = await this.#fs.mkdir(dir, { recursive: true });
    if (created !== undefined) {
      // Each new directory's name is in its parent: the first one's parent up to the file's own.
      for (let d = dir; ; d = dirname(d)) {
        this.#newDirs.push(d);
        if (d === created) break;
      }
      this.#newDirs.push(dirname(created));
    }
    // Created here, it is new even if it got the inode number of one deleted (ext4 reuses them at once).
    const fh = await this.#fs.open(this.path, 'ax+').then(
      (h) => {
        this.#dirPending = true;
        return h;
      },
      (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
        return this.#fs.open(this.path, 'a+');
      },
    );
    try {
      // A file that does not end in a newline ends in part of a line: an append a full disk refused
      // part-way, or a crash mid-write (never acknowledged: those records are being written again).
      // Appended to, the first record would join that part in one line that is not JSON.
      const { size, ino } = await fh.stat();
      const last = Buffer.alloc(1);
      const torn = size > 0 && (await fh.read(last, 0, 1, size - 1)).bytesRead === 1 && last[0] !== 0x0a;
      // One write(2), which O_APPEND places whole: appendFile writes 512 KiB at a time, and another
      // process appending to the file (two sinkers of a sink run in one directory) could land
      // between two chunks of a record, leaving two lines that are not records.
      const buf = Buffer.from(torn ? `\n${records}` : records);
      for (let at = 0; at < buf.length; ) at += (await fh.write(buf, at, buf.length - at)).bytesWritten;
      await fh.datasync();
      // The data is on disk, its name maybe not: a crash now could lose the file on ext4 or xfs,
      // with the offsets of its records already committed. fsync(2) of the directory settles it.
      if (ino !== this.#ino) this.#dirPending = true;
      this.#ino = ino;
      if (this.#dirPending || this.#newDirs.length > 0) {
        if (!this.#newDirs.includes(dir)) this.#newDirs.unshift(dir);
        for (const d of this.#newDirs) await this.#syncDir(d);
        this.#newDirs = [];
        this.#dirPending = false;
      }
    } catch (e) {
      throw new Error(`DLQ file ${this.path}: ${(e as Error).message}`, { cause: e });
    } finally {
      await fh.close();
    }
  }

  async #syncDir(dir: string): Promise<void> {
    try {
      const dh = await this.#fs.open(dir, 'r');
      try {
        await dh.sync();
      } finally {
        await dh.close();
      }
    } catch (e) {
      // Such a file system (or Windows, which opens no directory) keeps names its own way.
      if (!DIR_SYNC_UNSUPPORTED.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
    }
  }

  async close(): Promise<void> {
    await this.#chain;
  }
}
