/**
 * One HTTP exchange over node:http / node:https with a caller's keep-alive
 * agent and a capped body: the transport under {@link nodeHttpFetch} (the
 * Intune clients) and under the proxy example's upstream fetch, so both run
 * the same client code.
 *
 * @module
 */
import * as http from "node:http";
import * as https from "node:https";

/**
 * Keep-alive agents by scheme, the pool {@link nodeHttpExchange} sends through.
 *
 * @group Intune API
 */
export interface NodeHttpAgents {
  "http:": http.Agent;
  "https:": https.Agent;
}

/**
 * What {@link nodeHttpExchange} sends.
 *
 * @group Intune API
 */
export interface NodeHttpRequest {
  /** HTTP method (`GET`, `POST`, …), sent as given. */
  method: string;
  /** Header name → value; `content-length` is set from `body`. */
  headers: Record<string, string>;
  /** Request body bytes, sent with `Content-Length` (never chunked). */
  body?: Uint8Array;
  /** Aborts the exchange (node:http's own `signal`: the request and its response are destroyed). */
  signal?: AbortSignal;
  /** Largest response body read, in bytes; past it the exchange rejects with {@link NodeHttpReadError} `tooLarge`. */
  maxResponseBytes: number;
  /** The keep-alive pool by scheme (the caller's: one per process or per client). */
  agents: NodeHttpAgents;
  /**
   * Looks at the status line and headers before the body is read; an error it returns ends the
   * exchange (the response is destroyed unread) and is the rejection.
   */
  onHead?: (status: number, headers: http.IncomingHttpHeaders) => Error | undefined;
}

/**
 * A complete answer of {@link nodeHttpExchange}.
 *
 * @group Intune API
 */
export interface NodeHttpResponse {
  /** HTTP status code. */
  status: number;
  /** Response headers, names in lower case (node:http's `IncomingHttpHeaders`). */
  headers: http.IncomingHttpHeaders;
  /** The whole body (at most `maxResponseBytes`). */
  body: Buffer;
}

/**
 * The response started but its body did not arrive whole: the connection broke (`cause`, with the socket
 * error's `code` such as `ECONNRESET`), or it is larger than `maxResponseBytes` (`tooLarge`, own `code`
 * `ERR_RESPONSE_TOO_LARGE`). `status` is the response's.
 *
 * @example
 * ```ts
 * import { NodeHttpReadError } from "@scep/intune";
 *
 * const e: unknown = new NodeHttpReadError(200, { tooLarge: true, maxResponseBytes: 1024 });
 * if (e instanceof NodeHttpReadError && e.tooLarge) console.log(e.status, e.message); // 200 response larger than 1024 bytes
 * ```
 *
 * @group Intune API
 */
export class NodeHttpReadError extends Error {
  /** `"NodeHttpReadError"`. */
  override readonly name = "NodeHttpReadError";
  /** `ERR_RESPONSE_TOO_LARGE` when `tooLarge`; otherwise none, so a reader of `cause` codes finds the socket's. */
  readonly code?: string;
  /** True when the body passed `maxResponseBytes` (nothing more was read). */
  readonly tooLarge: boolean;
  /** The HTTP status of the response whose body did not arrive whole. */
  readonly status: number;

  /**
   * @param status - the response's HTTP status.
   * @param options - `tooLarge` with the cap in bytes, or the `cause` that broke the body off.
   */
  constructor(status: number, options: { tooLarge: true; maxResponseBytes: number } | { tooLarge?: false; cause: unknown }) {
    super(options.tooLarge ? `response larger than ${options.maxResponseBytes} bytes` : "connection closed before the answer completed", options.tooLarge ? {} : { cause: options.cause });
    this.status = status;
    this.tooLarge = options.tooLarge === true;
    if (this.tooLarge) this.code = "ERR_RESPONSE_TOO_LARGE";
  }
}

/**
 * Sends one request over node:http(s) through `request.agents` and reads the whole answer, at most
 * `maxResponseBytes`. Redirects are not followed (a 3xx is an answer like any other; `onHead` can refuse it).
 *
 * @param url - an `http:` or `https:` URL (another scheme rejects with a `TypeError`).
 * @returns the status, headers and body bytes.
 * Rejects with the socket's own error (its `code`: `ECONNREFUSED`, `ENOTFOUND`, `ABORT_ERR` after `signal`…)
 * when no response started; with {@link NodeHttpReadError} when the body broke off or was too large; with what
 * `onHead` returned.
 *
 * @example
 * ```ts
 * import * as http from "node:http";
 * import * as https from "node:https";
 * import { nodeHttpExchange } from "@scep/intune";
 *
 * const agents = { "http:": new http.Agent({ keepAlive: true }), "https:": new https.Agent({ keepAlive: true }) };
 * const { status, body } = await nodeHttpExchange(new URL("https://ca.example.com/scep?operation=GetCACaps"), { method: "GET", headers: {}, maxResponseBytes: 65_536, agents });
 * ```
 *
 * @group Intune API
 */
export function nodeHttpExchange(url: URL, request: NodeHttpRequest): Promise<NodeHttpResponse> {
  return new Promise<NodeHttpResponse>((resolve, reject) => {
    const protocol = url.protocol;
    if (protocol !== "http:" && protocol !== "https:") return reject(new TypeError(`unsupported scheme ${protocol}`));
    const headers: Record<string, string | number> = { ...request.headers };
    if (request.body !== undefined) headers["content-length"] = request.body.byteLength;
    let req: http.ClientRequest;
    try {
      const options = { method: request.method, headers, agent: request.agents[protocol], ...(request.signal ? { signal: request.signal } : {}) };
      req = protocol === "https:" ? https.request(url, options) : http.request(url, options);
    } catch (cause) {
      return reject(cause);
    }
    let answered = false;
    req.on("error", (cause) => {
      if (!answered) reject(cause); // once answered, the response's own handlers decide
    });
    req.on("response", (res) => {
      answered = true;
      const status = res.statusCode ?? 0;
      let failed = false;
      const fail = (e: Error): void => {
        if (failed) return;
        failed = true;
        res.destroy();
        reject(e);
      };
      const refused = request.onHead?.(status, res.headers);
      if (refused) return fail(refused);
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        if (failed) return;
        size += chunk.length;
        if (size > request.maxResponseBytes) return fail(new NodeHttpReadError(status, { tooLarge: true, maxResponseBytes: request.maxResponseBytes }));
        chunks.push(chunk);
      });
      res.on("end", () => {
        if (!failed) resolve({ status, headers: res.headers, body: Buffer.concat(chunks, size) });
      });
      const broken = (cause: unknown): void => fail(new NodeHttpReadError(status, { cause }));
      res.on("error", broken);
      res.on("aborted", () => broken(new Error("connection closed before the answer completed")));
      res.on("close", () => {
        if (!res.complete) broken(new Error("connection closed before the answer completed"));
      });
    });
    req.end(request.body);
  });
}
