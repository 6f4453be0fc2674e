/**
 * X.509 extensions SCEP servers look at: subjectAltName, keyUsage,
 * basicConstraints, subjectKeyIdentifier.
 */
import * as der from "../lib/der.js";
import * as oids from "../oids.js";
import { latin1, toHex } from "../lib/bytes.js";
import { Asn1Error, InvalidArgumentError, errorMessage } from "../errors.js";
import { nameProblem, reencodeName } from "./name.js";
import { ByteMemo } from "../lib/byte-memo.js";

/** One extension, raw. @group X.509 */
export interface Extension {
  /** Extension OID. */
  oid: string;
  /** Whether it is marked critical. */
  critical: boolean;
  /** The extnValue octets (the DER of the extension's own value). */
  value: Uint8Array;
}

/** Subject alternative names by type. @group X.509 */
export interface SubjectAltNames {
  /** dNSName entries. */
  dns: string[];
  /** rfc822Name (e-mail) entries. */
  email: string[];
  /** uniformResourceIdentifier entries. */
  uri: string[];
  /** iPAddress entries, as text (IPv4 dotted, IPv6 colon-hex). */
  ip: string[];
  /** Microsoft UPN otherName entries. */
  upn: string[];
  /** Any other GeneralName, kept as raw DER. */
  other: Uint8Array[];
}

/** Reads `Extensions ::= SEQUENCE OF Extension`. @group X.509 */
export function parseExtensions(t: der.Tlv): Extension[] {
  return der.expect(t, der.Tag.SEQUENCE, "Extensions").map((e) => {
    const f = der.expect(e, der.Tag.SEQUENCE, "Extension");
    const oid = der.readOid(f[0], "extnID");
    let i = 1;
    let critical = false;
    if (f[i]?.tag === der.Tag.BOOLEAN) {
      critical = der.content(f[i]!)[0] !== 0;
      i++;
    }
    const v = der.expectTag(f[i], der.Tag.OCTET_STRING, "extnValue");
    return { oid, critical, value: der.octets(v) };
  });
}

function ipText(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join(".");
  if (b.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
    return groups.join(":");
  }
  return toHex(b);
}

/** Reads a subjectAltName extension value (GeneralNames). @group X.509 */
export function parseSubjectAltNames(value: Uint8Array): SubjectAltNames {
  const out: SubjectAltNames = { dns: [], email: [], uri: [], ip: [], upn: [], other: [] };
  for (const gn of der.expect(der.parse(value), der.Tag.SEQUENCE, "GeneralNames")) {
    const latin = (): string => latin1(der.octets(gn));
    switch (gn.tag) {
      case 0x81:
        out.email.push(latin());
        break;
      case 0x82:
        out.dns.push(latin());
        break;
      case 0x86:
        out.uri.push(latin());
        break;
      case 0x87:
        out.ip.push(ipText(der.content(gn)));
        break;
      case 0xa0: {
        const [typeId, val] = der.children(gn);
        if (typeId && der.readOid(typeId) === oids.id_ms_upn && val) {
          out.upn.push(der.readString(der.explicit(val, 0, "UPN"), "UPN"));
        } else out.other.push(der.raw(gn));
        break;
      }
      default:
        out.other.push(der.raw(gn));
    }
  }
  return out;
}

const ASCII_NAME: Record<number, string> = { 0x81: "rfc822Name", 0x82: "dNSName", 0x86: "uniformResourceIdentifier" };
const URI_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
const URI_CONTROL = /[\x00-\x1f\x7f]/;
const URI_BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;

/**
 * Why a subjectAltName value (GeneralNames DER, RFC 5280 §4.2.1.6) should not be copied into a certificate, or
 * undefined when it may: at least one GeneralName; rfc822Name, dNSName and URI IA5Strings of ASCII, a URI with a
 * scheme (§4.2.1.6: not a relative reference); an iPAddress of 4 or 16 octets; an otherName of a type OID and an
 * [0] EXPLICIT value; a directoryName holding a valid Name ({@link nameProblem}); a registeredID an OID; no tag
 * GeneralName does not define; a URI without control characters or a `%` not followed by two hex digits (RFC 3986
 * §2.1). Go's crypto/x509 refuses to parse a certificate with a non-ASCII rfc822Name, dNSName or URI, an iPAddress
 * of another length, or a URI its net/url cannot parse (a control character, a malformed `%` escape); OpenSSL marks
 * one whose GeneralNames do not decode as invalid (EXFLAG_INVALID), so it fails verification. The rest (at least one
 * name, a URI's scheme) is RFC 5280's.
 * @internal
 */
export function generalNamesProblem(value: Uint8Array): string | undefined {
  const read = readGeneralNames(value);
  return typeof read === "string" ? read : undefined;
}

/** {@link generalNamesProblem}'s reason, or what it found in GeneralNames it lets through (memoised by their bytes). */
function readGeneralNames(value: Uint8Array): string | GeneralNamesVerdict {
  const key = checkedGeneralNames.key(value);
  const known = checkedGeneralNames.get(key);
  if (known) return known;
  try {
    let reencode = false;
    const names = der.expect(der.parse(value), der.Tag.SEQUENCE, "GeneralNames");
    if (names.length === 0) return "GeneralNames is empty (SIZE (1..MAX))";
    for (const gn of names) {
      switch (gn.tag) {
        case 0x81:
        case 0x82:
        case 0x86: {
          const c = der.content(gn);
          for (const b of c) if (b > 0x7f) return `a ${ASCII_NAME[gn.tag]} holds a non-ASCII byte`;
          if (gn.tag === 0x86) {
            const uri = latin1(c);
            if (!URI_SCHEME.test(uri)) return "a uniformResourceIdentifier has no scheme (RFC 5280 §4.2.1.6)";
            if (URI_CONTROL.test(uri)) return "a uniformResourceIdentifier holds a control character (RFC 3986 §2)";
            if (URI_BAD_ESCAPE.test(uri)) return "a uniformResourceIdentifier holds a '%' not followed by two hex digits (RFC 3986 §2.1)";
          }
          break;
        }
        case 0x87: {
          const n = gn.contentEnd - gn.contentStart;
          if (n !== 4 && n !== 16) return `an iPAddress of ${n} octets (4 or 16)`;
          break;
        }
        case 0xa0: {
          const f = der.children(gn);
          if (f.length !== 2) return "an otherName does not hold a type-id and a value";
          der.readOid(f[0], "otherName type-id");
          der.explicit(f[1], 0, "otherName value");
          break;
        }
        case 0xa4: {
          const name = der.raw(der.explicit(gn, 4, "directoryName"));
          const problem = nameProblem(name);
          if (problem) return `a directoryName: ${problem}`;
          reencode ||= reencodeName(name) !== name;
          break;
        }
        case 0x88:
          der.readOid({ ...gn, tag: der.Tag.OID }, "registeredID");
          break;
        case 0xa3:
        case 0xa5:
          der.children(gn);
          break;
        default:
          return `a GeneralName with tag 0x${gn.tag.toString(16)}, which GeneralName does not define`;
      }
    }
    const verdict = { reencode };
    checkedGeneralNames.set(key, verdict);
    return verdict;
  } catch (e) {
    return errorMessage(e);
  }
}

/**
 * The subjectAltName values {@link generalNamesProblem} let through, by their bytes, each with whether a directoryName
 * in them is re-encoded: the server's CSR policy, endEntityExtensions and buildCertificate each check the same value,
 * read once this way (changed bytes are a new value, read again).
 */
const checkedGeneralNames = new ByteMemo<GeneralNamesVerdict>(256, 1024); // at most 256 KiB of keys

/** What {@link generalNamesProblem} found in GeneralNames it lets through: whether a directoryName is re-encoded. */
interface GeneralNamesVerdict {
  readonly reencode: boolean;
}

/**
 * GeneralNames (DER) as a certificate should carry them (RFC 5280 §4.2.1.6): the same names in the same order, each
 * directoryName's Name re-encoded as a certificate subject is ({@link reencodeName}: a PrintableString holding `@`,
 * `_` or `*` becomes a UTF8String with the same text, which Go's crypto/x509 reads; countryName, serialNumber,
 * emailAddress and domainComponent in the string type RFC 5280 Appendix A gives them). Every other GeneralName keeps
 * its bytes; a value that needs no change is returned as given (the same array).
 *
 * The value is checked here ({@link generalNamesProblem}), once: a caller need not check it first.
 *
 * @param value - a subjectAltName's GeneralNames, DER
 * @returns the GeneralNames to write, DER
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` when {@link generalNamesProblem} refuses `value`: "the
 *   subjectAltName is not one a certificate can carry (RFC 5280 §4.2.1.6): " and its reason
 * @internal
 */
export function certificateGeneralNames(value: Uint8Array): Uint8Array {
  const read = readGeneralNames(value);
  if (typeof read === "string") throw new InvalidArgumentError(`the subjectAltName is not one a certificate can carry (RFC 5280 §4.2.1.6): ${read}`);
  if (!read.reencode) return value;
  const names = der.children(der.parse(value)).map((gn) => {
    if (gn.tag !== 0xa4) return der.raw(gn);
    const name = der.raw(der.explicit(gn, 4, "directoryName"));
    const written = reencodeName(name);
    return written === name ? der.raw(gn) : der.ctx(4, written);
  });
  return der.encode(der.seq(...names));
}

/** keyUsage bits (RFC 5280 §4.2.1.3) as a set of names. @group X.509 */
export type KeyUsage =
  | "digitalSignature"
  | "nonRepudiation"
  | "keyEncipherment"
  | "dataEncipherment"
  | "keyAgreement"
  | "keyCertSign"
  | "cRLSign"
  | "encipherOnly"
  | "decipherOnly";

const KU: KeyUsage[] = ["digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment", "keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"];

/** Reads a keyUsage extension value. @group X.509 */
export function parseKeyUsage(value: Uint8Array): Set<KeyUsage> {
  const t = der.parse(value);
  if (t.tag !== der.Tag.BIT_STRING) throw new Asn1Error("keyUsage: expected a BIT STRING");
  const c = der.content(t);
  const out = new Set<KeyUsage>();
  for (let bit = 0; bit < KU.length; bit++) {
    const byte = c[1 + (bit >> 3)];
    if (byte !== undefined && byte & (0x80 >> (bit & 7))) out.add(KU[bit]!);
  }
  return out;
}

/** Reads basicConstraints: whether the certificate is a CA. @group X.509 */
export function parseBasicConstraintsCa(value: Uint8Array): boolean {
  const f = der.expect(der.parse(value), der.Tag.SEQUENCE, "BasicConstraints");
  return f[0]?.tag === der.Tag.BOOLEAN && der.content(f[0])[0] !== 0;
}

/** Reads subjectKeyIdentifier. @group X.509 */
export function parseSubjectKeyIdentifier(value: Uint8Array): Uint8Array {
  return der.octets(der.expectTag(der.parse(value), der.Tag.OCTET_STRING, "SubjectKeyIdentifier"));
}

/** Finds an extension by OID. @group X.509 */
export function findExtension(exts: readonly Extension[], oid: string): Extension | undefined {
  return exts.find((e) => e.oid === oid);
}

/**
 * The OID of the first extension that appears a second time in `exts`, or `undefined` when each appears once.
 * RFC 5280 §4.2: a certificate (and so a request for one) "MUST NOT include more than one instance of a particular
 * extension"; readers that disagree on which copy counts (first, last) would check one and issue the other.
 */
export function duplicateExtensionOid(exts: readonly Extension[]): string | undefined {
  // A certificate carries a handful (no Set to allocate on the hot path); a peer's may carry thousands (linear then).
  if (exts.length <= 16) {
    for (let i = 1; i < exts.length; i++) {
      const oid = exts[i]!.oid;
      for (let j = 0; j < i; j++) if (exts[j]!.oid === oid) return oid;
    }
    return undefined;
  }
  const seen = new Set<string>();
  for (const e of exts) {
    if (seen.has(e.oid)) return e.oid;
    seen.add(e.oid);
  }
  return undefined;
}

