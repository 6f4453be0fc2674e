/**
 * Every store call the server makes goes through here: bounded by
 * `storeTimeoutMs`, so a store that hangs makes the request fail closed with
 * HTTP 503 instead of holding it forever (issue 8).
 *
 * @module
 */
import { StoreUnavailableError, isScepError } from "../errors.js";

/** Runs one store call; rejects with {@link StoreUnavailableError} when it takes longer than the timeout. @group Server */
export type StoreCall = <T>(what: string, call: () => Promise<T>) => Promise<T>;

/** A {@link StoreCall} with this timeout in milliseconds. @group Server */
export function createStoreCall(timeoutMs: number): StoreCall {
  return <T>(what: string, call: () => Promise<T>): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreUnavailableError(`${what}: no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const op = Promise.resolve().then(call);
    op.catch(() => undefined); // a late rejection after the timeout is not unhandled
    return Promise.race([op, timeout]).finally(() => clearTimeout(timer));
  };
}

/** Whether `e` says a store is unavailable (also across duplicate copies of the package). @group Server */
export function isStoreUnavailable(e: unknown): e is StoreUnavailableError {
  return e instanceof StoreUnavailableError || (isScepError(e) && e.code === "ERR_STORE_UNAVAILABLE");
}
