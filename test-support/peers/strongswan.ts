/**
 * strongSwan 5.9.8 `pki` (Debian 12 `strongswan-pki`, HTTP through the curl
 * plugin from `libstrongswan-extra-plugins`) as a SCEP client.
 *
 * CLI, as installed:
 *
 * - `pki --gen [--type rsa|ecdsa|ed25519|ed448] [--size BITS]
 *   [--outform der|pem]`: key on stdout, DER by default (RSA: PKCS#1
 *   RSAPrivateKey; PEM label `RSA PRIVATE KEY`).
 * - `pki --req --in KEY [--type rsa|ecdsa|priv] --dn DN [--san X]… [--password P]
 *   [--outform der|pem]`: a PKCS#10 request on stdout, DER by default. It
 *   writes DN values longer than RFC 5280 Appendix A's upper bounds, which
 *   `openssl req` refuses to write.
 * - `pki --scepca --url URL [--caout FILE] [--raout FILE] [--outform der|pem]
 *   [--force]`: GetCACert. DER files by default; with several CA certs the
 *   names get `-1`, `-2` … before the extension, several RA certs likewise.
 *   Without `--force` an existing file is NOT overwritten ("could not write
 *   cert file … File exists") and the exit status is still 0.
 * - `pki --scep --url URL --in KEY --dn DN [--san X]… [--profile P]
 *   [--password CHALLENGE] --cacert-enc FILE --cacert-sig FILE [--cacert FILE]…
 *   [--cert OLD --key OLDKEY] [--cipher aes|des3] [--digest
 *   sha256|sha384|sha512|sha224|sha1] [--rsa-padding pkcs1|pss]
 *   [--interval SECONDS] [--maxpolltime SECONDS] [--outform der|pem]`:
 *   defaults AES-128-CBC, SHA-256, PKCS#1 v1.5, poll every 60 s forever.
 *   The issued certificate goes to STDOUT (DER by default). `--cert/--key`
 *   sends a RenewalReq (17) signed by the old cert; `--in` is the new key.
 *   Exit 0 on success, 1 otherwise.
 * - Every invocation prints two lines of TPM plugin noise on stderr.
 *
 * Known 5.9.8 defect (fixed upstream later): the GetCACaps check tests the
 * capability *index* instead of its bit, so what it believes is shifted:
 * `--cipher aes` needs the CA to list `SHA-384`; `des3` needs `AES`;
 * `--digest sha256` needs `DES3` or `SHA-384`; `sha1` needs `DES3` or
 * `SHA-256`; `sha512` needs `SHA-256`; `sha384` needs `AES` or `DES3`; POST is
 * used if `AES`, `DES3`, `SHA-256` or `SHA-384` is listed; renewal needs
 * `DES3` or `SHA-384`. `SCEPStandard` alone satisfies nothing. An empty line
 * in the caps (e.g. a trailing blank line) matches EVERY capability.
 * Against micromdm (no SHA-384) the default AES therefore fails with
 * "AES_CBC encryption algorithm not supported by CA"; use `cipher: "des3"`.
 *
 * strongSwan < 5.9.11 verifies a CertRep only if its SignerInfo signature
 * algorithm is `rsaEncryption`; micromdm's sha256WithRSAEncryption is refused
 * with "only RSA digest encryption supported" / "unable to verify PKCS#7
 * container" (exit 1) even though the server issued the certificate.
 *
 * @module
 */
import { createPrivateKey } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { derToPem, looksLikePem } from "./pem";
import { ensurePeer, makeTempDir, PeerError, runCommand, type RunResult } from "./process";

/**
 * Lines strongSwan prints on every run that say nothing about SCEP: a plugin its default list names but the machine
 * lacks (which ones depends on the Debian packages present: `tpm` everywhere, `openssl` and `aesni` where
 * libstrongswan-standard-plugins is not installed; `pki` then uses its other crypto plugins), and the TPM probe.
 */
const NOISE = [/^TPM 2\.0 - could not load/, /^plugin '[^']+': failed to load/];

/** stderr without the plugin-loading noise, as trimmed lines. */
export function strongswanMessages(stderr: string): string[] {
  return stderr
    .split("\n")
    .map((line) => line.trimEnd())
    .filter((line) => line !== "" && !NOISE.some((re) => re.test(line)));
}

/** A run of `pki`, with its meaningful stderr lines. */
export interface StrongswanResult extends RunResult {
  ok: boolean;
  messages: string[];
}

async function runPki(args: readonly string[], options: { cwd?: string; timeoutMs?: number }): Promise<StrongswanResult> {
  const pki = ensurePeer("pki");
  const result = await runCommand(pki, args, { cwd: options.cwd, timeoutMs: options.timeoutMs ?? 60_000 });
  return { ...result, ok: result.code === 0 && !result.timedOut, messages: strongswanMessages(result.stderr) };
}

// ---------------------------------------------------------------------------
// pki --gen
// ---------------------------------------------------------------------------

/** Options for {@link runStrongswanGen}. */
export interface StrongswanGenOptions {
  type?: "rsa" | "ecdsa" | "ed25519" | "ed448";
  size?: number;
  timeoutMs?: number;
}

/** A key made by `pki --gen`. */
export interface StrongswanKey {
  /** What pki wrote (RSA: PKCS#1, ECDSA: SEC1, EdDSA: PKCS#8), DER. */
  keyDer: Uint8Array;
  /** The same key as unencrypted PKCS#8 PEM (converted by Node). */
  keyPem: string;
}

/** Generates a private key with `pki --gen` (DER on stdout). */
export async function runStrongswanGen(options: StrongswanGenOptions = {}): Promise<StrongswanKey> {
  const type = options.type ?? "rsa";
  const args = ["--gen", "--type", type, "--outform", "der"];
  if (options.size !== undefined) args.push("--size", String(options.size));
  const result = await runPki(args, { timeoutMs: options.timeoutMs });
  if (!result.ok || result.stdoutBytes.length === 0) {
    throw new PeerError("pki --gen failed", result);
  }
  const keyDer = result.stdoutBytes;
  const derType = type === "rsa" ? "pkcs1" : type === "ecdsa" ? "sec1" : "pkcs8";
  const keyPem = createPrivateKey({ key: Buffer.from(keyDer), format: "der", type: derType })
    .export({ type: "pkcs8", format: "pem" })
    .toString();
  return { keyDer, keyPem };
}

// ---------------------------------------------------------------------------
// pki --scepca
// ---------------------------------------------------------------------------

/** What `pki --scepca` fetched. */
export interface StrongswanScepcaResult extends StrongswanResult {
  /** CA certificates (DER), in file-name order (`ca.der`, or `ca-1.der`, `ca-2.der`, …). */
  caCerts: Uint8Array[];
  /** RA certificates (DER), likewise. */
  raCerts: Uint8Array[];
}

/** Runs `pki --scepca` (GetCACert) into a temp dir and returns the certificates. */
export async function runStrongswanScepca(options: { url: string; timeoutMs?: number; debugLevel?: number }): Promise<StrongswanScepcaResult> {
  const dir = makeTempDir("scep-strongswan-");
  try {
    const args = ["--scepca", "--url", options.url, "--caout", join(dir.path, "ca.der"), "--raout", join(dir.path, "ra.der")];
    args.push("--outform", "der", "--force");
    if (options.debugLevel !== undefined) args.push("--debug", String(options.debugLevel));
    const result = await runPki(args, { cwd: dir.path, timeoutMs: options.timeoutMs });
    const files = readdirSync(dir.path).sort();
    const load = (prefix: string): Uint8Array[] =>
      files.filter((f) => f.startsWith(prefix) && f.endsWith(".der")).map((f) => new Uint8Array(readFileSync(join(dir.path, f))));
    return { ...result, caCerts: load("ca"), raCerts: load("ra") };
  } finally {
    dir.remove();
  }
}

// ---------------------------------------------------------------------------
// pki --scep
// ---------------------------------------------------------------------------

/** PEM text or DER/PEM bytes. */
export type PemOrDer = string | Uint8Array;

/** Options for {@link runStrongswanScep}. */
export interface StrongswanScepOptions {
  url: string;
  /** The (new) private key, PEM or DER (`--in`). */
  key: PemOrDer;
  /** Subject DN, e.g. `C=US, O=test, CN=device-1` (optional when renewing). */
  dn?: string;
  /** subjectAltNames (`--san`, repeatable), e.g. `dns:host.example`. */
  sans?: string[];
  /** `--profile` (certificate type extension). */
  profile?: string;
  /** Challenge password (`--password`). */
  password?: string;
  /** CA/RA certificate to encrypt to (`--cacert-enc`). */
  caCertEnc: PemOrDer;
  /** CA certificate that must have signed the CertRep (`--cacert-sig`). */
  caCertSig: PemOrDer;
  /** Further CA certificates (`--cacert`, repeatable). */
  extraCaCerts?: PemOrDer[];
  cipher?: "aes" | "des3";
  digest?: "sha1" | "sha224" | "sha256" | "sha384" | "sha512";
  rsaPadding?: "pkcs1" | "pss";
  /** Renew: sign a RenewalReq with this old certificate and key (`--cert`, `--key`). */
  renewal?: { cert: PemOrDer; key: PemOrDer };
  /** CertPoll interval in seconds after a PENDING reply (`--interval`). */
  pollIntervalSeconds?: number;
  /** Give up polling after this many seconds (`--maxpolltime`; 0 = never). */
  maxPollSeconds?: number;
  debugLevel?: number;
  timeoutMs?: number;
}

/** What `pki --scep` produced. */
export interface StrongswanScepResult extends StrongswanResult {
  /** The issued certificate, when `ok`. */
  certDer: Uint8Array | undefined;
  certPem: string | undefined;
}

function writeInput(dir: string, base: string, data: PemOrDer): string {
  const pem = typeof data === "string" || looksLikePem(data);
  const path = join(dir, `${base}.${pem ? "pem" : "der"}`);
  writeFileSync(path, typeof data === "string" ? data : Buffer.from(data), { mode: 0o600 });
  return path;
}

/**
 * Enrolls (or renews) with `pki --scep`. Never throws for a SCEP failure:
 * check `ok` and `messages` (strongSwan's stderr minus noise).
 */
export async function runStrongswanScep(options: StrongswanScepOptions): Promise<StrongswanScepResult> {
  const dir = makeTempDir("scep-strongswan-");
  try {
    const args = ["--scep", "--url", options.url, "--in", writeInput(dir.path, "key", options.key)];
    if (options.dn !== undefined) args.push("--dn", options.dn);
    for (const san of options.sans ?? []) args.push("--san", san);
    if (options.profile !== undefined) args.push("--profile", options.profile);
    if (options.password !== undefined) args.push("--password", options.password);
    args.push("--cacert-enc", writeInput(dir.path, "cacert-enc", options.caCertEnc));
    args.push("--cacert-sig", writeInput(dir.path, "cacert-sig", options.caCertSig));
    (options.extraCaCerts ?? []).forEach((cert, i) => args.push("--cacert", writeInput(dir.path, `cacert-${i}`, cert)));
    if (options.renewal) {
      args.push("--cert", writeInput(dir.path, "old-cert", options.renewal.cert));
      args.push("--key", writeInput(dir.path, "old-key", options.renewal.key));
    }
    if (options.cipher !== undefined) args.push("--cipher", options.cipher);
    if (options.digest !== undefined) args.push("--digest", options.digest);
    if (options.rsaPadding !== undefined) args.push("--rsa-padding", options.rsaPadding);
    if (options.pollIntervalSeconds !== undefined) args.push("--interval", String(options.pollIntervalSeconds));
    if (options.maxPollSeconds !== undefined) args.push("--maxpolltime", String(options.maxPollSeconds));
    if (options.debugLevel !== undefined) args.push("--debug", String(options.debugLevel));
    args.push("--outform", "der");
    const result = await runPki(args, { cwd: dir.path, timeoutMs: options.timeoutMs });
    const certDer = result.ok && result.stdoutBytes.length > 0 ? result.stdoutBytes : undefined;
    return { ...result, certDer, certPem: certDer ? derToPem(certDer) : undefined };
  } finally {
    dir.remove();
  }
}


// ---------------------------------------------------------------------------
// pki --req
// ---------------------------------------------------------------------------

/** Options for {@link runStrongswanReq}. */
export interface StrongswanReqOptions {
  /** The private key, PEM or DER (`--in`). */
  key: PemOrDer;
  /** `--type` of the key (default `rsa`). */
  type?: "rsa" | "ecdsa" | "priv";
  /** Subject DN, e.g. `O=test, CN=device-1` (`--dn`). */
  dn: string;
  /** subjectAltNames (`--san`, repeatable), e.g. `dns:host.example`. */
  sans?: string[];
  /** challengePassword attribute (`--password`). */
  password?: string;
  timeoutMs?: number;
}

/**
 * Writes a PKCS#10 request with `pki --req` and returns it (DER). Unlike `openssl req`, pki writes a DN whose values
 * exceed RFC 5280 Appendix A's upper bounds (a CN of 65 characters). Throws a {@link PeerError} when pki fails.
 */
export async function runStrongswanReq(options: StrongswanReqOptions): Promise<Uint8Array> {
  const dir = makeTempDir("scep-strongswan-");
  try {
    const args = ["--req", "--in", writeInput(dir.path, "key", options.key), "--type", options.type ?? "rsa", "--dn", options.dn];
    for (const san of options.sans ?? []) args.push("--san", san);
    if (options.password !== undefined) args.push("--password", options.password);
    args.push("--outform", "der");
    const result = await runPki(args, { cwd: dir.path, timeoutMs: options.timeoutMs });
    if (!result.ok || result.stdoutBytes.length === 0) throw new PeerError("pki --req failed", result);
    return result.stdoutBytes;
  } finally {
    dir.remove();
  }
}
