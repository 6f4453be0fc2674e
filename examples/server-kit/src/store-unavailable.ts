/**
 * The admin APIs' answer when a store refuses a call (`ERR_STORE_UNAVAILABLE`): HTTP 503 with `Retry-After`,
 * naming the store, and saying whether it is down or full.
 *
 * @module
 */
import { jsonResponse } from "./bearer-token.js";

/**
 * A thrown value as log fields: its `code` (`ERR_UNEXPECTED` when it has none) and `message`, the first line of its
 * message (or of `String(e)` for what is not an Error), at most 500 characters. Never throws.
 */
export function errorFields(e: unknown): { code: string; message: string } {
  const code = (e as { code?: unknown } | null)?.code;
  const message = e instanceof Error ? e.message : String(e);
  return { code: typeof code === "string" ? code : "ERR_UNEXPECTED", message: message.split("\n", 1)[0]!.slice(0, 500) };
}

/** Where {@link storeUnavailableResponse} tells the operator why: the admin API's log and the refused route. */
export interface StoreUnavailableLog {
  /** Writes one JSON log line. */
  log(entry: Record<string, unknown>): void;
  /** The refused request's method, e.g. `POST`. */
  method: string;
  /** The refused request's path, e.g. `/admin/scep/challenges`. */
  path: string;
  /**
   * What the caller asked for, e.g. `approve`: the store's message names the store operation that failed (`list`,
   * run to find the profile of the transaction), which need not be the one the operator ran.
   */
  operation?: string;
}

/**
 * HTTP 503 `{ error }` with `Retry-After: 30` for a store that refused a call. `what` names the store ("profile",
 * "challenge"). A bounded in-memory store that is full (`StoreUnavailableError.capacity` set) is said to be full,
 * with its limit: retrying helps only once entries expire or are used up. Any other refusal (down, slow) is
 * "unavailable"; its message is not shown (it may name a host). With `logTo`, the operator gets the cause as one
 * `{"type":"admin-error","method","path","operation"?,"store","status":503,"code","message","capacity"?}` line (`message`: the
 * error's first line, at most 500 characters; `capacity`: the full store's limit), as a SCEP request's 5xx gets a
 * `scep-error` line.
 */
export function storeUnavailableResponse(what: string, error: unknown, logTo?: StoreUnavailableLog): Response {
  const capacity = (error as { capacity?: unknown }).capacity;
  if (logTo) {
    logTo.log({
      type: "admin-error",
      method: logTo.method,
      path: logTo.path,
      ...(logTo.operation !== undefined ? { operation: logTo.operation } : {}),
      store: what,
      status: 503,
      ...errorFields(error),
      ...(typeof capacity === "number" ? { capacity } : {}),
    });
  }
  const text =
    typeof capacity === "number"
      ? `the ${what} store is full (limit ${capacity}): try again once entries expire or are used up, or give the server a larger or shared store`
      : `the ${what} store is unavailable; try again`;
  return jsonResponse(503, { error: text }, { "retry-after": "30" });
}
