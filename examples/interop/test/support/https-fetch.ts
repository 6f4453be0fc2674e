/**
 * A `fetch` (for ScepClient's `fetch` option) that trusts one private root for
 * HTTPS, through `node:https`: Node's global fetch takes no CA of its own (its
 * undici Agent is not exposed), and NODE_EXTRA_CA_CERTS is read only at start.
 * Enough for SCEP's GET and POST with a byte body; redirects are returned, not followed.
 *
 * @module
 */
import { request } from "node:https";

/** A fetch whose TLS trusts `caPem` (and nothing else). */
export function fetchTrusting(caPem: string): typeof fetch {
  return (input, init) =>
    new Promise<Response>((resolve, reject) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      const headers: Record<string, string> = {};
      new Headers(init?.headers).forEach((value, key) => (headers[key] = value));
      const req = request(url, { method: init?.method ?? "GET", headers, ca: caPem, agent: false, signal: init?.signal ?? undefined }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.once("error", reject);
        res.once("end", () => {
          const h = new Headers();
          for (const [key, value] of Object.entries(res.headers)) if (typeof value === "string") h.set(key, value);
          const status = res.statusCode ?? 0;
          resolve(new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), { status, headers: h }));
        });
      });
      req.once("error", reject);
      const body = init?.body;
      req.end(body instanceof Uint8Array ? Buffer.from(body) : typeof body === "string" ? body : undefined);
    });
}
