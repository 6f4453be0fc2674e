/**
 * certmonger 0.79.17 (Debian 12): the `scep-submit` helper on its own, and a
 * private certmonger daemon driven with `getcert` for full enrollments.
 *
 * `scep-submit` (`/usr/lib/certmonger/scep-submit`):
 * `-u URL` plus one of `-c` (GetCACaps), `-C` (GetCACert), `-p` (PKIOperation
 * with a PEM pkiMessage read from a file argument or stdin), `-g`
 * (GetCertInitial poll); `-i ID` CA identifier (default `0`; the query is
 * `message=0`), `-r RA.pem` (required for -p/-g: the cert it encrypts to),
 * `-N CA.pem` (CA trusted to verify the CertRep), `-R CA.pem` (TLS trust),
 * `-I certs.pem`, `-n` (prefer not to use Renewal), `-v`. It sends every
 * request with GET, even when POSTPKIOperation is advertised. `-C` prints the
 * RA cert, then the CA cert, then others (PEM); when GetCACert returns a single
 * `application/x-x509-ca-cert` it also walks `message=1`, `2`, … until it gets
 * a duplicate or a non-200/other type. It cannot build a pkiMessage itself:
 * the daemon does that. Exit codes: {@link SCEP_SUBMIT_EXIT}.
 *
 * The daemon runs without systemd and without D-Bus: `certmonger -n -L -P
 * SOCKET` listens on a private socket only, and `getcert` reaches it through
 * `CERTMONGER_PVT_ADDRESS=unix:path=SOCKET`. Its state goes to the dirs named
 * by `CERTMONGER_{CONFIG,CAS,REQUESTS,LOCAL_CA,TMP}_DIR` and
 * `CERTMONGER_SYSTEM_LOCK_FILE`, all in a temp dir here.
 *
 * Two things a micromdm-style CA needs, found by experiment:
 * - GetCACert returns one certificate, which certmonger takes as the RA cert
 *   only; without `add-scep-ca -N CA.pem` it has no trusted root and every
 *   CertRep fails with "failed to verify signature on server response …
 *   certificate verify error" (state CA_UNREACHABLE). `addScepCa()` passes
 *   `caCertPem` as `-N`.
 * - certmonger decrypts the CertRep with OpenSSL 3, which lacks DES-CBC
 *   unless the legacy provider is loaded, and it `clearenv()`s its helpers,
 *   so OPENSSL_CONF does not reach them ("Error decrypting PKCS#7 …
 *   unsupported", state NEED_GUIDANCE). `legacyOpenssl: true` runs the daemon
 *   in a private mount namespace (`unshare -m`, needs root/CAP_SYS_ADMIN)
 *   with a config enabling default+legacy bind-mounted over OPENSSLDIR's
 *   openssl.cnf. A server that answers with the request's cipher (AES-256-CBC
 *   for certmonger) needs neither.
 *
 * certmonger sends PKCSReq with AES-256-CBC content encryption and SHA-256.
 *
 * @module
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { toPem } from "./pem";
import {
  ensurePeer,
  makeTempDir,
  PeerError,
  runCommand,
  startDaemon,
  waitFor,
  type Daemon,
  type RunResult,
} from "./process";

// ---------------------------------------------------------------------------
// scep-submit
// ---------------------------------------------------------------------------

/** scep-submit's documented exit statuses (certmonger-scep-submit(8)). */
export const SCEP_SUBMIT_EXIT = {
  0: "ISSUED",
  1: "WAIT",
  2: "REJECTED",
  3: "UNREACHABLE",
  4: "UNCONFIGURED",
  5: "WAIT_WITH_DELAY",
  16: "NEED_SCEP_MESSAGES",
  17: "REKEY_NEEDED",
} as const satisfies Record<number, string>;

/** Options for {@link runScepSubmit}. */
export interface ScepSubmitOptions {
  url: string;
  operation: "GetCACaps" | "GetCACert" | "PKIOperation" | "GetCertInitial";
  /** `-i`: the CA identifier sent as `message=` (default `0`). */
  caIdentifier?: string;
  /** `-r`: RA (or CA) certificate the request was encrypted to; required for PKIOperation. */
  raCertPem?: string;
  /** `-N`: CA certificate trusted to verify the CertRep. */
  signingCaPem?: string;
  /** `-I`: other certificates for chain building. */
  otherCertsPem?: string;
  /** `-n`: prefer not to use the Renewal capability. */
  nonRenewal?: boolean;
  /** pkiMessage for PKIOperation/GetCertInitial: PEM text or DER bytes. */
  message?: string | Uint8Array;
  /** Number of `-v` flags (each raises the log level; 2 adds curl's trace). */
  verbose?: number;
  timeoutMs?: number;
}

/** A scep-submit run with its exit status decoded. */
export interface ScepSubmitResult extends RunResult {
  status: string;
}

/** Runs certmonger's `scep-submit` helper once. */
export async function runScepSubmit(options: ScepSubmitOptions): Promise<ScepSubmitResult> {
  const scepSubmit = ensurePeer("scep-submit");
  const dir = makeTempDir("scep-submit-");
  try {
    const flag = { GetCACaps: "-c", GetCACert: "-C", PKIOperation: "-p", GetCertInitial: "-g" }[options.operation];
    const args = ["-u", options.url, flag];
    const file = (name: string, pem: string): string => {
      const path = join(dir.path, name);
      writeFileSync(path, pem);
      return path;
    };
    if (options.caIdentifier !== undefined) args.push("-i", options.caIdentifier);
    if (options.raCertPem !== undefined) args.push("-r", file("ra.pem", options.raCertPem));
    if (options.signingCaPem !== undefined) args.push("-N", file("ca.pem", options.signingCaPem));
    if (options.otherCertsPem !== undefined) args.push("-I", file("other.pem", options.otherCertsPem));
    if (options.nonRenewal) args.push("-n");
    for (let i = 0; i < (options.verbose ?? 0); i++) args.push("-v");
    if (options.message !== undefined) args.push(file("message.pem", toPem(options.message, "PKCS7")));
    const result = await runCommand(scepSubmit, args, { timeoutMs: options.timeoutMs ?? 30_000 });
    const status = result.code === null ? "KILLED" : (SCEP_SUBMIT_EXIT as Record<number, string>)[result.code] ?? `EXIT_${result.code}`;
    return { ...result, status };
  } finally {
    dir.remove();
  }
}

// ---------------------------------------------------------------------------
// certmonger daemon
// ---------------------------------------------------------------------------

/** Options for {@link startCertmonger}. */
export interface CertmongerOptions {
  /**
   * Load OpenSSL's legacy provider in the daemon (needed to read DES-CBC
   * CertReps, e.g. micromdm's). Uses `unshare -m` + a bind mount; requires
   * root (CAP_SYS_ADMIN).
   */
  legacyOpenssl?: boolean;
  /** certmonger `-d` level (default 2); the log is in `logs()`. */
  debugLevel?: number;
  startTimeoutMs?: number;
}

/** Options for {@link CertmongerDaemon.addScepCa}. */
export interface AddScepCaOptions {
  /** certmonger's nickname for the CA (`-c`). */
  name: string;
  url: string;
  /** The CA certificate (`-N`); needed when GetCACert returns a lone CA cert. */
  caCertPem?: string;
  /** RA certificate (`-r`), if it should not be discovered. */
  raCertPem?: string;
  /** Further chain certificates (`-I`). */
  otherCertsPem?: string;
  /** `-i` CA identifier. */
  caIdentifier?: string;
  /** `-n`: prefer not to use Renewal. */
  nonRenewal?: boolean;
  /** Wait until the daemon has fetched the CA certificates (default true). */
  waitForCaCerts?: boolean;
  timeoutMs?: number;
}

/** Options for {@link CertmongerDaemon.request}. */
export interface CertmongerRequestOptions {
  /** CA nickname given to `addScepCa`. */
  ca: string;
  /** Subject DN, e.g. `CN=device-1`. */
  subject: string;
  /** Request nickname (`-I`); derived from the subject if absent. */
  id?: string;
  challenge?: string;
  keySize?: number;
  /** subjectAltName DNS names (`-D`, repeatable). */
  dnsNames?: string[];
  /** Wait for a settled state (`-w`, default true). */
  wait?: boolean;
  extraArgs?: string[];
  timeoutMs?: number;
}

/** The state of one tracked request after a `getcert` call. */
export interface CertmongerRequestResult {
  id: string;
  /** `getcert` exit status (with -w: 0 MONITORING, 2 CA_REJECTED, 3 CA_UNREACHABLE, 4 NEED_GUIDANCE…). */
  code: number | null;
  /** certmonger state, e.g. `MONITORING`, `CA_REJECTED`, `CA_UNREACHABLE`. */
  status: string;
  caError: string | undefined;
  stuck: boolean;
  keyPath: string;
  certPath: string;
  keyPem: string | undefined;
  certPem: string | undefined;
  /** Every `key: value` line of `getcert list -i ID`. */
  fields: Record<string, string>;
  getcert: RunResult;
}

/** A private certmonger daemon for one test. */
export interface CertmongerDaemon {
  readonly dir: string;
  readonly socketPath: string;
  /** Environment that points `getcert` at this daemon. */
  readonly env: Record<string, string>;
  /** Runs `getcert ARGS…` against this daemon. */
  getcert(args: readonly string[], options?: { timeoutMs?: number; check?: boolean }): Promise<RunResult>;
  addScepCa(options: AddScepCaOptions): Promise<string>;
  request(options: CertmongerRequestOptions): Promise<CertmongerRequestResult>;
  /** `getcert resubmit -i ID [-w]` (renewal/re-enrolment through the CA). */
  resubmit(id: string, options?: { wait?: boolean; timeoutMs?: number }): Promise<CertmongerRequestResult>;
  /** `getcert rekey -i ID [-w]` (new key; SCEP Renewal if the CA offers it). */
  rekey(id: string, options?: { wait?: boolean; timeoutMs?: number }): Promise<CertmongerRequestResult>;
  /** Current state of a request. */
  status(id: string): Promise<CertmongerRequestResult>;
  logs(): string;
  stop(): Promise<void>;
  readonly daemon: Daemon;
}

/** Parses `getcert list` output into `key: value` pairs (first occurrence wins). */
export function parseGetcertList(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^\t([^\t:][^:]*): ?(.*)$/.exec(line);
    if (m && m[1] !== undefined && !(m[1] in fields)) fields[m[1]] = (m[2] ?? "").trim();
  }
  return fields;
}

const LEGACY_CONF = `# written by the scep-sdk test harness
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
legacy = legacy_sect
[default_sect]
activate = 1
[legacy_sect]
activate = 1
`;

async function opensslConfigPath(): Promise<string> {
  const openssl = ensurePeer("openssl");
  const result = await runCommand(openssl, ["version", "-d"], { check: true, timeoutMs: 10_000 });
  const m = /OPENSSLDIR: "([^"]+)"/.exec(result.stdout);
  if (!m || m[1] === undefined) throw new PeerError("cannot find OPENSSLDIR", result);
  return join(m[1], "openssl.cnf");
}

/**
 * Starts a private certmonger daemon (no systemd, no D-Bus) in a temp dir and
 * returns helpers that drive it with `getcert`. `stop()` kills its process
 * group (including helpers it forked) and removes all its state.
 */
export async function startCertmonger(options: CertmongerOptions = {}): Promise<CertmongerDaemon> {
  const certmonger = ensurePeer("certmonger");
  const getcertBin = ensurePeer("getcert");
  ensurePeer("scep-submit");
  const temp = makeTempDir("scep-certmonger-");
  const dir = temp.path;
  try {
    const sub = (name: string): string => {
      const path = join(dir, name);
      mkdirSync(path, { recursive: true, mode: 0o700 });
      return path;
    };
    const env: Record<string, string> = {
      CERTMONGER_CONFIG_DIR: sub("config"),
      CERTMONGER_CAS_DIR: sub("cas"),
      CERTMONGER_REQUESTS_DIR: sub("requests"),
      CERTMONGER_LOCAL_CA_DIR: sub("local"),
      CERTMONGER_TMPDIR: sub("tmp"),
      CERTMONGER_SYSTEM_LOCK_FILE: join(dir, "lock"),
    };
    const out = sub("out");
    const socketPath = join(dir, "certmonger.sock");
    const daemonArgs = ["-n", "-L", "-P", socketPath, "-p", join(dir, "certmonger.pid"), "-d", String(options.debugLevel ?? 2)];

    let daemon: Daemon;
    if (options.legacyOpenssl) {
      const unshare = ensurePeer("unshare");
      const conf = join(dir, "openssl-legacy.cnf");
      writeFileSync(conf, LEGACY_CONF);
      const target = await opensslConfigPath();
      const script = 'mount --bind "$1" "$2" || { echo "[harness] bind mount over $2 failed" >&2; exit 97; }; shift 2; exec "$@"';
      daemon = startDaemon(
        unshare,
        ["-m", "--propagation", "private", "sh", "-c", script, "sh", conf, target, certmonger, ...daemonArgs],
        { env },
      );
    } else {
      daemon = startDaemon(certmonger, daemonArgs, { env });
    }

    const clientEnv = { CERTMONGER_PVT_ADDRESS: `unix:path=${socketPath}` };
    const getcert = (args: readonly string[], opts: { timeoutMs?: number; check?: boolean } = {}): Promise<RunResult> =>
      runCommand(getcertBin, args, { env: clientEnv, timeoutMs: opts.timeoutMs ?? 60_000, check: opts.check ?? false });

    await waitFor(
      async () => {
        if (!existsSync(socketPath)) return undefined;
        const r = await getcert(["list-cas"], { timeoutMs: 5_000 });
        return r.code === 0 ? true : undefined;
      },
      {
        timeoutMs: options.startTimeoutMs ?? 15_000,
        what: "certmonger to accept getcert on its private socket",
        abort: () =>
          daemon.hasExited()
            ? `certmonger exited${options.legacyOpenssl ? " (legacyOpenssl needs root: unshare -m and mount --bind)" : ""}:\n${daemon.output()}`
            : undefined,
      },
    ).catch(async (error: unknown) => {
      await daemon.stop();
      throw error;
    });

    const status = async (id: string, code: number | null = 0, last?: RunResult): Promise<CertmongerRequestResult> => {
      const listing = await getcert(["list", "-i", id], { timeoutMs: 15_000 });
      const fields = parseGetcertList(listing.stdout);
      const keyPath = join(out, `${id}.key`);
      const certPath = join(out, `${id}.pem`);
      const read = (path: string): string | undefined => (existsSync(path) ? readFileSync(path, "utf8") : undefined);
      return {
        id,
        code,
        status: fields["status"] ?? "UNKNOWN",
        caError: fields["ca-error"],
        stuck: fields["stuck"] === "yes",
        keyPath,
        certPath,
        keyPem: read(keyPath),
        certPem: read(certPath),
        fields,
        getcert: last ?? listing,
      };
    };

    const settle = async (args: string[], id: string, wait: boolean | undefined, timeoutMs: number | undefined): Promise<CertmongerRequestResult> => {
      if (wait ?? true) args.push("-w");
      const r = await getcert([...args, "-v"], { timeoutMs: timeoutMs ?? 120_000 });
      if (r.timedOut) throw new PeerError(`getcert ${args[0] ?? ""} timed out`, r);
      return status(id, r.code, r);
    };

    return {
      dir,
      socketPath,
      env: clientEnv,
      daemon,
      getcert,
      async addScepCa(ca: AddScepCaOptions): Promise<string> {
        const args = ["add-scep-ca", "-c", ca.name, "-u", ca.url];
        const file = (suffix: string, pem: string): string => {
          // certmonger re-reads these files on every submission: keep them.
          const path = join(dir, `ca-${ca.name}-${suffix}.pem`);
          writeFileSync(path, pem);
          return path;
        };
        if (ca.caCertPem !== undefined) args.push("-N", file("signing", ca.caCertPem));
        if (ca.raCertPem !== undefined) args.push("-r", file("ra", ca.raCertPem));
        if (ca.otherCertsPem !== undefined) args.push("-I", file("other", ca.otherCertsPem));
        if (ca.caIdentifier !== undefined) args.push("-i", ca.caIdentifier);
        if (ca.nonRenewal) args.push("-n");
        await getcert(args, { check: true, timeoutMs: 15_000 });
        if (!(ca.waitForCaCerts ?? true)) return (await getcert(["list-cas", "-c", ca.name])).stdout;
        return waitFor(
          async () => {
            const r = await getcert(["list-cas", "-c", ca.name], { timeoutMs: 5_000 });
            return /thumbprint/i.test(r.stdout) ? r.stdout : undefined;
          },
          {
            timeoutMs: ca.timeoutMs ?? 30_000,
            what: `certmonger to fetch the certificates of SCEP CA "${ca.name}" from ${ca.url}`,
          },
        );
      },
      async request(req: CertmongerRequestOptions): Promise<CertmongerRequestResult> {
        const id = req.id ?? req.subject.replace(/[^A-Za-z0-9_-]+/g, "_");
        const args = ["request", "-c", req.ca, "-I", id, "-N", req.subject];
        args.push("-k", join(out, `${id}.key`), "-f", join(out, `${id}.pem`));
        if (req.challenge !== undefined) args.push("-L", req.challenge);
        if (req.keySize !== undefined) args.push("-g", String(req.keySize));
        for (const dns of req.dnsNames ?? []) args.push("-D", dns);
        args.push(...(req.extraArgs ?? []));
        return settle(args, id, req.wait, req.timeoutMs);
      },
      resubmit: (id, opts = {}) => settle(["resubmit", "-i", id], id, opts.wait, opts.timeoutMs),
      rekey: (id, opts = {}) => settle(["rekey", "-i", id], id, opts.wait, opts.timeoutMs),
      status: (id) => status(id),
      logs: () => daemon.output(),
      async stop(): Promise<void> {
        await daemon.stop();
        temp.remove();
      },
    };
  } catch (error) {
    temp.remove();
    throw error;
  }
}
