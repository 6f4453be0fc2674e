/**
 * A small, bounds-checked BER reader and DER writer for the PKIOperation hot
 * path.
 *
 * Why not @peculiar/asn1-schema here: measured on this machine it takes about
 * 1.2 ms to parse one PKCSReq's ContentInfo → SignedData → EnvelopedData, more
 * than the RSA-2048 private-key operation the message needs. This reader walks
 * the same bytes in tens of microseconds, keeps every element's raw encoding
 * (CMS signatures are over the original bytes), accepts BER (indefinite
 * lengths, constructed strings) and enforces depth and length limits so hostile
 * input fails fast with an {@link Asn1Error}.
 */
import { Asn1Error } from "../errors.js";
import { concat, latin1 } from "./bytes.js";
import { LIMITS } from "../limits.js";
import { ScratchBytes } from "./scratch-bytes.js";

// One concatenation for the package (lib/bytes.ts); `der.concat` stays for the writers that call it so.
export { concat };

/** Universal tags used by SCEP. Class and constructed bits included. */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  NUMERIC_STRING: 0x12,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  VISIBLE_STRING: 0x1a,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

const MAX_DEPTH = LIMITS.asn1Depth;
const MAX_ELEMENTS = LIMITS.asn1Elements;

/** One element: where it is in `buf`, and how long its parts are. */
export interface Tlv {
  /** The identifier octet (class, constructed bit and tag number < 31). */
  readonly tag: number;
  /** The buffer the element lives in. */
  readonly buf: Uint8Array;
  /** Offset of the identifier octet. */
  readonly start: number;
  /** Offset of the first content octet. */
  readonly contentStart: number;
  /** Offset just past the content (before an end-of-contents marker). */
  readonly contentEnd: number;
  /** Offset just past the whole element. */
  readonly end: number;
}

function fail(message: string): never {
  throw new Asn1Error(message);
}

/** Reads the element that starts at `offset`; `limit` bounds it. */
export function readTlv(buf: Uint8Array, offset = 0, limit = buf.length, depth = 0): Tlv {
  if (depth > MAX_DEPTH) fail("ASN.1 nesting too deep");
  if (offset + 2 > limit) fail("ASN.1 element truncated");
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) fail("ASN.1 high tag numbers are not used by SCEP");
  let pos = offset + 1;
  const first = buf[pos++]!;
  if (first < 0x80) {
    const contentEnd = pos + first;
    if (contentEnd > limit) fail("ASN.1 length exceeds the data");
    return { tag, buf, start: offset, contentStart: pos, contentEnd, end: contentEnd };
  }
  if (first === 0x80) {
    // Indefinite length (BER): constructed only, ends with 00 00.
    if ((tag & 0x20) === 0) fail("ASN.1 indefinite length on a primitive element");
    const contentStart = pos;
    let p = pos;
    for (;;) {
      if (p + 2 > limit) fail("ASN.1 indefinite length without end-of-contents");
      if (buf[p] === 0 && buf[p + 1] === 0) break;
      p = readTlv(buf, p, limit, depth + 1).end;
    }
    return { tag, buf, start: offset, contentStart, contentEnd: p, end: p + 2 };
  }
  const n = first & 0x7f;
  if (n > 4) fail("ASN.1 length too large");
  if (pos + n > limit) fail("ASN.1 length truncated");
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + buf[pos++]!;
  const contentEnd = pos + len;
  if (contentEnd > limit) fail("ASN.1 length exceeds the data");
  return { tag, buf, start: offset, contentStart: pos, contentEnd, end: contentEnd };
}

/** Parses a buffer holding exactly one element (trailing bytes are an error). */
export function parse(buf: Uint8Array): Tlv {
  // A Buffer (an HTTP body, a decrypted content) is read through a plain Uint8Array view of the same memory:
  // every content() and raw() of it is then TypedArray.prototype.subarray, not Buffer's slower JS override
  // (and allocates a Uint8Array, not a FastBuffer).
  if (buf.constructor !== Uint8Array) buf = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  const t = readTlv(buf, 0, buf.length);
  if (t.end !== buf.length) fail("ASN.1 trailing data after the element");
  return t;
}

// Where {@link children} collects an element's children before copying them into an array of their exact length:
// an array grown by `push` holds 17 slots from its first element (184 bytes on Node's V8, which has no pointer
// compression) where a copy of 3 takes 72, and a PKIOperation makes ~50 such lists (measured: 6.2 KiB of garbage a
// message less). `children` calls nothing that calls it again (readTlv does not), so one array serves every call.
const collected: (Tlv | undefined)[] = [];

/**
 * The child elements of a constructed element. Every reader here takes
 * `Tlv | undefined`, so a missing field (`children(x)[3]`) is an
 * {@link Asn1Error}, never a TypeError.
 */
export function children(t: Tlv | undefined): Tlv[] {
  if (!t) fail("ASN.1 expected a constructed element, the field is missing");
  if ((t.tag & 0x20) === 0) fail("ASN.1 expected a constructed element");
  let n = 0;
  try {
    let p = t.contentStart;
    while (p < t.contentEnd) {
      if (n === MAX_ELEMENTS) fail(`ASN.1 constructed element with more than ${MAX_ELEMENTS} elements`);
      const c = readTlv(t.buf, p, t.contentEnd);
      collected[n++] = c;
      p = c.end;
    }
    return collected.slice(0, n) as Tlv[];
  } finally {
    // No element (nor the message it points into) is kept here once the call returns or throws.
    for (let i = 0; i < n; i++) collected[i] = undefined;
  }
}

/** The children of `t`, checking its tag first. */
export function expect(t: Tlv | undefined, tag: number, what: string): Tlv[] {
  if (!t) fail(`${what}: missing`);
  if (t.tag !== tag) fail(`${what}: expected tag 0x${tag.toString(16)}, got 0x${t.tag.toString(16)}`);
  return children(t);
}

/** The tag of an element, checked. */
export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t) fail(`${what}: missing`);
  // Accept the constructed form of string types (BER).
  if (t.tag !== tag && t.tag !== (tag | 0x20)) fail(`${what}: expected tag 0x${tag.toString(16)}, got 0x${t.tag.toString(16)}`);
  return t;
}

/** The content octets (a view, no copy). For a constructed string use {@link octets}. */
export function content(t: Tlv | undefined): Uint8Array {
  if (!t) fail("ASN.1 element missing");
  return t.buf.subarray(t.contentStart, t.contentEnd);
}

/** The whole encoding of the element (a view, no copy). */
export function raw(t: Tlv | undefined): Uint8Array {
  if (!t) fail("ASN.1 element missing");
  return t.buf.subarray(t.start, t.end);
}

/**
 * The octets of a string type, joining the segments of a constructed (BER)
 * encoding, as iOS sends for eContent.
 */
export function octets(t: Tlv | undefined): Uint8Array {
  if (!t) fail("ASN.1 string missing");
  if ((t.tag & 0x20) === 0) return content(t);
  const parts: Uint8Array[] = [];
  const walk = (e: Tlv, depth: number): void => {
    if (depth > 8) fail("ASN.1 constructed string nested too deep");
    for (const c of children(e)) {
      if (c.tag & 0x20) walk(c, depth + 1);
      else parts.push(content(c));
    }
  };
  walk(t, 0);
  return concat(parts);
}

/** Children of a context-specific [n] EXPLICIT wrapper: its single inner element. */
export function explicit(t: Tlv | undefined, n: number, what: string): Tlv {
  if (!t) fail(`${what}: missing`);
  if (t.tag !== (0xa0 | n)) fail(`${what}: expected [${n}]`);
  const c = children(t);
  if (c.length !== 1) fail(`${what}: [${n}] must hold one element`);
  return c[0]!;
}

/** A decoded OID, found again by the hash of its content octets (no string built to look it up). */
interface OidEntry {
  readonly bytes: Uint8Array;
  readonly dotted: string;
  readonly next: OidEntry | undefined;
}

const oidCache = new Map<number, OidEntry>();
let oidCacheSize = 0;

function sameBytes(entry: Uint8Array, buf: Uint8Array, start: number, end: number): boolean {
  if (entry.length !== end - start) return false;
  for (let i = 0; i < entry.length; i++) if (entry[i] !== buf[start + i]) return false;
  return true;
}

/** Decodes an OBJECT IDENTIFIER element to dotted form. */
export function readOid(t: Tlv | undefined, what = "OID"): string {
  if (!t || t.tag !== Tag.OID) fail(`${what}: expected an OBJECT IDENTIFIER`);
  const { buf, contentStart: start, contentEnd: end } = t;
  if (end === start || end - start > 64) fail(`${what}: bad OBJECT IDENTIFIER length`);
  let hash = 0x811c9dc5; // FNV-1a
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ buf[i]!, 0x01000193);
  const head = oidCache.get(hash);
  for (let e = head; e; e = e.next) if (sameBytes(e.bytes, buf, start, end)) return e.dotted;
  const arcs: number[] = [];
  let v = 0;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (v === 0 && b === 0x80) fail(`${what}: non-minimal OID arc`);
    v = v * 128 + (b & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 128) fail(`${what}: OID arc too large`);
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) {
        const first = v < 40 ? 0 : v < 80 ? 1 : 2;
        arcs.push(first, v - first * 40);
      } else arcs.push(v);
      v = 0;
    }
  }
  if (buf[end - 1]! & 0x80) fail(`${what}: truncated OID`);
  const s = arcs.join(".");
  // Bounded: a peer can send OIDs of its own choosing.
  if (oidCacheSize < 1024) {
    oidCache.set(hash, { bytes: buf.slice(start, end), dotted: s, next: head });
    oidCacheSize++;
  }
  return s;
}

/** Decodes a small non-negative INTEGER (e.g. a version). */
export function readSmallInt(t: Tlv | undefined, what: string): number {
  if (!t || t.tag !== Tag.INTEGER) fail(`${what}: expected an INTEGER`);
  const c = content(t);
  if (c.length === 0 || c.length > 4) fail(`${what}: INTEGER out of range`);
  let v = 0;
  for (const b of c) v = v * 256 + b;
  if (c[0]! & 0x80) fail(`${what}: negative INTEGER`);
  return v;
}

/**
 * Decodes a character string to a JS string: every DirectoryString type and
 * the other string types SCEP and X.509 carry (RFC 5280 §4.1.2.4, RFC 2985
 * §5.4.1, X.680 §41), primitive or constructed (BER).
 *
 * ```asn
 * DirectoryString ::= CHOICE {
 *   teletexString TeletexString, printableString PrintableString,
 *   universalString UniversalString, utf8String UTF8String, bmpString BMPString }
 * ```
 *
 * PrintableString, NumericString, IA5String and VisibleString are read as
 * their (ASCII) octets; TeletexString (T.61) as Latin-1, as OpenSSL and most
 * CAs treat it; UTF8String as UTF-8 (invalid sequences become U+FFFD);
 * BMPString as UCS-2 big-endian (two octets a character); UniversalString as
 * UCS-4 big-endian (four octets a character). OCTET STRING is read as Latin-1
 * (some peers send transactionID that way). Anything else, an odd-length
 * BMPString, or a UniversalString whose length is not a multiple of four or
 * that holds a value above U+10FFFF is an {@link Asn1Error}.
 */
export function readString(t: Tlv | undefined, what: string): string {
  if (!t) fail(`${what}: missing`);
  const base = t.tag & ~0x20;
  if (!STRING_TAGS.has(base)) fail(`${what}: expected a string`);
  const bytes = octets(t);
  switch (base) {
    case Tag.PRINTABLE_STRING:
    case Tag.NUMERIC_STRING:
    case Tag.IA5_STRING:
    case Tag.VISIBLE_STRING:
    case Tag.T61_STRING:
    case Tag.OCTET_STRING:
      return latin1(bytes);
    case Tag.UTF8_STRING:
      return UTF8_LENIENT.decode(bytes);
    case Tag.BMP_STRING: {
      if (bytes.length % 2 !== 0) fail(`${what}: BMPString length is not a multiple of 2`);
      let s = "";
      for (let i = 0; i < bytes.length; i += 2) s += String.fromCharCode((bytes[i]! << 8) | bytes[i + 1]!);
      return s;
    }
    case Tag.UNIVERSAL_STRING: {
      if (bytes.length % 4 !== 0) fail(`${what}: UniversalString length is not a multiple of 4`);
      let s = "";
      for (let i = 0; i < bytes.length; i += 4) {
        const cp = bytes[i]! * 0x1000000 + ((bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!);
        if (cp > 0x10ffff) fail(`${what}: UniversalString character out of range`);
        s += String.fromCodePoint(cp);
      }
      return s;
    }
    default:
      fail(`${what}: expected a string`);
  }
}

// One of each, shared: a whole-buffer decode() (no `stream` option) and encode() keep no state between calls.
// ignoreBOM: a leading U+FEFF is part of the value (X.680 §41 strings have no byte order mark); by default TextDecoder
// strips it, and "\uFEFFsecret" read as "secret" while its BMPString spelling kept the character.
const UTF8_LENIENT = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
const UTF8_ENCODER = new TextEncoder();

const STRING_TAGS: ReadonlySet<number> = new Set([
  Tag.UTF8_STRING,
  Tag.NUMERIC_STRING,
  Tag.PRINTABLE_STRING,
  Tag.T61_STRING,
  Tag.IA5_STRING,
  Tag.VISIBLE_STRING,
  Tag.UNIVERSAL_STRING,
  Tag.BMP_STRING,
  Tag.OCTET_STRING,
]);

/** Decodes UTCTime or GeneralizedTime (BER forms with a ±hhmm offset or no seconds included). */
export function readTime(t: Tlv | undefined, what: string): Date {
  if (!t) fail(`${what}: missing`);
  const fast = readTimeDer(t);
  if (fast !== undefined) return new Date(fast);
  const s = latin1(content(t));
  let m: RegExpExecArray | null;
  if (t.tag === Tag.UTC_TIME) m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)?(Z|[+-]\d{4})$/.exec(s);
  else if (t.tag === Tag.GENERALIZED_TIME) m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)?(?:\.\d+)?(Z|[+-]\d{4})$/.exec(s);
  else fail(`${what}: expected a time`);
  if (!m) fail(`${what}: malformed time`);
  let year = Number(m[1]);
  if (t.tag === Tag.UTC_TIME) year += year < 50 ? 2000 : 1900;
  let ms = Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0));
  const zone = m[7]!;
  if (zone !== "Z") {
    const offset = (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5))) * 60_000;
    ms += zone[0] === "+" ? -offset : offset;
  }
  return new Date(ms);
}

/** Two ASCII digits at `i` as a number, or -1. */
function digits2(b: Uint8Array, i: number): number {
  const h = b[i]! - 0x30;
  const l = b[i + 1]! - 0x30;
  return h >= 0 && h <= 9 && l >= 0 && l <= 9 ? h * 10 + l : -1;
}

/**
 * The DER forms of a time (UTCTime `YYMMDDHHMMSSZ`, GeneralizedTime
 * `YYYYMMDDHHMMSSZ`, RFC 5280 §4.1.2.5) read straight from the bytes, as ms
 * since the epoch with the same field arithmetic as {@link readTime}'s general
 * path; undefined for any other form, which that path then reads.
 */
function readTimeDer(t: Tlv): number | undefined {
  const b = t.buf;
  const s = t.contentStart;
  const n = t.contentEnd - s;
  let year: number;
  let o: number;
  if (t.tag === Tag.UTC_TIME && n === 13) {
    year = digits2(b, s);
    if (year < 0) return undefined;
    year += year < 50 ? 2000 : 1900;
    o = s + 2;
  } else if (t.tag === Tag.GENERALIZED_TIME && n === 15) {
    const hi = digits2(b, s);
    const lo = digits2(b, s + 2);
    if (hi < 0 || lo < 0) return undefined;
    year = hi * 100 + lo;
    o = s + 4;
  } else return undefined;
  if (b[o + 10] !== 0x5a) return undefined; // "Z"
  const month = digits2(b, o);
  const day = digits2(b, o + 2);
  const hour = digits2(b, o + 4);
  const minute = digits2(b, o + 6);
  const second = digits2(b, o + 8);
  if (month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

// ---------------------------------------------------------------- writer

/**
 * An encoding under construction: finished bytes, or an element whose header
 * and body are written once, into one buffer, by {@link encode}. Building
 * nested structures this way copies each byte once instead of once per
 * nesting level (a CertRep's envelope sits six levels deep).
 */
export type Der = Uint8Array | DerElement;

/** An element whose encoding is written by {@link encode}. */
export interface DerElement {
  /** Identifier octet. */
  readonly tag: number;
  /** The body, in order. */
  readonly body: readonly Der[];
  /** Length of the content octets. */
  readonly contentLength: number;
  /** Length of the whole encoding. */
  readonly size: number;
}

function sizeOf(x: Der): number {
  return x instanceof Uint8Array ? x.length : x.size;
}

function headerLength(len: number): number {
  return len < 0x80 ? 2 : len < 0x100 ? 3 : len < 0x10000 ? 4 : len < 0x1000000 ? 5 : 6;
}

/** One element with a definite (DER) length; nothing is copied until {@link encode}. */
export function tlv(tag: number, ...body: Der[]): DerElement {
  return element(tag, body);
}

/** {@link tlv} over a body list the caller hands over (no copy of the list). */
function element(tag: number, body: readonly Der[]): DerElement {
  let len = 0;
  for (let i = 0; i < body.length; i++) len += sizeOf(body[i]!);
  return { tag, body, contentLength: len, size: headerLength(len) + len };
}

// Below this many bytes a loop copies faster than a call to TypedArray.prototype.set (OIDs, small
// INTEGERs, NULL, nonces and times: most of the leaves of a CertRep).
const SMALL_COPY = 24;

/** Writes an identifier octet and a definite length at `o`; returns the offset of the content. */
function writeHeader(out: Uint8Array, o: number, tag: number, len: number): number {
  const hl = headerLength(len);
  out[o] = tag;
  if (hl === 2) out[o + 1] = len;
  else {
    out[o + 1] = 0x80 | (hl - 2);
    for (let i = hl - 1, v = len; i >= 2; i--, v = Math.floor(v / 256)) out[o + i] = v & 0xff;
  }
  return o + hl;
}

function write(out: Uint8Array, o: number, x: Der): number {
  if (x instanceof Uint8Array) {
    const n = x.length;
    if (n < SMALL_COPY) for (let i = 0; i < n; i++) out[o + i] = x[i]!;
    else out.set(x, o);
    return o + n;
  }
  o = writeHeader(out, o, x.tag, x.contentLength);
  const body = x.body;
  for (let i = 0; i < body.length; i++) o = write(out, o, body[i]!);
  return o;
}

/** The bytes of an encoding. */
export function encode(x: Der): Uint8Array {
  if (x instanceof Uint8Array) return x;
  const out = new Uint8Array(x.size);
  write(out, 0, x);
  return out;
}

// Where encodings that are read once and let go (hashed, encrypted, verified) are written. Larger ones get arrays of
// their own.
const scratch = new ScratchBytes(65_536);

/** `use` called with `size` bytes that `fill` wrote into the encodings' reused memory, zeroed afterwards. */
function withScratch<T>(size: number, fill: (out: Uint8Array) => void, use: (bytes: Uint8Array) => T): T {
  return scratch.use(size, (bytes) => {
    fill(bytes);
    return use(bytes);
  });
}

/**
 * Calls `use` with the encoding of `x` and returns what it returns, for bytes that are read at once and let go
 * (hashed, encrypted): an element is written into reused memory ({@link ScratchBytes}) and zeroed after, so `use` must
 * neither keep the bytes nor a view of them, nor await before it has read them. Bytes (`x` a Uint8Array) are passed
 * as they are.
 */
export function withEncoding<T>(x: Der, use: (bytes: Uint8Array) => T): T {
  if (x instanceof Uint8Array) return use(x);
  return withScratch(x.size, (out) => write(out, 0, x), use);
}

/**
 * Calls `use` with `encoding` re-tagged as `tag` (the identifier octet replaced, e.g. `[0] IMPLICIT` → SET: what a
 * SignerInfo's signature covers, RFC 5652 §5.4) and returns what it returns; the same terms as {@link withEncoding}.
 */
export function withRetagged<T>(encoding: Uint8Array, tag: number, use: (bytes: Uint8Array) => T): T {
  return withScratch(
    encoding.length,
    (out) => {
      out.set(encoding);
      out[0] = tag;
    },
    use,
  );
}

/** SEQUENCE. */
export const seq = (...body: Der[]): DerElement => element(Tag.SEQUENCE, body);

/**
 * The items of a SET OF, sorted by encoding as DER requires (X.690 §11.6),
 * written once, side by side into reused memory ({@link withEncoding}'s), sorted as views of it, and
 * copied in order into a new buffer at `headerRoom` (room left for a header).
 */
function sortedSet(items: readonly Der[], headerRoom: (contentLength: number) => number): { out: Uint8Array; at: number; contentLength: number } {
  let n = 0;
  for (let i = 0; i < items.length; i++) n += sizeOf(items[i]!);
  const views: Uint8Array[] = [];
  return withScratch(
    n,
    (scratch) => {
      let o = 0;
      for (let i = 0; i < items.length; i++) {
        const end = write(scratch, o, items[i]!);
        views.push(scratch.subarray(o, end));
        o = end;
      }
    },
    () => {
      // A handful of items (a SignerInfo's ~8 attributes) by insertion sort: Array.prototype.sort with a comparator (a
      // call out of V8's built-in per comparison) costs several times the comparisons themselves. Longer sets go to it.
      if (views.length > 16) views.sort(compareBytes);
      else {
        for (let i = 1; i < views.length; i++) {
          const v = views[i]!;
          let j = i - 1;
          while (j >= 0 && compareBytes(views[j]!, v) > 0) {
            views[j + 1] = views[j]!;
            j--;
          }
          views[j + 1] = v;
        }
      }
      const at = headerRoom(n);
      const out = new Uint8Array(at + n);
      let o = at;
      for (let i = 0; i < views.length; i++) o = write(out, o, views[i]!);
      return { out, at, contentLength: n };
    },
  );
}

/** SET OF, sorted by encoding as DER requires (X.690 §11.6); its content is one buffer. */
export function setOf(items: readonly Der[]): DerElement {
  return element(Tag.SET, [sortedSet(items, () => 0).out]);
}

/** {@link setOf}, encoded: header and sorted content written into one buffer. */
export function setOfEncoded(items: readonly Der[]): Uint8Array {
  const { out, contentLength } = sortedSet(items, headerLength);
  writeHeader(out, 0, Tag.SET, contentLength);
  return out;
}

/** [n] context-specific, constructed (EXPLICIT, or IMPLICIT over a constructed type). */
export const ctx = (n: number, ...body: Der[]): DerElement => element(0xa0 | n, body);

/** OCTET STRING. */
export const octetString = (b: Der): DerElement => element(Tag.OCTET_STRING, [b]);

/** The content octets of a definite-length encoding (the bytes after its header). */
export function contentOf(encoding: Uint8Array): Uint8Array {
  const first = encoding[1]!;
  return encoding.subarray(first < 0x80 ? 2 : 2 + (first & 0x7f));
}

/** NULL. */
export const NULL = new Uint8Array([0x05, 0x00]);

// Content octets of 0…127 (versions, small counts), shared: write() only reads them.
const SMALL_INTS: readonly Uint8Array[] = Array.from({ length: 128 }, (_, i) => new Uint8Array([i]));

/** INTEGER from a small non-negative number. */
export function int(n: number): DerElement {
  if (n >= 0 && n < SMALL_INTS.length && Number.isInteger(n)) return tlv(Tag.INTEGER, SMALL_INTS[n]!);
  const bytes: number[] = [];
  do {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  } while (n > 0);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(Tag.INTEGER, new Uint8Array(bytes));
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** Whether every character of `s` is in PrintableString's set (X.680 §41.4: `A–Z a–z 0–9`, space, `' ( ) + , - . / : = ?`). */
export const isPrintableString = (s: string): boolean => PRINTABLE.test(s);

/** PrintableString; throws {@link Asn1Error} for a character outside its set (X.680 §41.4). */
export function printable(s: string): DerElement {
  if (!PRINTABLE.test(s)) throw new Asn1Error("not a PrintableString");
  return tlv(Tag.PRINTABLE_STRING, ascii(s));
}

/**
 * A DirectoryString (RFC 5280 §4.1.2.4, RFC 2985 §5.4.1) for any text:
 * PrintableString when every character is in its alphabet (X.680 §41.4:
 * `A–Z a–z 0–9`, space and `' ( ) + , - . / : = ?`), else UTF8String, so no
 * text is ever altered and no strict peer (Go's encoding/asn1, micromdm)
 * refuses a PrintableString holding `_`, `@`, `#`, `!` or non-ASCII text.
 * Every string the SDK writes in a Name, a challengePassword or a
 * transactionID goes through here.
 */
export const directoryString = (s: string): DerElement => (PRINTABLE.test(s) ? tlv(Tag.PRINTABLE_STRING, ascii(s)) : utf8(s));

/** UTF8String. */
export const utf8 = (s: string): DerElement => tlv(Tag.UTF8_STRING, UTF8_ENCODER.encode(s));

function put2(out: Uint8Array, o: number, v: number): void {
  out[o] = 0x30 + Math.floor(v / 10);
  out[o + 1] = 0x30 + (v % 10);
}

/** UTCTime (years 1950–2049) or GeneralizedTime, per RFC 5280 §4.1.2.5. */
export function time(d: Date): DerElement {
  const y = d.getUTCFullYear();
  if (y >= 1950 && y < 2050) {
    // The common case written straight into bytes: YYMMDDHHMMSSZ.
    const out = new Uint8Array(13);
    put2(out, 0, y % 100);
    put2(out, 2, d.getUTCMonth() + 1);
    put2(out, 4, d.getUTCDate());
    put2(out, 6, d.getUTCHours());
    put2(out, 8, d.getUTCMinutes());
    put2(out, 10, d.getUTCSeconds());
    out[12] = 0x5a; // "Z"
    return tlv(Tag.UTC_TIME, out);
  }
  const p = (n: number): string => String(n).padStart(2, "0");
  const rest = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return tlv(Tag.GENERALIZED_TIME, ascii(String(y).padStart(4, "0") + rest));
}

const oidEncCache = new Map<string, Uint8Array>();

/** OBJECT IDENTIFIER from dotted form. */
export function oid(dotted: string): Uint8Array {
  const hit = oidEncCache.get(dotted);
  if (hit) return hit;
  const arcs = dotted.split(".").map(Number);
  if (arcs.length < 2 || arcs.some((a) => !Number.isSafeInteger(a) || a < 0) || arcs[0]! > 2 || (arcs[0]! < 2 && arcs[1]! >= 40)) {
    throw new Asn1Error(`invalid OID ${dotted}`);
  }
  const out: number[] = [];
  const push = (v: number): void => {
    const tmp = [v & 0x7f];
    v = Math.floor(v / 128);
    while (v > 0) {
      tmp.unshift((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(...tmp);
  };
  push(arcs[0]! * 40 + arcs[1]!);
  for (let i = 2; i < arcs.length; i++) push(arcs[i]!);
  const enc = encode(tlv(Tag.OID, new Uint8Array(out)));
  if (oidEncCache.size < 1024) oidEncCache.set(dotted, enc); // bounded: callers may pass extension OIDs of their own
  return enc;
}

/** AlgorithmIdentifier with optional parameters. */
export const algId = (dotted: string, params?: Der): DerElement => (params ? seq(oid(dotted), params) : seq(oid(dotted)));

function ascii(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0x7f;
  return out;
}

/** Lexicographic byte comparison. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Byte equality (not constant time). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
