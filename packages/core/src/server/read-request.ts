/**
 * Reading a PKIOperation message off the wire (RFC 8894 §4.3): a POST body
 * (DER, or base64 text some clients send), streamed and capped; or the GET
 * `message` parameter in every encoding clients use. Client mistakes become
 * 4xx replies here.
 *
 * @module
 */
import { readCapped } from "../lib/read-capped.js";
import { decodeMessageParam, rawQueryParam } from "./query.js";
import { Reply, text } from "./replies.js";

/** Reads a request body up to `maxBody` bytes. @group Server */
export async function readBody(request: Request, maxBody: number): Promise<Uint8Array | "too-large" | "aborted"> {
  const declared = Number(request.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > maxBody) return "too-large";
  try {
    return await readCapped(request.body, maxBody);
  } catch {
    return "aborted"; // the client went away mid-body: its mistake, not a server fault
  }
}

/** The PKIOperation message's bytes, or the 4xx reply for a client's mistake. @group Server */
export async function readPkiMessage(request: Request, url: string, maxBody: number): Promise<Uint8Array | Reply> {
  let message: Uint8Array | undefined;
  if (request.method === "POST") {
    const body = await readBody(request, maxBody);
    if (body === "too-large") return new Reply(text(413, "message too large"), "rejected", "body_too_large");
    if (body === "aborted") return new Reply(text(400, "request body aborted"), "rejected", "body_aborted");
    message = body;
    // Some clients POST base64 text instead of DER.
    if (body.length > 0 && body[0] !== 0x30) message = decodeMessageParam(new TextDecoder().decode(body)) ?? body;
  } else {
    const param = rawQueryParam(url, "message");
    if (param === undefined || param === "") return new Reply(text(400, "missing message parameter"), "rejected", "missing_message");
    if (param.length > (maxBody * 4) / 3 + 1024) return new Reply(text(413, "message too large"), "rejected", "body_too_large");
    message = decodeMessageParam(param);
    if (!message) return new Reply(text(400, "message is not base64"), "rejected", "bad_base64");
  }
  if (message.length === 0) return new Reply(text(400, "empty message"), "rejected", "empty_message");
  return message;
}
