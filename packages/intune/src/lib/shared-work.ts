/**
 * Work several calls wait on at once (an Entra ID token request, a Graph discovery), run under a signal of its own
 * that aborts once no call waits for it any more: its HTTP attempt, timeout timer and retry wait end then, instead of
 * holding a socket and timers (and the process) until their own timeouts. A call without a signal waits to the end,
 * so the work is never cut while such a call waits.
 *
 * @module
 */

/** The reason the work's own signal aborts with: nobody sees it (every waiter has left). */
const ABANDONED = "no call waits for this any more";

export class SharedWork<T> {
  readonly #controller = new AbortController();
  readonly #promise: Promise<T>;
  #waiting = 0;
  #settled = false;

  /**
   * Starts `run` at once with the work's signal; `onSettled` is called when it ends (fulfilled, rejected or cut),
   * to drop it from the caller's cache.
   */
  constructor(run: (signal: AbortSignal) => Promise<T>, onSettled: () => void) {
    this.#promise = run(this.#controller.signal);
    const settle = (): void => {
      this.#settled = true;
      onSettled();
    };
    this.#promise.then(settle, settle);
  }

  /** True once every waiter left before the work ended: the work is being cut, start a new one instead of waiting. */
  get abandoned(): boolean {
    return this.#controller.signal.aborted;
  }

  /**
   * The work's outcome; with `signal`, rejects with its reason as soon as it aborts, and when it was the last waiter
   * the work is cut. A `signal` aborted already rejects at once without joining (the callers check it first).
   */
  wait(signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    this.#waiting++;
    if (!signal) return this.#promise; // never leaves: the work runs to its end
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        reject(signal.reason);
        if (--this.#waiting === 0 && !this.#settled) this.#controller.abort(new Error(ABANDONED));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }
}
