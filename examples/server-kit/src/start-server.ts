// Bootstrap shared by the example servers: CA, challenge, SCEP server, HTTP server with timeouts, banner, shutdown, workers.
import cluster from "node:cluster";
import { rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import type { RequestListener, Server } from "node:http";
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from "node:net";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { ActivityLog, InvalidArgumentError, isScepError, KeyWorkerPool, createScepServer, Certificate, type RevocationStore, type ScepEvent, type ScepProfile, type ScepServer } from "@scep/core";
import { certificateFingerprintSha256, isEmbeddedCaError, openFileCa, type FileCa, type RevocationsRestoredEvent } from "@scep-examples/embedded-ca";
import { LISTEN_FAILED_MESSAGE, SHUTDOWN_MESSAGE, runClusterPrimary, workerSlot } from "./cluster-primary.js";
import { answerMetricsCollection } from "./cluster-metrics.js";
import { ADMIN_API_ALLOW, createAdminApi, type AdminApi, type ReloadableTrustAnchors } from "./admin-api.js";
import { internalError, rawPath, serveFetch } from "./node-fetch.js";
import { CRL_FILE, CRL_PATH, createCrlEndpoint, scheduleCrl, type CrlEndpoint } from "./crl-endpoint.js";
import { ConfigError, configErrorLine, parseConfig, usage, type ServerConfig } from "./config.js";
import { inConfigFile } from "./errors.js";
import { memoryStores, redactRedisUrl, redisStores, type SharedStores } from "./shared-stores.js";
import { OPERATOR_PATHS, createMetricsSdk, withOperatorEndpoints, type MetricsSdk } from "./operator-endpoints.js";
import { readNextCa } from "./ca-rollover.js";
import { createReloader, keepRestartOnly } from "./reload.js";
import type { ProfileSettings } from "./config-file.js";
import { scheduleRevocationSync } from "./intune-revocation-sync.js";
import { buildProfile, describeProfile, pendingWithoutAdmin, readSecret, type ProfileSummary, type RevocationSync } from "./profiles.js";
import { createLimitedHttpServer } from "./http-limits.js";
import { answerNotReadyYet, sendPlain } from "./probes.js";
import { errorFields } from "./store-unavailable.js";
import { listenFailure, type ListenOptionNames } from "./listen-failure.js";
import { fileErrorReason } from "./file-error.js";
import { publishFileExclusive } from "@scep-examples/embedded-ca/durable-fs";
import { lockDataDir, storeIdentity, type DataDirLock } from "./data-dir-lock.js";
export { listenFailure } from "./listen-failure.js";

/** The SCEP path (and profile name) the examples serve without a configuration file. */
export const SCEP_PATH = "/scep";

/** What an example gets to build its framework app from. */
export interface ScepKit {
  config: ServerConfig;
  ca: FileCa;
  /** Path of the CA certificate (PEM) clients and `openssl verify` can use. */
  caCertificatePath: string;
  challenge: string;
  server: ScepServer;
  /** Writes one JSON line to stdout. */
  log(entry: Record<string, unknown>): void;
  /** The admin API and page (`/admin/scep…`) to mount on the SCEP listener; undefined when SCEP_ADMIN_TOKEN is unset or `--admin-listen` gives them their own listener. */
  admin: AdminApi | undefined;
  /** The admin API whenever SCEP_ADMIN_TOKEN is set (startServer serves it on `--admin-listen`). */
  adminApi: AdminApi | undefined;
  /** Where PENDING transactions, one-time challenges, counters and revocations live (this process and its data directory, or Redis). */
  stores: SharedStores;
  /** The CRLs (mount before the SCEP middleware): the server CA's at `GET /scep/ca.crl`, a profile's own CA's at `GET <profile path>/ca.crl`. */
  crl: CrlEndpoint;
  /**
   * Starts the Intune revocation sync of the profiles with `intune.revocationSyncSeconds` (a round now, then every N s).
   * Call it once the kit is in service: a start or reload that fails after making the kit never runs a round (a round
   * revokes certificates and tells Intune). Once only; after `close()` it does nothing.
   */
  startRevocationSync(): void;
  /** Stops the CRL schedules and the revocation sync (and whatever else the kit runs in the background); resolves once a CRL being written is on disk and a sync round in progress has ended. */
  close(): Promise<void>;
  /** The OpenTelemetry SDK (MeterProvider + Prometheus exporter) the SCEP metrics are recorded in, served at `/metrics`. */
  metrics: MetricsSdk;
  /** The last 1000 requests (the admin API's activity); kept across reloads. */
  activity: ActivityLog;
  /** The profiles served, first the default one (admin requests that name none act on it). */
  profiles: ProfileSummary[];
  /** The profiles' own CAs (configuration file `ca`), by profile name; the others use `ca`. */
  profileCas: Map<string, FileCa>;
}

/** A started example server. */
export interface RunningServer {
  kit: ScepKit;
  http: Server;
  urls: string[];
  /** Stops like SIGTERM does, without exiting. */
  stop(): Promise<void>;
  /** Reloads like SIGHUP does; true when the new configuration is in service (false: the old one stays, logged why). */
  reload(): Promise<boolean>;
}

// In a worker of --workers N, every line says which worker (1..N) wrote it.
const WORKER_FIELD = workerSlot === undefined ? {} : { worker: workerSlot };
// The per-request event lines written in one turn of the event loop go out in one write: stdout is a pipe or a
// file, written synchronously, and one write per request cost more CPU than the event's JSON (issue 13). They wait
// for no more than that turn; any other line is written at once, after them (order kept), and whatever is pending
// when the process exits is written then.
let pendingLines = "";
const flushLines = (): void => {
  const lines = pendingLines;
  pendingLines = "";
  if (lines) process.stdout.write(lines);
};
process.on("exit", flushLines);
const line = (entry: Record<string, unknown>): string => JSON.stringify({ time: new Date().toISOString(), ...WORKER_FIELD, ...entry }) + "\n";
const log = (entry: Record<string, unknown>): void => {
  pendingLines += line(entry);
  flushLines();
};
const logEvent = (entry: Record<string, unknown>): void => {
  if (!pendingLines) setImmediate(flushLines);
  pendingLines += line(entry);
};

/** Where the challenge came from: given (never shown), generated by this start (shown once), or read from the file an earlier start wrote. */
export type ChallengeSource = { kind: "given" } | { kind: "generated" | "stored"; file: string };

async function loadChallenge(config: ServerConfig, dataDir: string): Promise<{ challenge: string; source: ChallengeSource }> {
  if (config.challenge !== undefined) return { challenge: config.challenge, source: { kind: "given" } };
  const file = join(dataDir, "challenge");
  let generated: boolean;
  try {
    // Only the first start creates it, whole (temporary file, then link: a crash or a full disk leaves no empty
    // challenge behind); later starts (and a concurrent one) read the same secret.
    generated = await publishFileExclusive(file, randomBytes(16).toString("hex") + "\n", 0o600);
  } catch (e) {
    throw new ConfigError(`cannot create ${file}: ${fileErrorReason(e)} (check --data-dir, or set SCEP_CHALLENGE)`, { showUsage: false });
  }
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new ConfigError(`cannot read ${file}: ${fileErrorReason(e)} (check --data-dir, or set SCEP_CHALLENGE)`, { showUsage: false });
  }
  const challenge = text.trim();
  if (!challenge) throw new ConfigError(`${file} is empty: delete it to generate a new challenge, or set SCEP_CHALLENGE`);
  return { challenge, source: { kind: generated ? "generated" : "stored", file } };
}

/**
 * Removes a challenge this start generated and has not shown (the start failed): the next start generates and shows
 * one. Best effort, never rejects: a removal that fails (EACCES, …) must not hide the error that failed the start.
 */
export async function forgetGenerated(source: ChallengeSource): Promise<void> {
  if (source.kind === "generated") await rm(source.file, { force: true }).catch(() => undefined);
}

/** The banner's challenge line: a generated challenge once, when it is created; a given one never. */
function challengeLine(challenge: string, source: ChallengeSource): string {
  if (source.kind === "given") return "(given; not shown)";
  if (source.kind === "generated") return `${challenge}  (generated now and stored in ${source.file}; shown this once)`;
  return `stored in ${source.file} (not shown again)`;
}

/**
 * After a SIGINT/SIGTERM, how long past `--shutdown-timeout-ms` (when the connections are cut) the process waits for
 * its background work before it exits anyway; below the 5 s a `--workers` primary gives its workers before SIGKILL.
 */
export const SHUTDOWN_GRACE_MS = 2_000;
/** The `abandoned` field of the `stopped` line of a shutdown that did not wait for its background work to end. */
const SHUTDOWN_ABANDONED = `background work still running ${SHUTDOWN_GRACE_MS} ms after the shutdown timeout (an Intune revocation sync round, a CRL being signed, a reload)`;

/** Finished transactions stay this long for a late CertPoll, then leave the store. */
export const TRANSACTION_RETENTION_MS = 86_400_000;
export { MAX_TRANSACTIONS } from "./shared-stores.js";

async function readPassphrase(config: ServerConfig): Promise<string | undefined> {
  if (config.caKeyPassphraseFile === undefined) return config.caKeyPassphrase;
  try {
    return (await readFile(config.caKeyPassphraseFile, "utf8")).replace(/\r?\n$/, "");
  } catch (e) {
    throw new ConfigError(`SCEP_CA_KEY_PASSPHRASE_FILE: cannot read ${config.caKeyPassphraseFile}: ${fileErrorReason(e)}`, { showUsage: false });
  }
}

/**
 * The process's key worker pool of `size` threads, or none for 0: one per size, shared by every CA key (each file
 * CA's LocalKey, which is also its profiles' SCEP signer), so a reload's new keys share the running one. Idle, its
 * threads keep no process alive, so shutdown needs nothing.
 */
function keyWorkerOptions(size: number): { workerPool?: KeyWorkerPool } {
  if (size === 0) return {};
  let pool = keyWorkerPools.get(size);
  if (!pool) keyWorkerPools.set(size, (pool = new KeyWorkerPool({ size })));
  return { workerPool: pool };
}
const keyWorkerPools = new Map<number, KeyWorkerPool>();

/** How {@link openCa} opens a CA; every member is optional. */
export interface OpenCaOptions {
  /** The revocation store the server uses (default: the data directory's file store). */
  revocations?: RevocationStore | undefined;
  /** A profile's own CA: the configuration path its errors name (`profiles[2].ca`). */
  field?: string | undefined;
  /** A profile's own CA: the subject DN of a CA created for it (RFC 4514 text). */
  subject?: string | undefined;
  /** Opened by a `--workers` primary, which serves nothing (default false). */
  primary?: boolean | undefined;
  /**
   * The published CRL's revocations go back into `revocations` at the CA's first `crl()` or look-up, not at open
   * (default false; a server on Redis claims its key prefix first, see redis-namespace.ts).
   */
  deferRestore?: boolean | undefined;
}

/**
 * Opens the embedded CA (created in the data directory, or loaded from
 * `--ca-cert`/`--ca-key`) and checks that SCEP can use it. See {@link OpenCaOptions} for what `options` says.
 *
 * @throws ConfigError for an encrypted key without (or with a wrong) passphrase, and for an EC CA.
 */
export async function openCa(config: ServerConfig, options: OpenCaOptions = {}): Promise<FileCa> {
  const { revocations, field, subject, primary = false, deferRestore = false } = options;
  const passphrase = config.caKeyPath ? await readPassphrase(config) : undefined;
  // A --workers primary's server CA on Redis: its file store is not the one in service (see below).
  const lookOnly = primary && revocations === undefined && config.redisUrl !== undefined;
  // Which process tells about a published CRL it cannot use (once per data directory): the one that restores from it
  // first, the primary, else the first worker, else the only process.
  const primaryRestored = workerSlot !== undefined && (revocations === undefined || config.redisUrl === undefined);
  const tellsAboutCrl = workerSlot === undefined ? !lookOnly : workerSlot === 1 && !primaryRestored;
  let ca: FileCa;
  try {
    ca = await openFileCa({
      dataDir: config.dataDir,
      certificateFiles: config.certFiles,
      backdateSeconds: config.backdateSeconds,
      // Certificates and CRLs signed on the key worker threads of --key-workers (0: on the event loop).
      threadPool: false,
      ...keyWorkerOptions(config.keyWorkers),
      crlValiditySeconds: config.crlValidityHours * 3600,
      ...(config.crlUrl !== undefined ? { crlDistributionPoint: config.crlUrl } : {}),
      ...(subject !== undefined ? { subject } : {}),
      ...(revocations ? { revocations } : {}),
      // A published CRL's revocations the store lost (a Redis restarted empty, a directory switched from Redis to
      // files) go back into it: one line per restore, and one per published CRL that is not the CA's or has entries
      // that do not read. Into the store the server uses: a --workers primary opens the server CA with its default
      // file store, which with Redis no worker reads, so it restores nothing then and its workers do (the first one
      // tells about the CRL). Profile CAs use their file store in every process: the primary restores them.
      ...(lookOnly || deferRestore ? { restoreOnOpen: false } : {}),
      onRevocationsRestored: ({ restored, skipped, crlNumber }: RevocationsRestoredEvent) => {
        if (restored > 0 || tellsAboutCrl) log({ type: "revocations-restored", restored, skipped, crlNumber: String(crlNumber), dataDir: config.dataDir });
      },
      onPublishedCrlIgnored: ({ crlNumber, reason }: { crlNumber?: bigint; reason: string }) => {
        if (tellsAboutCrl) log({ type: "published-crl-ignored", ...(crlNumber !== undefined ? { crlNumber: String(crlNumber) } : {}), reason, dataDir: config.dataDir });
      },
      // What the CA handles without failing a call (an unsettled.jsonl line it cannot settle, a certificate whose key
      // cannot be known, a failed settling after a revoke): one line each, so the operator hears of it.
      onError: (error: unknown) => log({ type: "ca-error", ...errorFields(error), dataDir: config.dataDir }),
      ...(config.caCertPath && config.caKeyPath ? { caCertPath: config.caCertPath, caKeyPath: config.caKeyPath, ...(passphrase !== undefined ? { caKeyPassphrase: passphrase } : {}) } : {}),
    });
  } catch (e) {
    if (!isEmbeddedCaError(e, "CA_KEY_PASSPHRASE")) throw e;
    if (field) throw new ConfigError(`${field}: ${e.message}: ${config.caKeyPassphrase !== undefined ? "check keyPassphraseEnv or keyPassphraseFile" : "give keyPassphraseEnv or keyPassphraseFile"}`, { showUsage: false });
    const option = config.caKeyPassphraseFile !== undefined ? "SCEP_CA_KEY_PASSPHRASE_FILE" : config.caKeyPassphrase !== undefined ? "SCEP_CA_KEY_PASSPHRASE" : undefined;
    throw new ConfigError(`${e.message}: ${option ? `check ${option}` : "set SCEP_CA_KEY_PASSPHRASE or SCEP_CA_KEY_PASSPHRASE_FILE"}`, { showUsage: false });
  }
  if (ca.keyAlgorithm !== "RSA") {
    // SCEP clients encrypt requests to an RSA key (RFC 8894 §3.2.2): an EC CA can sign but never decrypt them.
    throw new ConfigError(
      `${field ? `${field}: ` : ""}${config.caKeyPath}: the CA key is ${ca.keyAlgorithm}, and SCEP clients encrypt their requests to an RSA key: an EC CA needs an RSA decrypter (an RA certificate and key), which this example server does not take; use an RSA CA`,
      { showUsage: false },
    );
  }
  return ca;
}

/**
 * A start's error that is the configuration's, printed as one line (exit 2) rather than a stack: the server kit's own,
 * the embedded CA's, a profile option @scep/core refuses (`ERR_INVALID_ARGUMENT`), or an issuing CA certificate that
 * is expired or not yet valid (`ERR_CA_NOT_VALID`).
 */
function isConfigurationError(e: unknown): e is Error {
  return e instanceof ConfigError || isEmbeddedCaError(e) || e instanceof InvalidArgumentError || (isScepError(e) && e.code === "ERR_CA_NOT_VALID");
}

/** What {@link createKit} passes on to the start-up wait for Redis (redis-start-wait.ts); a reload passes none. */
export interface RedisStartHooks {
  /** Aborts the wait (SIGTERM, SIGINT): createKit then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Hears true when the wait starts (the first connection failed) and false when it ends. */
  onWaiting?: (waiting: boolean) => void;
}

/** What a reload keeps from the running kit: the state of the process, not of its configuration files. */
export interface KeptState {
  stores: SharedStores;
  metrics: MetricsSdk;
  /** The recent activity the admin API shows (it goes on through a reload). */
  activity: ActivityLog;
}

/** The profiles to serve: the configuration file's, or the one `/scep` profile flags and environment describe. */
export function profileSettings(config: ServerConfig): ProfileSettings[] {
  return (
    config.profiles ?? [
      // /cgi-bin too: a client given the server's URL without a path (Cisco IOS and ASA, sscep) asks for
      // /cgi-bin/pkiclient.exe, RFC 8894 §4.1's example path.
      { name: SCEP_PATH, path: SCEP_PATH, aliases: ["/cgi-bin"], ca: undefined, validityDays: undefined, pending: undefined, allowSid: false, challenge: config.oneTimeChallenges ? { type: "one-time" } : { type: "static", password: undefined } },
    ]
  );
}

/** Whether a profile uses the server-wide static challenge (`--challenge`, SCEP_CHALLENGE or the generated one). */
const usesDefaultChallenge = (profiles: ProfileSettings[]): boolean => profiles.some((p) => p.challenge.type === "static" && p.challenge.password === undefined);

/** A name fit for a directory: `/scep/corp` → `scep_corp`. */
const dirName = (name: string): string => name.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[_.]+/, "") || "default";

/**
 * The CRL distribution point of a profile's own CA: `--crl-url` names the server CA's CRL (`<base>/scep/ca.crl`), so a
 * profile at `/lab` gets `<base>/lab/ca.crl`, where {@link createKit} serves that CA's CRL. A `--crl-url` that does not
 * end in `/scep/ca.crl` (the CRL published elsewhere) gives a profile's own CA no distribution point.
 */
export function profileCrlUrl(crlUrl: string | undefined, profilePath: string): string | undefined {
  if (crlUrl === undefined) return undefined;
  const u = new URL(crlUrl);
  if (!u.pathname.endsWith(CRL_PATH)) return undefined;
  u.pathname = u.pathname.slice(0, -CRL_PATH.length) + profilePath.replace(/\/+$/, "") + "/" + CRL_FILE;
  return u.toString();
}

/**
 * Opens a profile's own CA (its `ca` settings) in the same way as the server's: its data directory defaults to
 * `<data-dir>/profiles/<name>`. Opened once per directory, so profiles naming one directory share one CA.
 */
async function openProfileCa(p: ProfileSettings, index: number, config: ServerConfig, env: Readonly<Record<string, string | undefined>>, opened: Map<string, Promise<FileCa>>): Promise<FileCa> {
  const c = p.ca!;
  const dataDir = c.dataDir ?? join(config.dataDir, "profiles", dirName(p.name));
  let ca = opened.get(dataDir);
  if (!ca) {
    ca = (async () => {
      const passphrase = c.keyPassphrase ? await readSecret(c.keyPassphrase, `profiles[${index}].ca.keyPassphrase`, env) : undefined;
      // Its certificates name its own CRL (`<profile path>/ca.crl`), never the server CA's; a CA created here gets a
      // subject of its own (the profile's name), so two CAs of one server never share an issuer name.
      return openCa(
        { ...config, dataDir, caCertPath: c.certPath, caKeyPath: c.keyPath, caKeyPassphrase: passphrase, caKeyPassphraseFile: undefined, crlUrl: profileCrlUrl(config.crlUrl, p.path) },
        { field: `profiles[${index}].ca`, subject: `CN=SCEP Example CA ${p.name.replace(/[,+=\\"<>;#]/g, "_")},O=scep-sdk` },
      );
    })();
    opened.set(dataDir, ca);
  }
  return ca;
}

/** Opens every profile's own CA (a cluster primary does it before forking, so workers only read them). */
export async function openProfileCas(config: ServerConfig, env: Readonly<Record<string, string | undefined>> = process.env): Promise<Map<string, FileCa>> {
  const opened = new Map<string, Promise<FileCa>>();
  const out = new Map<string, FileCa>();
  const profiles = profileSettings(config);
  try {
    for (const [i, p] of profiles.entries()) if (p.ca) out.set(p.name, await openProfileCa(p, i, config, env, opened));
  } catch (e) {
    throw inConfigFile(e, config.configFile);
  }
  return out;
}

/**
 * Opens the CAs, loads the challenges and secrets, and creates the SCEP server with every profile. On a reload
 * (SIGHUP) `keep` passes the running kit's stores and metrics, which the new kit shares (a failed reload leaves them
 * open); the configuration file, secrets and trust anchors are read again.
 */
export async function createKit(
  config: ServerConfig,
  keep?: KeptState,
  env: Readonly<Record<string, string | undefined>> = process.env,
  start: RedisStartHooks = {},
): Promise<ScepKit & { challengeSource: ChallengeSource }> {
  let stores: SharedStores;
  try {
    stores =
      keep?.stores ??
      (config.redisUrl === undefined
        ? memoryStores(config.dataDir)
        : await redisStores(config.redisUrl, log, {
            keyPrefix: config.redisKeyPrefix,
            checkPersistence: workerSlot === undefined || workerSlot === 1,
            startTimeoutSeconds: config.redisStartTimeoutSeconds,
            ...start,
          }));
  } catch (e) {
    // A signal during the wait for Redis: its reason as it is (the start stops, exit 0), never a configuration error.
    if (start.signal?.aborted) throw e;
    throw new ConfigError((e as Error).message, { showUsage: false });
  }
  const settings = profileSettings(config);
  let ca: FileCa;
  let challenge = "";
  let source: ChallengeSource = { kind: "given" };
  let profileCas: Map<string, FileCa>;
  let nextCa: Certificate[] | undefined;
  const profiles: ScepProfile[] = [];
  const summaries: ProfileSummary[] = [];
  const trustAnchors = new Map<string, ReloadableTrustAnchors>();
  const revocationSyncs: { profile: string; sync: RevocationSync }[] = [];
  try {
    // With Redis, nothing goes into the store before the key prefix is claimed for these CAs (below): a server of
    // another deployment would otherwise restore its published CRL's revocations into this one's.
    ca = await openCa(config, { revocations: stores.revocations, deferRestore: config.redisUrl !== undefined });
    nextCa = config.nextCaCertPath === undefined ? undefined : await readNextCa(config.nextCaCertPath, config.nextCaCertFrom);
    profileCas = await openProfileCas(config, env);
    // Every CA served: the server's, the next one it announces (the rollover adds it, so the new CA keeps the prefix
    // once the switch is done), the profiles' own. A prefix another CA holds refuses the start or the reload.
    await stores.claim([...new Set([ca.fingerprintSha256, ...(nextCa ? [certificateFingerprintSha256(nextCa[0]!.der)] : []), ...[...profileCas.values()].map((c) => c.fingerprintSha256)])]);
    // The challenge last but for the profiles that use it: a start that fails before its banner removes a challenge it
    // generated (below), so the next start generates one and shows it.
    if (usesDefaultChallenge(settings)) ({ challenge, source } = await loadChallenge(config, ca.dataDir));
    const inService = [ca, ...profileCas.values()];
    const subjectOf = (c: FileCa): Buffer => Buffer.from(new Certificate(c.certificateDer).subjectDer);
    for (const [i, p] of settings.entries()) {
      const mine = profileCas.get(p.name) ?? ca;
      const built = await buildProfile(p, i, {
        config,
        env,
        ca: mine,
        sharedIssuerName: inService.some((c) => c !== mine && subjectOf(c).equals(subjectOf(mine))),
        defaultChallenge: () => challenge,
        challenges: stores.challenges,
        intuneStores: stores.intune,
        log,
      });
      // Bounded, and finished transactions expire (RFC 8894 §3.3.3: a late CertPoll still finds its answer for a day).
      profiles.push({
        ...built.profile,
        transactions: stores.transactions,
        transactionRetentionMs: TRANSACTION_RETENTION_MS,
        // CA rollover (RFC 8894 §4.7): the server CA's successor, announced before the switch (not for a profile's own CA).
        ...(nextCa && !profileCas.has(p.name) ? { nextCaCertificates: nextCa } : {}),
      });
      summaries.push(built.summary);
      if (built.trustAnchors) trustAnchors.set(p.name, built.trustAnchors);
      if (built.revocationSync) revocationSyncs.push({ profile: p.name, sync: built.revocationSync });
    }
  } catch (e) {
    await forgetGenerated(source);
    if (!keep) await stores.close();
    throw inConfigFile(e, config.configFile);
  }
  const activity = keep?.activity ?? new ActivityLog({ maxEntries: 1000 });
  const metrics = keep?.metrics ?? createMetricsSdk();
  const scepMetrics = metrics.scep;
  let server: ScepServer;
  try {
    server = createScepServer({
      counters: stores.counters,
      maxBodyBytes: config.maxBodyBytes,
      // JSON lines on stdout, the metrics, and the last 1000 requests for the admin API's activity. A line's `time` is
      // the event's: when the request arrived (ISO 8601 UTC, ms); `clientAddress` is the TCP peer's (the adapters' default).
      onEvent: [(e: ScepEvent) => logEvent({ type: "scep", ...e }), scepMetrics.sink, activity.sink],
      // The cause of a 5xx, which the event above names only by its reason: a store down or full, a hook that threw.
      // Same time and address as the request's event line, so the two can be joined.
      onError: (error, e) =>
        logEvent({
          type: "scep-error",
          time: e.time,
          operation: e.operation,
          profile: e.profile,
          ...(e.transactionId !== undefined ? { transactionId: e.transactionId } : {}),
          ...(e.clientAddress !== undefined ? { clientAddress: e.clientAddress } : {}),
          reason: e.reason,
          status: e.status,
          ...errorFields(error),
        }),
      profiles,
    });
  } catch (e) {
    await forgetGenerated(source);
    if (!keep) await stores.close();
    throw e;
  }
  // (After the server, which may refuse the configuration: a refused reload leaves no schedule running.)
  // Signed now, kept in <dataDir>/ca.crl, and re-signed once half of its validity has passed: checked every quarter
  // of the validity, at most hourly (a timer past 2^31 ms would fire at once); ca.crl() signs only when half passed.
  // Every CA in service signs its own CRL: the server CA's at /scep/ca.crl, a profile's own CA's at <profile path>/ca.crl
  // (and in its own data directory), each re-signed after a revocation under that CA.
  const crlEvery = Math.min((config.crlValidityHours * 3_600_000) / 4, 3_600_000);
  const crlSchedules = new Map<FileCa, ReturnType<typeof scheduleCrl>>([[ca, scheduleCrl(ca, crlEvery, log)]]);
  const crlAt = new Map<string, FileCa>([[CRL_PATH, ca]]);
  for (const p of settings) {
    const own = profileCas.get(p.name);
    if (!own) continue;
    if (!crlSchedules.has(own)) crlSchedules.set(own, scheduleCrl(own, crlEvery, (e) => log({ ...e, profile: p.name })));
    crlAt.set(`${p.path.replace(/\/+$/, "")}/${CRL_FILE}`, own);
  }
  const crl = createCrlEndpoint(crlAt, log);
  // On Redis the server CA's restore of the published CRL's revocations its store lost (a Redis restarted empty) was
  // left to its first CRL round (openCa's deferRestore: the key prefix is claimed first): that round ends before the
  // kit serves, so a ready server's store lists them on every worker (a look-up restores too; the store's list and
  // the admin API would not). Without Redis it happened at open, and the round runs on while the kit serves.
  if (config.redisUrl !== undefined) await crlSchedules.get(ca)!.first;
  // Intune's revocation requests (profiles with intune.revocationSyncSeconds): revoked in the profile CA's store, whose
  // CRL is then re-signed. Started by startRevocationSync once the kit is in service, never by a kit that is not.
  let syncSchedules: Array<ReturnType<typeof scheduleRevocationSync>> | undefined;
  const startRevocationSync = (): void => {
    syncSchedules ??= revocationSyncs.map(({ profile, sync }) =>
      scheduleRevocationSync(sync, profile, (e) => log(e), () => crlSchedules.get(sync.ca)?.refresh() ?? Promise.resolve(undefined)),
    );
  };
  const unobserve = scepMetrics.observe(server); // days-to-expiry gauges of the CA (and RA) certificates
  // The profiles that take one-time challenges: POST challenges issues for these only (409 for a static one).
  const oneTimeProfiles = settings.filter((p) => p.challenge.type === "one-time").map((p) => p.name);
  const oneTime = oneTimeProfiles.length > 0;
  const adminApi = config.adminToken
    ? createAdminApi({
        token: config.adminToken,
        server,
        defaultProfile: settings[0]!.name,
        log,
        ca,
        caFor: (profile) => profileCas.get(profile),
        onRevoked: (revokedUnder) => crlSchedules.get(revokedUnder)?.refresh() ?? Promise.resolve(undefined),
        snapshot: () => server.snapshot(),
        transactions: stores.transactions,
        activity,
        profileExtras: () => ({ redis: config.redisUrl !== undefined }),
        ...(trustAnchors.size > 0 ? { trustAnchors } : {}),
        ...(oneTime ? { challenges: stores.challenges, oneTimeChallengeProfiles: oneTimeProfiles } : {}),
      })
    : undefined;
  const caCertificatePath = config.caCertPath ?? join(ca.dataDir, "ca.pem");
  const admin = config.adminListen === undefined ? adminApi : undefined;
  return {
    config, ca, caCertificatePath, challenge, challengeSource: source, server, log, admin, adminApi, stores, metrics, activity, crl, startRevocationSync, close: async () => {
      unobserve();
      syncSchedules ??= []; // a kit closed before it was in service never starts the sync
      await Promise.all(syncSchedules.map((s) => s.stop()));
      await Promise.all([...crlSchedules.values()].map((c) => c.stop()));
    }, profiles: summaries, profileCas,
  };
}

/**
 * The data directory's lock, naming this server's store: servers of one Redis store share it (replicas, README
 * "Several replicas, one Redis"); any other server is refused while one holds it. Throws a {@link ConfigError} (one
 * line) when a server of another store, or a file-backed one, holds it.
 */
function takeDataDirLock(config: ServerConfig): DataDirLock {
  return lockDataDir(config.dataDir, storeIdentity(config.redisUrl, config.redisKeyPrefix));
}

/** Listens, or throws a {@link ConfigError} (one line, no usage) when the address cannot be had. */
async function listen(server: Server | NetServer, config: { host: string; port: number }, names?: ListenOptionNames): Promise<void> {
  try {
    await new Promise<void>((ok, fail) => server.once("error", fail).listen(config.port, config.host, () => ok()));
  } catch (e) {
    throw new ConfigError(listenFailure(e, config.host, config.port, names), { showUsage: false });
  }
}

/**
 * An HTTP server with the configured timeouts and bounds, so a slow client cannot hold a connection forever and a
 * flood cannot grow memory without bound: headers, request, body and keep-alive timeouts, at most `maxConnections`
 * sockets and `maxInFlight` requests (then 503 + Retry-After), see {@link createLimitedHttpServer}. The operator probes are
 * not counted against `maxInFlight`.
 */
export function createHttpServer(config: ServerConfig, listener: RequestListener): Server {
  return createLimitedHttpServer({ ...config, exemptPaths: OPERATOR_PATHS }, listener);
}

function scepUrls(host: string, port: number, paths: readonly string[] = [SCEP_PATH]): string[] {
  const hosts =
    host === "0.0.0.0" || host === "::"
      ? Object.values(networkInterfaces()).flatMap((list) => (list ?? []).filter((a) => a.family === "IPv4").map((a) => a.address))
      : [host];
  return paths.flatMap((path) => hosts.map((h) => `http://${h.includes(":") ? `[${h}]` : h}:${port}${path}`));
}

/** What the banner shows: the kit's CA and challenge (or, in a cluster primary, the same read before forking). */
interface BannerFacts {
  ca: FileCa;
  caCertificatePath: string;
  challenge: string;
  challengeSource: ChallengeSource;
  /** The profiles' own CAs, by profile name. */
  profileCas?: Map<string, FileCa>;
}

/**
 * The banner's `shared state` without Redis (shared-stores.ts `memoryStores`): the revocations and CRL numbers are
 * files in the data directory, which every worker of `--workers N` reads and writes and a restart keeps; the rest is
 * in each process's memory (with N workers only the counters: `--pending` and one-time challenges need Redis then).
 */
function memoryStateLine(workers: number | undefined, intune: boolean): string {
  const files = "revocations and CRL numbers in the data directory";
  const caches = intune ? ", Intune replay caches and rate limits" : "";
  if (workers !== undefined) return `${files} (shared by the ${workers} workers, kept across restarts); counters${caches} in each worker's memory (no Redis)`;
  return `${files} (kept across restarts); PENDING transactions, one-time challenges, counters${caches} in this process's memory (lost on restart; no Redis)`;
}

function printBanner(name: string, config: ServerConfig, port: number, facts: BannerFacts, workers?: { worker: number; pid: number }[], adminPort?: number): void {
  const adminWhere = config.adminListen ? `http://${config.adminListen.host.includes(":") ? `[${config.adminListen.host}]` : config.adminListen.host}:${adminPort ?? config.adminListen.port}/admin/scep` : "/admin/scep";
  const settings = profileSettings(config);
  const urls = scepUrls(config.host, port, settings.map((p) => p.path));
  const fromFile = config.profiles !== undefined;
  // With a configuration file, one line per profile (its challenge and where its secret comes from, never the secret).
  const profileLines = settings.map((p) => {
    const own = facts.profileCas?.get(p.name);
    const label = `  profile ${p.name === p.path ? p.name : `${p.name} (${p.path})`}:`;
    return `${`${label} `.padEnd(19)}${describeProfile(p, config, challengeLine(facts.challenge, facts.challengeSource))}${own ? `; own CA ${own.subject} (SHA-256 ${own.fingerprintSha256})` : ""}`;
  });
  const intune = settings.some((p) => p.challenge.type.startsWith("intune"));
  const lines = [
    `SCEP server (${name}) listening on ${config.host}:${port}`,
    ...urls.map((u) => `  SCEP URL:        ${u}`),
    ...settings.flatMap((p) => (p.aliases ?? []).map((a) => `  also answers:    ${a === "/" ? "" : a}/pkiclient.exe, as ${p.name} (for clients given a URL without a path)`)),
    ...(fromFile
      ? [`  config file:     ${config.configFile} (${settings.length} profile${settings.length === 1 ? "" : "s"})`, ...profileLines]
      : [`  challenge:       ${config.oneTimeChallenges ? "one-time, issued by POST /admin/scep/challenges (valid one hour)" : challengeLine(facts.challenge, facts.challengeSource)}`]),
    `  CA:              ${facts.ca.subject}`,
    `  CA fingerprint:  SHA-256 ${facts.ca.fingerprintSha256}`,
    `  CA certificate:  ${facts.caCertificatePath}`,
    `  data directory:  ${facts.ca.dataDir}`,
    ...(fromFile ? [] : [`  issuing:         ${!config.pending ? "at once" : config.adminToken ? "PENDING until approved (POST /admin/scep/approve, or on the admin page)" : pendingWithoutAdmin(config)}, ${config.validityDays} days`]),
    `  shared state:    ${config.redisUrl === undefined ? memoryStateLine(workers?.length, intune) : `Redis ${redactRedisUrl(config.redisUrl)}, keys ${config.redisKeyPrefix}* (PENDING transactions, one-time challenges, counters, revocations${intune ? ", Intune replay caches and rate limits" : ""})`}`,
    `  CRL:             ${scepUrls(config.host, port, [CRL_PATH])[0] ?? CRL_PATH} (signed again after ${config.crlValidityHours / 2} h and after each revocation; a copy in ${join(facts.ca.dataDir, CRL_FILE)})`,
    `  metrics:         /metrics ${config.metricsToken ? "(Authorization: Bearer $SCEP_METRICS_TOKEN)" : "(open: set SCEP_METRICS_TOKEN to require a token)"}`,
    `  admin endpoint:  ${config.adminToken ? `enabled (Authorization: Bearer $SCEP_ADMIN_TOKEN; page at ${adminWhere})` : "disabled (set SCEP_ADMIN_TOKEN)"}`,
    ...(workers ? [`  workers:         ${workers.length} (pids ${workers.map((w) => w.pid).join(", ")}; primary ${process.pid})`] : []),
    `  private keys:    ${config.keyWorkers > 0 ? `${config.keyWorkers} key worker thread${config.keyWorkers === 1 ? "" : "s"}${workers ? " per worker" : ""} (decryptions and signatures; --key-workers)` : "on the event loop (--key-workers 0)"}`,
  ];
  // The banner is for people: stderr, so stdout carries JSON lines only (`pnpm -s start | jq` works).
  process.stderr.write(lines.join("\n") + "\n");
  log({
    type: "listening", framework: name, pid: process.pid, port, urls, fingerprintSha256: facts.ca.fingerprintSha256, caCertificate: facts.caCertificatePath, dataDir: facts.ca.dataDir,
    ...(fromFile ? { configFile: config.configFile, profiles: settings.map((p) => ({ name: p.name, path: p.path, challenge: p.challenge.type })) } : {}),
    ...(workers ? { workers } : {}),
    keyWorkers: config.keyWorkers,
    ...(config.adminListen ? { adminPort: adminPort ?? config.adminListen.port } : {}),
  });
}

/**
 * Starts an example: reads flags and environment, builds the kit, asks `build`
 * for the framework's request listener, listens, prints the banner, and stops
 * gracefully on SIGINT/SIGTERM (stop accepting, finish in-flight requests
 * within `--shutdown-timeout-ms`, then cut their connections; exit 0 once the
 * background work ended, at most {@link SHUTDOWN_GRACE_MS} later).
 * Configuration mistakes (a bad value, an encrypted CA key without its
 * passphrase, an EC CA, a port already in use, a data directory another
 * server with another store uses: `<data-dir>/server.lock`) print one line on stderr
 * (ending "(run with --help)" for a bad flag or value) and exit 2. Pass
 * `config` from `readConfig` to skip reading flags again. The banner goes to
 * stderr; stdout carries JSON lines only.
 *
 * With `--redis-url` the start waits up to `--redis-start-timeout` seconds
 * (default 30) for Redis to accept the first connection (redis-start-wait.ts):
 * the port is bound meanwhile and answers 503 + Retry-After "waiting for
 * Redis" (`/healthz` 200, `/readyz` 503); SIGINT/SIGTERM then exits 0 at once;
 * the timeout, or a failure retrying cannot fix (wrong password, NOAUTH, TLS
 * certificate), prints one line and exits 2.
 *
 * With `--workers N` (N > 1) this process becomes a node:cluster primary: it
 * creates the CA and the challenge, forks N workers (each runs the same
 * script, which calls this again and serves requests on the shared port),
 * prints the banner once all listen, restarts a worker that dies, and on
 * SIGINT/SIGTERM stops the workers gracefully and exits 0. It then resolves
 * undefined, as it does for `--help` and configuration mistakes.
 */
export async function startServer(
  name: string,
  build: (kit: ScepKit) => RequestListener,
  options: { argv?: readonly string[]; env?: Record<string, string | undefined>; config?: ServerConfig } = {},
): Promise<RunningServer | undefined> {
  let config: ServerConfig;
  let kit!: Awaited<ReturnType<typeof createKit>>;
  // What a SIGHUP does: until the reloader exists, nothing yet ("pending" once one came), then the reload. A SIGHUP
  // while starting (a cluster primary forwards one as soon as the worker listens) is kept and served once the
  // reloader exists, instead of Node's default action (exit) killing a starting server. Per call: a second
  // startServer in one process must not reload for the first one's signal.
  let hupAction: (() => void) | "pending" | undefined;
  // One SIGHUP listener for the whole life of this server, whose action changes once the reloader exists: removing a
  // process's last SIGHUP listener stops Node's signal watcher, and a signal that arrived but was not yet dispatched
  // is then dropped (a --workers primary forwards SIGHUP as soon as a worker listens; the worker lost it ~1 run in 5).
  const onHupSignal = (): void => void (typeof hupAction === "function" ? hupAction() : (hupAction = "pending"));
  try {
    const parsed = options.config ?? parseConfig(options.argv ?? process.argv.slice(2), options.env ?? process.env);
    if ("help" in parsed) return void console.log(usage(`${name}-server`));
    config = parsed;
    if (config.workers > 1 && cluster.isPrimary) {
      // The primary binds the port for its workers (round-robin): try it first, so a taken port is one line and exit 2.
      const probe = createNetServer();
      await listen(probe, config);
      await new Promise((done) => probe.close(done));
      // One server per data directory (its workers share it; replicas only through Redis): held until this primary exits.
      const lock = takeDataDirLock(config);
      process.once("exit", () => lock.release());
      // Created here, before forking, so the workers only ever read them.
      const ca = await openCa(config, { primary: true });
      const profileCas = await openProfileCas(config, options.env ?? process.env);
      const { challenge, source } = usesDefaultChallenge(profileSettings(config)) ? await loadChallenge(config, ca.dataDir) : { challenge: "", source: { kind: "given" } as ChallengeSource };
      const facts: BannerFacts = { ca, challenge, challengeSource: source, caCertificatePath: config.caCertPath ?? join(ca.dataDir, "ca.pem"), profileCas };
      const primaryConfig = config;
      runClusterPrimary({
        program: `${name}-server`,
        workers: config.workers,
        args: options.argv ?? process.argv.slice(2),
        ...(options.env ? { env: options.env } : {}),
        shutdownTimeoutMs: config.shutdownTimeoutMs,
        log,
        onListening: (port, workers) => printBanner(name, primaryConfig, port, facts, workers),
        // A challenge generated for a start that failed was never shown: removed, the next start generates and shows one.
        // Best effort: the primary exits with the start's own error either way.
        onStartFailed: () => {
          try {
            if (source.kind === "generated") rmSync(source.file, { force: true });
          } catch {
            /* the line that failed the start is already printed */
          }
        },
      });
      return undefined;
    }
  } catch (e) {
    if (!isConfigurationError(e)) throw e;
    console.error(configErrorLine(`${name}-server`, e));
    process.exitCode = 2;
    return undefined;
  }
  process.on("SIGHUP", onHupSignal);
  // The listeners are bound before the kit is made: a port that cannot be had is one line and exit 2 before any file
  // (CA, challenge) is created, so a failed start leaves nothing behind and the next start still announces the
  // challenge it generates. A request that arrives while the kit is being made (health probes included) is answered
  // 503 + Retry-After at once: it never waits on a start that may fail. The kit is ready once `listener` is not this.
  // While the kit waits for Redis (redis-start-wait.ts: Redis not up yet) the process is alive but not ready: /healthz
  // 200, /readyz and every other request 503 + Retry-After "waiting for Redis".
  let waitingForRedis = false;
  const starting: RequestListener = (req, res) => {
    if (waitingForRedis) return answerNotReadyYet(req, res, rawPath(req.url ?? "/"), "waiting for Redis", { redis: "down" });
    void res.writeHead(503, { "content-type": "text/plain; charset=utf-8", "retry-after": "1" }).end("starting\n");
  };
  let listener: RequestListener = starting;
  const http = createHttpServer(config, (req, res) => listener(req, res));
  let stopping: Promise<void> | undefined;
  // During shutdown: new responses close their connection, and connections that finish a response are closed.
  http.prependListener("request", (_req, res) => {
    if (stopping) res.setHeader("connection", "close");
    res.once("finish", () => void (stopping && setImmediate(() => http.closeIdleConnections())));
  });
  // --admin-listen: the admin API and page on their own listener (loopback by default), nothing else there.
  let adminHttp: Server | undefined;
  if (config.adminListen && config.adminToken) {
    const serveAdmin: RequestListener = (req, res) => {
      const adminApi = kit.adminApi; // the kit in service: a reload replaces it
      if (adminApi?.owns(rawPath(req.url ?? "/"))) serveFetch((r, meta) => adminApi.fetch(r, meta), req, res, (error) => internalError(res, { error, where: "admin", log }), ADMIN_API_ALLOW);
      else res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found\n");
    };
    adminHttp = createHttpServer(config, (req, res) => (listener === starting ? starting : serveAdmin)(req, res));
  }
  // A start that fails: no more SIGHUP handling, the listeners closed, and every connection too (a client without a
  // timeout on a keep-alive connection would keep the process alive).
  const abortStart = (): void => {
    process.off("SIGHUP", onHupSignal);
    for (const s of [http, adminHttp]) {
      if (s?.listening) s.close();
      s?.closeAllConnections();
    }
  };
  // A cluster worker makes its kit first: its primary created the files before forking, and counts a worker that
  // exits before listening as a failed start.
  // SIGINT/SIGTERM while waiting for Redis: the wait ends at once (the attempt in progress disconnected), the listeners
  // close and the process exits 0. Listened to only during the wait: elsewhere in the start a signal acts as before.
  const startAbort = new AbortController();
  const onWaitSignal = (signal: NodeJS.Signals): void => {
    if (startAbort.signal.aborted) return;
    if (workerSlot === undefined) log({ type: "shutdown", signal });
    startAbort.abort(new Error(`stopped by ${signal} while waiting for Redis`));
  };
  const onWaiting = (waiting: boolean): void => {
    waitingForRedis = waiting;
    if (waiting) process.on("SIGINT", onWaitSignal).on("SIGTERM", onWaitSignal);
    // Kept once a signal came: a second one must not kill the process with Node's default action before it exits 0.
    else if (!startAbort.signal.aborted) process.off("SIGINT", onWaitSignal).off("SIGTERM", onWaitSignal);
  };
  const makeKit = async (): Promise<boolean> => {
    try {
      kit = await createKit(config, undefined, options.env ?? process.env, { signal: startAbort.signal, onWaiting });
    } catch (e) {
      abortStart();
      if (startAbort.signal.aborted) {
        if (workerSlot === undefined) log({ type: "stopped" });
        process.exit(0);
      }
      if (!isConfigurationError(e)) throw e;
      const line = configErrorLine(`${name}-server`, e);
      // A worker tells its primary, which prints the first such line once for all workers and exits 2 (a worker that
      // only returned would stay alive on its IPC channel, and its primary would wait for it forever).
      if (workerSlot !== undefined && process.send) {
        process.send({ type: LISTEN_FAILED_MESSAGE, message: line.slice(`${name}-server: `.length) }, () => process.exit(2));
        return false;
      }
      console.error(line);
      process.exitCode = 2;
      return false;
    }
    return true;
  };
  if (workerSlot !== undefined && !(await makeKit())) return undefined;
  // A worker answers its primary's metrics collections (the kit's metrics are kept across reloads) from now on,
  // before it listens: the primary asks every listening worker when any of them is scraped.
  const stopAnsweringMetrics = workerSlot !== undefined ? answerMetricsCollection(() => kit.metrics) : () => undefined;
  const adminNames: ListenOptionNames = { host: "--admin-listen or SCEP_ADMIN_LISTEN", port: "--admin-listen or SCEP_ADMIN_LISTEN" };
  for (const [server, address, prefix, names] of [[http, config, "", undefined], [adminHttp, { ...config, ...config.adminListen }, "--admin-listen: ", adminNames]] as const) {
    if (!server) continue;
    try {
      await listen(server, address, names);
    } catch (e) {
      abortStart();
      if (!(e instanceof ConfigError)) throw e;
      // A worker tells its primary, which prints the first such line once for all workers.
      if (workerSlot !== undefined && process.send) return void process.send({ type: LISTEN_FAILED_MESSAGE, message: `${prefix}${e.message}` }, () => process.exit(2));
      console.error(`${name}-server: ${prefix}${e.message}`);
      process.exitCode = 2;
      return undefined;
    }
  }
  // One server per data directory (see data-dir-lock.ts): taken once the port is ours, before any file is created;
  // released when this server stops or the process exits. A worker's primary holds it.
  let lock: DataDirLock | undefined;
  if (workerSlot === undefined) {
    try {
      lock = takeDataDirLock(config);
    } catch (e) {
      abortStart();
      if (!(e instanceof ConfigError)) throw e;
      console.error(configErrorLine(`${name}-server`, e));
      process.exitCode = 2;
      return undefined;
    }
  }
  const releaseLock = (): void => lock?.release();
  process.once("exit", releaseLock);
  if (workerSlot === undefined && !(await makeKit())) {
    releaseLock();
    process.off("exit", releaseLock);
    return undefined;
  }
  // /healthz, /readyz and /metrics are answered before the framework (cheap, and the same for every example).
  // `kit` is the one in service: a reload (SIGHUP) replaces it and the listener; the HTTP server stays.
  // Every CA in service (the server's and the profiles' own) must be within its validity: one date comparison each.
  const caValid = (): boolean => Date.now() < kit.ca.notAfter.getTime() && [...kit.profileCas.values()].every((c) => Date.now() < c.notAfter.getTime());
  const readiness = { ca: caValid, ...(config.redisUrl !== undefined ? { redis: () => kit.stores.ready() } : {}) };
  // In a worker of --workers N, /metrics shows the whole server's numbers, merged by the primary (cluster-metrics.ts).
  const clusterMetrics = workerSlot !== undefined;
  const listenerFor = (k: ScepKit): RequestListener => withOperatorEndpoints(build(k), { readiness, metricsToken: k.config.metricsToken, clusterMetrics }, k.metrics);
  listener = listenerFor(kit);
  const port = (http.address() as AddressInfo).port;
  const urls = scepUrls(config.host, port, kit.profiles.map((p) => p.path));
  const adminPort = adminHttp ? (adminHttp.address() as AddressInfo).port : undefined;
  // Kits a reload replaced or built and then refused: closing (their CRL being written), awaited by stop().
  const retiring = new Set<Promise<void>>();
  const retire = (k: ScepKit): void => {
    const closing = k.close().catch(() => undefined);
    retiring.add(closing);
    void closing.finally(() => retiring.delete(closing));
  };
  const stop = (): Promise<void> =>
    (stopping ??= new Promise<void>((done) => {
      // The stores close after the CRL being written (it reads the revocation store) is on disk: the kit's, and those
      // of kits a reload (one still running when stop() came, which is then refused) retired.
      const closed = kit.close();
      adminHttp?.close();
      adminHttp?.closeAllConnections();
      const retired = async (): Promise<void> => {
        await closed;
        await reloader.idle();
        await Promise.all(retiring);
      };
      http.close(() => void retired().then(() => kit.stores.close()).finally(() => {
        releaseLock();
        done();
      }));
      http.closeIdleConnections();
      setTimeout(() => http.closeAllConnections(), config.shutdownTimeoutMs).unref();
    }));
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    // Only the first signal counts. A worker hears both the signal (sent to the process group) and its
    // primary; an impatient operator presses Ctrl-C twice. Shutdown is bounded by --shutdown-timeout-ms either way.
    if (signalled) return void (workerSlot === undefined && log({ type: "shutdown", signal, repeated: true }));
    signalled = true;
    const stopped = stop(); // the listener is closed now: "shutdown" means no new connections
    // A worker's shutdown is reported by its primary ("shutdown", "worker-exit", "stopped").
    if (workerSlot === undefined) log({ type: "shutdown", signal });
    void stopped.then(() => {
      if (workerSlot === undefined) log({ type: "stopped" });
      process.exit(0);
    });
    // stop() cuts the connections at --shutdown-timeout-ms, then waits for the kit's background work: a CRL being
    // signed, which waits up to 10 s for each lock another process of the data directory holds (ca.crl.lock,
    // crl-numbers.lock), a reload, and what an Intune revocation sync round that shutdown aborted left running (a
    // revoke under revocations.jsonl.lock; the round's calls to Intune end with its signal). A process manager's
    // SIGTERM must end the process in bounded time: whatever still runs SHUTDOWN_GRACE_MS later is abandoned (the CRL
    // is published by rename and a revocation stored before Intune is told, so an exit cuts neither in half; the data
    // directory's lock is released on exit). start-server.shutdown-background-work.test.ts holds ca.crl.lock to show it.
    setTimeout(() => {
      if (workerSlot === undefined) log({ type: "stopped", abandoned: SHUTDOWN_ABANDONED });
      process.exit(0);
    }, config.shutdownTimeoutMs + SHUTDOWN_GRACE_MS).unref();
  };
  // `on`, not `once`: a repeated signal must find a listener (else Node's default action would kill the process mid-shutdown).
  process.on("SIGINT", onSignal).on("SIGTERM", onSignal);
  // The banner and listening line only now: whoever reads them may signal at once, and a SIGTERM that comes before
  // a listener is registered kills the process with Node's default action. A cluster worker stays quiet: its
  // primary prints the banner once for all.
  if (workerSlot === undefined) printBanner(name, config, port, kit, undefined, adminPort);
  // Configuration that works but not for every client (ProfileInfo.warnings: RA keyUsage, a GetCACert set in which
  // Apple's client finds no RA or a pinned root matches nothing; a static challenge Windows cannot send), one stderr line each: by the server, or by worker 1
  // of --workers N (the others run the same kit). At start, and again after every reload that put a new kit in
  // service: a CA bundle swapped in by SIGHUP is as unusable for Apple's client as one read at start.
  const printProfileWarnings = (k: ScepKit): void => {
    if (workerSlot !== undefined && workerSlot !== 1) return;
    for (const warning of k.server.profiles().flatMap((p) => p.warnings ?? [])) process.stderr.write(`${name}-server: warning: ${warning}\n`);
  };
  printProfileWarnings(kit);

  // SIGHUP: configuration, CA material and trust anchors are read again and swapped in whole, or not at all.
  // Requests already running finish with the kit they started on; connections stay open.
  const running = config;
  // A reload that stop() overtakes is refused, at its start or when it would apply: its kit is closed, not put in service.
  const refuseWhileStopping = (): void => {
    if (stopping) throw new Error("the server is stopping");
  };
  const reloader = createReloader({
    load: async () => {
      refuseWhileStopping();
      const parsed = parseConfig(options.argv ?? process.argv.slice(2), options.env ?? process.env);
      if ("help" in parsed) throw new ConfigError("--help is not a configuration");
      const { config: next, restartNeeded } = keepRestartOnly(running, parsed);
      const nextKit = await createKit(next, { stores: kit.stores, metrics: kit.metrics, activity: kit.activity }, options.env ?? process.env);
      try {
        return { kit: nextKit, listener: listenerFor(nextKit), restartNeeded };
      } catch (e) {
        retire(nextKit);
        throw e;
      }
    },
    apply: (next) => {
      refuseWhileStopping();
      const old = kit;
      kit = next.kit;
      listener = next.listener;
      retire(old);
      kit.startRevocationSync();
    },
    applied: (next) => printProfileWarnings(next.kit),
    discard: (next) => retire(next.kit),
    describe: (next) => ({
      ca: next.kit.ca.subject,
      fingerprintSha256: next.kit.ca.fingerprintSha256,
      nextCa: next.kit.config.nextCaCertPath !== undefined,
      ...(next.restartNeeded.length > 0 ? { restartNeeded: next.restartNeeded } : {}),
    }),
    log,
  });
  const onHup = (): void => void (stopping ? undefined : reloader.reload("SIGHUP"));
  const hupWhileStarting = hupAction === "pending";
  hupAction = onHup;
  if (hupWhileStarting) onHup();
  const onMessage = (m: unknown): void => void (m === SHUTDOWN_MESSAGE && onSignal("SIGTERM"));
  if (workerSlot !== undefined) process.on("message", onMessage);
  // In service now (listening, kit made, handlers set): a start that failed above never ran a revocation sync round.
  kit.startRevocationSync();
  return {
    get kit() {
      return kit;
    },
    http,
    urls,
    // Stopped by its caller (not by a signal, which exits): the process goes on, without this server's handlers.
    stop: () => stop().then(() => void (stopAnsweringMetrics(), process.off("SIGINT", onSignal).off("SIGTERM", onSignal).off("SIGHUP", onHupSignal).off("message", onMessage).off("exit", releaseLock))),
    reload: () => reloader.reload("api"),
  };
}
