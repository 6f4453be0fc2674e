/**
 * The admin APIs' answer when a store refuses a call (`ERR_STORE_UNAVAILABLE`): HTTP 503 with `Retry-After`,
 * naming the store, and saying whether it is down or full.
 *
 * @module
 */
import { isScepError } from "@scep/core";
import { jsonResponse } from "./bearer-token.js";

/** Whether `e` is a `StoreUnavailableError` (by code: it may come from another copy of @scep/core). */
export const isStoreUnavailable = (e: unknown): boolean => isScepError(e) && e.code === "ERR_STORE_UNAVAILABLE";

/**
 * HTTP 503 `{ error }` with `Retry-After: 30` for a store that refused a call. `what` names the store ("profile",
 * "challenge"). A bounded in-memory store that is full (`StoreUnavailableError.capacity` set) is said to be full,
 * with its limit: retrying helps only once entries expire or are used up. Any other refusal (down, slow) is
 * "unavailable"; its message is not shown (it may name a host).
 */
export function storeUnavailableResponse(what: string, error: unknown): Response {
  const capacity = (error as { capacity?: unknown }).capacity;
  const text =
    typeof capacity === "number"
      ? `the ${what} store is full (limit ${capacity}): try again once entries expire or are used up, or give the server a larger or shared store`
      : `the ${what} store is unavailable; try again`;
  return jsonResponse(503, { error: text }, { "retry-after": "30" });
}
