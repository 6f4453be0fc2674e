// A Node request's body read into one Buffer, capped: for FetchHandler.handle (no web stream in between).
import type { IncomingMessage } from "node:http";

/** How a capped read ended: `tooLarge` once more than the limit arrived (reading then stops). */
export interface BodyState {
  /** Whether the body was asked for (a handler that never asks leaves `req` unread for `next()`). */
  touched: boolean;
  /** Whether more than the limit arrived, or was declared by `Content-Length`. */
  tooLarge: boolean;
}

/**
 * The body of `req` as a lazy promise-like: nothing is read until the handler awaits it. It resolves with the whole
 * body (one chunk as is, no copy), or with what arrived once that passes `limit` (the handler's own limit then answers
 * 413; the rest is never read and the 413 closes the connection), or empty when `Content-Length` declares more than
 * `limit` (nothing read). It rejects when the client goes away mid-body.
 */
export function lazyBody(req: IncomingMessage, limit: number, state: BodyState): PromiseLike<Uint8Array> {
  let read: Promise<Buffer> | undefined;
  return {
    then(ok, fail) {
      state.touched = true;
      if (!read) {
        state.tooLarge ||= Number(req.headers["content-length"] ?? "NaN") > limit;
        read = state.tooLarge ? Promise.resolve(Buffer.alloc(0)) : readCapped(req, limit, state);
      }
      return read.then(ok, fail);
    },
  };
}

function readCapped(req: IncomingMessage, limit: number, state: BodyState): Promise<Buffer> {
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0)); // read already (by another middleware)
  if (req.destroyed) return Promise.reject(new Error("request body aborted"));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => void req.off("data", onData).off("end", onEnd).off("error", onError).off("close", onClose);
    const whole = (): Buffer => (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size <= limit) return;
      // Stop reading: the rest is never buffered, and the 413 closes the connection.
      state.tooLarge = true;
      done();
      req.pause();
      resolve(whole());
    };
    const onEnd = (): void => void (done(), resolve(whole()));
    const onError = (error: Error): void => void (done(), reject(error));
    const onClose = (): void => void (done(), reject(new Error("request body aborted"))); // closed before its end
    req.on("data", onData).on("end", onEnd).on("error", onError).on("close", onClose);
  });
}
