// Loads a CA certificate (PEM) and its private key (PEM or DER) and turns them into
// what issuing needs: a @scep/core LocalKey (the Signer certificates are built
// with), the signature algorithm, and a WebCrypto key for FileCa.signingKey.
// Node-specific (node:crypto KeyObject) by design:
// Node parses every PEM key flavour (PKCS#1, PKCS#8, SEC1) and the SCEP server
// needs a KeyObject to decrypt RSA envelopes.
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { LocalKey, type LocalKeyOptions, type SignatureAlgorithm } from "@scep/core";
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
  /** PKCS#8 PEM, whatever the input format was. */
  readonly privateKeyPem: string;
  /** Non-extractable WebCrypto key (exposed as FileCa.signingKey). */
  readonly signingKey: CryptoKey;
  /** Signs issued certificates (@scep/core's buildCertificate). */
  readonly signer: LocalKey;
  /** RSA: sha256WithRSAEncryption; EC: ECDSA with the curve's hash (SHA-256/384/512). */
  readonly signatureAlgorithm: SignatureAlgorithm;
  readonly keyAlgorithm: CaKeyAlgorithm;
  readonly fingerprintSha256: string;
}

const EC_CURVES: Record<string, { namedCurve: string; digest: "sha256" | "sha384" | "sha512" }> = {
  prime256v1: { namedCurve: "P-256", digest: "sha256" },
  secp384r1: { namedCurve: "P-384", digest: "sha384" },
  secp521r1: { namedCurve: "P-521", digest: "sha512" },
};

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

function publicKeyOf(certificate: x509.X509Certificate, source: string): KeyObject {
  try {
    return createPublicKey({ key: Buffer.from(certificate.publicKey.rawData), format: "der", type: "spki" });
  } catch (error) {
    throw loadFailed(`${source}: unsupported certificate public key`, error);
  }
}

/**
 * The CA certificate (the one whose public key is `privateKey`'s, wherever it
 * stands in the file) and the certificates above it, ordered by issuer from
 * its issuer up to the root (RFC 5280 §6.1: by name and signature, not by the
 * order in the file).
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
  const publicKey = createPublicKey(privateKey);
  const index = all.findIndex((c) => sameKey(publicKeyOf(c, source), publicKey));
  if (index < 0) {
    throw new EmbeddedCaError(
      "CA_KEY_MISMATCH",
      all.length === 1
        ? `${keySource} is not the private key of the certificate in ${source}`
        : `${keySource} is not the private key of any of the ${all.length} certificates in ${source}`,
    );
  }
  const certificate = checkCaCertificate(all[index]!, source);
  const rest = all.filter((_, i) => i !== index);
  const chain: x509.X509Certificate[] = [];
  let current = certificate;
  while (rest.length > 0 && current.subject !== current.issuer) {
    const child = current;
    const next = rest.findIndex((c) => c.subject === child.issuer);
    if (next < 0) break;
    current = rest.splice(next, 1)[0]!;
    chain.push(checkCaCertificate(current, source));
  }
  if (rest.length > 0) {
    throw loadFailed(`${source}: ${rest.map((c) => c.subject).join("; ")} is not an issuer of ${certificate.subject} (the file should hold the CA and the certificates above it)`);
  }
  return { certificate, chain };
}

/** PKCS#8 `ENCRYPTED PRIVATE KEY` (RFC 5958 §3) or a legacy OpenSSL `Proc-Type: 4,ENCRYPTED` header (RFC 1421 §4.6.1.1). */
const ENCRYPTED_PEM = /-----BEGIN ENCRYPTED PRIVATE KEY-----|^Proc-Type:\s*4\s*,\s*ENCRYPTED/m;

/**
 * Whether file bytes are DER rather than PEM text: a DER key or certificate is an ASN.1 SEQUENCE (0x30) followed by
 * a definite length, and has no PEM armour.
 */
export function looksLikeDer(bytes: Uint8Array): boolean {
  return bytes.length > 1 && bytes[0] === 0x30 && !Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes("-----BEGIN");
}

/**
 * Opens an encrypted key with `passphrase` (without one, the empty passphrase: micromdm's depot ca.key is encrypted
 * with it); the one place that turns a failure into the passphrase error, for PEM and DER alike.
 */
function openEncrypted(source: string, passphrase: string | undefined, open: (passphrase: string) => KeyObject): KeyObject {
  try {
    return open(passphrase ?? "");
  } catch (error) {
    throw new EmbeddedCaError(
      "CA_KEY_PASSPHRASE",
      passphrase === undefined
        ? `${source}: the private key is encrypted and no passphrase was given (the empty passphrase does not open it)`
        : `${source}: the passphrase does not open the encrypted private key (wrong passphrase, or a damaged key)`,
      { cause: error },
    );
  }
}

/** A DER private key: PKCS#8 (RFC 5958 §2), encrypted PKCS#8 (§3), PKCS#1 RSAPrivateKey (RFC 8017 §A.1.2) or SEC1 ECPrivateKey (RFC 5915 §3). */
function parseDerPrivateKey(der: Uint8Array, source: string, passphrase: string | undefined): KeyObject {
  const key = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  try {
    return createPrivateKey({ key, format: "der", type: "pkcs8" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ERR_MISSING_PASSPHRASE") {
      return openEncrypted(source, passphrase, (p) => createPrivateKey({ key, format: "der", type: "pkcs8", passphrase: p }));
    }
  }
  for (const type of ["pkcs1", "sec1"] as const) {
    try {
      return createPrivateKey({ key, format: "der", type });
    } catch {
      /* the next form */
    }
  }
  throw loadFailed(`${source}: the private key cannot be parsed (DER, but not PKCS#8, encrypted PKCS#8, PKCS#1 or SEC1)`);
}

/** A private key file's bytes, DER or PEM (told apart by the bytes), encrypted or not. */
function parsePrivateKey(keyBytes: string | Uint8Array, source: string, passphrase: string | undefined): KeyObject {
  if (typeof keyBytes !== "string" && looksLikeDer(keyBytes)) return parseDerPrivateKey(keyBytes, source, passphrase);
  const keyText = typeof keyBytes === "string" ? keyBytes : new TextDecoder().decode(keyBytes);
  if (ENCRYPTED_PEM.test(keyText)) return openEncrypted(source, passphrase, (p) => createPrivateKey({ key: keyText, format: "pem", passphrase: p }));
  try {
    return createPrivateKey({ key: keyText, format: "pem" });
  } catch (error) {
    // Node's messages never contain key material.
    throw loadFailed(`${source}: the private key cannot be parsed (${(error as Error).message}; expected PEM or DER PKCS#8, PKCS#1 or SEC1)`, error);
  }
}

function sameKey(a: KeyObject, b: KeyObject): boolean {
  if (a.asymmetricKeyType !== b.asymmetricKeyType) return false;
  const ja = a.export({ format: "jwk" });
  const jb = b.export({ format: "jwk" });
  return ja.n === jb.n && ja.e === jb.e && ja.crv === jb.crv && ja.x === jb.x && ja.y === jb.y;
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
  const privateKey = parsePrivateKey(input.keyText, input.keySource, input.keyPassphrase);
  const { certificate, chain } = pickCertificates(input.certificateText, input.certificateSource, input.keySource, privateKey);

  let keyAlgorithm: CaKeyAlgorithm;
  let importAlgorithm: RsaHashedImportParams | EcKeyImportParams;
  let signatureAlgorithm: SignatureAlgorithm;
  if (privateKey.asymmetricKeyType === "rsa") {
    keyAlgorithm = "RSA";
    importAlgorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    signatureAlgorithm = { scheme: "rsa-pkcs1", digest: "sha256", rsaOid: "withDigest" };
  } else if (privateKey.asymmetricKeyType === "ec") {
    const curve = EC_CURVES[privateKey.asymmetricKeyDetails?.namedCurve ?? ""];
    if (!curve) {
      throw loadFailed(
        `${input.keySource}: unsupported EC curve ${privateKey.asymmetricKeyDetails?.namedCurve ?? "(unknown)"}; use P-256, P-384 or P-521`,
      );
    }
    keyAlgorithm = "EC";
    importAlgorithm = { name: "ECDSA", namedCurve: curve.namedCurve };
    signatureAlgorithm = { scheme: "ecdsa", digest: curve.digest };
  } else {
    throw loadFailed(
      `${input.keySource}: unsupported key type ${privateKey.asymmetricKeyType ?? "(unknown)"}; use RSA or EC`,
    );
  }

  const pkcs8 = new Uint8Array(privateKey.export({ type: "pkcs8", format: "der" }));
  const signingKey = await nodeCrypto.subtle.importKey("pkcs8", pkcs8, importAlgorithm, false, [
    "sign",
  ]);
  const certificateDer = new Uint8Array(certificate.rawData);
  let signer: LocalKey;
  try {
    signer = LocalKey.from(certificateDer, pkcs8, input.signerOptions ?? { threadPool: true });
  } catch (error) {
    throw loadFailed(`${input.keySource}: the key cannot sign for ${input.certificateSource} (${(error as Error).message})`, error);
  }

  return {
    certificate,
    certificateDer,
    certificatePem: toPem("CERTIFICATE", certificateDer),
    chainDer: chain.map((c) => new Uint8Array(c.rawData)),
    privateKey,
    privateKeyPem: toPem("PRIVATE KEY", pkcs8),
    signingKey,
    signer,
    signatureAlgorithm,
    keyAlgorithm,
    fingerprintSha256: colonHex(createHash("sha256").update(certificateDer).digest()),
  };
}
