// A deadline as an AbortSignal, with a timer that is cleared when the work ends (AbortSignal.timeout keeps its
// timer for the whole timeout: under load that is one live timer per request for 30 s).

export interface Deadline {
  /** Aborts at the deadline, or when `parent` aborts. */
  readonly signal: AbortSignal;
  /** Whether the deadline (not the parent) fired. */
  readonly expired: boolean;
  /** Stops the timer; call when the work is done. */
  clear(): void;
}

export function deadline(ms: number, parent?: AbortSignal): Deadline {
  const controller = new AbortController();
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    controller.abort(new DOMException(`deadline of ${ms} ms passed`, "TimeoutError"));
  }, ms);
  const onParent = (): void => controller.abort(parent?.reason);
  if (parent?.aborted) onParent();
  else parent?.addEventListener("abort", onParent, { once: true });
  return {
    signal: controller.signal,
    get expired() {
      return expired;
    },
    clear() {
      clearTimeout(timer);
      parent?.removeEventListener("abort", onParent);
    },
  };
}

/**
 * `work`'s outcome, or a rejection with `signal.reason` as soon as `signal` aborts, whatever `work` does with the
 * signal. `work` keeps running; its later outcome is ignored (never an unhandled rejection).
 */
export function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * What a call whose caller's `signal` aborted rejects with: the caller's deadline (a `TimeoutError` reason, from
 * `AbortSignal.timeout` or a deadline of its own) is the call's own typed, retryable timeout, made by `timeout` from
 * that reason; any other abort is the caller's to name, its reason as is.
 */
export function callerAbort(signal: AbortSignal, timeout: (cause: unknown) => Error): unknown {
  const reason: unknown = signal.reason;
  return (reason as { name?: unknown } | null)?.name === "TimeoutError" ? timeout(reason) : reason;
}
