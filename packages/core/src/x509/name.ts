/**
 * Distinguished names: DER → RFC 4514-style string.
 */
import * as der from "../lib/der.js";
import { toHex } from "../lib/bytes.js";

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

/** The value of the first attribute of the given type in a Name (e.g. CN, 2.5.4.3). @group X.509 */
export function nameAttribute(name: Uint8Array, typeOid: string): string | undefined {
  for (const rdn of der.expect(der.parse(name), der.Tag.SEQUENCE, "Name")) {
    for (const atv of der.children(rdn)) {
      const [type, value] = der.children(atv);
      if (der.readOid(type) === typeOid) return der.readString(value, "attribute value");
    }
  }
  return undefined;
}
