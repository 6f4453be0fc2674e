// Validating options once, the same way everywhere: a limit or timeout that is not an integer in its range is a
// configuration mistake (ERR_PROXY_CONFIG) at construction, not a fetch that times out at once. The check itself is
// @scep/core's numberOption (one message shape across the SDK); this file only makes its error a ProxyConfigError.
import { MAX_SIZE_BYTES, MAX_TIMER_MS, type NumberOptionRange, SIZE_BYTES, TIMER_MS, booleanOption as coreBooleanOption, numberOption } from "@scep/core";
import { ProxyConfigError } from "../errors.js";

// The SDK's ranges, named as this package uses them (one definition, in @scep/core).
export { MAX_TIMER_MS, TIMER_MS };
/** Largest body or response limit, in bytes (1 GiB): bodies are read into memory whole. */
export const MAX_BODY_BYTES = MAX_SIZE_BYTES;
/** A body or response size limit: an integer number of bytes from 1 to 1 GiB. */
export const BODY_BYTES: NumberOptionRange = SIZE_BYTES;

/** `value`, or `fallback` when undefined; throws ProxyConfigError (one line: name, unit, range, value) unless in `range`. */
export function integerOption(name: string, value: number | undefined, fallback: number, range: NumberOptionRange): number {
  return numberOption(name, value, fallback, range, (message) => new ProxyConfigError(message));
}

/** `value`, or `fallback` when undefined; throws ProxyConfigError unless a boolean (a string "false" is not false). */
export function booleanOption(name: string, value: boolean | undefined, fallback: boolean): boolean {
  return coreBooleanOption(name, value, fallback, (message) => new ProxyConfigError(message));
}

/** Throws ProxyConfigError unless `value` is a function, or undefined when `optional` (a hook passed as a string or an object failed at the first request). */
export function functionOption(name: string, value: unknown, optional = true): void {
  if (value === undefined && optional) return;
  if (typeof value !== "function") throw new ProxyConfigError(`${name} must be a function (got ${value === null ? "null" : value === undefined ? "none" : typeof value})`);
}

/** Throws ProxyConfigError unless `value` is an object with each of `methods` (`what` names the interface). */
export function objectOption(name: string, value: unknown, what: string, methods: readonly string[]): void {
  const o = value as Record<string, unknown> | null | undefined;
  if (typeof o !== "object" || o === null || methods.some((m) => typeof o[m] !== "function")) throw new ProxyConfigError(`${name} must be ${/^[AEIOU]/.test(what) ? "an" : "a"} ${what} (${methods.join(", ")})`);
}
