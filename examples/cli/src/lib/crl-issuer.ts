/**
 * Checks that a CRL a CA returned to GetCRL (RFC 8894 §3.3.5) was issued by the CA certificate that issued the
 * requester's certificate (RFC 5280 §6.3.3 (f), (g)): its issuer name is that CA's subject, its authorityKeyIdentifier
 * (RFC 5280 §5.2.1), where both it and the CA's subjectKeyIdentifier are present, is that identifier, and its signature
 * verifies with that CA's key. A name alone proves nothing: every example CA is `CN=SCEP Example CA, O=scep-sdk`.
 *
 * The CRL is read with the @peculiar schema classes and @peculiar/x509's `X509Crl`, not by hand. The signature is
 * checked with node:crypto rather than `X509Crl.verify`: that goes through WebCrypto, which has no SHA-224
 * (sha224WithRSAEncryption CRLs are in the wild) and is asynchronous, while this check is synchronous.
 *
 * @module
 */
import { constants, createPublicKey, verify } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier, CertificateList } from "@peculiar/asn1-x509";
import * as rsa from "@peculiar/asn1-rsa";
import * as asn1js from "asn1js";
import { formatName, type Certificate } from "@scep/core";
import { CliError, ExitCode } from "./exit.js";
import { nameText, printable } from "./printable.js";
import { x509 } from "./x509.js";

/** Signature algorithm OID → digest, for node:crypto.verify (RSA PKCS #1 v1.5, RFC 8017 §9.2; ECDSA, RFC 5758 §3.2). */
const SIGNATURE_DIGESTS: Readonly<Record<string, string>> = {
  [rsa.id_sha1WithRSAEncryption]: "sha1", // pkcs-1 5
  [rsa.id_sha224WithRSAEncryption]: "sha224", // pkcs-1 14
  [rsa.id_sha256WithRSAEncryption]: "sha256", // pkcs-1 11
  [rsa.id_sha384WithRSAEncryption]: "sha384", // pkcs-1 12
  [rsa.id_sha512WithRSAEncryption]: "sha512", // pkcs-1 13
  "1.2.840.10045.4.1": "sha1", // ecdsa-with-SHA1: ansi-X9-62 signatures(4) 1
  "1.2.840.10045.4.3.1": "sha224", // ecdsa-with-SHA224: ecdsa-with-SHA2(4.3) 1
  "1.2.840.10045.4.3.2": "sha256", // ecdsa-with-SHA256: ecdsa-with-SHA2(4.3) 2
  "1.2.840.10045.4.3.3": "sha384", // ecdsa-with-SHA384: ecdsa-with-SHA2(4.3) 3
  "1.2.840.10045.4.3.4": "sha512", // ecdsa-with-SHA512: ecdsa-with-SHA2(4.3) 4
};
/** Hash algorithm OID → digest (RSASSA-PSS-params, RFC 4055 §2.1). */
const HASH_DIGESTS: Readonly<Record<string, string>> = {
  [rsa.id_sha1]: "sha1", // oiw secsig algorithms 26
  [rsa.id_sha224]: "sha224", // nistAlgorithms hashAlgs 4
  [rsa.id_sha256]: "sha256", // nistAlgorithms hashAlgs 1
  [rsa.id_sha384]: "sha384", // nistAlgorithms hashAlgs 2
  [rsa.id_sha512]: "sha512", // nistAlgorithms hashAlgs 3
};

/** How node:crypto.verify checks a signature: the digest and, for RSASSA-PSS, the salt length. */
interface Verification {
  digest: string;
  pss?: { saltLength: number };
}

/**
 * RSASSA-PSS parameters (RFC 4055 §3.1), where node:crypto can check them (MGF1 with the signature's own hash), or
 * why it cannot. The schema class fills in the DEFAULTs.
 *
 * ```asn
 * RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] HashAlgorithm DEFAULT sha1, maskGenAlgorithm [1] MaskGenAlgorithm DEFAULT mgf1SHA1,
 *   saltLength [2] INTEGER DEFAULT 20, trailerField [3] TrailerField DEFAULT trailerFieldBC }
 * ```
 */
function pssVerification(parameters: ArrayBuffer | null | undefined): Verification | string {
  let params: rsa.RsaSaPssParams;
  let mgfHash: AlgorithmIdentifier | undefined;
  try {
    params = parameters ? AsnConvert.parse(parameters, rsa.RsaSaPssParams) : new rsa.RsaSaPssParams();
    const mgf = params.maskGenAlgorithm;
    if (mgf.algorithm === rsa.id_mgf1 && mgf.parameters) mgfHash = AsnConvert.parse(mgf.parameters, AlgorithmIdentifier);
  } catch (error) {
    return `RSASSA-PSS parameters that do not parse (${printable((error as Error).message, 120)})`;
  }
  const digest = HASH_DIGESTS[params.hashAlgorithm.algorithm];
  if (!digest) return "an RSASSA-PSS hash this check does not know";
  if (!mgfHash) return "an RSASSA-PSS mask generation other than MGF1";
  const mgfDigest = HASH_DIGESTS[mgfHash.algorithm];
  if (!mgfDigest) return "an RSASSA-PSS MGF1 hash this check does not know";
  if (mgfDigest !== digest) return `an RSASSA-PSS signature whose MGF1 hash (${mgfDigest}) is not its hash (${digest})`;
  if (!Number.isSafeInteger(params.saltLength) || params.saltLength < 0) return "an RSASSA-PSS salt length out of range";
  if (params.trailerField !== 1) return "an RSASSA-PSS trailer field other than 1";
  return { digest, pss: { saltLength: params.saltLength } };
}

/** How to verify a CRL signed with `algorithm`, or why this check cannot (an algorithm or parameters it does not know). */
function verificationOf(algorithm: AlgorithmIdentifier): Verification | string {
  if (algorithm.algorithm === rsa.id_RSASSA_PSS) return pssVerification(algorithm.parameters);
  const digest = SIGNATURE_DIGESTS[algorithm.algorithm];
  return digest === undefined ? `algorithm ${algorithm.algorithm}, which this check does not know` : { digest };
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

/** What the check needs from a CRL. */
interface CrlParts {
  tbs: Uint8Array;
  issuer: Uint8Array;
  /** How to verify the signature, or why this check cannot. */
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
 * The issuer of a CertificateList in outline (a SEQUENCE whose first element is a SEQUENCE), as the bytes the CA sent,
 * for when the schema refuses the CRL (an issuer Name that does not parse is named in the message).
 *
 * ```asn
 * CertificateList ::= SEQUENCE { tbsCertList TBSCertList, signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }
 * TBSCertList ::= SEQUENCE { version Version OPTIONAL, signature AlgorithmIdentifier, issuer Name, … }
 * ```
 */
function outlineIssuer(list: asn1js.AsnType): Uint8Array | undefined {
  if (!(list instanceof asn1js.Sequence)) return undefined;
  const tbs = list.valueBlock.value[0];
  if (!(tbs instanceof asn1js.Sequence)) return undefined;
  const fields = tbs.valueBlock.value;
  const issuer = fields[fields[0] instanceof asn1js.Integer ? 2 : 1];
  return issuer instanceof asn1js.Sequence ? issuer.valueBeforeDecodeView : undefined;
}

/** Reads a CRL (DER: RFC 5280 §5) with the schema classes; throws {@link NotACrl}, never another error. */
function readCrl(der: Uint8Array): CrlParts {
  let outline: ReturnType<typeof asn1js.fromBER>;
  try {
    outline = asn1js.fromBER(der); // throws on some encodings, e.g. a BMPString of an odd length
  } catch (error) {
    throw new NotACrl(printable((error as Error).message, 160));
  }
  if (outline.offset === -1) throw new NotACrl(printable(outline.result.error || "not BER", 160));
  if (outline.offset !== der.length) throw new NotACrl(`${der.length - outline.offset} bytes after the CertificateList`);
  try {
    const list = AsnConvert.parse(der, CertificateList);
    const crl = new x509.X509Crl(list);
    const keyId = crl.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId;
    return {
      tbs: new Uint8Array(list.tbsCertListRaw ?? AsnConvert.serialize(list.tbsCertList)),
      // The issuer as the CA sent it (its DER), not as a schema class would encode it again.
      issuer: outlineIssuer(outline.result) ?? new Uint8Array(crl.issuerName.toArrayBuffer()),
      verification: verificationOf(list.signatureAlgorithm),
      signature: new Uint8Array(list.signature),
      authorityKeyId: keyId === undefined ? undefined : Uint8Array.from(Buffer.from(keyId, "hex")),
    };
  } catch (error) {
    throw new NotACrl(printable((error as Error).message, 160), outlineIssuer(outline.result));
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
 * signature: RSA PKCS #1 v1.5, RSASSA-PSS with MGF1 of its own hash, or ECDSA). A CRL signed by another key whose
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
