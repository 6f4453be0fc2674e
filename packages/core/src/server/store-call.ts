/**
 * Every store call the server makes goes through here: bounded by
 * `storeTimeoutMs`, so a store that hangs makes the request fail closed with
 * HTTP 503 instead of holding it forever (issue 8). So do the profile hooks
 * that are store reads by their docs (`isRevoked`, `getCert`, `getCrl`) and
 * the `release` a custom challenge validator hands back (it undoes a store
 * write: a replay-cache entry, a rate-limit hit): one rule for every wait on
 * a store, whoever wrote the code that waits.
 *
 * The rule: the call's value when it settles within the timeout; its own
 * rejection as it is (a {@link StoreUnavailableError} becomes 503 with its
 * `Retry-After`, anything else a 500 `internal error`); after the timeout a
 * {@link StoreUnavailableError} (`ERR_STORE_UNAVAILABLE`, `Retry-After: 30`),
 * the call left to finish on its own, its late rejection never unhandled.
 *
 * @module
 */
import { StoreUnavailableError } from "../errors.js";
import { TIMED_OUT, within } from "../lib/within.js";

/**
 * Runs one store call (or a hook that reads a store; `call` may answer synchronously or throw); rejects with
 * {@link StoreUnavailableError} when it takes longer than the timeout, `what` naming it in the message. @group Server
 */
export type StoreCall = <T>(what: string, call: () => T | PromiseLike<T>) => Promise<T>;

// The call a timeout gave up on, by the error the timeout rejected with (see lateCall).
const gaveUpOn = new WeakMap<object, Promise<unknown>>();

/** A {@link StoreCall} with this timeout in milliseconds. @group Server */
export function createStoreCall(timeoutMs: number): StoreCall {
  return async <T>(what: string, call: () => T | PromiseLike<T>): Promise<T> => {
    const op = Promise.resolve().then(call);
    op.catch(() => undefined); // a late rejection after the timeout is not unhandled
    const result = await within(op, timeoutMs);
    if (result !== TIMED_OUT) return result;
    const error = new StoreUnavailableError(`${what}: no answer within ${timeoutMs} ms`);
    gaveUpOn.set(error, op);
    throw error;
  };
}

/**
 * The store call that `error`, a {@link StoreCall}'s timeout, gave up on: it may still land or fail, and a caller
 * whose clean-up depends on that (a one-time challenge given back) waits for it. Undefined for any other error: the
 * call itself failed.
 */
export function lateCall(error: unknown): Promise<unknown> | undefined {
  return typeof error === "object" && error !== null ? gaveUpOn.get(error) : undefined;
}
