/**
 * What a renewal may ask for (RFC 8894 §2.3, §3.3.1.2): a renewal is
 * authenticated by the certificate being renewed instead of a challenge, so it
 * asks again for that certificate's names: the same subject and no
 * subjectAltName the certificate does not hold. A request signed by a
 * certificate of this CA for other names (an RA signing on behalf of a device,
 * openxpki#337; a device asking for a gateway's name) is no renewal of it.
 *
 * @module
 */
import * as der from "../../lib/der.js";
import { latin1, toHex } from "../../lib/bytes.js";
import { id_ce_subjectAltName } from "../../oids.js";
import type { Certificate } from "../../x509/certificate.js";
import type { CertificationRequest } from "../../x509/certification-request.js";
import { type Extension, findExtension } from "../../x509/extensions.js";
import { sameName } from "../../x509/name-match.js";

/** The FAILURE text of a request refused for asking for other names than the certificate that signed it. */
export const RENEWAL_NAMES_TEXT = "the request asks for another subject or subjectAltName than the certificate being renewed";

/** dNSName [2] IA5String: compared without case (RFC 4343), as clients may spell a host name either way. */
const DNS_NAME = 0x82;

/**
 * The GeneralNames of a subjectAltName extension (RFC 5280 §4.2.1.6), each as a comparison key: its tag and
 * value bytes (a dNSName's in lower case). Undefined when the extension cannot be read.
 *
 * ```asn
 * SubjectAltName ::= GeneralNames
 * GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName
 * ```
 */
function generalNameKeys(ext: Extension | undefined): string[] | undefined {
  if (!ext) return [];
  try {
    return der.children(der.parse(ext.value)).map((n) => (n.tag === DNS_NAME ? `dns:${latin1(der.content(n)).toLowerCase()}` : toHex(der.raw(n))));
  } catch {
    return undefined;
  }
}

/**
 * Whether `csr` asks for the names of `renewed` (RFC 8894 §3.3.1.2): the same subject, byte for byte or by RFC 5280
 * §7.1's comparison (case and string type aside: Cisco and Windows re-spell it), and only subjectAltNames the
 * certificate holds (fewer, or none, are fine). Never throws: names that cannot be read do not match.
 */
export function asksForNamesOf(csr: CertificationRequest, renewed: Certificate): boolean {
  if (!der.equalBytes(csr.subjectDer, renewed.subjectDer)) {
    try {
      if (!sameName(csr.subjectDer, renewed.subjectDer)) return false;
    } catch {
      return false;
    }
  }
  const asked = generalNameKeys(findExtension(csr.extensions, id_ce_subjectAltName));
  if (asked === undefined) return false;
  if (asked.length === 0) return true;
  const held = new Set(generalNameKeys(findExtension(renewed.extensions, id_ce_subjectAltName)) ?? []);
  return asked.every((k) => held.has(k));
}
