// Progress of device-wide work (mkfs, fsck), for a caller that shows a bar. Work is counted
// in units of the work's choosing; the callback sees `done` rise to `total` in at most about
// STEPS calls, so a bar costs nothing next to the work.

export type OnProgress = (done: number, total: number) => void;

const STEPS = 100;

export class ProgressReporter {
  readonly #on: OnProgress | undefined;
  #total = 0;
  #step = 1;
  #done = 0;
  #reported = 0;

  /** `onProgress` is checked by the caller (an options property). */
  constructor(onProgress: OnProgress | undefined) {
    this.#on = onProgress;
  }

  /** The work's size, once it is known (fsck learns it from the superblock). */
  start(total: number): void {
    this.#total = total;
    this.#step = Math.max(1, Math.ceil(total / STEPS));
  }

  /** Counts `n` more units done (never past the total). */
  advance(n: number): void {
    if (!this.#on) return;
    this.#done = Math.min(this.#total, this.#done + n);
    if (this.#done < this.#total && this.#done - this.#reported >= this.#step) this.#report();
  }

  /** The work is done: the last call has done === total. */
  finish(): void {
    if (!this.#on || this.#total === 0) return;
    this.#done = this.#total;
    if (this.#reported !== this.#total) this.#report();
  }

  #report(): void {
    this.#reported = this.#done;
    this.#on!(this.#done, this.#total);
  }
}
