// IncomingMessage → web Request → ScepServer.fetch → ServerResponse.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ScepServer } from "@scep/core";

/** Options of {@link scepMiddleware}. */
export interface ScepMiddlewareOptions {
  /**
   * Largest request body read, in bytes (default 64 KiB, like the server's `maxBodyBytes`: keep the two equal so
   * the server's event reports `body_too_large`). A larger body gets HTTP 413 and the connection is closed.
   */
  maxBodyBytes?: number;
  /** Hand requests for paths no profile serves (a 404 answered without reading the body) to `next()` (default true). */
  fallthrough?: boolean;
}

/** A Node/Express request: `originalUrl` and `body` are read when a framework set them. */
export type NodeRequest = IncomingMessage & { originalUrl?: string; body?: unknown };

/** The middleware: `(req, res, next)`, assignable to an Express 4 or 5 `RequestHandler`. */
export type ScepRequestHandler = (req: NodeRequest, res: ServerResponse, next: (error?: unknown) => void) => void;

/**
 * Serves SCEP from an Express app (4 or 5) or a bare `node:http` server.
 *
 * Profile paths are matched against the full `originalUrl`, so mount it with
 * `app.use(scepMiddleware(server))` (or under a prefix that is part of the
 * profile path). It reads the raw body itself, streaming and capped at
 * `maxBodyBytes`; a `Buffer` left in `req.body` by `express.raw()` is used
 * instead. Requests the server answers 404 without touching the body (no
 * profile at that path) go to `next()` unless `fallthrough: false`.
 *
 * @example
 * ```ts
 * import express from "express";
 * import { createScepServer } from "@scep/core";
 * import { scepMiddleware } from "@scep/express";
 *
 * const app = express();
 * app.use(scepMiddleware(createScepServer({ profiles: [profile] })));
 * app.listen(8080);
 * ```
 */
export function scepMiddleware(server: ScepServer, options: ScepMiddlewareOptions = {}): ScepRequestHandler {
  const limit = options.maxBodyBytes ?? 64 * 1024;
  const fallthrough = options.fallthrough ?? true;
  return (req, res, next) => {
    let touched = false;
    let tooLarge = false;
    let received = 0;
    const declared = Number(req.headers["content-length"] ?? "NaN");
    // Pulled only when the server reads the body: a 404 for a foreign path leaves `req` unread for `next()`.
    let chunks: AsyncIterator<Buffer> | undefined;
    const stream = (): ReadableStream<Uint8Array> =>
      new ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            touched = true;
            if (declared > limit) return void ((tooLarge = true), controller.close());
            chunks ??= req[Symbol.asyncIterator]();
            const chunk = await chunks.next().catch(() => ({ done: true as const, value: undefined })); // client gone
            if (chunk.done) return controller.close();
            received += chunk.value.length;
            controller.enqueue(new Uint8Array(chunk.value.buffer, chunk.value.byteOffset, chunk.value.length));
            // Stop reading: the rest is never buffered, and the 413 below closes the connection.
            if (received > limit) (tooLarge = true), controller.close();
          },
        },
        { highWaterMark: 0 },
      );
    const method = req.method ?? "GET";
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || name.startsWith(":")) continue;
      for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
    }
    const path = req.originalUrl ?? req.url ?? "/";
    const url = path.startsWith("/") ? "http://localhost" + path : new URL(path, "http://localhost").href;
    let init: RequestInit & { duplex?: "half" } = { method, headers };
    if (method !== "GET" && method !== "HEAD") {
      if (Buffer.isBuffer(req.body)) {
        // express.raw() already read it: nothing is lost for next(), so fallthrough still applies.
        tooLarge = req.body.length > limit;
        init = { ...init, body: tooLarge ? new Uint8Array() : new Uint8Array(req.body) };
      } else init = { ...init, body: stream(), duplex: "half" };
    }
    server
      .fetch(new Request(url, init))
      .then(async (response) => {
        if (response.status === 404 && fallthrough && !touched) return next();
        if (tooLarge) {
          res.writeHead(413, { "content-type": "text/plain; charset=utf-8", connection: "close" });
          return void res.end("message too large\n");
        }
        const payload = Buffer.from(await response.arrayBuffer());
        const out: Record<string, string> = {};
        response.headers.forEach((value, name) => void (out[name] = value));
        if (response.status === 413) out.connection = "close";
        res.writeHead(response.status, out);
        res.end(method === "HEAD" ? undefined : payload);
      })
      .catch(next);
  };
}
