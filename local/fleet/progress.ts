/**
 * A one-line progress bar on a terminal (redrawn in place, at most every 100 ms), or a line per
 * tenth of the work when the output is a file or a pipe.
 */
export interface ProgressBar {
  /** Starts the clock the rate is measured from (default: when the bar was made). */
  start(): void;
  update(done: number, failed: number): void;
  finish(): void;
}

export interface ProgressOptions {
  total: number;
  write: (text: string) => void;
  isTty: boolean;
  now: () => number;
  width?: number;
  label?: string;
}

export function createProgressBar(options: ProgressOptions): ProgressBar {
  const { total, write, isTty, now } = options;
  const width = options.width ?? 30;
  const label = options.label ?? 'provisioning';
  let started = now();
  let lastDraw = 0;
  let lastTenth = -1;
  let last = { done: 0, failed: 0 };

  const render = (done: number, failed: number): string => {
    const fraction = total === 0 ? 1 : done / total;
    const filled = Math.round(fraction * width);
    const seconds = (now() - started) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
    return `${label} [${bar}] ${done}/${total} ${Math.floor(fraction * 100)}% ${rate.toFixed(0)}/s${failed > 0 ? ` failed ${failed}` : ''}`;
  };

  return {
    start() {
      started = now();
    },
    update(done, failed) {
      last = { done, failed };
      if (isTty) {
        const at = now();
        if (at - lastDraw < 100 && done < total) return;
        lastDraw = at;
        write(`\r${render(done, failed)}\x1b[K`);
        return;
      }
      const tenth = total === 0 ? 10 : Math.floor((done / total) * 10);
      if (tenth > lastTenth) {
        lastTenth = tenth;
        write(`${render(done, failed)}\n`);
      }
    },
    finish() {
      if (isTty) write(`\r${render(last.done, last.failed)}\x1b[K\n`);
      else if (lastTenth < 10) write(`${render(last.done, last.failed)}\n`);
    },
  };
}
