/**
 * OpenSSL (the `openssl` CLI, 3.0.x on Debian 12) as an independent referee:
 * verify chains and CMS signatures, decrypt envelopes, and build reference
 * CMS messages. Each helper returns bytes/text or throws a {@link PeerError}
 * carrying OpenSSL's stderr.
 *
 * The legacy provider is loaded for CMS work by default (`legacy: true`), so
 * DES-CBC envelopes, which micromdm and old clients still use, decrypt.
 *
 * @module
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensurePeer, runCommand, withTempDir, type RunResult } from "./process";
import { toPem } from "./pem";

/** Content ciphers OpenSSL's `cms -encrypt` takes (`-des`, `-aes-256-cbc`, …). */
export type OpensslCipher =
  | "des-cbc"
  | "des-ede3-cbc"
  | "aes-128-cbc"
  | "aes-192-cbc"
  | "aes-256-cbc";

/** Digests for `cms -sign -md`. */
export type OpensslDigest = "md5" | "sha1" | "sha224" | "sha256" | "sha384" | "sha512";

const LEGACY_PROVIDERS = ["-provider", "default", "-provider", "legacy"] as const;

/** Runs `openssl ARGS…`; throws with stderr unless it exits 0. */
export async function runOpenssl(
  args: readonly string[],
  options: { cwd?: string; input?: string | Uint8Array; timeoutMs?: number } = {},
): Promise<RunResult> {
  const openssl = ensurePeer("openssl");
  return runCommand(openssl, args, { ...options, timeoutMs: options.timeoutMs ?? 30_000, check: true });
}

function writePem(dir: string, name: string, data: string | Uint8Array, label = "CERTIFICATE"): string {
  const path = join(dir, name);
  writeFileSync(path, toPem(data, label));
  return path;
}

function writeBytes(dir: string, name: string, data: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, typeof data === "string" ? Buffer.from(data, "utf8") : data);
  return path;
}

/** Options for {@link opensslVerifyChain}. */
export interface VerifyChainOptions {
  /** Intermediate certificates (PEM, may be several concatenated). */
  untrustedPem?: string;
  /** `-purpose` (e.g. `sslclient`, `any`); OpenSSL's default otherwise. */
  purpose?: string;
  /** Verify as of this time (`-attime`). */
  at?: Date;
}

/**
 * `openssl verify -CAfile ca.pem cert.pem` (`-x509_strict`). Returns OpenSSL's
 * stdout (`…: OK`); throws if the certificate does not chain to `caPem`.
 */
export async function opensslVerifyChain(
  certPem: string | Uint8Array,
  caPem: string | Uint8Array,
  options: VerifyChainOptions = {},
): Promise<string> {
  return withTempDir(async (dir) => {
    const args = ["verify", "-x509_strict", "-CAfile", writePem(dir, "ca.pem", caPem)];
    if (options.untrustedPem) args.push("-untrusted", writePem(dir, "untrusted.pem", options.untrustedPem));
    if (options.purpose) args.push("-purpose", options.purpose);
    if (options.at) args.push("-attime", String(Math.floor(options.at.getTime() / 1000)));
    args.push(writePem(dir, "cert.pem", certPem));
    return (await runOpenssl(args)).stdout;
  });
}

/** Options for {@link opensslCmsVerify}. */
export interface CmsVerifyOptions {
  /** Check the signature only, not the signer's chain (`-noverify`). */
  noverify?: boolean;
  /** Extra certificates to search for the signer (`-certfile`), e.g. the GetCACert set. */
  certsPem?: string;
  /**
   * `-purpose`; defaults to `any` because SCEP signers (CA or RA certs with
   * only keyCertSign, or self-signed client certs) are not S/MIME certs.
   */
  purpose?: string;
}

/**
 * Verifies a DER SignedData (`openssl cms -verify`) against `caPem` and
 * returns its encapsulated content (for a SCEP message: the DER
 * pkcsPKIEnvelope, or empty bytes for a FAILURE/PENDING CertRep).
 */
export async function opensslCmsVerify(
  der: Uint8Array,
  caPem: string | Uint8Array | undefined,
  options: CmsVerifyOptions = {},
): Promise<Uint8Array> {
  return withTempDir(async (dir) => {
    const out = join(dir, "content.bin");
    const args = ["cms", "-verify", "-binary", "-inform", "DER", "-in", writeBytes(dir, "msg.der", der), "-out", out];
    if (caPem !== undefined) args.push("-CAfile", writePem(dir, "ca.pem", caPem));
    if (options.noverify || caPem === undefined) args.push("-noverify");
    if (options.certsPem) args.push("-certfile", writePem(dir, "certs.pem", options.certsPem));
    args.push("-purpose", options.purpose ?? "any");
    await runOpenssl(args);
    return new Uint8Array(readFileSync(out));
  });
}

/**
 * Decrypts a DER ContentInfo(EnvelopedData) with the recipient's key
 * (`openssl cms -decrypt`). `certPem` selects the recipient; without it
 * OpenSSL tries the key against every RecipientInfo.
 */
export async function opensslCmsDecrypt(
  derEnveloped: Uint8Array,
  keyPem: string,
  certPem?: string | Uint8Array,
  options: { legacy?: boolean } = {},
): Promise<Uint8Array> {
  return withTempDir(async (dir) => {
    const out = join(dir, "plain.bin");
    const args = ["cms", "-decrypt", "-binary", "-inform", "DER", "-in", writeBytes(dir, "env.der", derEnveloped)];
    args.push("-inkey", writeBytes(dir, "key.pem", keyPem), "-out", out);
    if (certPem !== undefined) args.push("-recip", writePem(dir, "recip.pem", certPem));
    if (options.legacy ?? true) args.push(...LEGACY_PROVIDERS);
    await runOpenssl(args);
    return new Uint8Array(readFileSync(out));
  });
}

/** Options for {@link opensslCmsSign}. */
export interface CmsSignOptions {
  content: Uint8Array | string;
  signerCertPem: string;
  signerKeyPem: string;
  digest?: OpensslDigest;
  /** Sign with RSASSA-PSS instead of PKCS#1 v1.5. */
  pss?: boolean;
  /** Leave the signer certificate out of `certificates` (`-nocerts`), as NDES does. */
  noCerts?: boolean;
  /** No signed attributes at all (`-noattr`). */
  noAttributes?: boolean;
  /** Additional certificates to include (`-certfile`). */
  extraCertsPem?: string;
  /** eContentType OID or name (`-econtent_type`); `id-data` otherwise. */
  eContentType?: string;
}

/**
 * Builds a DER ContentInfo(SignedData) with encapsulated content
 * (`openssl cms -sign -nodetach`). OpenSSL cannot add SCEP's own signed
 * attributes, so this makes generic reference CMS, not a pkiMessage.
 */
export async function opensslCmsSign(options: CmsSignOptions): Promise<Uint8Array> {
  return withTempDir(async (dir) => {
    const out = join(dir, "signed.der");
    const args = ["cms", "-sign", "-binary", "-nodetach", "-outform", "DER", "-out", out];
    args.push("-in", writeBytes(dir, "content.bin", options.content));
    args.push("-signer", writePem(dir, "signer.pem", options.signerCertPem));
    args.push("-inkey", writeBytes(dir, "signer.key", options.signerKeyPem));
    args.push("-md", options.digest ?? "sha256");
    if (options.pss) args.push("-keyopt", "rsa_padding_mode:pss");
    if (options.noCerts) args.push("-nocerts");
    if (options.noAttributes) args.push("-noattr");
    if (options.extraCertsPem) args.push("-certfile", writePem(dir, "extra.pem", options.extraCertsPem));
    if (options.eContentType) args.push("-econtent_type", options.eContentType);
    await runOpenssl(args);
    return new Uint8Array(readFileSync(out));
  });
}

/** Options for {@link opensslCmsEncrypt}. */
export interface CmsEncryptOptions {
  content: Uint8Array | string;
  /** One or more recipient certificates (PEM or DER). */
  recipients: ReadonlyArray<string | Uint8Array>;
  cipher?: OpensslCipher;
  /** Wrap the content key with RSAES-OAEP instead of PKCS#1 v1.5. */
  oaep?: boolean;
}

/** Builds a DER ContentInfo(EnvelopedData) (`openssl cms -encrypt`). */
export async function opensslCmsEncrypt(options: CmsEncryptOptions): Promise<Uint8Array> {
  return withTempDir(async (dir) => {
    const out = join(dir, "enveloped.der");
    const args = ["cms", "-encrypt", "-binary", "-outform", "DER", "-out", out];
    args.push("-in", writeBytes(dir, "content.bin", options.content));
    args.push(`-${options.cipher ?? "aes-256-cbc"}`, ...LEGACY_PROVIDERS);
    options.recipients.forEach((recipient, i) => {
      args.push("-recip", writePem(dir, `recip${i}.pem`, recipient));
      if (options.oaep) args.push("-keyopt", "rsa_padding_mode:oaep");
    });
    await runOpenssl(args);
    return new Uint8Array(readFileSync(out));
  });
}

/** `openssl cms -cmsout -print` of a DER CMS message: a readable ASN.1 dump. */
export async function opensslCmsPrint(der: Uint8Array): Promise<string> {
  return withTempDir(async (dir) => {
    const args = ["cms", "-cmsout", "-print", "-noout", "-inform", "DER", "-in", writeBytes(dir, "msg.der", der)];
    return (await runOpenssl(args)).stdout;
  });
}

/** `openssl x509 -noout -text` (plus any extra flags such as `-subject`). */
export async function opensslX509Text(cert: string | Uint8Array, extra: readonly string[] = ["-text"]): Promise<string> {
  return withTempDir(async (dir) => {
    return (await runOpenssl(["x509", "-noout", "-in", writePem(dir, "cert.pem", cert), ...extra])).stdout;
  });
}

/** Options for {@link opensslCreateCa}. */
export interface CreateCaOptions {
  /** OpenSSL `-subj` form, e.g. `/O=test/CN=Test SCEP CA`. */
  subject?: string;
  rsaBits?: number;
  days?: number;
  /**
   * keyUsage extension value. The default adds digitalSignature and
   * keyEncipherment to keyCertSign/cRLSign, so the CA can also sign CertReps
   * and receive envelopes under strict S/MIME purpose checks.
   */
  keyUsage?: string;
}

/** A CA certificate and its unencrypted PKCS#8 key, both PEM. */
export interface CaMaterial {
  certPem: string;
  keyPem: string;
}

/** Creates a self-signed RSA CA with `openssl req -x509`. */
export async function opensslCreateCa(options: CreateCaOptions = {}): Promise<CaMaterial> {
  return withTempDir(async (dir) => {
    const certPath = join(dir, "ca.pem");
    const keyPath = join(dir, "ca.key");
    await runOpenssl([
      "req", "-x509", "-new", "-newkey", `rsa:${options.rsaBits ?? 2048}`, "-nodes",
      "-keyout", keyPath, "-out", certPath,
      "-days", String(options.days ?? 3650),
      "-subj", options.subject ?? "/O=scep-sdk tests/CN=Test SCEP CA",
      "-addext", "basicConstraints=critical,CA:TRUE",
      "-addext", `keyUsage=${options.keyUsage ?? "critical,keyCertSign,cRLSign,digitalSignature,keyEncipherment"}`,
      "-addext", "subjectKeyIdentifier=hash",
    ]);
    return { certPem: readFileSync(certPath, "utf8"), keyPem: readFileSync(keyPath, "utf8") };
  });
}
