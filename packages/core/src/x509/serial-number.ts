/**
 * One spelling per certificate serial number (RFC 5280 §4.1.2.2), so a serial found on the wire
 * (IssuerAndSerialNumber, RFC 8894 §3.3.3), in a certificate, in a store or typed by a person is
 * compared as the INTEGER it is.
 *
 * ```asn
 * CertificateSerialNumber ::= INTEGER
 * ```
 *
 * A serial is an INTEGER, and RFC 5280 asks for a positive one; but old CAs issued negative ones
 * (DER content `80 01` is −32767, not 0x8001 = `00 80 01`), and §4.1.2.2 asks users to handle
 * them gracefully. So the canonical spelling keeps the sign:
 *
 * - zero or positive: the INTEGER's DER content octets in lower-case hex, `00` in front of a first
 *   octet of 0x80 or more (`008001`, `0a1b2c`, `00`);
 * - negative: `-` and the magnitude in lower-case hex of even length, as `openssl x509 -serial`
 *   prints it (`-7fff` for content `80 01`).
 *
 * Text is read as OpenSSL and people write it: hex digits (any case, `:` or spaces between,
 * redundant leading zeros) are the positive number; a leading `-` makes it negative. Note that
 * `@peculiar/x509`'s `X509Certificate.serialNumber` (2.2) gives `8001` for both −32767 and 0x8001:
 * give its DER bytes (or `Certificate.serialNumber` of @scep/core) instead of that text.
 *
 * @module
 */
import { InvalidArgumentError } from "../errors.js";
import { fromHex, toHex } from "../lib/bytes.js";

/** Most content octets a serial may have: 20 (RFC 5280 §4.1.2.2) and a `00` before a first octet of 0x80 or more. */
const MAX_OCTETS = 21;

/**
 * The minimal (DER) content octets of an INTEGER given its BER content octets: a redundant leading `00`
 * (before an octet under 0x80) or `ff` (before an octet of 0x80 or more) dropped. Same value, same sign.
 * @internal
 */
export function minimalIntegerOctets(content: Uint8Array): Uint8Array {
  let i = 0;
  while (i < content.length - 1 && ((content[i] === 0x00 && content[i + 1]! < 0x80) || (content[i] === 0xff && content[i + 1]! >= 0x80))) i++;
  return content.subarray(i);
}

/** Minimal content octets → canonical text (see the module comment). */
function spell(octets: Uint8Array): string {
  if (octets[0]! < 0x80) return toHex(octets);
  // Negative: value = unsigned − 2^(8n); the magnitude is 2^(8n) − unsigned.
  const magnitude = (1n << BigInt(octets.length * 8)) - BigInt("0x" + toHex(octets));
  const digits = magnitude.toString(16);
  return "-" + (digits.length % 2 ? "0" + digits : digits);
}

/** A signed value → minimal two's-complement content octets. */
function octetsOf(value: bigint): Uint8Array {
  if (value >= 0n) {
    let digits = value.toString(16);
    if (digits.length % 2) digits = "0" + digits;
    return parseInt(digits.slice(0, 2), 16) >= 0x80 ? fromHex("00" + digits) : fromHex(digits);
  }
  // The fewest octets n with −2^(8n−1) ≤ value.
  let n = 1;
  while (-(1n << BigInt(n * 8 - 1)) > value) n++;
  const unsigned = (1n << BigInt(n * 8)) + value;
  return fromHex(unsigned.toString(16).padStart(n * 2, "0"));
}

/** Text or content octets → minimal content octets, at most {@link MAX_OCTETS} of them. */
function parse(serialNumber: string | Uint8Array): Uint8Array {
  const octets = parseAnyLength(serialNumber);
  if (octets.length > MAX_OCTETS) throw new InvalidArgumentError("serialNumber is longer than 20 octets (RFC 5280 §4.1.2.2)");
  return octets;
}

/** Text or content octets → minimal content octets, any length. */
function parseAnyLength(serialNumber: string | Uint8Array): Uint8Array {
  if (serialNumber instanceof Uint8Array) {
    if (serialNumber.length === 0) throw new InvalidArgumentError("serialNumber has no octets (an INTEGER has at least one)");
    return minimalIntegerOctets(serialNumber);
  }
  if (typeof serialNumber !== "string") throw new InvalidArgumentError("serialNumber must be a hex string or the INTEGER's content octets");
  const m = /^(-?)([0-9a-f]+)$/.exec(serialNumber.replace(/[:\s]/g, "").toLowerCase());
  if (!m) throw new InvalidArgumentError("serialNumber must be hex digits (optionally separated by ':', a leading '-' for a negative serial)");
  const digits = m[2]!.replace(/^0+/, "");
  // Checked before BigInt: a megabyte of digits must not cost a megabyte-sized number.
  if (digits.length > MAX_OCTETS * 2) throw new InvalidArgumentError("serialNumber is longer than 20 octets (RFC 5280 §4.1.2.2)");
  const magnitude = digits === "" ? 0n : BigInt("0x" + digits);
  return octetsOf(m[1] === "-" ? -magnitude : magnitude);
}

/**
 * A serial number in its one canonical spelling (see the module comment): zero or positive as the
 * INTEGER's DER content octets in lower-case hex (`008001`), negative as `-` and the magnitude
 * (`-7fff`, OpenSSL's `serial=-7FFF`). Two different INTEGERs never share a spelling, and the result
 * is its own canonical spelling.
 *
 * Text: hex digits in any case, `:` or spaces between them, any number of leading zeros, read as the
 * positive number (what `openssl x509 -serial` prints), or after a `-` the negative one. Bytes: the
 * INTEGER's content octets (two's complement, as in a certificate or an IssuerAndSerialNumber; BER's
 * redundant leading `00`/`ff` octets allowed).
 *
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) when the text is not hex, the bytes are empty, or the serial is longer than 20 octets (RFC 5280 §4.1.2.2; 21 with the `00` of a first octet of 0x80 or more).
 * @example
 * ```ts
 * normalizeSerialNumber("0A:1B:2C"); // "0a1b2c"
 * normalizeSerialNumber("8001"); // "008001", the same as "00:80:01": 0x8001
 * normalizeSerialNumber(new Uint8Array([0x80, 0x01])); // "-7fff": the DER INTEGER 80 01 is −32767
 * normalizeSerialNumber("-7FFF"); // "-7fff"
 * ```
 * @group Storage
 */
export function normalizeSerialNumber(serialNumber: string | Uint8Array): string {
  return spell(parse(serialNumber));
}

/**
 * A serial number's INTEGER content octets (DER: minimal two's complement), from any spelling
 * {@link normalizeSerialNumber} takes: what a certificate, a CRL entry or an IssuerAndSerialNumber
 * (RFC 8894 §3.3.3) holds. `"8001"` gives `00 80 01`; `"-7fff"` gives `80 01`.
 *
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) as {@link normalizeSerialNumber}.
 * @example
 * ```ts
 * serialNumberOctets("-7FFF"); // Uint8Array [0x80, 0x01]
 * serialNumberOctets("80:01"); // Uint8Array [0x00, 0x80, 0x01]
 * ```
 * @group Storage
 */
export function serialNumberOctets(serialNumber: string | Uint8Array): Uint8Array {
  return Uint8Array.from(parse(serialNumber));
}

/**
 * The canonical text of an INTEGER's content octets of any length, never throwing (`Certificate.serialNumberHex`
 * of a certificate with an over-long serial still prints). Empty content gives `00`.
 * @internal
 */
export function integerText(content: Uint8Array): string {
  return content.length === 0 ? "00" : spell(minimalIntegerOctets(content));
}
