/**
 * Ignores the rejection of what an operator's callback returned when it is a promise (an `async` event sink or
 * `onError`, which their `=> void` types admit): unobserved, it would be an unhandled rejection, which ends a Node
 * process by default. The promise is not awaited.
 */
export function ignoreRejection(returned: unknown): void {
  if (typeof (returned as PromiseLike<unknown> | undefined)?.then === "function") Promise.resolve(returned).catch(() => undefined);
}
