// Validating numeric options once, the same way everywhere: a limit or timeout that is not a positive integer
// is a configuration mistake (ERR_PROXY_CONFIG) at construction, not a fetch that times out at once.
import { ProxyConfigError } from "../errors.js";

/** `value`, or `fallback` when undefined; throws ProxyConfigError unless a positive safe integer. */
export function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) throw new ProxyConfigError(`${name} must be a positive integer`);
  return value;
}

/** `value`, or `fallback` when undefined; throws ProxyConfigError unless a boolean (a string "false" is not false). */
export function booleanOption(name: string, value: boolean | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw new ProxyConfigError(`${name} must be true or false`);
  return value;
}
