/**
 * Client side: make what a device needs before it enrolls: a key pair, a
 * PKCS#10 request with a challengePassword and SANs, and the self-signed
 * certificate that signs the PKCSReq.
 *
 * @module
 */
import { x509 } from "../lib/x509.js";
import * as nc from "../lib/node-crypto.js";
import type { DigestAlgorithm } from "../algorithms.js";
import { InvalidArgumentError } from "../errors.js";
import { LocalKey } from "../keys/key.js";
import { Certificate } from "../x509/certificate.js";
import { toPem } from "../encoding.js";
import * as der from "../lib/der.js";
import * as oids from "../oids.js";

/** Subject alternative names to request. @group Client */
export interface SanInput {
  /** dNSName entries. */
  dns?: readonly string[];
  /** rfc822Name entries. */
  email?: readonly string[];
  /** iPAddress entries. */
  ip?: readonly string[];
  /** URI entries. */
  uri?: readonly string[];
  /** Microsoft UPN otherName entries. */
  upn?: readonly string[];
}

/** Options of {@link generateCsr}. @group Client */
export interface GenerateCsrOptions {
  /** The key pair (RSA PKCS#1 v1.5 or ECDSA, extractable or not). */
  keys: CryptoKeyPair;
  /**
   * Subject: an RFC 4514 string such as `CN=device-42,O=Example` (each value
   * written as PrintableString when its alphabet allows, else UTF8String;
   * `E` and `DC` as IA5String), or a Name's DER (e.g. an old certificate's
   * `subjectDer`), copied byte for byte.
   */
  subject: string | Uint8Array;
  /**
   * challengePassword attribute (RFC 2985 §5.4.1): a PrintableString when
   * every character is in its alphabet (`A–Z a–z 0–9`, space, `' ( ) + , - .
   * / : = ?`), else a UTF8String.
   */
  challengePassword?: string;
  /** Requested SANs. */
  san?: SanInput;
  /** Digest of the self-signature (default sha256). */
  digest?: Exclude<DigestAlgorithm, "md5" | "sha224">;
}

const HASH: Record<string, string> = { sha1: "SHA-1", sha256: "SHA-256", sha384: "SHA-384", sha512: "SHA-512" };

function signingAlgorithm(keys: CryptoKeyPair, digest: string): Algorithm & { hash?: string } {
  const name = keys.privateKey.algorithm.name;
  if (name === "ECDSA") return { name: "ECDSA", hash: HASH[digest] ?? "SHA-256" };
  if (name === "RSASSA-PKCS1-v1_5") return { name, hash: HASH[digest] ?? "SHA-256" } as Algorithm & { hash: string };
  throw new InvalidArgumentError(`keys must be RSASSA-PKCS1-v1_5 or ECDSA, got ${name}`);
}

function sanExtension(san: SanInput | undefined): x509.Extension[] {
  if (!san) return [];
  const names: x509.JsonGeneralName[] = [
    ...(san.dns ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(san.email ?? []).map((value) => ({ type: "email" as const, value })),
    ...(san.ip ?? []).map((value) => ({ type: "ip" as const, value })),
    ...(san.uri ?? []).map((value) => ({ type: "url" as const, value })),
    ...(san.upn ?? []).map((value) => ({ type: "upn" as const, value })),
  ];
  return names.length ? [new x509.SubjectAlternativeNameExtension(names)] : [];
}

/**
 * challengePassword ::= DirectoryString (RFC 2985 §5.4.1). @peculiar/x509's
 * own attribute always writes a PrintableString, even for `_` or `@`, which
 * strict servers refuse.
 */
function challengePasswordAttribute(password: string): x509.Attribute {
  return new x509.Attribute(oids.id_challengePassword, [toArrayBuffer(der.encode(der.directoryString(password)))]);
}

function toArrayBuffer(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/**
 * Generates an RSA key pair usable for SCEP (RSASSA-PKCS1-v1_5, extractable so
 * it can be saved as PEM).
 * @group Client
 */
export async function generateRsaKeyPair(bits = 2048): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(
    { name: "RSASSA-PKCS1-v1_5", modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
}

/**
 * Builds a PKCS#10 request.
 *
 * @example
 * ```ts
 * const keys = await generateRsaKeyPair();
 * const csr = await generateCsr({ keys, subject: "CN=device-42", challengePassword: "secret", san: { dns: ["device-42.example"] } });
 * ```
 * @group Client
 */
export async function generateCsr(options: GenerateCsrOptions): Promise<Uint8Array> {
  try {
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: typeof options.subject === "string" ? options.subject : new x509.Name(toArrayBuffer(options.subject)),
      keys: options.keys,
      signingAlgorithm: signingAlgorithm(options.keys, options.digest ?? "sha256"),
      extensions: sanExtension(options.san),
      attributes: options.challengePassword !== undefined ? [challengePasswordAttribute(options.challengePassword)] : [],
    });
    return new Uint8Array(csr.rawData);
  } catch (cause) {
    if (cause instanceof InvalidArgumentError) throw cause;
    throw new InvalidArgumentError(`cannot build the CSR: ${(cause as Error).message}`, { cause });
  }
}

/**
 * Builds the self-signed certificate a client signs its first PKCSReq with,
 * and returns it with its key as a {@link LocalKey} (a Signer and Decrypter).
 * @group Client
 */
export async function createSelfSignedSigner(options: { keys: CryptoKeyPair; subject: string | Uint8Array; now?: Date; days?: number }): Promise<LocalKey> {
  const now = options.now ?? new Date();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Array.from(nc.randomBytes(8), (b) => b.toString(16).padStart(2, "0")).join("").replace(/^[89a-f]/, "1"),
    name: typeof options.subject === "string" ? options.subject : new x509.Name(toArrayBuffer(options.subject)),
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + (options.days ?? 30) * 86_400_000),
    keys: options.keys,
    signingAlgorithm: signingAlgorithm(options.keys, "sha256"),
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true)],
  });
  return LocalKey.from(new Certificate(new Uint8Array(cert.rawData)), options.keys.privateKey);
}

/** Exports a CryptoKey private key as PKCS#8 PEM. @group Client */
export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  return toPem("PRIVATE KEY", new Uint8Array(await crypto.subtle.exportKey("pkcs8", key)));
}

/**
 * Imports a PEM private key (PKCS#1, SEC1 or PKCS#8; RSA or EC) as a WebCrypto
 * key pair for {@link generateCsr} and {@link createSelfSignedSigner}.
 * @group Client
 */
export async function importKeyPairPem(pem: string): Promise<CryptoKeyPair> {
  const key = nc.privateKeyFromPem(pem);
  const type = nc.keyType(key);
  let alg: RsaHashedImportParams | EcKeyImportParams;
  if (type === "rsa") alg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  else if (type === "ec") alg = { name: "ECDSA", namedCurve: key.asymmetricKeyDetails?.namedCurve === "secp384r1" ? "P-384" : key.asymmetricKeyDetails?.namedCurve === "secp521r1" ? "P-521" : "P-256" };
  else throw new InvalidArgumentError(`unsupported key type ${type}`);
  const privateKey = await crypto.subtle.importKey("pkcs8", new Uint8Array(nc.exportPkcs8(key)), alg, true, ["sign"]);
  const publicKey = await crypto.subtle.importKey("spki", new Uint8Array(nc.spkiOf(key)), alg, true, ["verify"]);
  return { privateKey, publicKey };
}
