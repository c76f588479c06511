/** IEEE 754 half precision ⇄ JS numbers (FP16 tensors travel as Uint16Array of raw bits). */

/** Number → half bits, rounded to nearest, ties to even, straight from the double (no double rounding). */
export function toHalf(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const a = Math.abs(value);
  if (a === Infinity) return sign | 0x7c00;
  if (a < 2 ** -14) {
    // Subnormal (or zero): units of 2^-24. Scaling by a power of two is exact.
    const q = a * 2 ** 24;
    let n = Math.floor(q);
    const r = q - n;
    if (r > 0.5 || (r === 0.5 && n % 2 === 1)) n++;
    return sign | n; // n = 1024 is the smallest normal, which the bit layout gives for free
  }
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  const q = a / 2 ** (e - 10); // in [1024, 2048)
  let m = Math.floor(q);
  const r = q - m;
  if (r > 0.5 || (r === 0.5 && m % 2 === 1)) m++;
  if (m === 2048) {
    e++;
    m = 1024;
  }
  const biased = e + 15;
  if (biased >= 31) return sign | 0x7c00; // beyond 65504 (after rounding): infinity
  return sign | (biased << 10) | (m - 1024);
}

/** Whether a finite number still is finite as a half (|v| < 65520, what rounds to at most 65504). */
export const fitsHalf = (v: number): boolean => Math.abs(v) < 65520;

/** Half bits → number. */
export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}
