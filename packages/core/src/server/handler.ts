/**
 * The shape every mountable handler of the SDK has (the SCEP server, the
 * proxy, the admin API): a web-standard `fetch`, a cheap, synchronous
 * `owns(pathname)` an adapter asks before it builds a `Request`, and, where a
 * handler offers it, `handle`: the same answers on plain objects, for an
 * adapter that has the request's bytes at hand (Node's `IncomingMessage`)
 * and need not build a `Request` nor read a `Response` back.
 *
 * @module
 */
import { InvalidArgumentError } from "../errors.js";
import { clip } from "../lib/clip.js";

/**
 * Request header fields as an adapter holds them: anything with `get(name)` (a web `Headers`), or a record of
 * lower-case field names (Node's `IncomingMessage.headers`, passed as is). A field repeated in a record (an array)
 * reads as its values joined by `", "` (RFC 9110 §5.3).
 *
 * @group Server
 */
export type HeaderFields = { get(name: string): string | null } | Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * An HTTP request as plain parts (RFC 9110): what {@link FetchHandler.handle} takes instead of a web `Request`.
 *
 * @group Server
 *
 * @example
 * ```ts
 * import type { IncomingMessage } from "node:http";
 * import type { HttpRequestParts } from "@scep/core";
 *
 * declare const req: IncomingMessage; // from node:http
 * declare const body: Buffer; // the request body, read into one Buffer
 * // The request target and header record as Node hands them over.
 * const parts: HttpRequestParts = { method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers, body };
 * ```
 */
export interface HttpRequestParts {
  /** The request method (RFC 9110 §9) as sent: `GET`, `POST`, `HEAD`, … (case-sensitive, like the protocol). */
  method: string;
  /**
   * The request target (RFC 9112 §3.2): origin-form path and query as sent (`/scep?operation=GetCACaps`, Node's
   * `req.url`, still percent-encoded), or an absolute URL (`http://ca.example/scep?…`, a web `Request`'s `url`).
   */
  url: string;
  /** The header fields (only `content-length` is read today); absent: none. */
  headers?: HeaderFields;
  /**
   * The request content (RFC 9110 §6.4), as received: bytes (a Node `Buffer` is one), or a promise of them so the
   * body can still be arriving. Absent or empty: no body. A promise that rejects (the client went away mid-body) is
   * answered like a web `Request` whose body stream errored; one that rejects with a `BodyAlreadyReadError` (a body
   * parser read it first) gets 400 `body_already_read`. A handler applies its own body limit to these bytes; an
   * adapter that stops reading at a limit hands over what it read (more than the limit), never a silently cut body.
   */
  body?: Uint8Array | PromiseLike<Uint8Array>;
}

/**
 * What an adapter knows of a request's connection that a web `Request` does not carry: the second argument of
 * {@link FetchHandler.fetch} and {@link FetchHandler.handle}. Named as Node names it (`req.socket.remoteAddress`);
 * Hono's `getConnInfo(c).remote.address` and Bun's `server.requestIP(request)?.address` give the same string.
 *
 * @group Server
 *
 * @example
 * ```ts
 * import type { IncomingMessage } from "node:http";
 * import type { ConnectionInfo, FetchHandler } from "@scep/core";
 *
 * declare const handler: FetchHandler;
 * declare const req: IncomingMessage; // from node:http
 * declare const request: Request; // req as a web Request
 * const info: ConnectionInfo = { remoteAddress: req.socket.remoteAddress };
 * const response = await handler.fetch(request, info);
 * ```
 */
export interface ConnectionInfo {
  /**
   * The client's IP address as text (`127.0.0.1`, `::1`, `::ffff:192.0.2.7`), as the adapter saw it: the TCP peer,
   * or an address taken from a forwarding header when the adapter is configured to trust one (Express's `trust
   * proxy`, behind which `req.ip` is the client's). The SCEP server reports it as its events' `clientAddress`;
   * absent or `undefined`: unknown (the event has no `clientAddress`).
   */
  remoteAddress?: string | undefined;
}

/**
 * Most characters of an event's `clientAddress`: an IPv6 address with a zone is at most 45 + 1 + 15 (IFNAMSIZ − 1);
 * behind `trust proxy` the address comes from a header the client may write, up to Node's header limit (16 KiB).
 */
const MAX_CLIENT_ADDRESS = 64;

/**
 * The `clientAddress` an event reports for `info` (the SCEP server's, the proxy's): `info.remoteAddress` when it is a
 * non-empty string, cut to 64 characters (a longer one ends in `…`); otherwise `undefined`: also when `info` is not an
 * object or reading `remoteAddress` throws (a getter, a Proxy). Never throws. For handlers of your own that emit
 * events of the same shape.
 *
 * @group Server
 *
 * @example
 * ```ts
 * import { clientAddressOf } from "@scep/core";
 *
 * clientAddressOf({ remoteAddress: "::1" }); // "::1"
 * clientAddressOf({ remoteAddress: "" }); // undefined
 * clientAddressOf(undefined); // undefined
 * ```
 */
export function clientAddressOf(info: ConnectionInfo | undefined): string | undefined {
  let address: unknown;
  try {
    // `info` comes from the caller: a getter (or a Proxy) that throws means "unknown", never a failed request.
    address = info?.remoteAddress;
  } catch {
    return undefined;
  }
  return typeof address === "string" && address !== "" ? clip(address, MAX_CLIENT_ADDRESS) : undefined;
}

/**
 * An HTTP response as plain parts: what {@link FetchHandler.handle} returns instead of a web `Response`.
 *
 * @group Server
 */
export interface HttpResponseParts {
  /** The status code (RFC 9110 §15). */
  status: number;
  /**
   * The header fields, lower-case names (those a `Response` from `fetch` would list; no `content-length`, which the
   * adapter writes from `body.length`, except for HEAD: there it is the GET's, as RFC 9110 §9.3.2 asks, to be written
   * as it is).
   */
  headers: Record<string, string>;
  /** The content, in bytes; empty for a HEAD request (the headers stay those of the GET, `content-length` included). */
  body: Uint8Array;
}

/**
 * A fetch-style handler an adapter (`@scep/express`, `@scep/hono`) can mount.
 *
 * @group Server
 *
 * @example
 * ```ts
 * import type { FetchHandler } from "@scep/core";
 *
 * // Mounted like the SCEP server: app.use(scepMiddleware(health)) with @scep/express.
 * const health: FetchHandler = {
 *   owns: (pathname) => pathname === "/healthz",
 *   fetch: async () => new Response("ok"),
 * };
 * const res = health.owns?.("/healthz") ? await health.fetch(new Request("http://localhost/healthz")) : undefined;
 * ```
 */
export interface FetchHandler {
  /**
   * Whether this handler answers `pathname` (a URL path; a query string is ignored). Cheap and synchronous; an
   * adapter hands every request it owns to `fetch` whatever the answer's status, and every other to the next handler.
   * Without it, an adapter calls `fetch` and treats an untouched 404 as "not mine".
   */
  owns?(pathname: string): boolean;
  /** Answers a request; `info` says what the adapter knows of its connection (the client's address), if anything. */
  fetch(request: Request, info?: ConnectionInfo): Promise<Response>;
  /**
   * Answers a request given as plain parts, exactly as `fetch` answers the same request (status, header fields,
   * content; the same events), without a web `Request` or `Response` in between: the cheaper entry for an adapter
   * that holds the body's bytes already. Optional: an adapter uses it when present and `fetch` otherwise. `info` as
   * for `fetch`.
   */
  handle?(request: HttpRequestParts, info?: ConnectionInfo): Promise<HttpResponseParts>;
}

/**
 * Throws unless `handler` is a {@link FetchHandler}: an object with a `fetch` function, and `owns` / `handle`
 * functions when present. Adapters call it once when mounted, so a handler without `fetch` (a JavaScript caller
 * passing the options object, or the server's factory) is refused there instead of failing every request.
 *
 * @example
 * ```ts
 * import { checkFetchHandler, type FetchHandler } from "@scep/core";
 *
 * export function mount(handler: FetchHandler): void {
 *   checkFetchHandler(handler);
 * }
 * ```
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` with the message `handler must be a FetchHandler (…)`.
 * @group Server
 */
export function checkFetchHandler(handler: FetchHandler): void {
  const h = handler as Partial<FetchHandler> | null | undefined;
  if (typeof h?.fetch !== "function" || (h.owns !== undefined && typeof h.owns !== "function") || (h.handle !== undefined && typeof h.handle !== "function")) {
    throw new InvalidArgumentError("handler must be a FetchHandler (an object with a fetch function, such as createScepServer's server)");
  }
}
