// The schema.auto.refresh_interval loop: re-reads the table's schema and hands a changed one to
// `changed`. A failing DESCRIBE keeps the current schema; it is logged when the outage begins, when
// its error changes, and when it ends, not at every tick (at 1 s a minute's outage would be 60
// identical lines).
import type { Logger } from 'pino';
import type { TableSchema } from './types.ts';

export interface SchemaRefreshOptions {
  intervalMs: number;
  load: () => Promise<TableSchema>;
  /** Hash of the schema being loaded now. */
  currentHash: () => string;
  /** A schema with another hash was read. Not called once `stop` was. A throw counts as a failed refresh. */
  changed: (next: TableSchema) => void;
  logger: Logger;
}

export class SchemaRefresh {
  readonly #o: SchemaRefreshOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  /** Failed reads in a row; 0 while the last read worked. */
  #failures = 0;
  /** The failure last logged in this outage: another one (the table dropped meanwhile) is news. */
  #logged: string | undefined;

  constructor(options: SchemaRefreshOptions) {
    this.#o = options;
  }

  start(): void {
    if (this.#stopped || this.#timer) return;
    this.#timer = setInterval(() => void this.tick(), this.#o.intervalMs);
    // A refresh never holds the process open.
    this.#timer.unref();
  }

  /** One re-read (skipped while one is under way). Exposed for tests. */
  tick(): Promise<void> {
    this.#running ??= this.#read().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /**
   * No more reads, and a read under way changes nothing when it ends: a switch after shutdown began
   * would cut the batches being flushed and start mapping workers nobody closes.
   */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #read(): Promise<void> {
    if (this.#stopped) return;
    try {
      const next = await this.#o.load();
      if (this.#stopped) return;
      if (next.hash !== this.#o.currentHash()) this.#o.changed(next);
    } catch (err) {
      if (this.#stopped) return;
      this.#failures++;
      const message = (err as Error).message;
      if (message !== this.#logged) {
        this.#logged = message;
        this.#o.logger.warn({ err: message }, 'schema refresh failed; keeping the current schema');
      }
      return;
    }
    if (this.#failures > 0) {
      this.#o.logger.info({ failures: this.#failures }, 'schema refresh reads the table again');
      this.#failures = 0;
      this.#logged = undefined;
    }
  }
}
