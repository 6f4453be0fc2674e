/**
 * Roles in a GetCACert certificate set (RFC 8894 §2.2, §3.3.3, §4.2.1.2): the
 * RA or CA requests are encrypted to, the certificate that signs CertReps,
 * and the issuing CA a CertPoll names. Chosen by key usage and by position in
 * the chain, never by list order: servers send `[RA, CA]`, `[CA, RA]`,
 * `[root, issuing CA]`, `[issuing CA, root]` and NDES's signing RA +
 * encryption RA + CA in any order.
 *
 * @module
 */
import { equalBytes } from "../lib/der.js";
import { InvalidArgumentError } from "../errors.js";
import type { Certificate } from "../x509/certificate.js";

/** `issuer` issued `subject` by name (and they are two certificates, not one self-issued). */
function namesIssuer(issuer: Certificate, subject: Certificate): boolean {
  return issuer !== subject && !subject.isSelfIssued && equalBytes(subject.issuerDer, issuer.subjectDer);
}

/**
 * A certificate that acts as a CA in the set: basicConstraints cA, or the
 * issuer of another certificate of the set (an old v1 CA certificate has no
 * basicConstraints).
 * @group Codec
 */
export function isCaInSet(cert: Certificate, certificates: readonly Certificate[]): boolean {
  return cert.isCa || certificates.some((other) => namesIssuer(cert, other));
}

/**
 * The lowest CA of the chain: the CA certificate that issued none of the
 * other CA certificates in the set (the issuing CA under a root, or the only
 * CA). When several qualify (unrelated chains), the one that issued an RA of
 * the set wins, then the most recent notBefore. Undefined when the set holds
 * no CA.
 *
 * @example
 * ```ts
 * const client = new ScepClient({ url: "http://127.0.0.1:8080/scep" });
 * const issuing = lowestCa(await client.getCaCert()); // root and issuing CA in any order
 * ```
 * @group Codec
 */
export function lowestCa(certificates: readonly Certificate[]): Certificate | undefined {
  const cas = certificates.filter((c) => isCaInSet(c, certificates));
  const lowest = cas.filter((c) => !cas.some((other) => namesIssuer(c, other)));
  const ras = certificates.filter((c) => !cas.includes(c));
  const rank = (c: Certificate): number => (ras.some((ra) => namesIssuer(c, ra)) ? 1 : 0);
  return [...lowest].sort((a, b) => rank(b) - rank(a) || b.notBefore.getTime() - a.notBefore.getTime())[0];
}

function ras(certificates: readonly Certificate[]): Certificate[] {
  return certificates.filter((c) => !isCaInSet(c, certificates));
}

/**
 * Picks the certificate to encrypt requests to from a GetCACert set
 * (RFC 8894 §2.2, §4.2.1.2; INTEROP quirk 7, as macOS does): an RA (a
 * non-CA certificate) with keyEncipherment in its keyUsage; else an RA
 * without a keyUsage extension (any use allowed); else the lowest CA of the
 * chain ({@link lowestCa}); else the only certificate. The order of the set
 * does not matter.
 *
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` for an empty set.
 *
 * @example
 * ```ts
 * const client = new ScepClient({ url: "http://127.0.0.1:8080/scep" });
 * const keys = await generateRsaKeyPair();
 * const signer = await createSelfSignedSigner({ keys, subject: "CN=device-42" });
 * const csr = await generateCsr({ keys, subject: "CN=device-42", challengePassword: "secret" });
 * const req = await buildPkcsReq({ csr, signer, recipient: selectRecipient(await client.getCaCert()) });
 * ```
 * @group Codec
 */
export function selectRecipient(certificates: readonly Certificate[]): Certificate {
  const first = certificates[0];
  if (!first) throw new InvalidArgumentError("no certificate to encrypt to");
  const candidates = ras(certificates);
  return (
    candidates.find((c) => c.keyUsage?.has("keyEncipherment")) ??
    candidates.find((c) => c.keyUsage === undefined) ??
    lowestCa(certificates) ??
    first
  );
}

/**
 * Picks the certificate expected to sign CertReps from a GetCACert set
 * (RFC 8894 §2.2): an RA with digitalSignature in its keyUsage (NDES's
 * signing RA); else an RA without a keyUsage extension; else the lowest CA of
 * the chain; else the only certificate. The order of the set does not matter.
 * (A client verifies a CertRep against whichever certificate its SignerInfo
 * names; this is what to expect.)
 *
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` for an empty set.
 *
 * @example
 * ```ts
 * const client = new ScepClient({ url: "http://127.0.0.1:8080/scep" });
 * console.log("CertReps come from", selectSigner(await client.getCaCert()).subject);
 * ```
 * @group Codec
 */
export function selectSigner(certificates: readonly Certificate[]): Certificate {
  const first = certificates[0];
  if (!first) throw new InvalidArgumentError("no certificate");
  const candidates = ras(certificates);
  return (
    candidates.find((c) => c.keyUsage?.has("digitalSignature")) ??
    candidates.find((c) => c.keyUsage === undefined) ??
    lowestCa(certificates) ??
    first
  );
}

/**
 * The issuer Name (DER) of the certificates this CA issues, as a CertPoll's
 * `IssuerAndSubject.issuer` must carry it (RFC 8894 §3.3.3): the issuer of
 * the RA that requests are encrypted to, else the subject of the lowest CA of
 * the chain, else the subject of the only certificate. The order of the set
 * does not matter.
 *
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` for an empty set.
 *
 * @example
 * ```ts
 * const caCerts = await new ScepClient({ url: "http://127.0.0.1:8080/scep" }).getCaCert();
 * console.log("CertPoll names", formatName(selectIssuerName(caCerts)));
 * ```
 * @group Codec
 */
export function selectIssuerName(certificates: readonly Certificate[]): Uint8Array {
  const recipient = selectRecipient(certificates);
  // An RA: its own issuer, whether or not that CA's certificate is in the set.
  if (!isCaInSet(recipient, certificates) && !recipient.isSelfIssued) return recipient.issuerDer;
  return (lowestCa(certificates) ?? recipient).subjectDer;
}
