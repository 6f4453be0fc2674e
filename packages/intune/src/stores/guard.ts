/**
 * One rule for store failures in both validators: @scep/core's
 * StoreUnavailableError passes through, anything else a store throws becomes
 * one (fail closed; the server answers 503 with Retry-After).
 *
 * @module
 */
import { StoreUnavailableError, isStoreUnavailable } from "@scep/core";

/** Runs a store operation; rejects only with `StoreUnavailableError` (`ERR_STORE_UNAVAILABLE`). */
export async function guardStore<T>(op: () => Promise<T>, what: string): Promise<T> {
  try {
    return await op();
  } catch (e) {
    if (isStoreUnavailable(e)) throw e;
    throw new StoreUnavailableError(`the ${what} is unavailable`, { cause: e });
  }
}
