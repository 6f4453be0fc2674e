// The example servers' configuration: flags override environment variables, which override defaults.
import { availableParallelism } from "node:os";
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { keyPrefixProblem } from "@scep/redis";
import { redactUrlsInText } from "@scep/core";
import { parseFlags } from "./flags.js";
import { loadConfig, type ProfileSettings } from "./config-file.js";

/**
 * The default data directory: `.scep-data` at the repository root, whichever
 * example runs and from whichever directory, so the Express and Hono examples
 * share one CA and one challenge.
 */
export const DEFAULT_DATA_DIR = fileURLToPath(new URL("../../../.scep-data", import.meta.url));

/** Everything the example servers can be told. */
export interface ServerConfig {
  port: number;
  host: string;
  /** Absolute (relative paths are resolved against the invoking directory, see {@link invokingDirectory}). */
  dataDir: string;
  /** Given challenge; undefined: generated on first start and kept in `<dataDir>/challenge`. */
  challenge: string | undefined;
  /** Absolute path of an existing CA's certificate (PEM; may hold the chain: issuing CA first). */
  caCertPath: string | undefined;
  /** Absolute path of its private key. */
  caKeyPath: string | undefined;
  /** Absolute path of the next CA's certificate (PEM) for GetNextCACert during a rollover; re-read on SIGHUP. */
  nextCaCertPath: string | undefined;
  /** What named `nextCaCertPath`, for its errors: `--next-ca-cert` or `SCEP_NEXT_CA_CERT` (undefined: both are named). */
  nextCaCertFrom?: string;
  /** Passphrase of an encrypted `caKeyPath`, from `SCEP_CA_KEY_PASSPHRASE` (env only: never a flag). */
  caKeyPassphrase: string | undefined;
  /** Absolute path of a file holding that passphrase (`SCEP_CA_KEY_PASSPHRASE_FILE`; one trailing newline is dropped). */
  caKeyPassphraseFile: string | undefined;
  /** Issued certificates (and a CA created on first start) start this many seconds before now (clock skew). */
  backdateSeconds: number;
  validityDays: number;
  pending: boolean;
  /** Also write `certs/<serial>.pem` for each issued certificate (the index always holds them). */
  certFiles: boolean;
  maxBodyBytes: number;
  /** Enables `POST /admin/{approve,reject}/:tid` (env only: a secret does not belong on the command line). */
  adminToken: string | undefined;
  /** Bearer token `GET /metrics` requires (env only); undefined: `/metrics` is open. */
  metricsToken: string | undefined;
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** A request body must be complete this long after its headers (trickled or stalled bodies: 408, connection closed). */
  bodyTimeoutMs: number;
  /** Most requests in flight at once; beyond it 503 + Retry-After (probes excepted). */
  maxInFlight: number;
  /** Most open connections (above it a new socket is closed at once). */
  maxConnections: number;
  /** Retry-After (seconds) of the 503 beyond `maxInFlight`. */
  retryAfterSeconds: number;
  shutdownTimeoutMs: number;
  /** Processes serving requests (node:cluster); 1: the server runs in this process, no cluster. */
  workers: number;
  /** Worker threads per process that run the CA keys' private-key operations, RSA decryptions and signatures (a KeyWorkerPool); 0: on the event loop. */
  keyWorkers: number;
  /** Redis URL: PENDING transactions, one-time challenges and request counters live there (shared by replicas). */
  redisUrl: string | undefined;
  /**
   * Prefix of every Redis key the server writes (`--redis-key-prefix` / `SCEP_REDIS_KEY_PREFIX`, default
   * {@link DEFAULT_REDIS_KEY_PREFIX}): one per deployment sharing a Redis db. No `{` or `}` (as @scep/redis requires).
   */
  redisKeyPrefix: string;
  /**
   * Seconds the first Redis connection is retried while Redis is not up yet (`--redis-start-timeout` /
   * `SCEP_REDIS_START_TIMEOUT`, default 30; 0: fail at once). See redis-start-wait.ts.
   */
  redisStartTimeoutSeconds: number;
  /** Clients send one-time challenges issued by `POST /admin/challenges` instead of the static one. */
  oneTimeChallenges: boolean;
  /** URL issued certificates name as their CRL distribution point (undefined: none). */
  crlUrl: string | undefined;
  /** nextUpdate − thisUpdate of the CRL, in hours. */
  crlValidityHours: number;
  /** Serve the admin API and page on their own listener (e.g. loopback) instead of the SCEP one. */
  adminListen: { host: string; port: number } | undefined;
  /** Absolute path of the configuration file (`--config` / `SCEP_CONFIG`); undefined: one profile at `/scep` from flags and environment. */
  configFile?: string | undefined;
  /** The configuration file's profiles (read by {@link loadConfig}); undefined without one. */
  profiles?: ProfileSettings[] | undefined;
}

export { ConfigError } from "./errors.js";
import { ConfigError } from "./errors.js";
import { hostProblem } from "./listen-failure.js";

/** The prefix of the example server's Redis keys unless `--redis-key-prefix` gives another (the one earlier versions used). */
export const DEFAULT_REDIS_KEY_PREFIX = "scep:";

/** Seconds a start waits for Redis unless `--redis-start-timeout` says otherwise. */
export const DEFAULT_REDIS_START_TIMEOUT_SECONDS = 30;
/** Most seconds `--redis-start-timeout` accepts (an hour). */
export const MAX_REDIS_START_TIMEOUT_SECONDS = 3600;

/**
 * Most milliseconds `--shutdown-timeout-ms` accepts (a day). Its timers must stay within setTimeout's 2^31 − 1 ms: a
 * longer delay fires after 1 ms, which cut every in-flight request at once on SIGTERM and had a `--workers` primary
 * SIGKILL its workers at once.
 */
export const MAX_SHUTDOWN_TIMEOUT_MS = 86_400_000;

/** Most worker processes `--workers` accepts. */
export const MAX_WORKERS = 64;

/**
 * flag, environment variable, default, meaning (Markdown: `--help` drops the
 * backticks and keeps a link's text). The root README's configuration table
 * is this list, row for row (test/config.test.ts checks it).
 */
export const SETTINGS = [
  ["--port", "PORT", "8080", "TCP port to listen on (0: any free port; the startup line tells which)"],
  ["--host", "HOST", "0.0.0.0", "address to bind (127.0.0.1 for loopback only)"],
  ["--data-dir", "SCEP_DATA_DIR", "<repo>/.scep-data", "CA files, the index (`index.jsonl`, which holds every issued certificate; `certs/` only with `--cert-files`) and the generated challenge; one server at a time (`<data-dir>/server.lock` holds its pid and store: a second start exits 2 naming it, a lock left by a killed server is taken over, also when its pid now names another process: on Linux the lock names the process's start time too), unless the servers share one Redis (same `--redis-url` host, port and db): replicas share it, and a server without that Redis is refused while one runs; `--workers` share their primary's. The lock guards one machine: a holder on another host name counts as gone, so containers that mount one volume must each have their own host name (Docker and Kubernetes give one by default) and file-backed servers must not share a directory across machines (use Redis for replicas)"],
  ["--challenge", "SCEP_CHALLENGE", "(generated)", "challenge password clients must send (never printed; prefer the variable, a flag shows in `ps`); default: 32 random hex digits generated on first start, stored in `<data-dir>/challenge` (mode 0600), printed once on that start and reused. Windows devices send it as a PrintableString: keep to `A-Z a-z 0-9`, space and `' ( ) + , - . / : = ?` (the server warns at start otherwise)"],
  ["--ca-cert", "SCEP_CA_CERT", "(generated)", "PEM certificate of an existing CA (with `--ca-key`; a DER one is refused: convert it with `openssl x509 -inform der`), or a bundle of it and the certificates above it (issuing CA, then root: GetCACert then serves the chain, or the CA alone when its keyUsage lacks digitalSignature or keyEncipherment, which Apple's client needs in a chain); default: `<data-dir>/ca.pem`, created on first start"],
  ["--ca-key", "SCEP_CA_KEY", "(generated)", "its private key, PEM or DER (told apart by the file's bytes): RSA (the CA also decrypts requests; an EC key is refused, exit 2), PKCS#1 or PKCS#8, possibly encrypted (see `SCEP_CA_KEY_PASSPHRASE`)"],
  ["--next-ca-cert", "SCEP_NEXT_CA_CERT", "(unset)", "PEM file of the next CA certificate (then any RA certificates for it), announced by GetNextCACert (RFC 8894 §4.7) during a CA rollover; re-read on `SIGHUP`"],
  ["", "SCEP_CA_KEY_PASSPHRASE", "(unset)", "passphrase of an encrypted `--ca-key` (PKCS#8 PEM or DER, or legacy `Proc-Type: 4,ENCRYPTED` PEM); without one an encrypted key is tried with the empty passphrase, so micromdm's depot `ca.key` loads as it is"],
  ["", "SCEP_CA_KEY_PASSPHRASE_FILE", "(unset)", "a file holding that passphrase (one trailing newline ignored); not with `SCEP_CA_KEY_PASSPHRASE`"],
  ["--backdate-seconds", "SCEP_BACKDATE_SECONDS", "300", "issued certificates (and a CA created on first start) start this long before now, so a device whose clock is a little slow does not see \"not yet valid\"; never before the CA's own notBefore; the lifetime still runs `--validity-days` from now"],
  ["--validity-days", "SCEP_VALIDITY_DAYS", "365", "lifetime of issued certificates (the CSR policy's maximum; never past the CA's notAfter)"],
  ["--pending", "SCEP_PENDING", "false", "answer new enrollments PENDING until an operator approves them through the admin API (renewals are issued at once): set `SCEP_ADMIN_TOKEN`, or share `--redis-url` with a replica that has it; without either the banner warns that nothing here can approve"],
  ["--cert-files", "SCEP_CERT_FILES", "false", "also write each issued certificate to `<data-dir>/certs/<serial>.pem` (`index.jsonl` always holds them; a file per certificate costs ~0.5 ms a request)"],
  ["--max-body", "SCEP_MAX_BODY", "65536", "largest PKIOperation body in bytes (larger: HTTP 413)"],
  ["", "SCEP_ADMIN_TOKEN", "(unset)", "at least 16 characters, visible ASCII (no spaces); enables the admin API under `/admin/scep/` (profiles, activity, pending, approve, reject, challenges, certificates, revoke, reload-trust, stats: see [Admin API](#admin-api)) with `Authorization: Bearer <token>`, and the admin page at `/admin/scep`"],
  ["", "SCEP_METRICS_TOKEN", "(unset)", "at least 16 characters, visible ASCII (no spaces); `GET /metrics` (Prometheus text) then needs `Authorization: Bearer <token>` (401 without, 403 wrong); unset, it is open. `/healthz` and `/readyz` are always open"],
  ["--request-timeout-ms", "SCEP_REQUEST_TIMEOUT_MS", "30000", "whole request must arrive within this"],
  ["--headers-timeout-ms", "SCEP_HEADERS_TIMEOUT_MS", "10000", "headers must arrive within this (slow-loris guard)"],
  ["--keep-alive-timeout-ms", "SCEP_KEEP_ALIVE_TIMEOUT_MS", "5000", "idle keep-alive connections are closed after this"],
  ["--body-timeout-ms", "SCEP_BODY_TIMEOUT_MS", "10000", "a request body must be complete this long after its headers (a client that trickles or stops mid-body gets 408 and its connection is closed); at most the request timeout, and the request timeout when that is shorter than 10000"],
  ["--max-in-flight", "SCEP_MAX_IN_FLIGHT", "512", "requests handled at once (per process); one more is answered 503 with `Retry-After` before its body is read, so memory stays bounded (`/healthz`, `/readyz`, `/metrics` not counted)"],
  ["--max-connections", "SCEP_MAX_CONNECTIONS", "4096", "open connections (per process); above it a new connection is closed at once (keep it below the open-files limit, `ulimit -n`)"],
  ["--retry-after-seconds", "SCEP_RETRY_AFTER_SECONDS", "1", "the `Retry-After` of that 503"],
  ["--shutdown-timeout-ms", "SCEP_SHUTDOWN_TIMEOUT_MS", "10000", "on SIGINT/SIGTERM, in-flight requests get this long before connections are cut"],
  ["--workers", "SCEP_WORKERS", "1", "processes serving requests on the one port (`node:cluster`; `auto`: one per CPU, the most enrollments per second, see docs/performance.md); a worker that dies is restarted; `/metrics` shows the whole server's totals (the primary merges every worker's); with `--pending` or `--one-time-challenges` only together with `--redis-url`"],
  ["--key-workers", "SCEP_KEY_WORKERS", "auto", "threads per process that decrypt requests' content keys with the CA key (RSA; a `KeyWorkerPool`) and sign with it (certificates, CertReps, CRLs), so the event loop keeps parsing meanwhile; `auto`: 2 in each process (1 on a 1-core machine), and none when `--workers` takes every core; `0`: every private-key operation (decryptions and signatures) on the event loop, which costs the least CPU per enrollment"],
  ["--redis-url", "SCEP_REDIS_URL", "(unset)", "keep PENDING transactions, one-time challenges, revocations, CRL numbers and request counters in Redis (`redis://[user:password@]host:port[/db]`, `rediss://` for TLS), so several processes or machines share them (see [Several replicas](#several-replicas-one-redis)); every enrollment, renewal and CRL request then needs Redis (503 while it is down), and revocations live only there: run Redis with `appendonly yes`; prefer the variable when the URL holds a password (the server never prints it, but `pnpm start`'s own banner echoes the flags)"],
  ["--redis-key-prefix", "SCEP_REDIS_KEY_PREFIX", "scep:", "prefix of every Redis key the server writes (PENDING transactions, one-time challenges, revocations, CRL numbers, counters, Intune caches): give each deployment sharing one Redis db its own (staging and production, two CAs), its replicas the same one. At start the server claims the prefix for the SHA-256 fingerprints of the CA certificates it serves (`<prefix>ca-fingerprints`) and exits 2 when another CA holds it (see [Several replicas](#several-replicas-one-redis)); no `{` or `}`; only with `--redis-url`"],
  ["--redis-start-timeout", "SCEP_REDIS_START_TIMEOUT", "30", "seconds a start waits for Redis to accept its first connection (docker compose and systemd often start the server first): tried again after 250 ms, doubling to every 2 s, with a `redis-waiting` line at most every 5 s; meanwhile the port answers 503 with `Retry-After` (\"waiting for Redis\"), `/healthz` 200 and `/readyz` 503; then exit 2. A wrong password, NOAUTH or a TLS certificate error exits 2 at once; `0`: no wait (from 0 to 3600; ignored without `--redis-url`)"],
  ["--config", "SCEP_CONFIG", "(unset)", "JSON file with several profiles, each with its path, CA, challenge (static, one-time or Intune) and Intune settings (see [Configuration file](#configuration-file-several-profiles) and `examples/server-kit/config.schema.json`); the flags above stay server-wide, and `--challenge`, `--pending` and `--validity-days` become the profiles' defaults"],
  ["--one-time-challenges", "SCEP_ONE_TIME_CHALLENGES", "false", "clients must send a one-time challenge from `POST /admin/scep/challenges` (valid one hour, consumed on use) instead of the static one; needs `SCEP_ADMIN_TOKEN`"],
  ["--admin-listen", "SCEP_ADMIN_LISTEN", "(unset)", "`[host:]port` (host default 127.0.0.1): serve the admin API and page on this address only, not on the SCEP port (e.g. `127.0.0.1:9090`, loopback only); needs `SCEP_ADMIN_TOKEN`"],
  ["--crl-url", "SCEP_CRL_URL", "(unset)", "an `http://` or `https://` URL issued certificates name as their CRL distribution point: where clients reach this server's `GET /scep/ca.crl` (see [Revocation and the CRL](#revocation-and-the-crl))"],
  ["--crl-validity-hours", "SCEP_CRL_VALIDITY_HOURS", "24", "the CRL's nextUpdate is this long after its thisUpdate; it is signed again after half of it, and at once after a revocation"],
] as const;

/** `--help` text. */
export function usage(program: string): string {
  const plain = (markdown: string): string => markdown.replace(/\[([^\]]*)\]\([^)]*\)/g, "$1").replaceAll("`", "");
  const rows = SETTINGS.map(([flag, env, def, meaning]) => `  ${(flag || "(env only)").padEnd(24)} ${env.padEnd(27)} ${def.padEnd(17)} ${plain(meaning)}`);
  return [
    `usage: ${program} [options]   (flags override environment variables)`,
    `       pnpm start --port 9000   (or pnpm start -- --port 9000; pnpm start:hono … for Hono)`,
    "",
    `  relative paths are resolved against the directory you ran the command from`,
    `  <repo>/.scep-data: ${DEFAULT_DATA_DIR}`,
    "",
    `  ${"flag".padEnd(24)} ${"environment".padEnd(27)} ${"default".padEnd(17)} meaning`,
    ...rows,
  ].join("\n");
}

/**
 * The one line a configuration mistake prints on stderr:
 * `express-server: unknown option '--bogus' (run with --help)`.
 */
export function configErrorLine(program: string, error: Error): string {
  return `${program}: ${error.message}${error instanceof ConfigError && error.showUsage ? " (run with --help)" : ""}`;
}

/**
 * Reads and checks flags and environment before anything heavy is loaded,
 * so a mistake shows at once: prints the usage for `--help`, or one line on
 * stderr and sets exit code 2 for a {@link ConfigError}; then returns
 * undefined. The example servers call this first and import their framework
 * and @scep/core only with a configuration in hand.
 */
export function readConfig(program: string, argv: readonly string[] = process.argv.slice(2), env: Readonly<Record<string, string | undefined>> = process.env): ServerConfig | undefined {
  try {
    const parsed = parseConfig(argv, env);
    if (!("help" in parsed)) return parsed;
    console.log(usage(program));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(configErrorLine(program, e));
    process.exitCode = 2;
  }
  return undefined;
}

/**
 * The directory the user ran the command from: pnpm and npm run scripts in
 * the package's directory and pass the invoking one as `INIT_CWD`; without
 * it, the process's working directory.
 */
export function invokingDirectory(env: Readonly<Record<string, string | undefined>>, cwd: string = process.cwd()): string {
  const init = env.INIT_CWD;
  return init && isAbsolute(init) ? init : cwd;
}

function integer(name: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < min || Number(value) > max) throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return Number(value);
}

const TRUE_WORDS = ["1", "true", "yes", "on"];
const FALSE_WORDS = ["0", "false", "no", "off"];

/** A boolean environment variable: the words below in any case, or empty (unset); the error lists exactly those. */
function boolean(name: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (TRUE_WORDS.includes(v)) return true;
  if (v === "" || FALSE_WORDS.includes(v)) return false;
  throw new ConfigError(`${name} must be one of ${[...TRUE_WORDS, ...FALSE_WORDS].join(", ")} (any case) or empty, got ${JSON.stringify(value)}`);
}

function redisUrl([name, value]: [string, string | undefined]): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name} must be a redis:// or rediss:// URL`);
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") throw new ConfigError(`${name} must be a redis:// or rediss:// URL, got a ${url.protocol} URL`);
  return value;
}

/**
 * `--redis-key-prefix`/`SCEP_REDIS_KEY_PREFIX`, checked as @scep/redis checks a store's `keyPrefix` (no `{` or `}`:
 * the stores put Redis Cluster hash tags after it), so a bad one is one line here, not a stack at the first store.
 */
function redisKeyPrefix(name: string, value: string, url: string | undefined): string {
  const problem = keyPrefixProblem(value);
  if (problem) throw new ConfigError(`${name} ${problem}, got ${JSON.stringify(value)}`);
  if (url === undefined) throw new ConfigError(`${name} needs --redis-url or SCEP_REDIS_URL: without Redis nothing is stored under a key prefix`, { showUsage: false });
  return value;
}

/** `--host`/`HOST`, checked up front: `localhost:8080` or `[::1]` is one line naming the mistake, not a failed listen. */
function listenHost([name, value]: [string, string | undefined]): string | undefined {
  if (value === undefined) return undefined;
  const problem = hostProblem(value);
  if (problem) throw new ConfigError(`${name} ${problem}`);
  return value;
}

function listenAddress([name, value]: [string, string | undefined]): { host: string; port: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^(?:(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(value.trim());
  if (!m || Number(m[2]) > 65535) throw new ConfigError(`${name} must be [host:]port (e.g. 127.0.0.1:9090), got ${JSON.stringify(value)}`);
  return { host: m[1] === undefined ? "127.0.0.1" : m[1].replace(/^\[|\]$/g, ""), port: Number(m[2]) };
}

function httpUrl([name, value]: [string, string | undefined]): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name} must be an http:// or https:// URL, got ${JSON.stringify(redactUrlsInText(value))}`);
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || /\s/.test(value)) throw new ConfigError(`${name} must be an http:// or https:// URL, got ${JSON.stringify(redactUrlsInText(value))}`);
  return value;
}

function workers([name, value]: [string, string | undefined]): number {
  if (value === undefined) return 1;
  if (value.trim().toLowerCase() === "auto") return Math.min(MAX_WORKERS, availableParallelism());
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1 || Number(value) > MAX_WORKERS) throw new ConfigError(`${name} must be an integer from 1 to ${MAX_WORKERS} or auto, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** Most key worker threads `--key-workers` accepts (per process). */
export const MAX_KEY_WORKERS = 64;

function keyWorkers([name, value]: [string, string | undefined], processes: number): number {
  // auto: the private-key work (decryptions and signatures) off the event loop unless every core has its own process.
  // Two threads, not one per free core: a process's threads run all its RSA work, so one thread caps it at one core's
  // worth of private-key operations. Measured on 2 cores, one process, quiet machine (bench:server): RSA-2048 CA 236,
  // 278 and 290 enrollments/s with 0, 1 and 2 threads; RSA-4096 CA 54 with 1 thread, 78 with 2. Each thread is a V8
  // isolate (~10 MB RSS). With a process per core (`--workers auto`) none: a thread hop costs more than it frees.
  if (value === undefined || value.trim().toLowerCase() === "auto") return processes >= availableParallelism() ? 0 : Math.min(2, availableParallelism());
  if (!/^\d+$/.test(value.trim()) || Number(value) > MAX_KEY_WORKERS) throw new ConfigError(`${name} must be an integer from 0 to ${MAX_KEY_WORKERS} or auto, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** Fewest characters {@link bearerTokenProblem} accepts in a bearer token. */
const MIN_BEARER_TOKEN_LENGTH = 16;

/**
 * What is wrong with a bearer token from the environment (`SCEP_ADMIN_TOKEN`, `SCEP_METRICS_TOKEN`, the example
 * proxy's `PROXY_ADMIN_TOKEN`), as one line naming `name`, or undefined when it is fit: at least 16 characters, each
 * visible ASCII (`!` to `~`). A request carries it as `Authorization: Bearer <token>` (RFC 6750 §2.1), which ends the
 * token at the first space and holds no character beyond ASCII that a client sends as the server reads it; a token
 * with a space, a tab, a CR left by a Windows-edited env file or a non-ASCII letter would start the server and then
 * refuse every request (401 or 403). The line never holds the token.
 *
 * @example
 * ```ts
 * bearerTokenProblem("SCEP_ADMIN_TOKEN", "0123456789abcdef\r"); // "SCEP_ADMIN_TOKEN must be visible ASCII characters only (…)"
 * bearerTokenProblem("SCEP_ADMIN_TOKEN", "0123456789abcdef"); // undefined
 * ```
 */
export function bearerTokenProblem(name: string, token: string): string | undefined {
  if (token.length < MIN_BEARER_TOKEN_LENGTH) return `${name} must be at least ${MIN_BEARER_TOKEN_LENGTH} characters`;
  if (!/^[\x21-\x7e]+$/.test(token)) {
    return `${name} must be visible ASCII characters only (no space, tab, line break or non-ASCII letter): an Authorization: Bearer header cannot carry any other, so no request could match it`;
  }
  return undefined;
}

/** @throws ConfigError with {@link bearerTokenProblem}'s line when `token` is given and unfit. */
function checkBearerToken(name: string, token: string | undefined): void {
  const problem = token === undefined ? undefined : bearerTokenProblem(name, token);
  if (problem) throw new ConfigError(problem);
}

/**
 * Reads the configuration from command-line flags and environment variables.
 *
 * @throws ConfigError on an unknown flag or a bad value; `{ help: true }` when `--help` was given.
 */
export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, options: { cwd?: string } = {}): ServerConfig | { help: true } {
  let values: Record<string, string | boolean | undefined>;
  // `pnpm start -- --help` hands the script a literal "--" first: it separates nothing here.
  if (argv[0] === "--") argv = argv.slice(1);
  const base = invokingDirectory(env, options.cwd);
  const path = (p: string | undefined): string | undefined => (p === undefined ? undefined : resolve(base, p));
  try {
    const options = Object.fromEntries(SETTINGS.filter(([flag]) => flag).map(([flag]) => [flag.slice(2), { type: flag === "--pending" || flag === "--cert-files" || flag === "--one-time-challenges" ? "boolean" : "string" }] as const));
    values = parseFlags(argv, { ...options, help: { type: "boolean", short: "h" } });
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  if (values.help) return { help: true };
  const get = (flag: string, name: string): [string, string | undefined] => {
    const v = values[flag.slice(2)];
    if (typeof v === "string") return [flag, v];
    const e = env[name];
    return [name, e === "" ? undefined : e];
  };
  const num = (flag: string, name: string, def: number, min: number, max?: number): number => {
    const [src, v] = get(flag, name);
    return v === undefined ? def : integer(src, v, min, max);
  };
  const caCertPath = path(get("--ca-cert", "SCEP_CA_CERT")[1]);
  const caKeyPath = path(get("--ca-key", "SCEP_CA_KEY")[1]);
  if ((caCertPath === undefined) !== (caKeyPath === undefined)) throw new ConfigError("--ca-cert/SCEP_CA_CERT and --ca-key/SCEP_CA_KEY must be given together");
  const [nextCaCertFrom, nextCa] = get("--next-ca-cert", "SCEP_NEXT_CA_CERT");
  const [validitySrc, validity] = get("--validity-days", "SCEP_VALIDITY_DAYS");
  const validityDays = validity === undefined ? 365 : Number(validity);
  if (!(validityDays > 0) || !Number.isFinite(validityDays)) throw new ConfigError(`${validitySrc} must be a positive number of days, got ${JSON.stringify(validity)}`);
  const config: ServerConfig = {
    port: num("--port", "PORT", 8080, 0, 65535),
    host: listenHost(get("--host", "HOST")) ?? "0.0.0.0",
    dataDir: path(get("--data-dir", "SCEP_DATA_DIR")[1]) ?? DEFAULT_DATA_DIR,
    challenge: get("--challenge", "SCEP_CHALLENGE")[1],
    caCertPath,
    caKeyPath,
    nextCaCertPath: path(nextCa),
    ...(nextCa === undefined ? {} : { nextCaCertFrom }),
    caKeyPassphrase: env.SCEP_CA_KEY_PASSPHRASE || undefined,
    caKeyPassphraseFile: path(env.SCEP_CA_KEY_PASSPHRASE_FILE || undefined),
    backdateSeconds: num("--backdate-seconds", "SCEP_BACKDATE_SECONDS", 300, 0, 86_400),
    validityDays,
    pending: values.pending === true || boolean("SCEP_PENDING", env.SCEP_PENDING ?? ""),
    certFiles: values["cert-files"] === true || boolean("SCEP_CERT_FILES", env.SCEP_CERT_FILES ?? ""),
    maxBodyBytes: num("--max-body", "SCEP_MAX_BODY", 65536, 1024, 1024 * 1024 * 1024),
    adminToken: env.SCEP_ADMIN_TOKEN || undefined,
    metricsToken: env.SCEP_METRICS_TOKEN || undefined,
    requestTimeoutMs: num("--request-timeout-ms", "SCEP_REQUEST_TIMEOUT_MS", 30_000, 1),
    headersTimeoutMs: num("--headers-timeout-ms", "SCEP_HEADERS_TIMEOUT_MS", 10_000, 1),
    keepAliveTimeoutMs: num("--keep-alive-timeout-ms", "SCEP_KEEP_ALIVE_TIMEOUT_MS", 5_000, 1),
    bodyTimeoutMs: 0, // below: its default depends on the request timeout
    maxInFlight: num("--max-in-flight", "SCEP_MAX_IN_FLIGHT", 512, 1, 1_000_000),
    maxConnections: num("--max-connections", "SCEP_MAX_CONNECTIONS", 4096, 1, 1_000_000),
    retryAfterSeconds: num("--retry-after-seconds", "SCEP_RETRY_AFTER_SECONDS", 1, 1, 3600),
    shutdownTimeoutMs: num("--shutdown-timeout-ms", "SCEP_SHUTDOWN_TIMEOUT_MS", 10_000, 0, MAX_SHUTDOWN_TIMEOUT_MS),
    workers: workers(get("--workers", "SCEP_WORKERS")),
    keyWorkers: 0, // below: `auto` depends on the number of processes
    redisUrl: redisUrl(get("--redis-url", "SCEP_REDIS_URL")),
    redisKeyPrefix: DEFAULT_REDIS_KEY_PREFIX, // below: only with a Redis URL
    redisStartTimeoutSeconds: num("--redis-start-timeout", "SCEP_REDIS_START_TIMEOUT", DEFAULT_REDIS_START_TIMEOUT_SECONDS, 0, MAX_REDIS_START_TIMEOUT_SECONDS),
    oneTimeChallenges: values["one-time-challenges"] === true || boolean("SCEP_ONE_TIME_CHALLENGES", env.SCEP_ONE_TIME_CHALLENGES ?? ""),
    crlUrl: httpUrl(get("--crl-url", "SCEP_CRL_URL")),
    crlValidityHours: num("--crl-validity-hours", "SCEP_CRL_VALIDITY_HOURS", 24, 1, 8760),
    adminListen: listenAddress(get("--admin-listen", "SCEP_ADMIN_LISTEN")),
  };
  const [prefixSrc, prefix] = get("--redis-key-prefix", "SCEP_REDIS_KEY_PREFIX");
  if (prefix !== undefined) config.redisKeyPrefix = redisKeyPrefix(prefixSrc, prefix, config.redisUrl);
  config.keyWorkers = keyWorkers(get("--key-workers", "SCEP_KEY_WORKERS"), config.workers);
  config.bodyTimeoutMs = num("--body-timeout-ms", "SCEP_BODY_TIMEOUT_MS", Math.min(10_000, config.requestTimeoutMs), 1);
  if (config.bodyTimeoutMs > config.requestTimeoutMs) throw new ConfigError(`the body timeout (${config.bodyTimeoutMs} ms) must not exceed the request timeout (${config.requestTimeoutMs} ms)`);
  if (config.headersTimeoutMs > config.requestTimeoutMs) throw new ConfigError(`the headers timeout (${config.headersTimeoutMs} ms) must not exceed the request timeout (${config.requestTimeoutMs} ms)`);
  if (config.pending && config.workers > 1 && config.redisUrl === undefined) {
    throw new ConfigError(`--pending cannot run with ${config.workers} workers without --redis-url: pending requests would live in one process's memory (use --workers 1, or give SCEP_REDIS_URL)`, { showUsage: false });
  }
  if (config.oneTimeChallenges && config.workers > 1 && config.redisUrl === undefined) {
    throw new ConfigError(`--one-time-challenges cannot run with ${config.workers} workers without --redis-url: challenges would live in one process's memory (use --workers 1, or give SCEP_REDIS_URL)`, { showUsage: false });
  }
  if (config.oneTimeChallenges && config.adminToken === undefined) {
    throw new ConfigError("--one-time-challenges needs SCEP_ADMIN_TOKEN: one-time challenges are issued by POST /admin/scep/challenges", { showUsage: false });
  }
  if (config.adminListen !== undefined && config.adminToken === undefined) {
    throw new ConfigError("--admin-listen needs SCEP_ADMIN_TOKEN: it serves the admin API", { showUsage: false });
  }
  if (config.caKeyPassphrase !== undefined && config.caKeyPassphraseFile !== undefined) {
    throw new ConfigError("give SCEP_CA_KEY_PASSPHRASE or SCEP_CA_KEY_PASSPHRASE_FILE, not both");
  }
  checkBearerToken("SCEP_ADMIN_TOKEN", config.adminToken);
  checkBearerToken("SCEP_METRICS_TOKEN", config.metricsToken);
  const configFile = path(get("--config", "SCEP_CONFIG")[1]);
  if (configFile !== undefined) {
    if (config.oneTimeChallenges) throw new ConfigError('--one-time-challenges does not go with --config: give a profile "challenge": "one-time" in the file', { showUsage: false });
    const file = loadConfig(configFile);
    config.configFile = configFile;
    config.profiles = file.profiles;
    file.profiles.forEach((p, i) => {
      const t = p.challenge.type;
      if (t === "one-time" && config.adminToken === undefined) throw new ConfigError(`${configFile}: profiles[${i}].challenge: "one-time" needs SCEP_ADMIN_TOKEN: one-time challenges are issued by POST /admin/scep/challenges`, { showUsage: false });
      if (config.workers > 1 && config.redisUrl === undefined) {
        const what = t === "one-time" ? "one-time challenges" : t === "intune-signed-token" ? "the signed-token replay cache and rate limiter" : t === "intune-api" && (p.challenge.replayTtlMs !== undefined || p.challenge.rateLimit) ? "the Intune replay cache and rate limiter" : (p.pending ?? config.pending) ? "pending requests" : undefined;
        if (what) throw new ConfigError(`${configFile}: profiles[${i}]: ${what} cannot be shared by ${config.workers} workers without --redis-url (use --workers 1, or give SCEP_REDIS_URL)`, { showUsage: false });
      }
    });
  }
  return config;
}
