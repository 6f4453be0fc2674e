// Numeric and hook options checked once, at construction, the same way as the rest of the SDK: @scep/core's
// numberOption (one line naming the option, its unit, its range and the value given), thrown as this package's
// IntuneConfigError (ERR_INTUNE_CONFIG).
import { type NumberOptionRange, RECORD_MS, TIMER_MS, numberOption } from "@scep/core";
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
