/**
 * One check for every numeric option of every constructor and factory in the SDK (sizes in bytes, durations in ms or
 * s, counts, limits), so a `NaN` from `Number(process.env.UNSET)`, a `-1`, a `"65536"` string or an `Infinity` is
 * refused when the object is built, with a one-line message naming the option, its unit, its range and the value
 * given, instead of silently lifting a limit or making a record that never expires.
 *
 * @module
 */
import { InvalidArgumentError } from "./errors.js";

/** The longest timer Node and browsers keep, in ms (2^31 − 1, about 24.8 days): a longer `setTimeout` fires at once. @group Errors */
export const MAX_TIMER_MS = 2_147_483_647;

/** Longest record or challenge lifetime accepted, in ms: 365 days (not a timer: an expiry date). @group Errors */
export const MAX_RECORD_MS = 365 * 86_400_000;

/** Largest size limit accepted, in bytes: 1 GiB (bodies and answers are read into memory whole). @group Errors */
export const MAX_SIZE_BYTES = 1 << 30;

/** RSA modulus sizes a minimum may name, in bits: 512 (to refuse nothing real) to 16 384. */
export const RSA_BITS: NumberOptionRange = { min: 512, max: 16_384 };

/** Most entries an in-memory store may be asked to keep (a count). */
export const MAX_STORE_ENTRIES = 100_000_000;

/** What {@link numberOption} accepts. @group Errors */
export interface NumberOptionRange {
  /** Smallest value accepted (inclusive). */
  min: number;
  /** Largest value accepted (inclusive). */
  max: number;
  /** Whether a fraction is refused (default true: counts, bytes and milliseconds are whole). */
  integer?: boolean;
  /** The unit, named in the message: `"ms"` (milliseconds), `"s"` (seconds), `"bytes"`, or none for a count. */
  unit?: "ms" | "s" | "bytes";
}

/** A duration used with a timer: an integer number of milliseconds from 1 to {@link MAX_TIMER_MS}. @group Errors */
export const TIMER_MS: NumberOptionRange = { min: 1, max: MAX_TIMER_MS, unit: "ms" };

/** A record's or key's lifetime: an integer number of milliseconds from 1 to {@link MAX_RECORD_MS} (365 days). @group Errors */
export const RECORD_MS: NumberOptionRange = { min: 1, max: MAX_RECORD_MS, unit: "ms" };

/** A size limit: an integer number of bytes from 1 to {@link MAX_SIZE_BYTES} (1 GiB). @group Errors */
export const SIZE_BYTES: NumberOptionRange = { min: 1, max: MAX_SIZE_BYTES, unit: "bytes" };

const UNIT_WORDS = { ms: "milliseconds", s: "seconds", bytes: "bytes" } as const;

/**
 * The value as the message shows it: a number as JavaScript prints it; a string quoted only when it reads as a number
 * (`"65536"`), else by its length, since a string put in a numeric option by mistake may be a secret (a URL with a
 * password, a token) that must not reach a log; else its type.
 */
function shown(value: unknown): string {
  if (typeof value === "string") return /^[\s\d.eE+-]{0,24}$/.test(value) ? JSON.stringify(value) : `a string of ${value.length} characters`;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return typeof value === "bigint" ? `${value}n` : String(value);
  return typeOf(value);
}

/** What a message says was given instead of the expected kind: `none`, `null`, `an object`, `a string`… */
export function typeOf(value: unknown): string {
  if (value === undefined) return "none";
  if (value === null) return "null";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/**
 * `value` when it is a number in `range`, `fallback` when it is `undefined`; anything else throws.
 *
 * The message is one line: `maxBodyBytes must be an integer number of bytes from 1 to 1073741824 (got NaN)`.
 *
 * @param name - The option's name as the caller wrote it (prefixed with its owner where that helps, e.g. `profile corp: pendingTtlMs`).
 * @param value - What the caller passed (any type: JavaScript callers and parsed configuration are not type-checked).
 * @param fallback - The default, returned for `undefined`.
 * @param range - Bounds (inclusive), whether it must be whole, and its unit.
 * @param fail - Builds the package's own error from the message (default {@link InvalidArgumentError}): `@scep/intune`
 *   throws `IntuneConfigError`, `@scep/proxy` `ProxyConfigError`.
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` (or what `fail` returns) for a value that is not a number
 *   (a numeric string included), `NaN`, ±Infinity, a fraction where a whole number is needed, or outside the range.
 *
 * @example
 * ```ts
 * import { numberOption } from "@scep/core";
 *
 * const ttlMs = numberOption("ttlMs", Number(process.env.TTL_MS ?? "60000"), 60_000, { min: 1, max: 2_147_483_647, unit: "ms" });
 * ```
 * @group Errors
 */
export function numberOption(name: string, value: unknown, fallback: number, range: NumberOptionRange, fail: (message: string) => Error = (m) => new InvalidArgumentError(m)): number {
  if (value === undefined) return fallback;
  const integer = range.integer ?? true;
  if (typeof value === "number" && value >= range.min && value <= range.max && (!integer || Number.isInteger(value))) return value;
  const unit = range.unit ? ` of ${UNIT_WORDS[range.unit]}` : "";
  const kind = integer ? (unit ? `an integer number${unit}` : "an integer") : `a number${unit}`;
  throw fail(`${name} must be ${kind} from ${range.min} to ${range.max} (got ${shown(value)})`);
}

/**
 * `value` when it is `true` or `false`, `fallback` when it is `undefined`; anything else throws (a `"false"` string
 * from parsed configuration is truthy, and would turn an option on).
 *
 * @param name - The option's name as the message starts with it.
 * @param fail - Builds the package's own error from the message (default {@link InvalidArgumentError}).
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` (or what `fail` returns): one line, `fallthrough must be true or
 *   false (got a string)`; the value itself is never repeated.
 *
 * @example
 * ```ts
 * import { booleanOption } from "@scep/core";
 *
 * const fallthrough = booleanOption("fallthrough", process.env.FALLTHROUGH === undefined ? undefined : process.env.FALLTHROUGH === "true", true);
 * ```
 * @group Errors
 */
export function booleanOption(name: string, value: unknown, fallback: boolean, fail: (message: string) => Error = (m) => new InvalidArgumentError(m)): boolean {
  if (value === undefined) return fallback;
  if (typeof value === "boolean") return value;
  throw fail(`${name} must be true or false (got ${typeOf(value)})`);
}
