// Progress on stderr for work that can take more than a second. Only on a terminal (a log
// file or a pipe gets no bars); DAXFS_PROGRESS=always or never overrides that.
import * as fs from 'node:fs';
import * as tty from 'node:tty';
import { formatSize } from './args';

const DELAY_MS = 500;      // work that ends sooner shows nothing
const INTERVAL_MS = 100;   // redraw at most this often
const WIDTH = 30;

function enabled(): boolean {
  const forced = process.env.DAXFS_PROGRESS;
  if (forced === 'always') return true;
  if (forced === 'never') return false;
  return tty.isatty(2);
}

// The work is synchronous (the event loop does not run), so bars are written with
// writeSync from the work itself rather than from a timer.
function writeStderr(text: string): void {
  try {
    fs.writeSync(2, text);
  } catch { /* stderr closed: progress is optional */ }
}

/** What a bar counts: bytes (shown with their size and rate) or units of work (a percentage). */
export type ProgressUnit = 'bytes' | 'steps';

export class Progress {
  readonly #on = enabled();
  readonly #start = Date.now();
  #last = 0;
  #done = 0;
  #shown = false;

  constructor(private readonly label: string, private total: number,
              private readonly write: (text: string) => void = writeStderr,
              private readonly unit: ProgressUnit = 'bytes') {}

  /** Counts `n` more done. */
  add(n: number): void {
    this.#done += n;
    this.#draw();
  }

  /** For work that reports its own count (mkfs, fsck): `done` of `total` now. */
  set(done: number, total: number): void {
    this.#done = done;
    this.total = total;
    this.#draw();
  }

  #draw(): void {
    if (!this.#on) return;
    const now = Date.now();
    if (now - this.#start < DELAY_MS || now - this.#last < INTERVAL_MS) return;
    this.#last = now;
    this.#shown = true;
    const share = this.total > 0 ? Math.min(1, this.#done / this.total) : 1;
    const filled = Math.round(share * WIDTH);
    const bar = `\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${String(Math.floor(share * 100)).padStart(3)}%`;
    if (this.unit === 'steps') {
      this.write(`${bar}\x1b[K`);
      return;
    }
    const rate = this.#done / ((now - this.#start) / 1000);
    this.write(`${bar}  ${formatSize(this.#done)} / ${formatSize(this.total)}  ${formatSize(Math.round(rate))}/s\x1b[K`);
  }

  /** Clears the bar, so what follows starts on a clean line. */
  end(): void {
    if (this.#shown) this.write('\r\x1b[K');
    this.#shown = false;
  }
}

/**
 * Runs `fn` with an onProgress callback for lib/fs (mkfs, fsck) that draws a bar on stderr,
 * and clears the bar when `fn` ends, however it ends.
 */
export function withProgress<T>(label: string, fn: (onProgress: (done: number, total: number) => void) => T,
                                write: (text: string) => void = writeStderr): T {
  const bar = new Progress(label, 0, write, 'steps');
  try {
    return fn((done, total) => bar.set(done, total));
  } finally {
    bar.end();
  }
}
