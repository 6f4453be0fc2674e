// IncomingMessage → web Request → handler.fetch → ServerResponse: for handlers without `handle`.
import type { ServerResponse } from "node:http";
import type { ConnectionInfo, FetchHandler } from "@scep/core";
import type { NodeRequest } from "./scep-middleware.js";
import { alreadyReadError, bodyAlreadyRead } from "./read-body.js";

/** Serves `req` through `handler.fetch`; `next` gets an untouched 404 when `fallthrough404` (a handler without `owns`). */
export function viaFetch(handler: FetchHandler, req: NodeRequest, res: ServerResponse, next: (error?: unknown) => void, path: string, limit: number, fallthrough404: boolean, info: ConnectionInfo): void {
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
          // A body parser before us read it: the handler's read fails with BodyAlreadyReadError (not an empty body).
          if (!chunks && bodyAlreadyRead(req)) return controller.error(alreadyReadError());
          chunks ??= req[Symbol.asyncIterator]();
          // A client gone mid-body errors the stream (the handler's answer to an aborted body, the SCEP server's 400
          // body_aborted), as on the plain-parts path: ended here, the bytes that had arrived read as a whole body.
          let chunk: IteratorResult<Buffer>;
          try {
            chunk = await chunks.next();
          } catch (error) {
            return controller.error(error);
          }
          if (chunk.done) return req.complete === false ? controller.error(new Error("request body aborted")) : controller.close();
          const value = chunk.value;
          received += value.length;
          controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.length));
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
    .fetch(new Request(url, init), info)
    .then(async (response) => {
      if (fallthrough404 && response.status === 404 && !touched) return next();
      if (tooLarge) {
        res.writeHead(413, { "content-type": "text/plain; charset=utf-8", connection: "close" });
        return void res.end("message too large\n");
      }
      const payload = Buffer.from(await response.arrayBuffer());
      const out: Record<string, string> = {};
      response.headers.forEach((value, name) => void (out[name] = value));
      // The whole answer is read: its length, as HEAD gets it too (RFC 9110 §9.3.2). A handler answering HEAD like GET
      // gave the GET's content (dropped here); one that gave none keeps its own Content-Length (the SCEP server's has it).
      if (response.status !== 204 && response.status !== 304 && (method !== "HEAD" || payload.length > 0)) out["content-length"] = String(payload.length);
      if (response.status === 413) out.connection = "close";
      res.writeHead(response.status, out);
      res.end(method === "HEAD" ? undefined : payload);
    })
    .catch(next);
}
