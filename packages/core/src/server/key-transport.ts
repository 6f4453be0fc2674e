/**
 * Who can receive an envelope. Every SCEP envelope this server builds or opens
 * uses RSA key transport (KeyTransRecipientInfo, RFC 8894 §3.2.2 and §3.3.2,
 * RFC 5652 §6.2.1): requests are encrypted to an RSA decrypter (the CA or an
 * RA), and a CertRep's content key is RSA-encrypted to the requester's signer
 * certificate.
 *
 * What real clients do with non-RSA keys (checked before choosing): none of the
 * common clients (sscep, jscep, micromdm scepclient, strongSwan, Apple and
 * Windows/Intune) uses ECDH KeyAgreeRecipientInfo for SCEP; micromdm notes the
 * macOS client has no EC support, HashiCorp Vault documents SCEP as RSA-only,
 * sscep with an EC key fails in OpenSSL's PKCS7_RECIP_INFO_set ("encryption not
 * supported for this key type"). One server (OmniTrust ILM, 2026) answers EC
 * clients with a password recipient (PWRI) keyed by the challenge, and its own
 * follow-up issue records that no common client was ever shown to open it. So
 * a request signed with a non-RSA key gets FAILURE badAlg before anything is
 * issued, rather than a certificate nobody can receive.
 *
 * @module
 */
import * as der from "../lib/der.js";
import * as oids from "../oids.js";

/**
 * The algorithm OID of a SubjectPublicKeyInfo.
 * ```asn
 * SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }
 * AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY DEFINED BY algorithm OPTIONAL }
 * ```
 */
export function spkiAlgorithm(spki: Uint8Array): string {
  const [algT] = der.children(der.parse(spki));
  return der.readOid(der.children(algT)[0], "SubjectPublicKeyInfo algorithm");
}

/** A short name of a key's algorithm for messages. */
export function keyAlgorithmName(spki: Uint8Array): string {
  const oid = spkiAlgorithm(spki);
  if (oid === oids.id_rsaEncryption || oid === oids.id_RSAES_OAEP) return "RSA";
  if (oid === oids.id_ecPublicKey) return "EC";
  if (oid === "1.3.101.112") return "Ed25519";
  if (oid === "1.3.101.113") return "Ed448";
  return oid;
}

/** Whether an envelope's content key can be RSA-encrypted to this key (RFC 5652 §6.2.1 key transport). */
export function canReceiveKeyTransport(spki: Uint8Array): boolean {
  const oid = spkiAlgorithm(spki);
  return oid === oids.id_rsaEncryption || oid === oids.id_RSAES_OAEP;
}
