/**
 * What the admin APIs' "unreadable client address" tests share (server-kit's and the proxy example's): a request
 * whose socket address throws on read, and the `meta` values an `admin.fetch` must read no address from.
 */
import type { IncomingMessage } from "node:http";

/** `req` whose socket's address throws on read, as an HTTP/2 compatibility request's socket does once its stream is gone. */
export function unbound(req: IncomingMessage): IncomingMessage {
  Object.defineProperty(req.socket, "remoteAddress", {
    configurable: true,
    get(): never {
      throw Object.assign(new Error("The socket is already bound to an Http2Session"), { code: "ERR_HTTP2_SOCKET_UNBOUND" });
    },
  });
  return req;
}

/** `[name, meta()]` rows for `it.each`: a `meta` that is null, whose `remoteAddress` getter throws, or holds a number. */
export const UNREADABLE_METAS: ReadonlyArray<readonly [string, () => unknown]> = [
  ["null", () => null],
  [
    "a remoteAddress getter that throws",
    () =>
      Object.defineProperty({}, "remoteAddress", {
        get(): never {
          throw new Error("socket unbound");
        },
      }),
  ],
  ["a number as remoteAddress", () => ({ remoteAddress: 42 })],
];
