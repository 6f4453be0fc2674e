/**
 * Guards what an operator's callback returned: when it is a promise (an `async` event sink, `onError` or logger,
 * which their `=> void` types admit), its rejection is caught and dropped, because unobserved it would be an
 * unhandled rejection, which ends a Node process by default. The promise is not awaited, so a slow callback never
 * holds up the caller. Shared by `createScepServer`, `ScepClient`, `@scep/proxy`, `@scep/redis` and `@scep/intune`
 * so each guards its callbacks the same way; a callback that throws synchronously is still the caller's to catch.
 *
 * @param returned - Whatever the callback returned: a promise or thenable has its rejection ignored; any other value
 *   is left alone.
 * @returns Nothing. Never throws (a thenable whose `then` throws is ignored too).
 * @example
 * ```ts
 * import { ignoreRejection } from "@scep/core";
 *
 * const onError: (e: unknown) => void = async () => { throw new Error("log shipper down"); };
 * try {
 *   ignoreRejection(onError(new Error("flush failed"))); // no unhandled rejection
 * } catch {
 *   // a callback that throws synchronously
 * }
 * ```
 * @group Server
 */
export function ignoreRejection(returned: unknown): void {
  if (typeof (returned as PromiseLike<unknown> | undefined)?.then === "function") Promise.resolve(returned).catch(() => undefined);
}
