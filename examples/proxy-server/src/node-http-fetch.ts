// A `fetch` for @scep/proxy's HttpUpstream on node:http / node:https with keep-alive agents. In Node 20 the
// global fetch (undici, web streams) costs about 1 ms of CPU more per upstream call than node:http does
// (`pnpm bench:proxy` measures the proxy's CPU per request); the proxy makes one such call per device request.
import * as http from "node:http";
import * as https from "node:https";

/** Options of {@link nodeHttpFetch}. */
export interface NodeHttpFetchOptions {
  /** Largest response body read, in bytes; past it the call rejects (HttpUpstream: reason `other`). */
  maxResponseBytes: number;
  /** Keep-alive sockets per upstream host (default 64). */
  maxSockets?: number;
}

/** Statuses whose Response must not have a body. */
const NULL_BODY = new Set([101, 204, 205, 304]);

/**
 * The subset of `fetch` HttpUpstream uses: a URL, `method`, `headers` (a plain object), a `Uint8Array` body
 * (sent with `Content-Length`, never chunked), `signal`. Redirects are not followed (a 3xx comes back as it
 * is, and HttpUpstream reports it as `http`): configure an upstream by its final URL. Socket errors reject
 * with their `code` (`ECONNREFUSED`, `ENOTFOUND`, `ECONNRESET`), as HttpUpstream expects.
 */
export function nodeHttpFetch(options: NodeHttpFetchOptions): typeof fetch {
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 64 };
  const agents = { "http:": new http.Agent(agentOptions), "https:": new https.Agent(agentOptions) };
  const run = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const protocol = url.protocol as "http:" | "https:";
      if (protocol !== "http:" && protocol !== "https:") return reject(new TypeError(`unsupported protocol ${url.protocol}`));
      const signal = init.signal ?? undefined;
      if (signal?.aborted) return reject(signal.reason);
      const body = init.body instanceof Uint8Array ? init.body : init.body == null ? undefined : new TextEncoder().encode(String(init.body));
      const headers: Record<string, string> = { ...(init.headers as Record<string, string> | undefined) };
      if (body !== undefined) headers["content-length"] = String(body.byteLength);
      const request = (protocol === "https:" ? https : http).request(url, { method: init.method ?? "GET", headers, agent: agents[protocol] });
      const onAbort = (): void => void request.destroy(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
      signal?.addEventListener("abort", onAbort, { once: true });
      const done = (): void => signal?.removeEventListener("abort", onAbort);
      request.once("error", (e) => {
        done();
        reject(e);
      });
      request.once("response", (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > options.maxResponseBytes) {
            res.destroy(Object.assign(new Error(`response larger than ${options.maxResponseBytes} bytes`), { code: "ERR_RESPONSE_TOO_LARGE" }));
            return;
          }
          chunks.push(chunk);
        });
        res.once("error", (e) => {
          done();
          reject(e);
        });
        res.once("end", () => {
          done();
          const status = res.statusCode ?? 502;
          const out = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (value === undefined) continue;
            for (const v of Array.isArray(value) ? value : [value]) out.append(name, v);
          }
          try {
            resolve(new Response(NULL_BODY.has(status) ? null : Buffer.concat(chunks, size), { status, headers: out }));
          } catch (e) {
            reject(e);
          }
        });
      });
      request.end(body);
    });
  return run as typeof fetch;
}
