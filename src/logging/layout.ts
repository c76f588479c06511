/**
 * Text layouts, rendered straight from a line's parts (never from its JSON):
 *   long  (`%d{ISO8601} [%-5p] %t %c - %m%n`): console, ts_log.log, model_log.log
 *   short (`%d{ISO8601} - %m%n`):              access_log.log, ts_metrics.log
 *   pretty: `[10:00:00.123] INFO  ACCESS_LOG: <message>` (level coloured on a terminal)
 */

/** log4j2's ISO8601 pattern: local time, comma before milliseconds. */
export function log4jTimestamp(d = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())},${p(d.getMilliseconds(), 3)}`
  );
}

/** The current timestamp, rendered at most once per millisecond (busy servers log many lines per ms). */
let lastMs = -1;
let lastStamp = '';
export function stampNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastStamp = log4jTimestamp(new Date(ms));
  }
  return lastStamp;
}

/** `%-5p` by pino level number. */
const LABELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
export const levelLabel = (num: number): string => LABELS[num] ?? 'INFO ';

export type Layout = 'long' | 'short' | 'json' | 'pretty' | 'pretty-color';

export const longLine = (stamp: string, num: number, thread: string, category: string, msg: string): string =>
  `${stamp} [${levelLabel(num)}] ${thread} ${category} - ${msg}\n`;

export const shortLine = (stamp: string, msg: string): string => `${stamp} - ${msg}\n`;

const COLORS: Record<number, string> = { 10: '\x1b[90m', 20: '\x1b[36m', 30: '\x1b[32m', 40: '\x1b[33m', 50: '\x1b[31m', 60: '\x1b[35m' };

export function prettyLine(stamp: string, num: number, thread: string, category: string, msg: string, color: boolean): string {
  const time = `${stamp.slice(11, 19)}.${stamp.slice(20, 23)}`;
  const label = levelLabel(num);
  const lvl = color ? `${COLORS[num] ?? ''}${label}\x1b[0m` : label;
  const who = thread === 'main' ? category : `${category} ${thread}`;
  return `[${time}] ${lvl} ${who}: ${msg}\n`;
}
