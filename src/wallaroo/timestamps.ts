/**
 * Wallaroo's timestamps: `2023-11-29T16:30:53.716526+00:00` — UTC, microseconds, and a numeric
 * offset instead of `Z` (Python's `datetime.isoformat()` of an aware datetime). A JS Date has
 * milliseconds, so the last three digits are zeros.
 */

/** A Date as Wallaroo writes it. */
export function wallarooTimestamp(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError('Invalid date');
  // toISOString: `YYYY-MM-DDTHH:mm:ss.sssZ`, always UTC.
  return `${date.toISOString().slice(0, -1)}000+00:00`;
}

/** What a stored timestamp must look like (any offset, 1–6 fraction digits: RFC 3339 with an offset). */
export const TIMESTAMP_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?[+-]\d{2}:\d{2}$/;
