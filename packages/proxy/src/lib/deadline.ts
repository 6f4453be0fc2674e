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
