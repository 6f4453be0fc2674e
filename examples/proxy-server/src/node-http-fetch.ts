// A `fetch` for @scep/proxy's HttpUpstream on node:http / node:https with keep-alive agents. In Node 20 the
// global fetch (undici, web streams) costs about 1 ms of CPU more per upstream call than node:http does
// (`pnpm bench:proxy` measures the proxy's CPU per request); the proxy makes one such call per device request.
// The exchange itself is @scep/intune's nodeHttpExchange (the client its Intune API calls run on); this only
// adapts it to the fetch shape HttpUpstream calls.
import * as http from "node:http";
import * as https from "node:https";
import { nodeHttpExchange } from "@scep/intune";

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
 * with their `code` (`ECONNREFUSED`, `ENOTFOUND`, `ECONNRESET` in `cause`), as HttpUpstream expects.
 */
export function nodeHttpFetch(options: NodeHttpFetchOptions): typeof fetch {
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 64 };
  const agents = { "http:": new http.Agent(agentOptions), "https:": new https.Agent(agentOptions) };
  const run = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const body = init.body instanceof Uint8Array ? init.body : init.body == null ? undefined : new TextEncoder().encode(String(init.body));
    const res = await nodeHttpExchange(url, {
      method: init.method ?? "GET",
      headers: { ...(init.headers as Record<string, string> | undefined) },
      ...(body !== undefined ? { body } : {}),
      ...(init.signal ? { signal: init.signal } : {}),
      maxResponseBytes: options.maxResponseBytes,
      agents,
    });
    const out = new Headers();
    for (const [name, value] of Object.entries(res.headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) out.append(name, v);
    }
    return new Response(NULL_BODY.has(res.status) ? null : (res.body as Uint8Array<ArrayBuffer>), { status: res.status, headers: out });
  };
  return run as typeof fetch;
}
