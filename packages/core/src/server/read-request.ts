/**
 * Reading a PKIOperation message off the wire (RFC 8894 §4.1, §4.3): a POST body
 * (DER; its base64 or PEM text is taken too), capped; or the GET `message`
 * parameter in every encoding clients use. The body comes from a web
 * `Request` (streamed) or as bytes from an adapter ({@link HttpRequestParts});
 * either way it is read only when the operation needs it. Client mistakes
 * become 4xx replies here.
 *
 * @module
 */
import { latin1 } from "../lib/bytes.js";
import { SIZE_BYTES, numberOption } from "../number-option.js";
import { readCapped } from "../lib/read-capped.js";
import type { HeaderFields, HttpRequestParts } from "./handler.js";
import { decodeMessageParam, rawQueryParam } from "./query.js";
import { Reply, text } from "./replies.js";

/**
 * A request body read whole, or why it could not be: `"too-large"` (over the limit), `"aborted"` (the client went away
 * mid-body), `"already-read"` (something before the handler read it: a `BodyAlreadyReadError` from the adapter, or a
 * web `Request` whose body was used). @group Server
 */
export type BodyRead = Uint8Array | "too-large" | "aborted" | "already-read";

/**
 * The text of the 400 that answers a PKIOperation POST whose body was already read before the SCEP server asked for
 * it (event reason `body_already_read`): a body parser mounted before the SCEP handler took it. One line, ASCII.
 * @group Server
 */
export const BODY_ALREADY_READ_TEXT = "the request body was already read by another middleware: mount the SCEP middleware before body parsers";

/** Whether a body read failed because the body was read before (a `BodyAlreadyReadError`, by code: any copy). */
const alreadyRead = (error: unknown): boolean => (error as { code?: unknown } | null)?.code === "ERR_BODY_ALREADY_READ";

/** Reads the request's body when called (and only then): a PKIOperation POST. @group Server */
export type BodyReader = () => Promise<BodyRead>;

/** Whether a declared `Content-Length` is over `maxBody` (then nothing need be read). */
const declaredTooLarge = (contentLength: string | null | undefined, maxBody: number): boolean => {
  const declared = Number(contentLength ?? "NaN");
  return Number.isFinite(declared) && declared > maxBody;
};

/**
 * Reads a web `Request`'s body whole, up to `maxBody` bytes and never more: a PKIOperation POST body (RFC 8894 §4.1).
 * `createScepServer` and `@scep/proxy` both read theirs with it, so a body a parser mounted before them already read
 * is told the same way in both (answered 400 with {@link BODY_ALREADY_READ_TEXT}).
 *
 * @param request - The request; its body stream is consumed.
 * @param maxBody - Most bytes read, an integer from 1 to 1 073 741 824 (1 GiB, `SIZE_BYTES`, as `maxBodyBytes` of
 *   `createScepServer`). A declared `Content-Length` over it is refused before anything is read; a stream that passes
 *   it is cancelled, the rest never buffered.
 * @returns The body's bytes (empty for no body), or a {@link BodyRead} refusal: `"too-large"`; `"already-read"` when
 *   `request.bodyUsed`, or its stream errors with `ERR_BODY_ALREADY_READ` (a `BodyAlreadyReadError`, as
 *   `@scep/express` makes it, told by its code so a duplicate copy of the package is told too); `"aborted"` for any
 *   other stream error (the client went away mid-body: not a server fault). Nothing about the request rejects.
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`, as a rejection, before the body is touched) for a `maxBody`
 *   that is not such an integer (NaN lifted the limit: `declared > NaN` is false and the stream was read whole), in
 *   `numberOption`'s message: `maxBody must be an integer number of bytes from 1 to 1073741824 (got NaN)`.
 * @example
 * ```ts
 * import { BODY_ALREADY_READ_TEXT, readBody } from "@scep/core";
 *
 * const request = new Request("http://localhost/scep?operation=PKIOperation", { method: "POST", body: new Uint8Array([0x30, 0x00]) });
 * const body = await readBody(request, 65536); // Uint8Array [0x30, 0x00]
 * if (body === "already-read") console.log(400, BODY_ALREADY_READ_TEXT);
 * else if (body === "too-large") console.log(413);
 * ```
 * @group Server
 */
export async function readBody(request: Request, maxBody: number): Promise<BodyRead> {
  numberOption("maxBody", maxBody ?? null, 0, SIZE_BYTES);
  if (declaredTooLarge(request.headers.get("content-length"), maxBody)) return "too-large";
  if (request.bodyUsed) return "already-read";
  try {
    return await readCapped(request.body, maxBody);
  } catch (error) {
    return alreadyRead(error) ? "already-read" : "aborted"; // else the client went away mid-body: not a server fault
  }
}

/** One header field's value from {@link HeaderFields} (a repeated field's values joined by `", "`). @group Server */
export function headerField(headers: HeaderFields | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof headers.get === "function") return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  const v = (headers as Readonly<Record<string, string | readonly string[] | undefined>>)[name];
  return typeof v === "string" || v === undefined ? v : v.join(", ");
}

/** Takes an adapter's body ({@link HttpRequestParts.body}) under the same limit and the same answers as {@link readBody}. @group Server */
export async function takeBody(request: HttpRequestParts, maxBody: number): Promise<BodyRead> {
  if (declaredTooLarge(headerField(request.headers, "content-length"), maxBody)) return "too-large";
  let bytes: Uint8Array;
  try {
    bytes = request.body === undefined ? new Uint8Array() : await request.body;
  } catch (error) {
    return alreadyRead(error) ? "already-read" : "aborted";
  }
  return bytes.length > maxBody ? "too-large" : bytes;
}

/**
 * The text of the 400 that answers a PKIOperation POST body that is neither the DER PKIMessage (RFC 8894 §4.1) nor its
 * base64 or PEM text ({@link pkiMessageFromPostBody} finds none): one line, ASCII, as `createScepServer` (event reason
 * `body_not_der`, followed by a newline) and `@scep/proxy` (`bad_message`) both send it.
 *
 * @example
 * ```ts
 * import { POST_BODY_NOT_DER_TEXT, pkiMessageFromPostBody } from "@scep/core";
 *
 * const body = new TextEncoder().encode("message=MIIB");
 * if (!pkiMessageFromPostBody(body)) console.log(400, POST_BODY_NOT_DER_TEXT);
 * ```
 * @group Server
 */
export const POST_BODY_NOT_DER_TEXT = "the POST body must be the DER PKIMessage (RFC 8894 section 4.1), or its base64 or PEM text; this is none of them";

/**
 * The base64 between a PEM body's BEGIN and END lines (RFC 7468 §2), or `body` as it is when it has no armour. The
 * BEGIN line ends at its closing dashes, so any line ending (CRLF, LF, CR alone) works; "" when an END line is missing.
 */
function pemBody(body: string): string {
  const begin = body.indexOf("-----BEGIN ");
  if (begin < 0) return body;
  const labelEnd = body.indexOf("-----", begin + 11);
  const end = labelEnd < 0 ? -1 : body.indexOf("-----END ", labelEnd + 5);
  return end < 0 ? "" : body.slice(labelEnd + 5, end);
}

/**
 * The DER PKIMessage in a PKIOperation POST body (RFC 8894 §4.1): the body itself when it starts with a SEQUENCE
 * (0x30), else the DER its base64 or PEM text holds (any line ending; the PEM label is not checked), read in one
 * linear pass. No SCEP client we know of posts text, but the server and `@scep/proxy` both take it, the same way.
 *
 * @param body - the POST body, bytes (already capped by the caller).
 * @returns the DER (or BER) PKIMessage, starting with 0x30; undefined for an empty body and for anything else (a
 *   form-encoded `message=`, hex, base64 of something that is not a SEQUENCE, PEM without its END line). Never throws.
 * @example
 * ```ts
 * import { pkiMessageFromPostBody } from "@scep/core";
 *
 * const pem = new TextEncoder().encode("-----BEGIN PKCS7-----\r\nMAMCAQA=\r\n-----END PKCS7-----\r\n");
 * pkiMessageFromPostBody(pem); // Uint8Array [0x30, 0x03, 0x02, 0x01, 0x00]
 * ```
 * @group Server
 */
export function pkiMessageFromPostBody(body: Uint8Array): Uint8Array | undefined {
  if (body.length === 0) return undefined;
  if (body[0] === 0x30) return body;
  const decoded = decodeMessageParam(pemBody(latin1(body)));
  return decoded && decoded[0] === 0x30 ? decoded : undefined;
}

/**
 * What {@link pkiMessageFromGetParam} finds when the `message` parameter of a PKIOperation GET (RFC 8894 §4.1) holds no
 * message it can pass on, checked in this order:
 *
 * - `"missing"`: no `message` parameter, or an empty one (the server answers 400 `missing_message`).
 * - `"too-large"`: the parameter, or the DER it decodes to, is over the size limit (414 URI Too Long, RFC 9110
 *   §15.5.15: the message is in the target URI; `uri_too_long`).
 * - `"not-base64"`: the parameter is not base64 in any encoding clients use (400 `bad_base64`).
 * - `"not-der"`: it decodes to no bytes, or to bytes that do not start with a SEQUENCE (0x30), so no DER (or BER)
 *   PKIMessage: what {@link pkiMessageFromPostBody} refuses in a POST body too (400 `decode_error`).
 *
 * `@scep/proxy` answers every one but `"too-large"` (414 too) 400 `bad_message`.
 * @group Server
 */
export type GetMessageRefusal = "missing" | "too-large" | "not-base64" | "not-der";

/**
 * The PKIMessage a PKIOperation GET carries in its `message` query parameter (RFC 8894 §4.1: base64, in any of the
 * encodings clients use, see {@link rawQueryParam}), under the same size limit as a POST body. The parameter is
 * measured before it is decoded (base64 takes 4 characters for 3 bytes, plus 1024 for line breaks and escapes), the
 * DER after.
 *
 * @param url - A whole URL (`request.url`) or only its query with the leading `?`.
 * @param maxBody - Most bytes of the DER (a server's POST body limit, e.g. `maxBodyBytes`).
 * @returns The decoded DER (or BER) PKIMessage, starting with 0x30 as a POST body must; else the
 *   {@link GetMessageRefusal}: `"missing"` for no or an empty `message`, `"too-large"` for a parameter or DER over
 *   the limit (answer 414 URI Too Long, RFC 9110 §15.5.15), `"not-base64"`, `"not-der"` for no bytes or bytes that
 *   are not a SEQUENCE. Never throws.
 * @example
 * ```ts
 * import { pkiMessageFromGetParam } from "@scep/core";
 *
 * pkiMessageFromGetParam("/scep?operation=PKIOperation&message=MAMCAQA%3D", 65536); // Uint8Array [0x30, 0x03, 0x02, 0x01, 0x00]
 * pkiMessageFromGetParam("/scep?operation=PKIOperation", 65536); // "missing"
 * pkiMessageFromGetParam("/scep?operation=PKIOperation&message=aGVsbG8%3D", 65536); // "not-der" (the base64 of "hello")
 * ```
 * @group Server
 */
export function pkiMessageFromGetParam(url: string, maxBody: number): Uint8Array | GetMessageRefusal {
  const param = rawQueryParam(url, "message");
  if (param === undefined || param === "") return "missing";
  if (param.length > Math.ceil((maxBody * 4) / 3) + 1024) return "too-large";
  const der = decodeMessageParam(param);
  if (!der) return "not-base64";
  if (der.length > maxBody) return "too-large";
  return der[0] === 0x30 ? der : "not-der";
}

/**
 * The 400 text for a GET `message` that decodes to no DER PKIMessage ({@link GetMessageRefusal} `"not-der"`), after
 * the decoder's `malformed PKIOperation: ` prefix, as the request's event reason (`decode_error`) is the decoder's.
 */
const GET_MESSAGE_NOT_DER_TEXT = "malformed PKIOperation: the message is not a DER PKIMessage (RFC 8894 section 4.1)";

/** The PKIOperation message's bytes, or the 4xx reply for a client's mistake. @group Server */
export async function readPkiMessage(method: string, url: string, readBody: BodyReader, maxBody: number): Promise<Uint8Array | Reply> {
  if (method === "POST") {
    const body = await readBody();
    if (body === "too-large") return new Reply(text(413, "message too large"), "rejected", "body_too_large");
    if (body === "aborted") return new Reply(text(400, "request body aborted"), "rejected", "body_aborted");
    if (body === "already-read") return new Reply(text(400, BODY_ALREADY_READ_TEXT), "rejected", "body_already_read");
    if (body.length === 0) return new Reply(text(400, "empty message"), "rejected", "empty_message");
    // RFC 8894 §4.1 has the POST body be the DER (or BER) PKIMessage, which starts with a SEQUENCE (0x30). No SCEP
    // client we know of posts text, but its base64 (what GET carries) or PEM is taken too: read in one linear pass
    // under the body cap already applied. Anything else gets a 400 that says what the body must be.
    return pkiMessageFromPostBody(body) ?? new Reply(text(400, POST_BODY_NOT_DER_TEXT), "rejected", "body_not_der");
  }
  const read = pkiMessageFromGetParam(url, maxBody);
  if (read === "missing") return new Reply(text(400, "missing message parameter"), "rejected", "missing_message");
  // The message is in the target URI: 414 URI Too Long (RFC 9110 §15.5.15), not 413, which is about content.
  if (read === "too-large") return new Reply(text(414, "URI too long"), "rejected", "uri_too_long");
  if (read === "not-base64") return new Reply(text(400, "message is not base64"), "rejected", "bad_base64");
  if (read === "not-der") return new Reply(text(400, GET_MESSAGE_NOT_DER_TEXT), "rejected", "decode_error");
  return read;
}
