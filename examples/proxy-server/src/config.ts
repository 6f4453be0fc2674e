// The example proxy's configuration: a JSON file (the upstream CAs) plus flags and environment variables
// (where to listen, the admin token, Redis). Flags override environment variables, which override the file.
// Read and checked before anything heavy loads, so mistakes show at once, one line each (exit 2).
import { X509Certificate } from "node:crypto";
import { dirname, resolve } from "node:path";
import { DEFAULT_REDIS_START_TIMEOUT_SECONDS, MAX_REDIS_START_TIMEOUT_SECONDS, bearerTokenProblem, invokingDirectory } from "@scep-examples/server-kit/config";
import { parseFlags } from "@scep-examples/server-kit/flags";
import { hostProblem } from "@scep-examples/server-kit/listen-failure";
import { ConfigFileRefused, MAX_CONFIG_BYTES, readConfigFileText } from "@scep-examples/server-kit/config-file";
import { UnreadablePemCertificate, parsePemCertificates } from "@scep-examples/server-kit/pem-certificates";
import { fileErrorReason } from "@scep-examples/server-kit/file-error";
import { keyPrefixProblem } from "@scep/redis";

/** The CA types the proxy knows (PROXY.md "Challenge lifecycles by CA type"). */
export const CA_TYPES = ["ndes", "smallstep", "custom"] as const;
export type CaType = (typeof CA_TYPES)[number];

/** One upstream CA, as the JSON file gives it (secrets already read from their variables). */
export interface UpstreamCa {
  /** The name in the device's identifier (`hostId,profileId,caName,challenge`). */
  name: string;
  type: CaType;
  /** The upstream's SCEP URL (`http://ndes.corp/certsrv/mscep/mscep.dll`, `http://127.0.0.1:8080/scep`). */
  url: string;
  /**
   * How long a challenge stays good, in ms: since the MDM fetched it (NDES: default 57 min, Smallstep: 4 min),
   * or since the proxy issued it (custom: default 1 h).
   */
  challengeTtlMs: number | undefined;
  /** Platforms (as registered) whose profiles need not be `pending` (Fleet exempts `windows`). */
  exemptPlatforms: string[] | undefined;
  /**
   * The challenge password devices put in their CSR for this upstream (custom CAs: the upstream's static
   * challenge), handed to the MDM with each registration. From `challenge` or the variable `challengeEnv`.
   */
  challenge: string | undefined;
  /** NDES admin page the proxy fetches a challenge from at registration (optional: else the MDM fetched it). */
  ndes: { adminUrl: string; username: string; password: string; domain?: string } | undefined;
  /** Smallstep challenge webhook (optional, as `ndes`). */
  smallstep: { webhookUrl: string; username: string; password: string } | undefined;
}

/** Everything the example proxy is told. */
export interface ProxyConfig {
  port: number;
  host: string;
  /** Base of the device URLs the admin API hands out (`<publicUrl><path>/<identifier>`); default `http://<host>:<port>`. */
  publicUrl: string | undefined;
  /** Where the proxy answers SCEP: `<path>/<identifier>[/pkiclient.exe]` (default `/scep`). */
  path: string;
  cas: UpstreamCa[];
  /** CA used for identifiers with two fields (`hostId,profileId`); default: the only CA, when there is one. */
  defaultCa: string | undefined;
  /** Largest request body in bytes (larger: 413; default 2 MiB). */
  maxBodyBytes: number;
  /** Upstream deadline in ms (past it: 504; default 30 000). */
  upstreamTimeoutMs: number;
  /** Slow-client and flood bounds of the HTTP server (file key `http`; see {@link HTTP_DEFAULTS}). */
  http: ProxyHttpLimits;
  /** How the proxy fetches NDES admin pages (file key `ndesAccess`): only what the file sets (else @scep/proxy's defaults). */
  ndesAccess: NdesAccess;
  /** Bearer token of the admin API (env `PROXY_ADMIN_TOKEN` only; at least 16 characters, visible ASCII). */
  adminToken: string;
  /** Profile records and one-time challenges live there when set (several proxy processes share them). */
  redisUrl: string | undefined;
  /**
   * Prefix of the Redis keys (`--redis-key-prefix` / `SCEP_PROXY_KEY_PREFIX`, default `scep-proxy:`): no `{` or `}`
   * (as @scep/redis requires); given without `--redis-url` / `SCEP_REDIS_URL` it is a {@link ConfigError}.
   */
  redisKeyPrefix: string;
  /**
   * Seconds the first Redis connection is retried while Redis is not up yet (`--redis-start-timeout` /
   * `SCEP_REDIS_START_TIMEOUT`, as the example servers; default 30, 0: fail at once). See server-kit's redis-start-wait.ts.
   */
  redisStartTimeoutSeconds: number;
  /**
   * `@scep/proxy`'s `forwardResends` (default true): forward the re-send of the PKCSReq that spent a `custom` CA's
   * one-time challenge (same transactionID, signed by the same key). false: refuse it (400 `challenge failed`) and
   * requeue, so a URL carries one PKCSReq to the CA. Flag `--forward-resends`, env `PROXY_FORWARD_RESENDS`, file key
   * `forwardResends`.
   */
  forwardResends: boolean;
  /** The configuration file, absolute. */
  configPath: string;
}

/** Timeouts (ms) and bounds of the proxy's node:http server, as the example servers have them. */
export interface ProxyHttpLimits {
  /** Headers must arrive within this (slow-loris guard). */
  headersTimeoutMs: number;
  /** The whole request must arrive within this (default: upstreamTimeoutMs + 30 000). */
  requestTimeoutMs: number;
  /** A body must be complete this long after its headers (else 408 and close). */
  bodyTimeoutMs: number;
  /** Idle keep-alive connections close after this. */
  keepAliveTimeoutMs: number;
  /** Requests in flight at once; one more gets 503 + Retry-After. */
  maxInFlight: number;
  /** Open connections; above it a new one is closed at once. */
  maxConnections: number;
  /** Retry-After (seconds) of that 503. */
  retryAfterSeconds: number;
}

/**
 * The file's `ndesAccess` object, for @scep/proxy's `NdesChallengeSource` (the fetch of each `cas[].ndes.adminUrl`).
 * A key is present only when the file sets it.
 */
export interface NdesAccess {
  /** Send the TLS channel binding (MsvAvChannelBindings) over https (library default true; false behind a TLS-inspecting proxy). */
  channelBinding?: boolean;
  /** Deadline of one admin page fetch, NTLM handshake included, in ms (library default 30 000). */
  timeoutMs?: number;
  /** `caFile`, absolute (relative paths are resolved against the configuration file's directory). */
  caFile?: string;
  /**
   * The PEM text of `caFile` (read at start): the CA certificates https admin URLs are verified against, as
   * NdesChallengeSource's `tls.ca` (Node's `ca`: they replace Node's built-in CAs for that fetch).
   */
  ca?: string;
}

/** Defaults of the file's `http` object (`requestTimeoutMs` defaults to upstreamTimeoutMs + 30 000). */
export const HTTP_DEFAULTS = { headersTimeoutMs: 10_000, bodyTimeoutMs: 10_000, keepAliveTimeoutMs: 5_000, maxInFlight: 512, maxConnections: 4096, retryAfterSeconds: 1 } as const;

/**
 * One or more configuration mistakes: each of `problems` is one line saying which setting and why; the message
 * is those lines joined by newlines.
 */
export class ConfigError extends Error {
  override name = "ConfigError";
  /** One line per problem (at least one). */
  readonly problems: readonly string[];
  constructor(problems: string | readonly string[]) {
    const list = typeof problems === "string" ? [problems] : problems;
    super(list.join("\n"));
    this.problems = list;
  }
}

/** flag, environment variable, default, meaning: `--help` and the README table. */
export const SETTINGS = [
  ["--config", "SCEP_PROXY_CONFIG", "proxy.json", "JSON file naming the upstream CAs (see `examples/proxy-server/proxy.example.json`)"],
  ["--port", "PORT", "8090", "TCP port to listen on (0: any free port; the `listening` line tells which)"],
  ["--host", "HOST", "127.0.0.1", "address to bind"],
  ["--public-url", "PROXY_PUBLIC_URL", "http://<host>:<port>", "base of the device URLs the admin API hands out"],
  ["--ca-url", "PROXY_CA_URLS", "(the file's)", "NAME=URL: the SCEP URL of the file's CA NAME instead of its url (repeat the flag; in the variable, pairs separated by spaces)"],
  ["", "PROXY_ADMIN_TOKEN", "(required)", "bearer token of the admin API, at least 16 characters, visible ASCII with no spaces (env only)"],
  ["--redis-url", "SCEP_REDIS_URL", "(unset)", "keep profile records and one-time challenges in Redis, shared by every proxy process with the same URL"],
  ["--redis-key-prefix", "SCEP_PROXY_KEY_PREFIX", "scep-proxy:", "prefix of the Redis keys: one per deployment sharing a Redis db, the same for its replicas; no `{` or `}`; only with `--redis-url`"],
  ["--redis-start-timeout", "SCEP_REDIS_START_TIMEOUT", "30", "seconds a start waits for Redis to accept its first connection (attempts 250 ms apart doubling to 2 s, a `redis-waiting` line at most every 5 s; meanwhile 503 with `Retry-After`, `/healthz` 200, `/readyz` 503), then exits 1; a wrong password, NOAUTH or a TLS certificate error at once; `0`: no wait; from 0 to 3600"],
  [
    "--forward-resends",
    "PROXY_FORWARD_RESENDS",
    "(file's, else true)",
    "`true`: forward a custom CA's re-sent PKCSReq (same transactionID and key as the one that used the URL), which also lets that key's holder send other CSRs to the CA while the challenge lives; `false`: refuse it (400 challenge failed) and requeue: one PKCSReq per URL",
  ],
] as const;

/** `--help` text. */
export function usage(program: string): string {
  // Each column as wide as its longest entry (`--redis-start-timeout`, `SCEP_REDIS_START_TIMEOUT`), so rows line up.
  const width = (i: 0 | 1 | 2, head: string) => Math.max(head.length, ...SETTINGS.map((row) => (row[i] || "(env only)").length));
  const [f, e, d] = [width(0, "flag"), width(1, "environment"), width(2, "default")];
  const rows = SETTINGS.map(([flag, env, def, meaning]) => `  ${(flag || "(env only)").padEnd(f)} ${env.padEnd(e)} ${def.padEnd(d)} ${meaning.replaceAll("`", "")}`);
  return [`usage: ${program} [options]   (flags override environment variables, which override the file)`, "", `  ${"flag".padEnd(f)} ${"environment".padEnd(e)} ${"default".padEnd(d)} meaning`, ...rows].join("\n");
}

type Env = Readonly<Record<string, string | undefined>>;

const KEYS = {
  file: ["port", "host", "publicUrl", "path", "defaultCa", "maxBodyBytes", "upstreamTimeoutMs", "http", "ndesAccess", "forwardResends", "cas"],
  ndesAccess: ["channelBinding", "timeoutMs", "caFile"],
  http: ["headersTimeoutMs", "requestTimeoutMs", "bodyTimeoutMs", "keepAliveTimeoutMs", "maxInFlight", "maxConnections", "retryAfterSeconds"],
  ca: ["name", "type", "url", "challengeTtlMs", "exemptPlatforms", "challenge", "challengeEnv", "ndes", "smallstep"],
  ndes: ["adminUrl", "username", "password", "passwordEnv", "domain"],
  smallstep: ["webhookUrl", "username", "password", "passwordEnv"],
} as const;

function onlyKeys(what: string, value: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(value)) if (!allowed.includes(k)) throw new ConfigError(`${what}: unknown key ${JSON.stringify(k)} (allowed: ${allowed.join(", ")})`);
}

function object(what: string, value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ConfigError(`${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

/** `true`/`false` (also 1/0, yes/no, on/off, any case) from a flag or variable. */
function bool(what: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (v === "true" || v === "1" || v === "yes" || v === "on") return true;
  if (v === "false" || v === "0" || v === "no" || v === "off") return false;
  throw new ConfigError(`${what} must be true or false (or 1/0, yes/no, on/off), got ${JSON.stringify(value)}`);
}

/** A JSON boolean of the file. */
function fileBool(what: string, value: unknown): boolean {
  if (typeof value !== "boolean") throw new ConfigError(`${what} must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

/** A host to listen on, checked up front (`localhost:8090` is one line naming the mistake, not a failed listen). */
function listenHost(what: string, value: string): string {
  const problem = hostProblem(value);
  if (problem) throw new ConfigError(`${what} ${problem}`);
  return value;
}

function str(what: string, value: unknown, options: { optional: true }): string | undefined;
function str(what: string, value: unknown): string;
function str(what: string, value: unknown, options: { optional?: boolean } = {}): string | undefined {
  if (value === undefined && options.optional) return undefined;
  if (typeof value !== "string" || value === "") throw new ConfigError(`${what} must be a non-empty string`);
  return value;
}

function int(what: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof value === "string" && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${what} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

function httpUrl(what: string, value: unknown): string {
  const s = str(what, value);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new ConfigError(`${what} must be an http:// or https:// URL`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new ConfigError(`${what} must be an http:// or https:// URL, got a ${u.protocol} URL`);
  if (u.username || u.password) throw new ConfigError(`${what} must not hold credentials (give them as username/passwordEnv)`);
  return s;
}

/** A secret given inline (`key`) or by the name of an environment variable (`key + "Env"`). */
function secret(what: string, o: Record<string, unknown>, key: string, env: Env, options: { optional?: boolean } = {}): string | undefined {
  const inline = o[key];
  const varName = o[`${key}Env`];
  if (inline !== undefined && varName !== undefined) throw new ConfigError(`${what}: give ${key} or ${key}Env, not both`);
  if (varName !== undefined) {
    const name = str(`${what}.${key}Env`, varName);
    const value = env[name];
    if (value === undefined || value === "") throw new ConfigError(`${what}.${key}Env names ${name}, which is not set`);
    return value;
  }
  if (inline === undefined && options.optional) return undefined;
  return str(`${what}.${key}`, inline);
}

function parseCa(i: number, value: unknown, env: Env): UpstreamCa {
  const o = object(`cas[${i}]`, value);
  onlyKeys(`cas[${i}]`, o, KEYS.ca);
  const name = str(`cas[${i}].name`, o.name);
  const what = `CA ${JSON.stringify(name)}`;
  if (/[,/%\s]/.test(name)) throw new ConfigError(`${what}: the name must not contain a comma, slash, percent sign or space (it goes into device URLs)`);
  // As @scep/proxy's CA registry refuses them (no device URL can carry them), here, before the proxy listens: one line, exit 2.
  if (/[\u0000-\u001f\u007f]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(name)) {
    throw new ConfigError(`${what}: the name must be well-formed text without control characters (it goes into device URLs)`);
  }
  const type = o.type;
  if (!CA_TYPES.includes(type as CaType)) throw new ConfigError(`${what}: type must be one of ${CA_TYPES.join(", ")}, got ${JSON.stringify(type)}`);
  const ca: UpstreamCa = {
    name,
    type: type as CaType,
    url: httpUrl(`${what}: url`, o.url),
    challengeTtlMs: o.challengeTtlMs === undefined ? undefined : int(`${what}: challengeTtlMs`, o.challengeTtlMs, 1000, 31_536_000_000),
    exemptPlatforms: undefined,
    challenge: secret(what, o, "challenge", env, { optional: true }),
    ndes: undefined,
    smallstep: undefined,
  };
  if (o.exemptPlatforms !== undefined) {
    if (!Array.isArray(o.exemptPlatforms) || o.exemptPlatforms.some((p) => typeof p !== "string" || p === "")) throw new ConfigError(`${what}: exemptPlatforms must be a list of platform names`);
    ca.exemptPlatforms = o.exemptPlatforms as string[];
  }
  if (o.ndes !== undefined) {
    if (ca.type !== "ndes") throw new ConfigError(`${what}: ndes settings belong to a CA of type ndes`);
    const n = object(`${what}: ndes`, o.ndes);
    onlyKeys(`${what}: ndes`, n, KEYS.ndes);
    ca.ndes = { adminUrl: httpUrl(`${what}: ndes.adminUrl`, n.adminUrl), username: str(`${what}: ndes.username`, n.username), password: secret(`${what}: ndes`, n, "password", env)! };
    const domain = str(`${what}: ndes.domain`, n.domain, { optional: true });
    if (domain !== undefined) ca.ndes.domain = domain;
  }
  if (o.smallstep !== undefined) {
    if (ca.type !== "smallstep") throw new ConfigError(`${what}: smallstep settings belong to a CA of type smallstep`);
    const s = object(`${what}: smallstep`, o.smallstep);
    onlyKeys(`${what}: smallstep`, s, KEYS.smallstep);
    ca.smallstep = { webhookUrl: httpUrl(`${what}: smallstep.webhookUrl`, s.webhookUrl), username: str(`${what}: smallstep.username`, s.username), password: secret(`${what}: smallstep`, s, "password", env)! };
  }
  return ca;
}

/**
 * The file's `ndesAccess` object (absent: `{}`): `caFile` is resolved against `baseDir` (the configuration file's
 * directory) and read now, so a missing or certificate-less bundle is a start-up line rather than a failed fetch.
 */
function parseNdesAccess(value: unknown, baseDir: string): NdesAccess {
  const access: NdesAccess = {};
  if (value === undefined) return access;
  const o = object("ndesAccess", value);
  onlyKeys("ndesAccess", o, KEYS.ndesAccess);
  if (o.channelBinding !== undefined) access.channelBinding = fileBool("ndesAccess.channelBinding", o.channelBinding);
  // As NdesChallengeSource takes it (a timer's range).
  if (o.timeoutMs !== undefined) access.timeoutMs = int("ndesAccess.timeoutMs", o.timeoutMs, 1, 2_147_483_647);
  const caFile = str("ndesAccess.caFile", o.caFile, { optional: true });
  if (caFile !== undefined) {
    const file = resolve(baseDir, caFile);
    let pem: string;
    try {
      // Not a directory or /dev/zero, and at most 1 MiB (a system's whole CA bundle is a few hundred KB).
      pem = readConfigFileText(file);
    } catch (e) {
      if (e instanceof ConfigFileRefused) throw new ConfigError(`ndesAccess.caFile ${file}: ${e.message}`);
      throw new ConfigError(`ndesAccess.caFile: cannot read ${file}: ${fileErrorReason(e)}`);
    }
    // Each one parsed now (by OpenSSL, as TLS will): a damaged bundle is a line at start, not a TLS error at the
    // first registration.
    let count: number;
    try {
      count = parsePemCertificates(pem, (_der, block) => new X509Certificate(block)).length;
    } catch (e) {
      if (e instanceof UnreadablePemCertificate) throw new ConfigError(`ndesAccess.caFile ${file}: certificate ${e.index} of ${e.count} is not a readable X.509 certificate`);
      throw e;
    }
    if (count === 0) throw new ConfigError(`ndesAccess.caFile ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    access.caFile = file;
    access.ca = pem;
  }
  return access;
}

/**
 * `text` (a value given where NAME=URL was expected) with any URL user information (`//user:password@`) shown as
 * `//…@`, for an error line: a URL given without its `NAME=` (or with a `?query=` read as one) may hold credentials.
 */
function withoutUserinfo(text: string): string {
  return text.replace(/\/\/[^/?#@\s]*@/g, "//…@");
}

/**
 * `--ca-url NAME=URL` (repeatable) and `PROXY_CA_URLS="NAME=URL NAME=URL"` replace the `url` of the file's CA NAME
 * (the flag wins over the variable for the same NAME), so the upstream can move (another port) without editing
 * the file.
 */
function caUrlOverrides(cas: UpstreamCa[], flags: readonly string[] | undefined, variable: string | undefined): void {
  const pairs: [string, string][] = [
    ...(variable ?? "").split(/\s+/).filter(Boolean).map((p): [string, string] => ["PROXY_CA_URLS", p]),
    ...(flags ?? []).map((p): [string, string] => ["--ca-url", p]),
  ];
  for (const [source, pair] of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new ConfigError(`${source} takes NAME=URL (the name of a CA in the file, then its SCEP URL), got ${JSON.stringify(withoutUserinfo(pair))}`);
    const name = pair.slice(0, eq);
    const ca = cas.find((c) => c.name === name);
    if (!ca) throw new ConfigError(`${source} names the CA ${JSON.stringify(withoutUserinfo(name))}, which is not among the file's cas (${cas.map((c) => c.name).join(", ")})`);
    ca.url = httpUrl(`${source} ${name}=`, pair.slice(eq + 1));
  }
}

/**
 * Reads the configuration from flags, environment and the JSON file.
 *
 * @throws ConfigError for an unknown flag (alone), or else for every problem found: the file's first (missing,
 * malformed, a bad value), a missing admin token, each bad listen or Redis setting (`problems`, one line each).
 * Returns `{ help: true }` for `--help`.
 */
export function parseConfig(argv: readonly string[], env: Env, options: { cwd?: string; readFile?: (path: string) => string } = {}): ProxyConfig | { help: true } {
  if (argv[0] === "--") argv = argv.slice(1);
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    const flags = Object.fromEntries(SETTINGS.filter(([flag]) => flag).map(([flag]) => [flag.slice(2), { type: "string" as const, multiple: flag === "--ca-url" }]));
    values = parseFlags(argv, { ...flags, help: { type: "boolean", short: "h" } });
  } catch (e) {
    throw new ConfigError((e as Error).message + " (run with --help)");
  }
  if (values.help) return { help: true };
  const get = (flag: string, name: string): [string, string | undefined] => {
    const v = values[flag.slice(2)];
    if (typeof v === "string") return [flag, v];
    const e = env[name];
    return [name, e === "" ? undefined : e];
  };
  const configPath = resolve(invokingDirectory(env, options.cwd), get("--config", "SCEP_PROXY_CONFIG")[1] ?? "proxy.json");
  // Each part is checked on its own, so every problem shows in one go (one line each): the file (its first
  // mistake: later keys may depend on it), then each setting from flags and environment.
  const problems: string[] = [];
  const check = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      problems.push(...e.problems);
      return undefined;
    }
  };
  // The file's listen settings are checked below with the flags and environment, even when its CAs are wrong.
  let file: Record<string, unknown> = {};
  const fromFile = check(() => {
    let text: string;
    try {
      text = (options.readFile ?? readConfigFileText)(configPath);
    } catch (e) {
      if (e instanceof ConfigFileRefused) throw new ConfigError(`${configPath}: ${e.message}`);
      throw new ConfigError(`cannot read the configuration file ${configPath}: ${fileErrorReason(e)}`);
    }
    if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) throw new ConfigError(`${configPath}: larger than ${MAX_CONFIG_BYTES} bytes: a configuration file is a few KB`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new ConfigError(`${configPath} is not valid JSON: ${(e as Error).message}`);
    }
    file = object(configPath, json);
    onlyKeys(configPath, file, KEYS.file);
    if (!Array.isArray(file.cas) || file.cas.length === 0) throw new ConfigError(`${configPath}: cas must list at least one upstream CA`);
    const cas = file.cas.map((c, i) => parseCa(i, c, env));
    caUrlOverrides(cas, values["ca-url"] as string[] | undefined, env.PROXY_CA_URLS);
    const names = new Set<string>();
    for (const ca of cas) {
      if (names.has(ca.name)) throw new ConfigError(`two CAs are named ${JSON.stringify(ca.name)}`);
      names.add(ca.name);
    }
    const defaultCa = str("defaultCa", file.defaultCa, { optional: true }) ?? (cas.length === 1 ? cas[0]!.name : undefined);
    if (defaultCa !== undefined && !names.has(defaultCa)) throw new ConfigError(`defaultCa names ${JSON.stringify(defaultCa)}, which is not among the cas`);
    const path = str("path", file.path, { optional: true }) ?? "/scep";
    if (!/^\/[A-Za-z0-9._~\-/]*[^/]$/.test(path)) throw new ConfigError(`path must start with / and not end with one, got ${JSON.stringify(path)}`);

    const upstreamTimeoutMs = file.upstreamTimeoutMs === undefined ? 30_000 : int("upstreamTimeoutMs", file.upstreamTimeoutMs, 1, 2_147_483_647);
    const httpFile = file.http === undefined ? {} : object("http", file.http);
    onlyKeys("http", httpFile, KEYS.http);
    const limit = (key: (typeof KEYS.http)[number], def: number, max?: number): number => (httpFile[key] === undefined ? def : int(`http.${key}`, httpFile[key], 1, max));
    const http: ProxyHttpLimits = {
      headersTimeoutMs: limit("headersTimeoutMs", HTTP_DEFAULTS.headersTimeoutMs),
      requestTimeoutMs: limit("requestTimeoutMs", upstreamTimeoutMs + 30_000),
      bodyTimeoutMs: 0,
      keepAliveTimeoutMs: limit("keepAliveTimeoutMs", HTTP_DEFAULTS.keepAliveTimeoutMs),
      maxInFlight: limit("maxInFlight", HTTP_DEFAULTS.maxInFlight, 1_000_000),
      maxConnections: limit("maxConnections", HTTP_DEFAULTS.maxConnections, 1_000_000),
      retryAfterSeconds: limit("retryAfterSeconds", HTTP_DEFAULTS.retryAfterSeconds, 3600),
    };
    http.bodyTimeoutMs = limit("bodyTimeoutMs", Math.min(HTTP_DEFAULTS.bodyTimeoutMs, http.requestTimeoutMs));
    for (const key of ["headersTimeoutMs", "bodyTimeoutMs"] as const) {
      if (http[key] > http.requestTimeoutMs) throw new ConfigError(`http.${key} (${http[key]} ms) must not exceed http.requestTimeoutMs (${http.requestTimeoutMs} ms)`);
    }

    const ndesAccess = parseNdesAccess(file.ndesAccess, dirname(configPath));

    return { cas, defaultCa, path, upstreamTimeoutMs, http, ndesAccess };
  });
  const [portSrc, port] = get("--port", "PORT");
  const [hostSrc, host] = get("--host", "HOST");
  const [publicSrc, publicUrl] = get("--public-url", "PROXY_PUBLIC_URL");
  const [redisSrc, redisUrl] = get("--redis-url", "SCEP_REDIS_URL");
  const [resendsSrc, resends] = get("--forward-resends", "PROXY_FORWARD_RESENDS");
  const forwardResends = check(() => (resends !== undefined ? bool(resendsSrc, resends) : file.forwardResends === undefined ? true : fileBool("forwardResends", file.forwardResends)));
  const adminToken = env.PROXY_ADMIN_TOKEN ?? "";
  // Required here (the admin API registers devices), hence its own line for a missing or short one; otherwise the
  // example server's rule (server-kit's bearerTokenProblem): visible ASCII only, as a Bearer header carries it.
  if (adminToken.length < 16) problems.push("PROXY_ADMIN_TOKEN must be set to at least 16 characters (the admin API registers devices)");
  else {
    const tokenProblem = bearerTokenProblem("PROXY_ADMIN_TOKEN", adminToken);
    if (tokenProblem) problems.push(tokenProblem);
  }
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) problems.push(`${redisSrc} must be a redis:// or rediss:// URL`);
  // As @scep/redis checks a store's keyPrefix (the stores add Redis Cluster hash tags): one line here, not a stack.
  // Given (flag or variable) without a Redis URL it would be ignored: refused, as the example server refuses its own.
  const [prefixSrc, givenPrefix] = get("--redis-key-prefix", "SCEP_PROXY_KEY_PREFIX");
  const redisKeyPrefix = givenPrefix ?? "scep-proxy:";
  const prefixProblem = keyPrefixProblem(redisKeyPrefix);
  if (prefixProblem) problems.push(`${prefixSrc} ${prefixProblem}, got ${JSON.stringify(redisKeyPrefix)}`);
  else if (givenPrefix !== undefined && redisUrl === undefined) problems.push(`${prefixSrc} needs --redis-url or SCEP_REDIS_URL: without Redis nothing is stored under a key prefix`);
  const [startSrc, startTimeout] = get("--redis-start-timeout", "SCEP_REDIS_START_TIMEOUT");
  const redisStartTimeoutSeconds = check(() => (startTimeout === undefined ? DEFAULT_REDIS_START_TIMEOUT_SECONDS : int(startSrc, startTimeout, 0, MAX_REDIS_START_TIMEOUT_SECONDS)));
  const listen = {
    port: check(() => (port !== undefined ? int(portSrc, port, 0, 65535) : file.port !== undefined ? int("port", file.port, 0, 65535) : 8090)),
    host: check(() => listenHost(host !== undefined ? hostSrc : "host", host ?? (file.host === undefined ? "127.0.0.1" : str("host", file.host)))),
    publicUrl: check(() => (publicUrl !== undefined ? httpUrl(publicSrc, publicUrl).replace(/\/+$/, "") : file.publicUrl === undefined ? undefined : httpUrl("publicUrl", file.publicUrl).replace(/\/+$/, ""))),
    maxBodyBytes: check(() => (file.maxBodyBytes === undefined ? 2 * 1024 * 1024 : int("maxBodyBytes", file.maxBodyBytes, 1024, 1024 * 1024 * 1024))),
  };
  if (problems.length > 0 || !fromFile) throw new ConfigError(problems);
  return {
    port: listen.port!,
    host: listen.host!,
    publicUrl: listen.publicUrl,
    path: fromFile.path,
    cas: fromFile.cas,
    defaultCa: fromFile.defaultCa,
    maxBodyBytes: listen.maxBodyBytes!,
    upstreamTimeoutMs: fromFile.upstreamTimeoutMs,
    http: fromFile.http,
    ndesAccess: fromFile.ndesAccess,
    adminToken,
    redisUrl,
    redisKeyPrefix,
    redisStartTimeoutSeconds: redisStartTimeoutSeconds!,
    forwardResends: forwardResends!,
    configPath,
  };
}

/**
 * Reads the configuration for `main`: prints the usage for `--help`, or one line per problem on stderr and exit
 * code 2 for a {@link ConfigError}; then returns undefined.
 */
export function readConfig(program: string, argv: readonly string[] = process.argv.slice(2), env: Env = process.env): ProxyConfig | undefined {
  try {
    const parsed = parseConfig(argv, env);
    if (!("help" in parsed)) return parsed;
    console.log(usage(program));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const problem of e.problems) console.error(`${program}: ${problem}`);
    process.exitCode = 2;
  }
  return undefined;
}
