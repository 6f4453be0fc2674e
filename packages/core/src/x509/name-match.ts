/**
 * Whether two distinguished names name the same entity (RFC 5280 §7.1), given as DER or as strings.
 *
 * @module
 */
import * as der from "../lib/der.js";
import { toHex } from "../lib/bytes.js";
import { x509 } from "../lib/x509.js";
import { InvalidArgumentError } from "../errors.js";

/**
 * Attribute names that @peculiar/x509's parser lacks (it knows CN, L, ST, O, OU, C, DC, E, G, I, SN, T), upper case
 * as the types are folded: every name {@link formatName} prints (serialNumber, STREET, title, GN, UID), Microsoft's
 * CertNameToStr names (`S=` for stateOrProvinceName, SERIALNUMBER, STREET, PostalCode, Description, POBox, Phone,
 * X21Address, dnQualifier, UnstructuredName, UnstructuredAddress) and OpenSSL's long names (RFC 4519, RFC 2985).
 * Without one, a CA's own `Certificate.subject` with such an attribute could not be compared at all.
 */
const EXTRA_NAMES = {
  S: "2.5.4.8",
  SERIALNUMBER: "2.5.4.5",
  STREET: "2.5.4.9",
  TITLE: "2.5.4.12",
  DESCRIPTION: "2.5.4.13",
  BUSINESSCATEGORY: "2.5.4.15",
  POSTALCODE: "2.5.4.17",
  POBOX: "2.5.4.18",
  PHONE: "2.5.4.20",
  TELEPHONENUMBER: "2.5.4.20",
  X21ADDRESS: "2.5.4.24",
  NAME: "2.5.4.41",
  GN: "2.5.4.42",
  GIVENNAME: "2.5.4.42",
  SURNAME: "2.5.4.4",
  INITIALS: "2.5.4.43",
  GENERATIONQUALIFIER: "2.5.4.44",
  DNQUALIFIER: "2.5.4.46",
  PSEUDONYM: "2.5.4.65",
  ORGANIZATIONIDENTIFIER: "2.5.4.97",
  UID: "0.9.2342.19200300.100.1.1",
  EMAILADDRESS: "1.2.840.113549.1.9.1",
  UNSTRUCTUREDNAME: "1.2.840.113549.1.9.2",
  UNSTRUCTUREDADDRESS: "1.2.840.113549.1.9.8",
} as const;

/** RFC 4518 (as RFC 5280 §7.1 asks) in its common approximation: Unicode NFKC, case folded, inner runs of white space as one space, none at the ends. */
function prepare(value: string): string {
  return value.normalize("NFKC").toLowerCase().replace(/\s+/g, " ").trim();
}

/** The Name's DER: bytes as they are; a string parsed by @peculiar/x509's Name (RFC 4514, quoted values, `OID.n=`). */
function nameDer(name: string | Uint8Array, what: string): Uint8Array {
  if (name instanceof Uint8Array) return name;
  if (typeof name !== "string") throw new InvalidArgumentError(`${what} must be a string or the DER of a Name`);
  // Spaces around `=`, `;` separators (Microsoft's CERT_NAME_STR_SEMICOLON_FLAG) and lower-case types (`cn=`) are
  // not what the parser reads (it would drop such an attribute), so they are folded first: types upper-cased,
  // spaces trimmed, `;` as `,`. Inside a quoted value or after a backslash nothing changes.
  // The parser skips what it cannot read (`CN=a, junk` would read as `CN=a`), so every attribute is checked here
  // to be `type=value` with a type that is a name or an OID: a typo is an error, never a different name.
  const blank = name.trim() === "";
  const notDn = (why: string): InvalidArgumentError => new InvalidArgumentError(`${what} is not a distinguished name: ${why}`);
  const quote = (part: string): string => JSON.stringify(part.length > 40 ? `${part.slice(0, 40)}…` : part);
  const endAttribute = (): void => {
    if (blank || avaStart < 0) return;
    const part = text.slice(avaStart).trim();
    throw notDn(part === "" ? "an empty attribute (two separators in a row, or one at an end)" : `${quote(part)} is not type=value (RFC 4514: CN=Contoso CA, O=Contoso)`);
  };
  const checkType = (type: string): void => {
    if (/^(?:OID\.)?\d+(?:\.\d+)+$/.test(type)) return;
    let known = /^[A-Z][A-Z0-9-]*$/.test(type);
    if (known) {
      try {
        new x509.Name(`${type}=x`, EXTRA_NAMES);
      } catch {
        known = false;
      }
    }
    if (!known) throw notDn(`unknown attribute type ${quote(type)}${type.startsWith("/") ? " (OpenSSL's /CN=…/O=… form is not read: write CN=…, O=…)" : " (a name such as CN, O, OU, C, ST or S, or an OID)"}`);
  };
  let text = "";
  let quoted = false;
  let avaStart = 0; // where the current attribute's type begins in `text`; -1 once its `=` is read
  for (let i = 0; i < name.length; i++) {
    const ch = name[i]!;
    if (ch === "\\" && i + 1 < name.length) {
      text += ch + name[++i]!;
      continue;
    }
    if (ch === '"') quoted = !quoted;
    if (!quoted && ch === "=" && avaStart >= 0) {
      const type = text.slice(avaStart).trim().toUpperCase();
      checkType(type);
      text = text.slice(0, avaStart) + type + "=";
      avaStart = -1;
      while (name[i + 1] === " ") i++;
      continue;
    }
    if (!quoted && (ch === "," || ch === ";" || ch === "+")) {
      endAttribute();
      text = text.trimEnd() + (ch === "+" ? "+" : ", ");
      avaStart = text.length;
      while (name[i + 1] === " ") i++;
      continue;
    }
    text += ch;
  }
  endAttribute();
  let parsed: x509.Name;
  try {
    parsed = new x509.Name(text.trim(), EXTRA_NAMES);
  } catch (error) {
    throw new InvalidArgumentError(`${what} is not a distinguished name: ${(error as Error).message}`, { cause: error });
  }
  return new Uint8Array(parsed.toArrayBuffer());
}

/**
 * Each RDN as one string: the JSON of the sorted list of its attributes, each the JSON of `[oid, value]`, the value
 * prepared (RFC 4518) when it is a string and `[DER hex]` when it is not (or is UTF-8 that does not decode). JSON,
 * not a join on `+`/`=`, so that no value can spell another attribute: `O=b+CN=a` is not `O=b\+2.5.4.3\=a`.
 */
function rdnKeys(name: Uint8Array, what: string): string[] {
  try {
    return der.expect(der.parse(name), der.Tag.SEQUENCE, "Name").map((rdn) =>
      JSON.stringify(
        der
          .expect(rdn, der.Tag.SET, "RelativeDistinguishedName")
          .map((atv) => {
            const [type, value] = der.expect(atv, der.Tag.SEQUENCE, "AttributeTypeAndValue");
            let text: string | undefined;
            try {
              text = der.readString(value, "attribute value");
            } catch {
              // compared as bytes below
            }
            // U+FFFD: readString's UTF-8 decoding replaced bytes that do not decode, so two different values would read alike.
            const key = text === undefined || text.includes("\uFFFD") ? [toHex(der.raw(value!))] : prepare(text);
            return JSON.stringify([der.readOid(type, "attribute type"), key]);
          })
          .sort(),
      ),
    );
  } catch (error) {
    throw new InvalidArgumentError(`${what} is not the DER of a Name: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Whether two distinguished names name the same entity: the same attribute types (by OID, so `ST=` and
 * Microsoft's `S=`, `CN=` and `OID.2.5.4.3=` are one) with values equal after RFC 4518 preparation as
 * RFC 5280 §7.1 asks (case folded, white space folded, NFKC), RDN by RDN, multi-valued RDNs in any order. Two
 * DER Names match only with their RDNs in the same order, as §7.1 says; when either is a string, the reverse order
 * matches too (X.500 order starts at the root; Windows and RFC 4514 strings print the most specific RDN first). A value
 * that is not a string (or UTF-8 that does not decode) matches only the same DER.
 *
 * Each name is a `Name` (RDNSequence) DER, such as {@link Certificate.subjectDer}, or a string in RFC 4514 form
 * as {@link formatName}, OpenSSL and Windows (`CertNameToStr`) write it: `CN=Contoso CA, O="Contoso, Ltd", S=WA`;
 * quoted values, `\` escapes, `OID.2.5.4.3=` types, `;` separators and spaces around `=` are read.
 *
 * @param a - a Name: DER bytes or a string.
 * @param b - another Name: DER bytes or a string.
 * @returns true when both name the same entity; false otherwise (also when either is empty).
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) when bytes are not a Name's DER, or a string is not a
 *   distinguished name: a part that is not `type=value` (`CN=a, junk`), an empty part (`CN=a,,O=b`), or a type that
 *   is neither a known name nor an OID (`XX=a`; OpenSSL's old `/CN=a/O=b` form). The empty string is an empty Name.
 * @example
 * ```ts
 * import { sameName } from "@scep/core";
 *
 * sameName("CN=Contoso Issuing CA, O=Contoso", "o=contoso,  cn=CONTOSO  issuing ca"); // true
 * sameName("CN=Contoso CA, S=Washington", "CN=Contoso CA, ST=washington"); // true
 * sameName("CN=Contoso CA", "CN=Contoso CA 2"); // false
 * ```
 * @group X.509
 */
export function sameName(a: string | Uint8Array, b: string | Uint8Array): boolean {
  const x = rdnKeys(nameDer(a, "the first name"), "the first name");
  const y = rdnKeys(nameDer(b, "the second name"), "the second name");
  if (x.length !== y.length || x.length === 0) return false;
  const same = (p: string[], q: string[]): boolean => p.every((v, i) => v === q[i]);
  // Two DER Names are ordered (RFC 5280 §7.1: "the matching RDNs appear in the same order"); only a string's order is unknown.
  const ordered = a instanceof Uint8Array && b instanceof Uint8Array;
  return same(x, y) || (!ordered && same(x, [...y].reverse()));
}
