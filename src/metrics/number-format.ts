/**
 * How sample values are printed. TorchServe's Java side prints doubles with `Double.toString`
 * (`1.0`, `290371.129`, `1.0E7`) both in TS_METRICS log lines and, through simpleclient 0.9.0's
 * `doubleToGoString`, in its Prometheus text; onnxserve's own families use the usual Prometheus form.
 */

/** Java `Double.toString`: plain decimal in [1e-3, 1e7) with at least one fraction digit, else `d.dddE<exp>`. */
export function javaDouble(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const abs = Math.abs(x);
  if (abs >= 1e-3 && abs < 1e7) {
    // JavaScript prints this range without an exponent, with the same shortest digits.
    const s = String(x);
    return s.includes('.') ? s : `${s}.0`;
  }
  const exp = x.toExponential(); // shortest digits, e.g. "1.5e-7", "1e+21"
  const e = exp.indexOf('e');
  const mantissa = exp.slice(0, e);
  return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}E${Number(exp.slice(e + 1))}`;
}

/** simpleclient's `Collector.doubleToGoString`: infinities as Go writes them, else Java's form. */
export function goDouble(x: number): string {
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  return javaDouble(x);
}

/** Prometheus text as the Go client and prom-client write it: `3`, `0.25`, `+Inf`, `NaN`. */
export function promValue(x: number): string {
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  return String(x);
}
