// node:http ↔ fetch-style handlers (web Request → Response), with a body limit, for the proxy and its admin API.
import type { IncomingMessage, ServerResponse } from "node:http";
import { answerUnsupportedMethod, internalError, peerAddress } from "@scep-examples/server-kit/node-fetch";

/** A handler the server can mount: the proxy (`createScepProxy`) and the admin API both fit. */
export type FetchHandler = (request: Request, meta: { remoteAddress?: string | undefined }) => Promise<Response>;

class TooLarge extends Error {}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<Uint8Array<ArrayBuffer>> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) throw new TooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new TooLarge();
    chunks.push(chunk);
  }
  return new Uint8Array(Buffer.concat(chunks, size));
}

/**
 * Answers `req` with `handler`: a `Request` whose URL is the request target exactly as sent (so a raw `+`
 * in a GET `message` survives), its headers, and for other methods than GET/HEAD its body, which is
 * refused with 413 when larger than `maxBodyBytes` (never cut). A method no `Request` can carry (TRACE, TRACK,
 * CONNECT) is the client's mistake: 405 `method not allowed` with `options.allow` as `Allow` (RFC 9110 §15.5.6;
 * default `GET, HEAD, POST`), the handler not called. A handler that throws gets a generic 500, its error goes to
 * `onError`.
 */
export async function serveFetch(handler: FetchHandler, req: IncomingMessage, res: ServerResponse, options: { maxBodyBytes: number; allow?: string; onError: (error: unknown) => void }): Promise<void> {
  try {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || name.startsWith(":")) continue;
      for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
    }
    const method = req.method ?? "GET";
    const target = req.url ?? "/";
    if (!target.startsWith("/")) {
      res.writeHead(400, { "content-type": "text/plain; charset=utf-8" });
      res.end("bad request target\n");
      return;
    }
    // TRACE (CONNECT and TRACK never get here from node:http): server-kit's 405 with Allow.
    if (answerUnsupportedMethod(req, res, options.allow ?? "GET, HEAD, POST")) return;
    let body: Uint8Array<ArrayBuffer> | undefined;
    if (method !== "GET" && method !== "HEAD") {
      try {
        body = await readBody(req, options.maxBodyBytes);
      } catch (e) {
        if (!(e instanceof TooLarge)) throw e;
        res.writeHead(413, { "content-type": "text/plain; charset=utf-8", connection: "close" });
        res.end("request body too large\n");
        req.resume();
        return;
      }
    }
    const request = new Request(`http://localhost${target}`, { method, headers, ...(body ? { body } : {}) });
    const response = await handler(request, { remoteAddress: peerAddress(req) });
    const out: Record<string, string> = {};
    response.headers.forEach((value, name) => void (out[name] = value));
    const bytes = Buffer.from(await response.arrayBuffer());
    // The answer's length, for HEAD too (RFC 9110 §9.3.2): a handler answering HEAD like GET (the admin API) gave the
    // GET's content, which is dropped here; one that gave none for HEAD (the proxy) keeps its own Content-Length.
    if (method !== "HEAD" || bytes.length > 0) out["content-length"] = String(bytes.length);
    res.writeHead(response.status, out);
    res.end(method === "HEAD" ? undefined : bytes);
  } catch (error) {
    options.onError(error);
    // server-kit's: 500 `internal error`, or the connection destroyed once the head went out (a half-written answer
    // must not look complete), as the example servers answer.
    internalError(res);
  }
}
