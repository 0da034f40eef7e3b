// Writes the demo's output: on a terminal the live panel is redrawn in place (cursor up, clear
// line); otherwise each refresh is one plain line, and only every few seconds, so logs stay short.
import { stripAnsi } from './render.ts';

export class Screen {
  readonly live: boolean;
  readonly color: boolean;
  readonly #out: NodeJS.WriteStream;
  #drawn = 0;
  #lastPlain = 0;

  constructor(out: NodeJS.WriteStream, color?: boolean) {
    this.#out = out;
    this.live = color ?? Boolean(out.isTTY);
    this.color = this.live;
    if (this.live) this.#out.write('\x1b[?25l');
  }

  get width(): number {
    return this.#out.columns ?? 100;
  }

  /** A line that stays (progress of a step, a hint). Clears a panel drawn below the cursor first. */
  print(line = ''): void {
    this.#erase();
    this.#out.write(`${this.color ? line : stripAnsi(line)}\n`);
  }

  /** Redraws the panel in place (a terminal) or prints `plain` at most every `everyMs` (otherwise). */
  panel(lines: string[], plain: string, everyMs = 5000, force = false): void {
    if (!this.live) {
      if (force || Date.now() - this.#lastPlain >= everyMs) {
        this.#out.write(`${plain}\n`);
        this.#lastPlain = Date.now();
      }
      return;
    }
    const cut = (l: string) => (stripAnsi(l).length > this.width - 1 ? stripAnsi(l).slice(0, this.width - 1) : l);
    let s = this.#drawn > 0 ? `\x1b[${this.#drawn}F` : '';
    for (const l of lines) s += `\x1b[2K${cut(l)}\n`;
    this.#out.write(s);
    this.#drawn = lines.length;
  }

  /** Leaves the last panel on screen; later output goes below it. */
  keep(): void {
    this.#drawn = 0;
  }

  #erase(): void {
    if (!this.live || this.#drawn === 0) return;
    this.#out.write(`\x1b[${this.#drawn}F\x1b[0J`);
    this.#drawn = 0;
  }

  close(): void {
    if (this.live) this.#out.write('\x1b[?25h');
  }
}
