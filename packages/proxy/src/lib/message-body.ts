// The PKIOperation message a device POSTed (RFC 8894 §4.1: the DER PKIMessage), as the @scep/core server reads it.
import { fromBase64Lenient } from "@scep/core";

/**
 * The DER PKIMessage in a POST body: the body itself when it starts with a SEQUENCE (0x30), else the base64 or PEM
 * text of one (the armour's label is not checked), decoded in one linear pass; undefined for anything else.
 */
export function messageFromBody(body: Uint8Array): Uint8Array | undefined {
  if (body[0] === 0x30) return body;
  // (windows-1252 as WHATWG reads "latin1": octets above 0x7f are not base64 either way)
  let text = new TextDecoder("latin1").decode(body);
  const begin = text.indexOf("-----BEGIN ");
  if (begin >= 0) {
    const start = text.indexOf("\n", begin);
    const end = start < 0 ? -1 : text.indexOf("-----END ", start);
    text = end < 0 ? "" : text.slice(start + 1, end);
  }
  const der = fromBase64Lenient(text);
  return der && der[0] === 0x30 ? der : undefined;
}
