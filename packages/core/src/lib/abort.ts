/**
 * Ending a wait when a caller's `AbortSignal` aborts, whatever the awaited work does with the signal: @scep/proxy's
 * upstream calls and challenge sources and @scep/intune's calls to Microsoft use these through `@scep/core/internal`.
 * Self-contained (no other module of this package).
 *
 * @module
 */

/**
 * `work`'s outcome, or a rejection with `signal.reason` as soon as `signal` aborts (already aborted: at once). `work`
 * keeps running; its later outcome is ignored, never an unhandled rejection. Without a signal, `work` itself. The
 * listener is removed when `work` settles.
 */
export function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * {@link abortable} for a `fetch`: the Response, or a rejection with `signal.reason` as soon as `signal` aborts, also
 * when the `fetch` ignores its signal (an injected one may drop `init.signal`). A Response that arrives after the abort
 * has its body cancelled, so its connection is not held unread; an answer of any other shape then (a wrapper that
 * resolves `undefined`) is ignored, never an unhandled rejection.
 */
export function abortableFetch(pending: Promise<Response>, signal: AbortSignal): Promise<Response> {
  return abortable(pending, signal).catch((error: unknown) => {
    if (signal.aborted) void pending.then((late) => (late as Response | undefined)?.body?.cancel()).catch(() => undefined);
    throw error;
  });
}

/**
 * What a call whose caller's `signal` aborted rejects with: the caller's deadline (a `TimeoutError` reason, from
 * `AbortSignal.timeout` or a deadline of the caller's own) is the call's own typed, retryable timeout, made by
 * `timeout` from that reason (its `cause`); any other abort is the caller's to name, its reason as is.
 */
export function callerAbort(signal: AbortSignal, timeout: (cause: unknown) => Error): unknown {
  const reason: unknown = signal.reason;
  return (reason as { name?: unknown } | null)?.name === "TimeoutError" ? timeout(reason) : reason;
}
