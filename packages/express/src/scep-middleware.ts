// IncomingMessage → web Request → handler.fetch → ServerResponse.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { FetchHandler } from "@scep/core";

/** Options of {@link scepMiddleware}. @group Server */
export interface ScepMiddlewareOptions {
  /**
   * Largest request body read, in bytes (default 64 KiB, like the server's `maxBodyBytes`: keep the two equal so
   * the server's event reports `body_too_large`). A larger body gets HTTP 413 and the connection is closed.
   */
  maxBodyBytes?: number;
  /** Hand requests for paths the handler does not own to `next()` (default true); false sends them to the handler. */
  fallthrough?: boolean;
}

/** A Node/Express request: `originalUrl`, `baseUrl` and `body` are read when a framework set them. @group Server */
export type NodeRequest = IncomingMessage & { originalUrl?: string; baseUrl?: string; body?: unknown };

/** The middleware: `(req, res, next)`, assignable to an Express 4 or 5 `RequestHandler`. @group Server */
export type ScepRequestHandler = (req: NodeRequest, res: ServerResponse, next: (error?: unknown) => void) => void;

/**
 * Serves a `FetchHandler` of `@scep/core` (a SCEP server, the `@scep/proxy` handler, or any handler with `fetch` and optionally `owns`) from an
 * Express app (4 or 5) or a bare `node:http` server.
 *
 * Routing: the handler's `owns(path)` decides, before any `Request` is built. Owned paths are answered by the
 * handler whatever the status (a SCEP 404 for GetNextCACert without a next CA stays the server's); every other
 * path goes to `next()` with its body unread, and the server emits no event for it. Mounted under a prefix
 * (`app.use("/pki", scepMiddleware(server))`), a profile path matches either the full path (`/pki/scep`) or the
 * path below the mount point (`/scep`): Express strips the mount path from `req.url` and keeps it in
 * `req.originalUrl`; the full path is tried first. A handler without `owns` gets every request, and a 404 it
 * answers without reading the body goes to `next()`.
 *
 * It reads the raw body itself, streaming and capped at `maxBodyBytes`; a `Buffer` left in `req.body` by
 * `express.raw()` is used instead.
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
 *
 * @group Server
 */
export function scepMiddleware(handler: FetchHandler, options: ScepMiddlewareOptions = {}): ScepRequestHandler {
  const limit = options.maxBodyBytes ?? 64 * 1024;
  const fallthrough = options.fallthrough ?? true;
  return (req, res, next) => {
    const full = req.originalUrl ?? req.url ?? "/";
    const relative = req.url ?? "/";
    let path = full;
    if (handler.owns) {
      if (!handler.owns(full)) {
        if (relative !== full && handler.owns(relative)) path = relative;
        else if (fallthrough) return next();
      }
    }
    let touched = false;
    let tooLarge = false;
    let received = 0;
    const declared = Number(req.headers["content-length"] ?? "NaN");
    // Pulled only when the handler reads the body: a 404 for a foreign path leaves `req` unread for `next()`.
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
    const url = path.startsWith("/") ? "http://localhost" + path : new URL(path, "http://localhost").href;
    let init: RequestInit & { duplex?: "half" } = { method, headers };
    if (method !== "GET" && method !== "HEAD") {
      if (Buffer.isBuffer(req.body)) {
        // express.raw() already read it: nothing is lost for next(), so fallthrough still applies.
        tooLarge = req.body.length > limit;
        init = { ...init, body: tooLarge ? new Uint8Array() : new Uint8Array(req.body) };
      } else init = { ...init, body: stream(), duplex: "half" };
    }
    handler
      .fetch(new Request(url, init))
      .then(async (response) => {
        if (!handler.owns && response.status === 404 && fallthrough && !touched) return next();
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
