/**
 * Reading an HTTP `Retry-After` (RFC 9110 §10.2.3): `ScepClient`'s error answers here, and (through
 * `@scep/core/internal`) @scep/proxy's upstream answers and @scep/intune's Microsoft answers: one reading of the
 * header across the SDK. Self-contained (no other module of this package).
 *
 * @module
 */

/** The longest `Retry-After` taken as given, in seconds (one day): a larger delay-seconds or a date further away reads as this. */
export const MAX_RETRY_AFTER_SECONDS = 86_400;

/**
 * A `Retry-After` value in whole **seconds**, or undefined when absent or unreadable (then the caller's own back-off
 * applies).
 *
 * - delay-seconds (`1*DIGIT`): as given, capped at {@link MAX_RETRY_AFTER_SECONDS}; any number of digits, so
 *   `99999999999999` is the cap, not unreadable. A sign, a fraction or anything else around the digits is unreadable
 *   (`-5`, `1.5`, `5s`).
 * - HTTP-date (IMF-fixdate, or the obsolete RFC 850 / asctime forms, all naming the weekday first): the seconds from
 *   `nowMs` to that time, rounded up; a date in the past (or now) is 0 (retry without waiting); capped likewise.
 *
 * @param value - the header's value as received (`Headers.get("retry-after")`: null when absent).
 * @param nowMs - when the answer was sent, ms since the epoch: its `Date` header when it has a readable one (the
 *   server's clock on both sides, so skew between the clocks does not count), else the receiver's clock, or NaN for
 *   "unknown" (then an HTTP-date is unreadable: undefined).
 * @returns whole seconds from 0 to {@link MAX_RETRY_AFTER_SECONDS}, or undefined. Never throws.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) {
    const digits = v.replace(/^0+(?=\d)/, ""); // "0005" is 5: leading zeros do not make a value longer
    return digits.length > 6 ? MAX_RETRY_AFTER_SECONDS : Math.min(Number(digits), MAX_RETRY_AFTER_SECONDS);
  }
  if (!/^[A-Za-z]{3}/.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at) || !Number.isFinite(nowMs)) return undefined;
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(0, Math.ceil((at - nowMs) / 1000)));
}
