/**
 * Progress for large archives: when the input files total more than PROGRESS_THRESHOLD_BYTES,
 * the percentage of input bytes written is reported on stderr. On a terminal one line is
 * rewritten in place (at most every PROGRESS_INTERVAL_MS); otherwise (logs, pipes, tests) one
 * line per PROGRESS_STEP_PERCENT step, so the output stays short and deterministic.
 */

/** Inputs larger than this (in total) get progress output; smaller archives print none. */
export const PROGRESS_THRESHOLD_BYTES = 64 * 1024 * 1024;
export const PROGRESS_STEP_PERCENT = 10;
export const PROGRESS_INTERVAL_MS = 200;

export interface ProgressSink {
  write(text: string): void;
  /** A terminal: rewrite one line with `\r` instead of printing lines. */
  isTTY: boolean;
}

export interface Progress {
  /** Adds bytes of input consumed. */
  advance(bytes: number): void;
  /** Reports 100% (if anything was reported before or the threshold was crossed) and ends the line. */
  finish(): void;
}

const NO_PROGRESS: Progress = { advance() {}, finish() {} };

const mib = (n: number) => (n / (1024 * 1024)).toFixed(1);

export function createProgress(
  label: string,
  totalBytes: number,
  sink: ProgressSink,
  options: { threshold?: number; now?: () => number } = {},
): Progress {
  const threshold = options.threshold ?? PROGRESS_THRESHOLD_BYTES;
  if (totalBytes <= threshold) return NO_PROGRESS;
  const now = options.now ?? Date.now;
  let done = 0;
  let lastStep = -1;
  let lastTime = -Infinity;
  let lastPercent = -1;
  let finished = false;

  const line = (percent: number) => `${label}: ${percent}% (${mib(Math.min(done, totalBytes))} of ${mib(totalBytes)} MiB)`;

  const report = (force: boolean) => {
    const percent = Math.min(100, Math.floor((done / totalBytes) * 100));
    if (sink.isTTY) {
      const t = now();
      if (percent === lastPercent || (!force && t - lastTime < PROGRESS_INTERVAL_MS)) return;
      lastTime = t;
      lastPercent = percent;
      sink.write(`\r${line(percent)}`);
      return;
    }
    const step = Math.floor(percent / PROGRESS_STEP_PERCENT) * PROGRESS_STEP_PERCENT;
    if (step <= lastStep) return;
    lastStep = step;
    sink.write(`${line(step)}\n`);
  };

  report(true);
  return {
    advance(bytes) {
      if (finished) return;
      done += bytes;
      report(false);
    },
    finish() {
      if (finished) return;
      finished = true;
      done = Math.max(done, totalBytes);
      report(true);
      if (sink.isTTY) sink.write('\n');
    },
  };
}
