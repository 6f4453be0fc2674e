/**
 * micromdm SCEP 2.1.0 (Debian package `scep`): `scepserver` as a reference
 * CA and `scepclient` as a reference client.
 *
 * Facts established against the installed binaries:
 *
 * - `scepserver` flags: `-depot DIR` `-port PORT` `-challenge SECRET`
 *   `-capass PASS` `-allowrenew DAYS` (default 14; 0 = always allow)
 *   `-crtvalid DAYS` (default 365) `-csrverifierexec PATH` `-debug`
 *   `-log-json` `-version`. It listens on `:PORT` (all interfaces; there is
 *   no bind-address flag) and serves `/scep`.
 * - `scepserver ca -init -depot DIR [-keySize 4096] [-organization scep-ca]
 *   [-organizational_unit "SCEP CA"] [-country US] [-years 10]
 *   [-key-password ""]` writes `ca.pem` (self-signed, serial 1, keyUsage
 *   critical keyCertSign+cRLSign only) and `ca.key`.
 * - Depot layout: `ca.pem` (PEM CERTIFICATE), `ca.key` (PEM "RSA PRIVATE KEY"
 *   that MUST be legacy-PEM encrypted: `Proc-Type: 4,ENCRYPTED`,
 *   `DEK-Info: DES-EDE3-CBC`; the password is `-capass`, empty by default; an
 *   unencrypted key fails with `x509: no DEK-Info header in block`),
 *   `index.txt` (OpenSSL-style CA db, created at start), `serial` (hex, next
 *   serial, starts at 02), and one `<CN>.<serial>.pem` per issued cert.
 * - A DN that already has a valid cert is refused (`DN … already exists`,
 *   FAILURE badRequest) unless it is within `-allowrenew` days of expiry;
 *   this harness defaults `-allowrenew 0`, which revokes and reissues.
 * - CertReps: content always DES-CBC, signed by the CA, SignerInfo signature
 *   algorithm sha*WithRSAEncryption (strongSwan refuses that).
 * - `scepclient` flags: `-server-url` `-challenge` `-private-key` (created,
 *   RSA PKCS#1, if absent) `-certificate` (if it exists, the client sends a
 *   RenewalReq signed by it instead of a PKCSReq) `-cn` `-organization`
 *   (default scep-client) `-ou` (MDM) `-country` (US) `-locality`
 *   `-province` `-keySize` (2048) `-ca-fingerprint` (SHA-256 hex, for an
 *   RA/CA set) `-cacert-message` `-debug` `-log-json` `-version`. No
 *   `-dnsname`, and no way to choose cipher or digest: it always sends
 *   DES-CBC + SHA-1.
 * - `scepclient` writes `csr.pem` and `self.pem` next to the private key
 *   and REUSES an existing `csr.pem` (whatever CN it has); this harness gives
 *   every run a fresh directory.
 * - On a FAILURE CertRep it prints e.g.
 *   `PKCSReq (19) request failed, failInfo: badRequest (2)` on STDOUT and
 *   exits 1. On PENDING it sleeps 30 s and retries forever (the harness
 *   timeout ends it).
 *
 * @module
 */
import { createPrivateKey, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  ensurePeer,
  httpGet,
  makeTempDir,
  PeerError,
  runCommand,
  startDaemon,
  startOnFreePorts,
  waitFor,
  type Daemon,
  type RunResult,
} from "./process";
import { pemToDer } from "./pem";

// ---------------------------------------------------------------------------
// scepserver
// ---------------------------------------------------------------------------

/** Options for {@link startMicromdmServer}. */
export interface MicromdmServerOptions {
  /** `-challenge`; without it the server accepts any (or no) challenge. */
  challenge?: string;
  /**
   * Use this CA certificate (with `caKeyPem`) instead of `scepserver ca
   * -init`; it is written into the depot as `ca.pem`.
   */
  caCertPem?: string;
  /**
   * The CA's RSA private key, any PEM form Node reads; it is re-encrypted
   * into `ca.key` the way scepserver needs.
   */
  caKeyPem?: string;
  /** RSA size for `scepserver ca -init` (default 2048 here; scepserver's is 4096). */
  keySize?: number;
  /** Subject and lifetime for `scepserver ca -init` when no CA is given. */
  caInit?: {
    organization?: string;
    organizationalUnit?: string;
    country?: string;
    years?: number;
  };
  /**
   * `-allowrenew` days. Defaults to 0 here (always allow re-enrolment of a
   * DN); scepserver's own default is 14.
   */
  allowRenewDays?: number;
  /** `-crtvalid` days for issued certificates (scepserver default 365). */
  certValidityDays?: number;
  /** `-csrverifierexec`: an executable fed each CSR; non-zero exit rejects. */
  csrVerifierExec?: string;
  /** Initial value of the depot `serial` file (next serial to issue). */
  nextSerial?: bigint;
  debug?: boolean;
  extraArgs?: string[];
  /** How long to wait for GetCACaps to answer (default 15 s). */
  startTimeoutMs?: number;
}

/** One line of the depot's `index.txt`. */
export interface DepotIndexEntry {
  /** `V` valid, `R` revoked. */
  status: string;
  expires: string;
  revoked: string;
  serialHex: string;
  file: string;
  dn: string;
}

/** A running micromdm `scepserver`. */
export interface MicromdmServer {
  /** `http://127.0.0.1:PORT/scep` */
  readonly url: string;
  readonly port: number;
  /** The depot directory (removed by `stop()`). */
  readonly depot: string;
  readonly caCertPem: string;
  /** The CA key as unencrypted PKCS#8 PEM. */
  readonly caKeyPem: string;
  /** Server log so far (go-kit logfmt lines). */
  logs(): string;
  /** Parsed `index.txt`. */
  readIndex(): DepotIndexEntry[];
  /** PEM of every issued certificate in the depot (not `ca.pem`), by file name. */
  issuedCertificates(): Record<string, string>;
  /** Kills the server's process group and removes the depot. */
  stop(): Promise<void>;
  readonly daemon: Daemon;
}

function writeCaIntoDepot(depot: string, ca: { certPem: string; keyPem: string }): void {
  const key = createPrivateKey(ca.keyPem);
  if (key.asymmetricKeyType !== "rsa") {
    throw new Error(`micromdm scepserver only supports RSA CA keys, got ${String(key.asymmetricKeyType)}`);
  }
  writeFileSync(join(depot, "ca.pem"), ca.certPem, { mode: 0o400 });
  // scepserver insists on a legacy-encrypted PKCS#1 PEM; the empty password
  // is its default (-capass ""), exactly what `ca -init` writes.
  const encrypted = key.export({ type: "pkcs1", format: "pem", cipher: "des-ede3-cbc", passphrase: "" });
  writeFileSync(join(depot, "ca.key"), encrypted, { mode: 0o400 });
}

function parseIndex(text: string): DepotIndexEntry[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const [status = "", expires = "", revoked = "", serialHex = "", file = "", dn = ""] = line.split("\t");
      return { status, expires, revoked, serialHex, file, dn };
    });
}

/**
 * Starts micromdm's `scepserver` on a free loopback port with its own depot
 * (a fresh `ca -init` CA, or the given one), waits until GetCACaps answers,
 * and returns a handle whose `stop()` kills it and deletes the depot.
 */
export async function startMicromdmServer(options: MicromdmServerOptions = {}): Promise<MicromdmServer> {
  const scepserver = ensurePeer("scepserver");
  const dir = makeTempDir("scep-micromdm-");
  try {
    const depot = join(dir.path, "depot");
    if ((options.caCertPem === undefined) !== (options.caKeyPem === undefined)) {
      throw new Error("startMicromdmServer: give both caCertPem and caKeyPem, or neither");
    }
    if (options.caCertPem !== undefined && options.caKeyPem !== undefined) {
      mkdirSync(depot, { mode: 0o700 });
      writeCaIntoDepot(depot, { certPem: options.caCertPem, keyPem: options.caKeyPem });
    } else {
      const init = options.caInit ?? {};
      const args = ["ca", "-init", "-depot", depot, "-keySize", String(options.keySize ?? 2048)];
      if (init.organization !== undefined) args.push("-organization", init.organization);
      if (init.organizationalUnit !== undefined) args.push("-organizational_unit", init.organizationalUnit);
      if (init.country !== undefined) args.push("-country", init.country);
      if (init.years !== undefined) args.push("-years", String(init.years));
      await runCommand(scepserver, args, { cwd: dir.path, timeoutMs: 60_000, check: true });
    }
    if (options.nextSerial !== undefined) {
      let hex = options.nextSerial.toString(16);
      if (hex.length % 2 === 1) hex = `0${hex}`;
      writeFileSync(join(depot, "serial"), `${hex}\n`, { mode: 0o400 });
    }
    const caCertPem = readFileSync(join(depot, "ca.pem"), "utf8");
    const caKeyPem = createPrivateKey({ key: readFileSync(join(depot, "ca.key"), "utf8"), passphrase: "" })
      .export({ type: "pkcs8", format: "pem" })
      .toString();

    return await startOnFreePorts(1, (ports) => {
      const port = ports[0]!;
      const args = ["-depot", depot, "-port", String(port), "-allowrenew", String(options.allowRenewDays ?? 0)];
      if (options.challenge !== undefined) args.push("-challenge", options.challenge);
      if (options.certValidityDays !== undefined) args.push("-crtvalid", String(options.certValidityDays));
      if (options.csrVerifierExec !== undefined) args.push("-csrverifierexec", options.csrVerifierExec);
      if (options.debug) args.push("-debug");
      args.push(...(options.extraArgs ?? []));
      const daemon = startDaemon(scepserver, args, { cwd: dir.path });
      const url = `http://127.0.0.1:${port}/scep`;
      // Ready when GetCACaps answers and GetCACert returns OUR CA (not some
      // other server that grabbed the port first).
      const caDer = Buffer.from(pemToDer(caCertPem));
      const ready = async (): Promise<MicromdmServer> => {
        await waitFor(
          async () => {
            const caps = await httpGet(`${url}?operation=GetCACaps`, { timeoutMs: 1_000 });
            if (caps.status !== 200) return undefined;
            const ca = await httpGet(`${url}?operation=GetCACert`, { timeoutMs: 1_000 });
            if (!caDer.equals(Buffer.from(ca.body))) throw new PeerError(`port ${port} serves another CA`);
            return daemon.hasExited() ? undefined : true;
          },
          {
            timeoutMs: options.startTimeoutMs ?? 15_000,
            what: `scepserver on port ${port} to answer GetCACaps and GetCACert`,
            abort: () => (daemon.hasExited() ? `scepserver exited:\n${daemon.output()}` : undefined),
          },
        );
        return {
          url,
          port,
          depot,
          caCertPem,
          caKeyPem,
          daemon,
          logs: () => daemon.output(),
          readIndex: () => parseIndex(readFileSync(join(depot, "index.txt"), "utf8")),
          issuedCertificates: () => {
            const certs: Record<string, string> = {};
            for (const name of readdirSync(depot)) {
              if (name.endsWith(".pem") && name !== "ca.pem") certs[name] = readFileSync(join(depot, name), "utf8");
            }
            return certs;
          },
          async stop(): Promise<void> {
            await daemon.stop();
            dir.remove();
          },
        };
      };
      return { daemon, ready };
    });
  } catch (error) {
    dir.remove();
    throw error;
  }
}

// ---------------------------------------------------------------------------
// scepclient
// ---------------------------------------------------------------------------

/** Options for {@link runScepclient}. */
export interface ScepclientOptions {
  /** SCEP URL, e.g. `http://127.0.0.1:PORT/scep`. */
  url: string;
  /** Challenge password (sent only in a PKCSReq). */
  challenge?: string;
  cn?: string;
  organization?: string;
  ou?: string;
  country?: string;
  locality?: string;
  province?: string;
  /** RSA key size when the client generates its key (default 2048). */
  keySize?: number;
  /** Use this RSA key instead of letting scepclient create one. */
  keyPem?: string;
  /**
   * An existing certificate for `keyPem`: scepclient then sends a
   * RenewalReq (17) signed with it, without a challenge.
   */
  certPem?: string;
  /** `-ca-fingerprint`: SHA-256 of the CA to encrypt to, hex with or without colons (either case). */
  caFingerprint?: string;
  /** `-cacert-message` sent with GetCACert. */
  caCertMessage?: string;
  debug?: boolean;
  /** Further scepclient flags, appended as given. */
  extraArgs?: string[];
  /** Run in this directory (kept); a fresh temp dir (removed) otherwise. */
  dir?: string;
  timeoutMs?: number;
}

/** A FAILURE CertRep as scepclient reports it. */
export interface ScepclientFailure {
  messageType: string;
  messageTypeCode: number;
  failInfo: string;
  failInfoCode: number;
}

/** What {@link runScepclient} observed. */
export interface ScepclientResult extends RunResult {
  ok: boolean;
  messageType: "PKCSReq" | "RenewalReq";
  /** The client key (PKCS#1 PEM), generated or given. */
  keyPem: string;
  /** The issued certificate, when `ok`. */
  certPem: string | undefined;
  /** The CSR scepclient built. */
  csrPem: string | undefined;
  /** Parsed from stdout when the server answered FAILURE. */
  failure: ScepclientFailure | undefined;
}

const FAILURE_LINE = /(\w+) \((\d+)\) request failed, failInfo: (\w+) \((\d+)\)/;

/** Parses scepclient's `PKCSReq (19) request failed, failInfo: badRequest (2)`. */
export function parseScepclientFailure(stdout: string): ScepclientFailure | undefined {
  const m = FAILURE_LINE.exec(stdout);
  if (!m) return undefined;
  return {
    messageType: m[1] ?? "",
    messageTypeCode: Number(m[2]),
    failInfo: m[3] ?? "",
    failInfoCode: Number(m[4]),
  };
}

/**
 * Runs micromdm's `scepclient` once (GetCACert, GetCACaps, then one
 * PKIOperation). Never throws for a SCEP failure: inspect `ok`, `failure`,
 * `stdout`/`stderr`.
 */
export async function runScepclient(options: ScepclientOptions): Promise<ScepclientResult> {
  const scepclient = ensurePeer("scepclient");
  const temp = options.dir === undefined ? makeTempDir("scep-scepclient-") : undefined;
  const dir = options.dir ?? temp?.path ?? "";
  try {
    const keyPath = join(dir, "key.pem");
    const certPath = join(dir, "cert.pem");
    if (options.keyPem !== undefined) {
      // scepclient reads only PKCS#1 "RSA PRIVATE KEY".
      const pkcs1 = createPrivateKey(options.keyPem).export({ type: "pkcs1", format: "pem" });
      writeFileSync(keyPath, pkcs1, { mode: 0o600 });
    }
    if (options.certPem !== undefined) writeFileSync(certPath, options.certPem);
    const args = ["-server-url", options.url, "-private-key", keyPath, "-certificate", certPath];
    if (options.challenge !== undefined) args.push("-challenge", options.challenge);
    if (options.cn !== undefined) args.push("-cn", options.cn);
    if (options.organization !== undefined) args.push("-organization", options.organization);
    if (options.ou !== undefined) args.push("-ou", options.ou);
    if (options.country !== undefined) args.push("-country", options.country);
    if (options.locality !== undefined) args.push("-locality", options.locality);
    if (options.province !== undefined) args.push("-province", options.province);
    if (options.keySize !== undefined) args.push("-keySize", String(options.keySize));
    if (options.caFingerprint !== undefined) args.push("-ca-fingerprint", options.caFingerprint);
    if (options.caCertMessage !== undefined) args.push("-cacert-message", options.caCertMessage);
    if (options.debug) args.push("-debug");
    args.push(...(options.extraArgs ?? []));
    const result = await runCommand(scepclient, args, { cwd: dir, timeoutMs: options.timeoutMs ?? 60_000 });
    const read = (path: string): string | undefined => (existsSync(path) ? readFileSync(path, "utf8") : undefined);
    const ok = result.code === 0 && !result.timedOut;
    return {
      ...result,
      ok,
      messageType: options.certPem !== undefined ? "RenewalReq" : "PKCSReq",
      keyPem: read(keyPath) ?? "",
      certPem: ok ? read(certPath) : undefined,
      csrPem: read(join(dir, "csr.pem")),
      failure: parseScepclientFailure(result.stdout),
    };
  } finally {
    temp?.remove();
  }
}

/** A random challenge password for tests. */
export function randomChallenge(): string {
  return randomBytes(12).toString("hex");
}
