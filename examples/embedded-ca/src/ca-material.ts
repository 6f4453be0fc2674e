// Loads a CA certificate (PEM) and its private key (PEM or DER) and turns them into
// what issuing needs: a @scep/core LocalKey (the Signer certificates are built
// with), the signature algorithm, and a WebCrypto key for FileCa.signingKey.
// Node-specific (node:crypto KeyObject) by design:
// Node parses every PEM key flavour (PKCS#1, PKCS#8, SEC1) and the SCEP server
// needs a KeyObject to decrypt RSA envelopes.
import { createHash, createPrivateKey, createPublicKey, KeyObject } from "node:crypto";
import { Certificate, LocalKey, isScepError, privateKeyToPkcs8, sortCertificateBundle, type LocalKeyOptions, type SignatureAlgorithm } from "@scep/core";
import { EmbeddedCaError } from "./errors.js";
import { allPemBlocks, colonHex, toPem } from "./lib/pem.js";
import { nodeCrypto, x509 } from "./lib/x509.js";

/** Key algorithm of a CA key: RSA (can decrypt SCEP envelopes) or EC (sign only). */
export type CaKeyAlgorithm = "RSA" | "EC";

/** A loaded, checked CA: certificate plus matching key in every form callers need. */
export interface CaMaterial {
  readonly certificate: x509.X509Certificate;
  readonly certificateDer: Uint8Array<ArrayBuffer>;
  readonly certificatePem: string;
  /** The certificates above it from the same file (its issuer first, up to the root), DER. */
  readonly chainDer: Uint8Array<ArrayBuffer>[];
  readonly privateKey: KeyObject;
  /** PKCS#8 PEM, whatever the input format was: exported from `privateKey` on each read (no copy is kept). */
  readonly privateKeyPem: string;
  /** The WebCrypto key (exposed as FileCa.signingKey); extractable, as privateKeyPem exports it anyway. */
  readonly signingKey: CryptoKey;
  /** Signs issued certificates (@scep/core's buildCertificate). */
  readonly signer: LocalKey;
  /** RSA: sha256WithRSAEncryption; EC: ECDSA with the curve's hash (SHA-256/384/512). */
  readonly signatureAlgorithm: SignatureAlgorithm;
  readonly keyAlgorithm: CaKeyAlgorithm;
  readonly fingerprintSha256: string;
}

function loadFailed(message: string, cause?: unknown): EmbeddedCaError {
  return new EmbeddedCaError("CA_LOAD_FAILED", message, { cause });
}

function decodeCertificate(der: Uint8Array<ArrayBuffer>, source: string, position: number, count: number): x509.X509Certificate {
  try {
    return new x509.X509Certificate(der);
  } catch (error) {
    throw loadFailed(`${source}: ${count === 1 ? "the certificate" : `certificate ${position} of ${count}`} cannot be decoded`, error);
  }
}

function checkCaCertificate(certificate: x509.X509Certificate, source: string): x509.X509Certificate {
  const basic = certificate.getExtension(x509.BasicConstraintsExtension);
  if (!basic?.ca) {
    throw loadFailed(`${source}: the certificate is not a CA (basicConstraints cA is not true)`);
  }
  const usage = certificate.getExtension(x509.KeyUsagesExtension);
  if (usage && (usage.usages & x509.KeyUsageFlags.keyCertSign) === 0) {
    throw loadFailed(`${source}: the certificate's keyUsage does not allow keyCertSign`);
  }
  return certificate;
}

/**
 * The CA certificate (the one whose public key is `privateKey`'s, wherever it
 * stands in the file) and the certificates above it, ordered by issuer from
 * its issuer up to the root (RFC 5280 §6.1: by name and signature, not by the
 * order in the file): @scep/core's sortCertificateBundle, as a profile's
 * caCertificate bundle does it.
 */
function pickCertificates(
  certificateText: string,
  source: string,
  keySource: string,
  privateKey: KeyObject,
): { certificate: x509.X509Certificate; chain: x509.X509Certificate[] } {
  const ders = allPemBlocks(certificateText, "CERTIFICATE");
  if (ders.length === 0) {
    throw loadFailed(
      looksLikeDer(Buffer.from(certificateText, "latin1"))
        ? `${source}: expected PEM, this is a DER certificate (convert it: openssl x509 -inform der -in ${source} -out ca.pem)`
        : `${source}: no PEM CERTIFICATE block found`,
    );
  }
  const all = ders.map((der, i) => decodeCertificate(der, source, i + 1, ders.length));
  const spki = new Uint8Array(createPublicKey(privateKey).export({ format: "der", type: "spki" }));
  const sorted = sortCertificateBundle(
    ders.map((der) => new Certificate(der)),
    [spki],
  );
  if (!sorted.ofKey) {
    throw new EmbeddedCaError(
      "CA_KEY_MISMATCH",
      all.length === 1
        ? `${keySource} is not the private key of the certificate in ${source}`
        : `${keySource} is not the private key of any of the ${all.length} certificates in ${source}`,
    );
  }
  const decoded = (c: Certificate): x509.X509Certificate => all[ders.findIndex((der) => Buffer.from(der).equals(c.der))]!;
  const certificate = checkCaCertificate(decoded(sorted.certificate), source);
  const chain = sorted.path.slice(1).map((c) => checkCaCertificate(decoded(c), source));
  if (sorted.rest.length > 0) {
    throw loadFailed(`${source}: ${sorted.rest.map((c) => decoded(c).subject).join("; ")} is not an issuer of ${certificate.subject} (the file should hold the CA and the certificates above it)`);
  }
  return { certificate, chain };
}

/**
 * Whether file bytes are DER rather than PEM text: a DER key or certificate is an ASN.1 SEQUENCE (0x30) followed by
 * a definite length, and has no PEM armour.
 */
export function looksLikeDer(bytes: Uint8Array): boolean {
  return bytes.length > 1 && bytes[0] === 0x30 && !Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes("-----BEGIN");
}

/**
 * A private key file's bytes, DER or PEM, encrypted or not, read by @scep/core (privateKeyToPkcs8, LocalKey.from's
 * reader: without a passphrase an encrypted key is tried with the empty one, as micromdm's depot ca.key needs) into
 * unencrypted PKCS#8 DER, which the caller zeroes once imported; its errors said with the file's name.
 */
function readPkcs8(keyBytes: string | Uint8Array, source: string, passphrase: string | undefined): Uint8Array<ArrayBuffer> {
  try {
    return privateKeyToPkcs8(keyBytes, passphrase === undefined ? {} : { passphrase });
  } catch (error) {
    if (isScepError(error) && error.code === "ERR_KEY_PASSPHRASE") throw new EmbeddedCaError("CA_KEY_PASSPHRASE", `${source}: ${error.message}`, { cause: error });
    if (typeof keyBytes !== "string" && looksLikeDer(keyBytes)) {
      throw loadFailed(`${source}: the private key cannot be parsed (DER, but not PKCS#8, encrypted PKCS#8, PKCS#1 or SEC1)`, error);
    }
    // The parser's own message (Node's: it never contains key material).
    const reason = (error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message;
    throw loadFailed(`${source}: the private key cannot be parsed (${reason}; expected PEM or DER PKCS#8, PKCS#1 or SEC1)`, error);
  }
}

interface KeyKind {
  keyAlgorithm: CaKeyAlgorithm;
  importAlgorithm: RsaHashedImportParams | EcKeyImportParams;
  signatureAlgorithm: SignatureAlgorithm;
}

const RSA: KeyKind = {
  keyAlgorithm: "RSA",
  importAlgorithm: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  signatureAlgorithm: { scheme: "rsa-pkcs1", digest: "sha256", rsaOid: "withDigest" },
};
const ec = (namedCurve: string, digest: "sha256" | "sha384" | "sha512"): KeyKind => ({
  keyAlgorithm: "EC",
  importAlgorithm: { name: "ECDSA", namedCurve },
  signatureAlgorithm: { scheme: "ecdsa", digest },
});

/**
 * The key kinds this CA signs with, by the DER of their PKCS#8 privateKeyAlgorithm as OpenSSL writes it (RFC 5958
 * §2; rsaEncryption 1.2.840.113549.1.1.1 with NULL parameters, RFC 8017 §A.1; id-ecPublicKey 1.2.840.10045.2.1 with
 * the namedCurve, RFC 5480 §2.1.1: prime256v1 1.2.840.10045.3.1.7, secp384r1 1.3.132.0.34, secp521r1 1.3.132.0.35).
 */
const KEY_KINDS: Record<string, KeyKind> = {
  "300d06092a864886f70d0101010500": RSA,
  "301306072a8648ce3d020106082a8648ce3d030107": ec("P-256", "sha256"),
  "301006072a8648ce3d020106052b81040022": ec("P-384", "sha384"),
  "301006072a8648ce3d020106052b81040023": ec("P-521", "sha512"),
};

/** The end of the DER element at `at` (tag, definite length, contents), or -1 when it does not fit. */
function derEnd(bytes: Uint8Array, at: number): number {
  let length = bytes[at + 1];
  let contents = at + 2;
  if (length === undefined) return -1;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > 3) return -1;
    length = 0;
    for (let i = 0; i < octets; i += 1) length = length * 256 + (bytes[contents + i] ?? 0);
    contents += octets;
  }
  return contents + length <= bytes.length ? contents + length : -1;
}

/**
 * The key's kind, read from the privateKeyAlgorithm of the PKCS#8 @scep/core wrote (DER; no key parse):
 *
 * ```asn
 * PrivateKeyInfo ::= SEQUENCE {
 *   version                   Version,
 *   privateKeyAlgorithm       PrivateKeyAlgorithmIdentifier,
 *   privateKey                PrivateKey,
 *   attributes            [0] Attributes OPTIONAL }
 * ```
 *
 * Another kind is refused naming it (that refusal parses the key, to say what it is).
 */
function keyKindOf(pkcs8: Uint8Array, source: string): KeyKind {
  // The outer SEQUENCE's header (long form: 0x30 0x8n + n length octets), then the version INTEGER.
  const outerHeader = pkcs8[1] !== undefined && pkcs8[1] & 0x80 ? 2 + (pkcs8[1] & 0x7f) : 2;
  const versionEnd = pkcs8[0] === 0x30 && pkcs8[outerHeader] === 0x02 ? derEnd(pkcs8, outerHeader) : -1;
  const algorithmEnd = versionEnd !== -1 && pkcs8[versionEnd] === 0x30 ? derEnd(pkcs8, versionEnd) : -1;
  const kind = algorithmEnd === -1 ? undefined : KEY_KINDS[Buffer.from(pkcs8.subarray(versionEnd, algorithmEnd)).toString("hex")];
  if (kind) return kind;
  const key = createPrivateKey({ key: Buffer.from(pkcs8.buffer, pkcs8.byteOffset, pkcs8.byteLength), format: "der", type: "pkcs8" });
  if (key.asymmetricKeyType === "ec") {
    throw loadFailed(`${source}: unsupported EC curve ${key.asymmetricKeyDetails?.namedCurve ?? "(unknown)"}; use P-256, P-384 or P-521`);
  }
  throw loadFailed(`${source}: unsupported key type ${key.asymmetricKeyType ?? "(unknown)"}; use RSA or EC`);
}

/** Where a CA's `LocalKey` signs: libuv's pool (`threadPool`), the calling thread, or a `KeyWorkerPool`'s threads. */
export type CaSignerOptions = Pick<LocalKeyOptions, "threadPool" | "workerPool">;

/**
 * Parses and cross-checks a CA certificate (the `CERTIFICATE` block of
 * `certificateText` whose key is the private key; other blocks must be the
 * certificates above it, in any order) and its private key (PKCS#1, PKCS#8 or SEC1, PEM or DER, possibly
 * encrypted: opened with `keyPassphrase`, or without one with the empty passphrase).
 *
 * @throws EmbeddedCaError `CA_LOAD_FAILED`, `CA_KEY_PASSPHRASE`, `CA_KEY_MISMATCH`
 */
export async function loadCaMaterial(input: {
  certificateText: string;
  /** The key file: PEM text, or its bytes (DER or PEM, told apart by the bytes). */
  keyText: string | Uint8Array;
  certificateSource: string;
  keySource: string;
  keyPassphrase?: string | undefined;
  /** Where the signer signs (default: libuv's thread pool, `{ threadPool: true }`). */
  signerOptions?: CaSignerOptions | undefined;
}): Promise<CaMaterial> {
  // The key file is read once (into PKCS#8 by @scep/core) and that copy imported once as a WebCrypto key; the
  // KeyObject and the LocalKey share the imported key (KeyObject.from: no parse), and the PKCS#8 copy is zeroed as
  // soon as it is imported (privateKeyPem exports it again only when asked). The import is extractable: Node 24
  // deprecates KeyObject.from on a non-extractable key (DEP0204, a warning on stderr at every start), and the key
  // is exportable anyway through privateKeyPem.
  const pkcs8 = readPkcs8(input.keyText, input.keySource, input.keyPassphrase);
  let kind: KeyKind;
  let signingKey: CryptoKey;
  try {
    kind = keyKindOf(pkcs8, input.keySource);
    signingKey = await nodeCrypto.subtle.importKey("pkcs8", pkcs8, kind.importAlgorithm, true, ["sign"]);
  } finally {
    pkcs8.fill(0);
  }
  const { keyAlgorithm, signatureAlgorithm } = kind;
  const privateKey = KeyObject.from(signingKey as unknown as Parameters<typeof KeyObject.from>[0]);
  const { certificate, chain } = pickCertificates(input.certificateText, input.certificateSource, input.keySource, privateKey);

  const certificateDer = new Uint8Array(certificate.rawData);
  let signer: LocalKey;
  try {
    signer = LocalKey.from(certificateDer, signingKey, input.signerOptions ?? { threadPool: true });
  } catch (error) {
    throw loadFailed(`${input.keySource}: the key cannot sign for ${input.certificateSource} (${(error as Error).message})`, error);
  }

  return {
    certificate,
    certificateDer,
    certificatePem: toPem("CERTIFICATE", certificateDer),
    chainDer: chain.map((c) => new Uint8Array(c.rawData)),
    privateKey,
    get privateKeyPem(): string {
      return privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    },
    signingKey,
    signer,
    signatureAlgorithm,
    keyAlgorithm,
    fingerprintSha256: certificateFingerprintSha256(certificateDer),
  };
}

/**
 * A certificate's SHA-256 fingerprint as the example servers print it (banner, `listening` line, the Redis namespace
 * claim): the digest of its DER, upper-case hex pairs joined by colons (`9D:DA:…`, 95 characters).
 * @param certificateDer - the certificate, DER bytes
 */
export function certificateFingerprintSha256(certificateDer: Uint8Array): string {
  return colonHex(createHash("sha256").update(certificateDer).digest());
}
