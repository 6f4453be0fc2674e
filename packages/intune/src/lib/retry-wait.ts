/**
 * The wait between two attempts of a call to Entra ID, Graph or Intune: the answer's `Retry-After` when it gave one
 * (bounded by the call's `timeoutMs`), else a short linear back-off; abortable by the caller's signal.
 *
 * @module
 */
import { abortable, callerAbort as coreCallerAbort } from "@scep/core/internal";
import { IntuneTimeoutError, IntuneTransportError } from "../errors.js";

/** Back-off step without a `Retry-After`, milliseconds: 200 before the first retry, 400 before the second, … */
export const BACKOFF_STEP_MS = 200;

/** A wait of `ms` milliseconds (the clients' `sleep` option); `signal`, when given, may end it early. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/**
 * Resolves after `ms` milliseconds, or rejects with `signal.reason` as soon as `signal` aborts; the timer is cleared
 * then, so an aborted wait keeps nothing alive.
 */
export const defaultSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });

/**
 * What a call whose caller's `signal` aborted rejects with (@scep/core's `callerAbort`): the caller's deadline (a
 * `TimeoutError` reason, as `AbortSignal.timeout` gives) is this package's typed, retryable {@link IntuneTimeoutError};
 * any other abort is the caller's to name, its reason as is.
 */
export function callerAbort(signal: AbortSignal, what: string): unknown {
  return coreCallerAbort(signal, (cause) => new IntuneTimeoutError(`${what}: the caller's deadline passed`, { cause }));
}

/** What {@link waitBeforeRetry} needs of the call. */
export interface RetryWaitOptions {
  /** The call's per-attempt timeout, milliseconds: the longest `Retry-After` wait taken. */
  timeoutMs: number;
  /** The wait itself (the clients' `sleep` option, else {@link defaultSleep}). */
  sleep: Sleep;
  /** The caller's signal: an abort ends the wait at once (rejecting with its reason). */
  signal?: AbortSignal | undefined;
}

/**
 * Waits before retry number `retry` (1 for the first) after `error`, a retryable failure:
 * - an {@link IntuneTransportError} with `retryAfterSeconds` (a 429 or 503 that said when to come back): that many
 *   seconds, or no wait for 0. When that is longer than `timeoutMs`, the wait would outlast the deadline the caller
 *   gave one exchange with Microsoft: no wait and no retry, `error` is thrown at once (it carries the value);
 * - anything else: `retry` × {@link BACKOFF_STEP_MS}.
 *
 * @throws `error` when its `Retry-After` is past `timeoutMs`; the signal's reason when it aborts before or during the wait.
 */
export async function waitBeforeRetry(error: unknown, retry: number, options: RetryWaitOptions): Promise<void> {
  const retryAfter = error instanceof IntuneTransportError ? error.retryAfterSeconds : undefined;
  const ms = retryAfter === undefined ? retry * BACKOFF_STEP_MS : retryAfter * 1000;
  if (retryAfter !== undefined && ms > options.timeoutMs) throw error;
  if (options.signal?.aborted) throw options.signal.reason;
  if (ms === 0) return;
  // An injected sleep may ignore the signal: the race still ends the wait at the abort.
  await abortable(options.sleep(ms, options.signal), options.signal);
}
