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

/**
 * The delay-seconds to send in a `Retry-After` header (RFC 9110 §10.2.3: `1*DIGIT`) for a number of **seconds** that
 * may come from a pluggable component (a store's `StoreUnavailableError.retryAfterSeconds`, a key's
 * `KeyUnavailableError`, an upstream's `UpstreamError`): a fraction rounded up, then clamped to `min`–`max` (Infinity
 * is `max`, a negative number or -Infinity `min`); undefined for what is no number of seconds (NaN, a string, null,
 * undefined), which the caller answers with its own default. Never `NaN`, `Infinity`, a sign, an exponent or a
 * fraction on the wire.
 *
 * @param seconds - the value given, unchecked.
 * @param min - the fewest seconds sent (default 1).
 * @param max - the most seconds sent (default {@link MAX_RETRY_AFTER_SECONDS}, one day).
 * @returns whole seconds from `min` to `max`, or undefined. Never throws.
 */
export function retryAfterDelaySeconds(seconds: unknown, min = 1, max: number = MAX_RETRY_AFTER_SECONDS): number | undefined {
  if (typeof seconds !== "number" || Number.isNaN(seconds)) return undefined;
  return Math.min(max, Math.max(min, Math.ceil(seconds)));
}
