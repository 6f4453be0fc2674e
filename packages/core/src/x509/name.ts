/**
 * Distinguished names: DER → RFC 4514-style string.
 */
import * as der from "../lib/der.js";
import { toHex } from "../lib/bytes.js";
import { InvalidArgumentError, errorMessage } from "../errors.js";
import { ByteMemo } from "../lib/byte-memo.js";

const SHORT: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.4": "SN",
  "2.5.4.5": "serialNumber",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.9": "STREET",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.12": "title",
  "2.5.4.42": "GN",
  "0.9.2342.19200300.100.1.1": "UID",
  "0.9.2342.19200300.100.1.25": "DC",
  "1.2.840.113549.1.9.1": "E",
};

function escape(v: string): string {
  let s = v.replace(/[\\,+"<>;=]/g, (c) => "\\" + c);
  if (s.startsWith(" ") || s.startsWith("#")) s = "\\" + s;
  if (s.endsWith(" ") && s.length > 1) s = s.slice(0, -1) + "\\ ";
  return s;
}

/**
 * Formats a Name (RDNSequence DER) as `CN=…, O=…`, in encoding order (as
 * OpenSSL and @peculiar/x509 print it). Unknown attribute types print as their
 * OID; non-string values as `#hex`.
 * @group X.509
 */
export function formatName(name: Uint8Array): string {
  const rdns = der.expect(der.parse(name), der.Tag.SEQUENCE, "Name");
  const parts: string[] = [];
  for (const rdn of rdns) {
    const atvs = der.expect(rdn, der.Tag.SET, "RelativeDistinguishedName").map((atv) => {
      const [type, value] = der.expect(atv, der.Tag.SEQUENCE, "AttributeTypeAndValue");
      const oid = der.readOid(type, "attribute type");
      let text: string;
      try {
        text = escape(der.readString(value, "attribute value"));
      } catch {
        text = "#" + toHex(der.raw(value!));
      }
      return `${SHORT[oid] ?? oid}=${text}`;
    });
    parts.push(atvs.join("+"));
  }
  return parts.join(", ");
}

/** The values (undecoded) of every attribute of type `typeOid` in the DER Name `name`, in all its RDNs, in order. */
function nameAttributeValues(name: Uint8Array, typeOid: string): (der.Tlv | undefined)[] {
  const out: (der.Tlv | undefined)[] = [];
  for (const rdn of der.expect(der.parse(name), der.Tag.SEQUENCE, "Name")) {
    for (const atv of der.children(rdn)) {
      const [type, value] = der.children(atv);
      if (der.readOid(type) === typeOid) out.push(value); // undefined when missing: the reader says so
    }
  }
  return out;
}

/** The value of the first attribute of the given type in a Name (e.g. CN, 2.5.4.3). @group X.509 */
export function nameAttribute(name: Uint8Array, typeOid: string): string | undefined {
  const values = nameAttributeValues(name, typeOid);
  return values.length > 0 ? der.readString(values[0], "attribute value") : undefined;
}

/** How many AttributeTypeAndValues of type `typeOid` the DER Name `name` holds, in all its RDNs (RFC 5280 §4.1.2.4). */
export function nameAttributeCount(name: Uint8Array, typeOid: string): number {
  return nameAttributeValues(name, typeOid).length;
}

const PRIMITIVE_STRING = new Set<number>([der.Tag.PRINTABLE_STRING, der.Tag.UTF8_STRING, der.Tag.IA5_STRING, der.Tag.T61_STRING, der.Tag.BMP_STRING, der.Tag.UNIVERSAL_STRING, der.Tag.NUMERIC_STRING]);
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A control character (U+0000–U+001F, U+007F) among the `width`-octet big-endian characters of `c`: valid in most
 * of these string types, but never in a name a certificate should carry: a NUL hides what follows it from C
 * string handling (the null-prefix attack, `CN=bank.example\0.evil.example`), a newline splits a log line.
 */
function controlIn(c: Uint8Array, width: number, what: string): string | undefined {
  for (let i = 0; i + width <= c.length; i += width) {
    let high = 0;
    for (let j = 0; j < width - 1; j++) high |= c[i + j]!;
    const low = c[i + width - 1]!;
    if (high === 0 && (low < 0x20 || low === 0x7f)) return `${what} holds a control character (U+${low.toString(16).toUpperCase().padStart(4, "0")})`;
  }
  return undefined;
}

/** Why the content octets of a string of type `tag` are not a valid string of that type, or undefined. */
function stringProblem(tag: number, c: Uint8Array): string | undefined {
  switch (tag) {
    case der.Tag.PRINTABLE_STRING:
      // X.680 §41.4's set, widened to printable ASCII as OpenSSL reads it ('@', '*', '&', '_' are common in the field).
      // Go's crypto/x509 is stricter: it widens the set by '*' and '&' only, and refuses a certificate with '@' or '_'.
      for (const b of c) if (b < 0x20 || b > 0x7e) return "a PrintableString holds a control or non-ASCII character";
      return undefined;
    case der.Tag.IA5_STRING:
      for (const b of c) if (b > 0x7f) return "an IA5String holds a non-ASCII byte";
      return controlIn(c, 1, "an IA5String");
    case der.Tag.NUMERIC_STRING:
      for (const b of c) if (b !== 0x20 && (b < 0x30 || b > 0x39)) return "a NumericString holds a character other than digits and space";
      return undefined;
    case der.Tag.UTF8_STRING:
      try {
        STRICT_UTF8.decode(c);
      } catch {
        return "a UTF8String is not valid UTF-8";
      }
      return controlIn(c, 1, "a UTF8String"); // (a multi-byte sequence never holds an octet below 0x80)
    case der.Tag.BMP_STRING:
      // UCS-2: two octets a character, no surrogate code units (OpenSSL: "illegal characters").
      if (c.length % 2 !== 0) return "a BMPString's length is not a multiple of 2";
      for (let i = 0; i < c.length; i += 2) if ((c[i]! & 0xf8) === 0xd8) return "a BMPString holds a surrogate code unit";
      return controlIn(c, 2, "a BMPString");
    case der.Tag.UNIVERSAL_STRING:
      // OpenSSL reads it; Go's crypto/x509 does not ("unsupported string type: 28").
      if (c.length % 4 !== 0) return "a UniversalString's length is not a multiple of 4";
      for (let i = 0; i < c.length; i += 4) {
        if (c[i]! !== 0 || c[i + 1]! > 0x10) return "a UniversalString holds a value above U+10FFFF";
        if (c[i + 1] === 0 && (c[i + 2]! & 0xf8) === 0xd8) return "a UniversalString holds a surrogate code point";
      }
      return controlIn(c, 4, "a UniversalString");
    default:
      return controlIn(c, 1, "a TeletexString"); // otherwise any octets (Latin-1 as OpenSSL reads it)
  }
}

/**
 * Why a Name (RDNSequence DER, RFC 5280 §4.1.2.4) should not go into a certificate, or undefined when it may:
 * every RelativeDistinguishedName a non-empty SET of AttributeTypeAndValue, every value a primitive
 * PrintableString, UTF8String, IA5String, TeletexString, BMPString, UniversalString or NumericString
 * (the DirectoryString types of §4.1.2.4 and the IA5String/PrintableString/NumericString of its attributes)
 * whose octets are valid for its type. OpenSSL refuses to parse a certificate whose name breaks these
 * ("mstring wrong tag", "invalid utf8string", "bmpstring is wrong length"), and Go's crypto/x509 too, so a
 * CA that copied such a CSR subject would sign a certificate its client cannot read. Go refuses two more
 * things this lets through, as OpenSSL reads them: a UniversalString, and a PrintableString holding a
 * character outside X.680's set other than '*' and '&' ('@', '_', …). Beyond what the parsers refuse, no value
 * may hold a control character (U+0000–U+001F, U+007F): the null-prefix attack hides a name behind a NUL.
 * Each attribute RFC 5280 Appendix A bounds must also fit its bound, counted in characters (CN, O, OU, title,
 * serialNumber 64; L, ST, pseudonym 128; emailAddress 255; name, surname, givenName, initials,
 * generationQualifier 32768; countryName exactly 2; an empty value, countryName's too, is let through, as an MDM
 * profile's empty subject variable makes one and OpenSSL and Go read it), and an attribute Appendix A types as PrintableString
 * (countryName, serialNumber, dnQualifier) or IA5String (emailAddress; domainComponent, RFC 4519) must hold only
 * characters of that type, whatever string type it came in ({@link certificateName} writes it in its own type).
 * A PrintableString holding `@`, `_`, `*` and the like is not refused: {@link certificateName} writes it as a
 * UTF8String.
 *
 * @param name - a Name (RDNSequence), DER
 * @returns a one-line reason naming the attribute (and the bound it exceeds), or undefined. Never throws: bytes that
 *   are not a Name give a reason too.
 * @example
 * ```ts
 * import { CertificationRequest, nameProblem } from "@scep/core";
 *
 * declare const csr: CertificationRequest;
 * const why = nameProblem(csr.subjectDer); // e.g. "CN: 70 characters, above RFC 5280 Appendix A's ub-common-name (64)"
 * ```
 * @group X.509
 */
export function nameProblem(name: Uint8Array): string | undefined {
  const key = checkedNames.key(name);
  if (checkedNames.get(key)) return undefined;
  try {
    let reencode = false;
    for (const rdn of der.expect(der.parse(name), der.Tag.SEQUENCE, "Name")) {
      const atvs = der.expect(rdn, der.Tag.SET, "RelativeDistinguishedName");
      if (atvs.length === 0) return "a RelativeDistinguishedName is empty";
      for (const atv of atvs) {
        const f = der.expect(atv, der.Tag.SEQUENCE, "AttributeTypeAndValue");
        if (f.length !== 2) return "an AttributeTypeAndValue does not hold a type and one value";
        const type = der.readOid(f[0], "attribute type");
        const value = f[1]!;
        if (!PRIMITIVE_STRING.has(value.tag)) return `the value of ${SHORT[type] ?? type} is not a string of a type a certificate name may hold (tag 0x${value.tag.toString(16)})`;
        const content = der.content(value);
        const problem = stringProblem(value.tag, content) ?? attributeProblem(type, value);
        if (problem) return `${SHORT[type] ?? type}: ${problem}`;
        reencode ||= certificateTag(type, value.tag, content) !== value.tag;
      }
    }
    checkedNames.set(key, { reencode });
    return undefined;
  } catch (e) {
    return errorMessage(e);
  }
}

/**
 * The Names {@link nameProblem} let through, by their bytes, each with whether {@link reencodeName} changes it. One
 * enrollment checks its subject in the server's CSR policy, in the issue hook, in endEntityExtensions and in
 * buildCertificate, each also callable alone; with this the Name is read once (~2 µs for a four-attribute subject,
 * ~1 µs more to remember it) and each later check finds it by its bytes (~0.5 µs). Changed bytes are a new Name, read
 * again.
 */
const checkedNames = new ByteMemo<{ readonly reencode: boolean }>(256, 1024); // at most 256 KiB of keys

/** How RFC 5280 Appendix A (and RFC 4519 for domainComponent) types and bounds one attribute. */
interface AttributeRule {
  /** The string type the attribute must be written in: any DirectoryString choice, PrintableString or IA5String. */
  readonly type: "directory" | "printable" | "ia5";
  /** Largest number of characters, with the name of its bound. */
  readonly max?: readonly [number, string];
  /** Exact number of characters, with the name of its bound (countryName). */
  readonly exact?: readonly [number, string];
}

const UB_NAME = [32768, "ub-name"] as const;

/** RFC 5280 Appendix A: `SIZE (1..ub-…)` of each attribute that has one; the string type of those that have one. */
const RULES: Readonly<Record<string, AttributeRule>> = {
  "2.5.4.3": { type: "directory", max: [64, "ub-common-name"] },
  "2.5.4.4": { type: "directory", max: UB_NAME },
  "2.5.4.5": { type: "printable", max: [64, "ub-serial-number"] },
  "2.5.4.6": { type: "printable", exact: [2, "ub-country-name-alpha-length"] },
  "2.5.4.7": { type: "directory", max: [128, "ub-locality-name"] },
  "2.5.4.8": { type: "directory", max: [128, "ub-state-name"] },
  "2.5.4.10": { type: "directory", max: [64, "ub-organization-name"] },
  "2.5.4.11": { type: "directory", max: [64, "ub-organizational-unit-name"] },
  "2.5.4.12": { type: "directory", max: [64, "ub-title"] },
  "2.5.4.41": { type: "directory", max: UB_NAME },
  "2.5.4.42": { type: "directory", max: UB_NAME },
  "2.5.4.43": { type: "directory", max: UB_NAME },
  "2.5.4.44": { type: "directory", max: UB_NAME },
  "2.5.4.46": { type: "printable" },
  "2.5.4.65": { type: "directory", max: [128, "ub-pseudonym"] },
  "1.2.840.113549.1.9.1": { type: "ia5", max: [255, "ub-emailaddress-length"] },
  "0.9.2342.19200300.100.1.25": { type: "ia5" },
};

/** Why a (well-formed) string value of attribute `type` breaks RFC 5280 Appendix A's type or bound, or undefined. */
function attributeProblem(type: string, value: der.Tlv): string | undefined {
  const rule = RULES[type];
  if (!rule) return undefined;
  const text = der.readString(value, "attribute value");
  const length = [...text].length;
  // An empty value (Appendix A says SIZE (1..ub), and countryName SIZE (2)) is let through, countryName included: an
  // MDM profile whose subject variable is empty on a device makes one (`OU=`, `C=` with nothing), OpenSSL and Go's
  // crypto/x509 read it, and micromdm's CA issues it as requested (Go's pkix.Name writes an empty value too), so
  // refusing would fail an enrollment that other SCEP CAs grant.
  if (length === 0) return undefined;
  if (rule.exact && length !== rule.exact[0]) return `${length} characters, not the ${rule.exact[0]} of RFC 5280 Appendix A's ${rule.exact[1]}`;
  if (rule.max && length > rule.max[0]) return `${length} characters, above RFC 5280 Appendix A's ${rule.max[1]} (${rule.max[0]})`;
  if (rule.type === "printable" && !der.isPrintableString(text)) return "holds a character outside PrintableString's set (RFC 5280 Appendix A types it PrintableString; X.680 §41.4)";
  // IA5String is ASCII (control characters were refused before).
  if (rule.type === "ia5" && !/^[\x20-\x7e]*$/.test(text)) return "holds a non-ASCII character (RFC 5280 Appendix A and RFC 4519 type it IA5String)";
  return undefined;
}

/** X.680 §41.4's PrintableString set, by octet: `A–Z a–z 0–9`, space, `' ( ) + , - . / : = ?`. */
const PRINTABLE_OCTET = Uint8Array.from({ length: 128 }, (_, b) => (der.isPrintableString(String.fromCharCode(b)) ? 1 : 0));

/**
 * The tag a value of attribute `type` (string tag `tag`, content octets `c`) is written with in a certificate: the
 * type RFC 5280 Appendix A gives its attribute (PrintableString, IA5String), a UTF8String for a PrintableString holding
 * a character outside X.680 §41.4's set, else `tag` itself. Read from the octets, not decoded: a value that passed
 * {@link nameProblem} (stringProblem let only 0x20–0x7e through a PrintableString). {@link nameProblem} asks whether
 * a Name needs re-encoding and {@link reencodeName} writes it by this one rule.
 */
function certificateTag(type: string, tag: number, c: Uint8Array): number {
  const rule = RULES[type]?.type ?? "directory";
  if (rule === "printable") return der.Tag.PRINTABLE_STRING;
  if (rule === "ia5") return der.Tag.IA5_STRING;
  if (tag === der.Tag.PRINTABLE_STRING) for (let i = 0; i < c.length; i++) if (PRINTABLE_OCTET[c[i]!] !== 1) return der.Tag.UTF8_STRING;
  return tag;
}

/**
 * A Name (RDNSequence DER) as a certificate should carry it (RFC 5280 §4.1.2.4, Appendix A): the same attributes,
 * values and order, each value in a string type its attribute allows and strict parsers read. A PrintableString
 * holding a character outside X.680 §41.4's set (`@`, `_`, `*`, `&`, …: OpenSSL reads it, Go's crypto/x509 and so
 * micromdm, step-ca and the clients built on it refuse the certificate) becomes a UTF8String with the same text;
 * countryName, serialNumber and dnQualifier in another string type become PrintableString, emailAddress and
 * domainComponent IA5String. Every other value keeps its bytes; a name that needs no change is returned as given.
 * RFC 5280 §7.1 compares names after this kind of re-encoding, so the certificate still names what was requested.
 *
 * @param name - a Name that passes {@link nameProblem}, DER
 * @returns the Name to write, DER (the same array when nothing changed)
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` when {@link nameProblem} refuses `name`, with its reason
 * @example
 * ```ts
 * import { CertificationRequest, certificateName } from "@scep/core";
 *
 * declare const csr: CertificationRequest; // CN as a PrintableString "device_1@example"
 * const subject = certificateName(csr.subjectDer); // CN as a UTF8String "device_1@example"
 * ```
 * @group X.509
 */
export function certificateName(name: Uint8Array): Uint8Array {
  const problem = nameProblem(name);
  if (problem) throw new InvalidArgumentError(`the name is not one a certificate can carry (RFC 5280 §4.1.2.4): ${problem}`);
  return reencodeName(name);
}

/**
 * {@link certificateName} of a Name the caller has already checked with {@link nameProblem} (buildCertificate: one
 * check per certificate, not two). @internal
 */
export function reencodeName(name: Uint8Array): Uint8Array {
  if (checkedNames.get(checkedNames.key(name))?.reencode === false) return name;
  const rdns = der.expect(der.parse(name), der.Tag.SEQUENCE, "Name");
  let changed = false;
  const out = rdns.map((rdn) => {
    const atvs = der.expect(rdn, der.Tag.SET, "RelativeDistinguishedName");
    let rdnChanged = false;
    const written = atvs.map((atv) => {
      const [type, value] = der.expect(atv, der.Tag.SEQUENCE, "AttributeTypeAndValue");
      const tag = certificateTag(der.readOid(type, "attribute type"), value!.tag, der.content(value!));
      if (tag === value!.tag) return der.raw(atv);
      rdnChanged = true;
      const text = der.readString(value, "attribute value");
      const encoded = tag === der.Tag.UTF8_STRING ? der.utf8(text) : der.tlv(tag, Uint8Array.from(text, (c) => c.charCodeAt(0)));
      return der.seq(der.raw(type), encoded);
    });
    if (!rdnChanged) return der.raw(rdn);
    changed = true;
    return der.setOf(written); // re-sorted: a value's new tag can change its place in the SET OF (X.690 §11.6)
  });
  return changed ? der.encode(der.seq(...out)) : name;
}
