/**
 * Checks that a CRL a CA returned to GetCRL (RFC 8894 §3.3.5) was issued by the CA certificate that issued the
 * requester's certificate (RFC 5280 §6.3.3 (f), (g)): its issuer name is that CA's subject, its authorityKeyIdentifier
 * (RFC 5280 §5.2.1), where both it and the CA's subjectKeyIdentifier are present, is that identifier, and its signature
 * verifies with that CA's key. A name alone proves nothing: every example CA is `CN=SCEP Example CA, O=scep-sdk`. Its
 * signatureAlgorithm must be its tbsCertList's signature field (RFC 5280 §5.1.1.2), read by @scep/core's
 * `parseSignatureAlgorithm`.
 *
 * The CRL is read with the @peculiar schema classes and @peculiar/x509's `X509Crl`, not by hand. The signature is
 * checked with node:crypto rather than `X509Crl.verify`: that goes through WebCrypto, which has no SHA-224
 * (sha224WithRSAEncryption CRLs are in the wild) and is asynchronous, while this check is synchronous.
 *
 * @module
 */
import { constants, createPublicKey, verify } from "node:crypto";
import { AsnConvert, AsnParser } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier, CertificateList } from "@peculiar/asn1-x509";
import * as asn1js from "asn1js";
import { formatName, isScepError, parseSignatureAlgorithm, type Certificate, type SignatureAlgorithm } from "@scep/core";
import { CliError, ExitCode } from "./exit.js";
import { nameText, printable } from "./printable.js";
import { x509 } from "./x509.js";

/** How node:crypto.verify checks a signature: the digest and, for RSASSA-PSS, the salt length. */
interface Verification {
  digest: string;
  pss?: { saltLength: number };
}

/**
 * How to verify a CRL whose signatureAlgorithm field (DER) is `field`, or why this check cannot: @scep/core reads it
 * (RFC 5280 §4.1.1.2; PKCS #1 v1.5 and RSASSA-PSS with MGF1 of its own hash, RFC 4055; ECDSA, RFC 5758). MD5 is
 * refused here: a CRL signed with it proves nothing.
 */
function verificationOf(field: Uint8Array): Verification | string {
  let algorithm: SignatureAlgorithm;
  try {
    algorithm = parseSignatureAlgorithm(field);
  } catch (error) {
    if (!isScepError(error)) throw error;
    return `an algorithm this check cannot verify (${printable(error.message, 120)})`;
  }
  if (algorithm.digest === "md5") return "MD5, which this check does not trust";
  return algorithm.scheme === "rsa-pss" ? { digest: algorithm.digest, pss: { saltLength: algorithm.saltLength ?? 20 } } : { digest: algorithm.digest };
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

/** What the check needs from a CRL. */
interface CrlParts {
  tbs: Uint8Array;
  issuer: Uint8Array;
  /** The outer signatureAlgorithm and tbsCertList's signature field, DER as the CA sent them (RFC 5280 §5.1.1.2). */
  signatureAlgorithm: Uint8Array;
  tbsSignature: Uint8Array;
  /** How to verify the signature (by the outer signatureAlgorithm), or why this check cannot. */
  verification: Verification | string;
  signature: Uint8Array;
  authorityKeyId: Uint8Array | undefined;
}

/** Why bytes are not a CRL: the issuer Name where the outline has one, for a CRL refused for its name. */
class NotACrl extends Error {
  constructor(
    message: string,
    readonly issuer?: Uint8Array,
  ) {
    super(message);
  }
}

/**
 * Fields of a CertificateList in outline (a SEQUENCE whose first element is a SEQUENCE), as the bytes the CA sent: the
 * issuer, for when the schema refuses the CRL (an issuer Name that does not parse is named in the message), and the
 * two signature algorithm fields, compared byte for byte (a schema class would encode them again).
 *
 * ```asn
 * CertificateList ::= SEQUENCE { tbsCertList TBSCertList, signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }
 * TBSCertList ::= SEQUENCE { version Version OPTIONAL, signature AlgorithmIdentifier, issuer Name, … }
 * ```
 */
function outlineFields(list: asn1js.AsnType): { issuer?: Uint8Array; tbsSignature?: Uint8Array; signatureAlgorithm?: Uint8Array } {
  if (!(list instanceof asn1js.Sequence)) return {};
  const [tbs, signatureAlgorithm] = list.valueBlock.value;
  if (!(tbs instanceof asn1js.Sequence)) return {};
  const fields = tbs.valueBlock.value;
  const at = fields[0] instanceof asn1js.Integer ? 1 : 0;
  const sequence = (t: asn1js.AsnType | undefined): Uint8Array | undefined => (t instanceof asn1js.Sequence ? t.valueBeforeDecodeView : undefined);
  return { issuer: sequence(fields[at + 1]), tbsSignature: sequence(fields[at]), signatureAlgorithm: sequence(signatureAlgorithm) };
}

/** Reads a CRL (DER: RFC 5280 §5) with the schema classes; throws {@link NotACrl}, never another error. */
function readCrl(der: Uint8Array): CrlParts {
  let outline: ReturnType<typeof asn1js.fromBER>;
  try {
    // Bounded by the input, not by asn1js's default 10 000 nodes (a CRL of ~1 250 entries with a reasonCode) and 16 MiB.
    outline = asn1js.fromBER(der, { maxNodes: der.length + 1, maxContentLength: der.length + 1 }); // throws on some encodings, e.g. a BMPString of an odd length
  } catch (error) {
    throw new NotACrl(printable((error as Error).message, 160));
  }
  if (outline.offset === -1) throw new NotACrl(printable(outline.result.error || "not BER", 160));
  if (outline.offset !== der.length) throw new NotACrl(`${der.length - outline.offset} bytes after the CertificateList`);
  const fields = outlineFields(outline.result);
  try {
    const list = AsnParser.fromASN(outline.result, CertificateList); // the tree read above: AsnConvert.parse would read it again, with the default limits
    const crl = new x509.X509Crl(list);
    const keyId = crl.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId;
    const signatureAlgorithm = fields.signatureAlgorithm ?? new Uint8Array(AsnConvert.serialize(list.signatureAlgorithm));
    return {
      tbs: new Uint8Array(list.tbsCertListRaw ?? AsnConvert.serialize(list.tbsCertList)),
      // The issuer as the CA sent it (its DER), not as a schema class would encode it again.
      issuer: fields.issuer ?? new Uint8Array(crl.issuerName.toArrayBuffer()),
      signatureAlgorithm,
      tbsSignature: fields.tbsSignature ?? new Uint8Array(AsnConvert.serialize(list.tbsCertList.signature)),
      verification: verificationOf(signatureAlgorithm),
      signature: new Uint8Array(list.signature),
      authorityKeyId: keyId === undefined ? undefined : Uint8Array.from(Buffer.from(keyId, "hex")),
    };
  } catch (error) {
    throw new NotACrl(printable((error as Error).message, 160), fields.issuer);
  }
}

/** An AlgorithmIdentifier (DER) as its OID (and its bytes, with `bytes`), or its bytes when it does not parse. */
function algorithmText(field: Uint8Array, bytes = false): string {
  const shown = hex(field.subarray(0, 32)) + (field.length > 32 ? "…" : "");
  try {
    const oid = AsnConvert.parse(field, AlgorithmIdentifier).algorithm;
    return bytes ? `${oid}: ${shown}` : oid;
  } catch {
    return shown;
  }
}

/** A Name (DER) as text, or what it is when it does not parse (a hostile CA's CRL: still a one-line refusal). */
function readableName(name: Uint8Array): string {
  try {
    return nameText(formatName(name));
  } catch {
    return `a Name that does not parse (${hex(name.subarray(0, 32))}${name.length > 32 ? "…" : ""})`;
  }
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Throws a one-line {@link CliError} (exit {@link ExitCode.ERROR}) unless `crl` (DER) was issued by the certificate in
 * `caCertificates` that issued `certificate` (RFC 5280 §6.3.3: issuer name, authorityKeyIdentifier where present,
 * signature: RSA PKCS #1 v1.5, RSASSA-PSS with MGF1 of its own hash, or ECDSA) and its signatureAlgorithm is, byte for
 * byte, the signature field of its tbsCertList (RFC 5280 §5.1.1.2: only that one is signed). A CRL signed by another key whose
 * authorityKeyIdentifier names that key (a separate CRL signer) is refused as one that cannot be checked: there is no
 * path to that key here. `certFile` names --cert in the message.
 */
export function checkCrlIssuer(crl: Uint8Array, certificate: Certificate, caCertificates: readonly Certificate[], certFile: string): void {
  const issuerCa = caCertificates.find((c) => certificate.isIssuedBy(c));
  if (!issuerCa) {
    throw new CliError(`the CA's GetCACert reply holds no certificate that issued --cert ${certFile} (issuer ${certificate.issuer}), so its CRL cannot be checked; is --cert a certificate this CA issued?`, ExitCode.ERROR);
  }
  const refuse = (why: string): never => {
    throw new CliError(`the CA returned a CRL that is not ${nameText(issuerCa.subject)}'s (the CA that issued --cert ${certFile}): ${why}; nothing was written`, ExitCode.ERROR);
  };
  let parts: CrlParts;
  try {
    parts = readCrl(crl);
  } catch (error) {
    if (!(error instanceof NotACrl)) throw error;
    if (error.issuer && !sameBytes(error.issuer, issuerCa.subjectDer)) return refuse(`its issuer is ${readableName(error.issuer)}`);
    return refuse(`it is not a DER CRL (${error.message})`);
  }
  if (!sameBytes(parts.issuer, issuerCa.subjectDer)) refuse(`its issuer is ${readableName(parts.issuer)}`);
  if (!sameBytes(parts.signatureAlgorithm, parts.tbsSignature)) {
    // RFC 5280 §5.1.1.2: the outer field (which the signature is checked under) is not covered by the signature; only
    // the one inside tbsCertList is. A CRL whose two differ is malformed, whatever its signature.
    const sameOid = algorithmText(parts.signatureAlgorithm) === algorithmText(parts.tbsSignature); // other parameters: show them
    const outer = algorithmText(parts.signatureAlgorithm, sameOid);
    const inner = algorithmText(parts.tbsSignature, sameOid);
    refuse(`its signatureAlgorithm (${outer}) is not the signature field of its tbsCertList (${inner}), as RFC 5280 §5.1.1.2 requires`);
  }
  const verification = parts.verification;
  if (typeof verification === "string") return refuse(`it is signed with ${verification}`);
  let verified = false;
  try {
    const key = createPublicKey({ key: Buffer.from(issuerCa.spki), format: "der", type: "spki" });
    const options = verification.pss ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: verification.pss.saltLength } : key;
    verified = verify(verification.digest, parts.tbs, options, parts.signature);
  } catch {
    verified = false;
  }
  const ski = issuerCa.subjectKeyIdentifier;
  if (!verified && parts.authorityKeyId && ski && !sameBytes(parts.authorityKeyId, ski)) {
    // Another key signed it under the CA's name: a separate cRLSign key (RFC 5280 §6.3.3 allows one) or another CA of
    // the same name. Without a certification path to that key its signature cannot be checked: say so, not "forged".
    refuse(
      `its authorityKeyIdentifier ${hex(parts.authorityKeyId)} names a key that is not the CA's (subjectKeyIdentifier ${hex(ski)}), so it cannot be checked (a separate CRL signer, RFC 5280 §6.3.3, or another CA of the same name: only the key of the CA that issued --cert is trusted here)`,
    );
  }
  if (!verified) refuse("its signature does not verify with that CA's key (another CA with the same name?)");
  if (parts.authorityKeyId && ski && !sameBytes(parts.authorityKeyId, ski)) {
    refuse(`its authorityKeyIdentifier ${hex(parts.authorityKeyId)} is not the CA's subjectKeyIdentifier ${hex(ski)}`);
  }
}
