// Numeric and hook options checked once, at construction, the same way as the rest of the SDK: @scep/core's
// numberOption (one line naming the option, its unit, its range and the value given), thrown as this package's
// IntuneConfigError (ERR_INTUNE_CONFIG).
import { InvalidArgumentError, type NumberOptionRange, RECORD_MS, TIMER_MS, numberOption } from "@scep/core";
import { IntuneConfigError } from "../errors.js";

// The SDK's ranges (one definition, in @scep/core): a timer's duration, 1 to 2 147 483 647 ms (a longer `setTimeout`
// fires at once); a lifetime kept as an expiry, 1 ms to 365 days.
export { TIMER_MS };
/** A lifetime kept as an expiry, not a timer: an integer number of milliseconds from 1 to 365 days. */
export const TTL_MS: NumberOptionRange = RECORD_MS;
/** How many entries or keys a bounded store keeps. */
export const ENTRIES: NumberOptionRange = { min: 1, max: 100_000_000 };

/** `value`, or `fallback` when undefined; throws IntuneConfigError unless a number in `range`. */
export function configNumber(name: string, value: unknown, fallback: number, range: NumberOptionRange): number {
  return numberOption(name, value, fallback, range, (message) => new IntuneConfigError(message));
}

/** Throws IntuneConfigError unless `value` is a function (or undefined): a hook given as a string failed at the first request. */
export function configFunction(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== "function") throw new IntuneConfigError(`${name} must be a function (got ${value === null ? "null" : typeof value})`);
}

/**
 * Throws IntuneConfigError unless `value` (when given) is an absolute `https:` or `http:` URL without userinfo.
 * Checked at construction: a `user:password@` in a base URL was sent by node:http as a Basic `Authorization` header
 * to Microsoft's endpoints and quoted in transport errors; a typo failed only at the first enrollment. The message
 * never quotes the value (it may hold a secret); it names the option and what is wrong.
 */
export function configUrl(name: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== "string") throw new IntuneConfigError(`${name} must be an https: URL string (got ${value === null ? "null" : typeof value})`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new IntuneConfigError(`${name} must be an absolute https: URL (not parseable as a URL)`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new IntuneConfigError(`${name} must be an https: URL (got scheme ${url.protocol})`);
  if (url.username !== "" || url.password !== "") throw new IntuneConfigError(`${name} must not include credentials (user:password@): Entra ID and Graph authenticate with the credential option`);
}

// The stores (MemoryReplayCache, MemoryRateLimiter) are not this package's configuration: they implement storage
// interfaces that @scep/redis implements too, and every implementation of one interface throws the same error for the
// same bad option or argument. That is @scep/core's InvalidArgumentError (ERR_INVALID_ARGUMENT), as for @scep/core's
// and @scep/redis's stores: @scep/redis cannot throw IntuneConfigError (@scep/intune is its optional peer, imported
// for types only), and a store's other failure is @scep/core's StoreUnavailableError already.

/** What a message says was given: `none`, `null`, `an object`, `a string`… (as @scep/core's stores say it). */
function kindOf(value: unknown): string {
  if (value === undefined) return "none";
  if (value === null) return "null";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/**
 * Throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) unless a store's `now` is a function (or undefined), in the
 * words of @scep/core's and @scep/redis's stores: `now must be a function returning a Date (got an object)`.
 */
export function storeClock(value: unknown): void {
  if (value !== undefined && typeof value !== "function") throw new InvalidArgumentError(`now must be a function returning a Date (got ${kindOf(value)})`);
}

/**
 * Throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) unless a replay cache's per-call `ttlMs` is a positive safe
 * integer (ms; no upper cap: a token's exp may be years ahead), in the words of @scep/redis's RedisReplayCache.
 */
export function storeTtl(ttlMs: unknown): void {
  if (typeof ttlMs !== "number" || !Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new InvalidArgumentError(`ttlMs must be a positive integer number of milliseconds (got ${typeof ttlMs === "number" ? ttlMs : kindOf(ttlMs)})`);
}
