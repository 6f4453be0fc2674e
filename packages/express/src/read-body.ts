// A Node request's body read into one Buffer, capped: for FetchHandler.handle (no web stream in between).
import type { IncomingMessage } from "node:http";
import { BodyAlreadyReadError } from "@scep/core";

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
 * `limit` (nothing read). It rejects when the client goes away mid-body, and with a `BodyAlreadyReadError` when a
 * middleware before this one read the body (see {@link bodyAlreadyRead}): the SCEP server answers 400
 * `body_already_read`, not an empty message.
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
  if (bodyAlreadyRead(req)) return Promise.reject(alreadyReadError());
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

/**
 * Whether a middleware mounted before ours already read `req`'s body (a body parser: `express.urlencoded()`,
 * `express.json()`, `express.text()`, multer…): the stream has ended before we read it, or body-parser 1.x marked it
 * (`req._body`). Its bytes are gone (a parsed form or JSON is not the DER), so the request cannot be served.
 */
export function bodyAlreadyRead(req: IncomingMessage): boolean {
  return req.readableEnded || (req as { _body?: unknown })._body === true;
}

/** The error a body read by another middleware is reported with (the server's 400 `body_already_read`). */
export const alreadyReadError = (): BodyAlreadyReadError => new BodyAlreadyReadError("the request body was already read by another middleware");
