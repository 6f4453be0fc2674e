/**
 * A PKCS#10 request (RFC 2986) as Windows' ClientCertificateInstall CSP and Intune write it, built byte by byte
 * (X.690 DER) so that the tests control every attribute: Microsoft's enrollment name-value pairs (attribute
 * 1.3.6.1.4.1.311.13.2.1, MS-WCCE §2.2.2.7.10, names and values as BMPString) and, when given, a challengePassword
 * (PKCS#9 1.2.840.113549.1.9.7, PrintableString). Signed sha256WithRSAEncryption with `keys`; returns DER bytes.
 */
import { KeyObject, sign } from "node:crypto";

const len = (n: number): Buffer => (n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]));
const tlv = (tag: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
};
const oid = (dotted: string): Buffer => {
  const [a, b, ...rest] = dotted.split(".").map(Number);
  const bytes = [a! * 40 + b!];
  for (const n of rest) {
    const enc = [n & 0x7f];
    for (let v = n >> 7; v > 0; v >>= 7) enc.unshift((v & 0x7f) | 0x80);
    bytes.push(...enc);
  }
  return tlv(0x06, Buffer.from(bytes));
};
const bmp = (s: string): Buffer => tlv(0x1e, Buffer.from([...s].flatMap((c) => [0, c.charCodeAt(0)])));
const attribute = (type: string, value: Buffer): Buffer => tlv(0x30, oid(type), tlv(0x31, value));

/** The request for `keys` with subject `CN=<cn>`, the challenge if given, and the name-value pairs (name, value) if given. */
export function windowsCsr(keys: CryptoKeyPair, cn: string, options: { challenge?: string; pairs?: [string, string][] } = {}): Uint8Array {
  const spki = KeyObject.from(keys.publicKey).export({ type: "spki", format: "der" });
  const subject = tlv(0x30, tlv(0x31, tlv(0x30, oid("2.5.4.3"), tlv(0x0c, Buffer.from(cn)))));
  const attributes: Buffer[] = [];
  if (options.challenge !== undefined) attributes.push(attribute("1.2.840.113549.1.9.7", tlv(0x13, Buffer.from(options.challenge))));
  if (options.pairs) attributes.push(attribute("1.3.6.1.4.1.311.13.2.1", tlv(0x30, ...options.pairs.map(([n, v]) => tlv(0x30, bmp(n), bmp(v))))));
  const info = tlv(0x30, tlv(0x02, Buffer.from([0])), subject, spki, tlv(0xa0, ...attributes));
  const signature = sign("sha256", info, KeyObject.from(keys.privateKey));
  return tlv(0x30, info, tlv(0x30, oid("1.2.840.113549.1.1.11"), Buffer.from([0x05, 0x00])), tlv(0x03, Buffer.from([0]), signature));
}
