/**
 * parseConfig: defaults, environment variables, flags over environment, and
 * the exact message of each mistake.
 */
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { ConfigError, SETTINGS, configErrorLine, parseConfig, usage } from "../src/index.js";

const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
/** --key-workers auto with `processes` processes: a thread per core they leave free, at most 2. */
const autoKeyWorkers = (processes: number): number => (processes >= availableParallelism() ? 0 : Math.min(2, availableParallelism()));

const DEFAULTS = {
  port: 8080,
  host: "0.0.0.0",
  dataDir: `${REPO_ROOT}.scep-data`,
  challenge: undefined,
  caCertPath: undefined,
  caKeyPath: undefined,
  caKeyPassphrase: undefined,
  caKeyPassphraseFile: undefined,
  backdateSeconds: 300,
  validityDays: 365,
  pending: false,
  certFiles: false,
  maxBodyBytes: 65536,
  adminToken: undefined,
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  bodyTimeoutMs: 10_000,
  maxInFlight: 512,
  maxConnections: 4096,
  retryAfterSeconds: 1,
  shutdownTimeoutMs: 10_000,
  workers: 1,
  keyWorkers: autoKeyWorkers(1),
  redisUrl: undefined,
  redisKeyPrefix: "scep:",
  redisStartTimeoutSeconds: 30,
  oneTimeChallenges: false,
  crlUrl: undefined,
  crlValidityHours: 24,
  adminListen: undefined,
};

describe("parseConfig", () => {
  it("has the documented defaults; the data directory is <repo>/.scep-data wherever it runs from", () => {
    expect(parseConfig([], {})).toEqual(DEFAULTS);
    expect(parseConfig([], { INIT_CWD: "/somewhere/else" }, { cwd: "/tmp" })).toEqual(DEFAULTS);
  });

  it("resolves relative paths against INIT_CWD (the directory pnpm was run from), else the working directory", () => {
    const argv = ["--data-dir", "data", "--ca-cert", "./pki/ca.pem", "--ca-key", "/abs/ca.key"];
    expect(parseConfig(argv, { INIT_CWD: "/home/me/project" }, { cwd: "/repo/examples/express-server" })).toMatchObject({ dataDir: "/home/me/project/data", caCertPath: "/home/me/project/pki/ca.pem", caKeyPath: "/abs/ca.key" });
    expect(parseConfig(argv, {}, { cwd: "/work" })).toMatchObject({ dataDir: "/work/data", caCertPath: "/work/pki/ca.pem" });
    expect(parseConfig([], { SCEP_DATA_DIR: "../d", INIT_CWD: "/a/b" })).toMatchObject({ dataDir: "/a/d" });
  });

  it("ignores one leading -- (what `pnpm start -- --help` passes)", () => {
    expect(parseConfig(["--", "--help"], {})).toEqual({ help: true });
    expect(parseConfig(["--", "--port", "1"], {})).toEqual({ ...DEFAULTS, port: 1 });
  });

  it("reads every environment variable", () => {
    const env = {
      PORT: "9000", HOST: "127.0.0.1", SCEP_DATA_DIR: "/var/lib/scep", SCEP_CHALLENGE: "pw", SCEP_CA_CERT: "ca.pem", SCEP_CA_KEY: "ca.key",
      SCEP_VALIDITY_DAYS: "0.5", SCEP_PENDING: "yes", SCEP_CERT_FILES: "1", SCEP_MAX_BODY: "2048", SCEP_ADMIN_TOKEN: "0123456789abcdef",
      SCEP_REQUEST_TIMEOUT_MS: "2000", SCEP_HEADERS_TIMEOUT_MS: "1000", SCEP_KEEP_ALIVE_TIMEOUT_MS: "300", SCEP_SHUTDOWN_TIMEOUT_MS: "0",
      SCEP_BODY_TIMEOUT_MS: "1500", SCEP_MAX_IN_FLIGHT: "64", SCEP_MAX_CONNECTIONS: "256", SCEP_RETRY_AFTER_SECONDS: "5",
      SCEP_WORKERS: "1", // (more than one worker is refused with pending mode: see below)
      SCEP_CA_KEY_PASSPHRASE_FILE: "ca.pass", SCEP_BACKDATE_SECONDS: "60",
      SCEP_REDIS_URL: "redis://:pw@10.0.0.5:6380/2", SCEP_ONE_TIME_CHALLENGES: "true",
      SCEP_CRL_URL: "http://pki.example.test/scep/ca.crl", SCEP_CRL_VALIDITY_HOURS: "6", SCEP_ADMIN_LISTEN: "[::1]:9090",
      SCEP_KEY_WORKERS: "3", SCEP_REDIS_START_TIMEOUT: "45",
    };
    expect(parseConfig([], env, { cwd: "/etc/scep" })).toEqual({
      port: 9000, host: "127.0.0.1", dataDir: "/var/lib/scep", challenge: "pw", caCertPath: "/etc/scep/ca.pem", caKeyPath: "/etc/scep/ca.key",
      caKeyPassphrase: undefined, caKeyPassphraseFile: "/etc/scep/ca.pass", backdateSeconds: 60,
      validityDays: 0.5, pending: true, certFiles: true, maxBodyBytes: 2048, adminToken: "0123456789abcdef",
      requestTimeoutMs: 2000, headersTimeoutMs: 1000, keepAliveTimeoutMs: 300, shutdownTimeoutMs: 0,
      bodyTimeoutMs: 1500, maxInFlight: 64, maxConnections: 256, retryAfterSeconds: 5,
      workers: 1, keyWorkers: 3, redisUrl: "redis://:pw@10.0.0.5:6380/2", redisKeyPrefix: "scep:", redisStartTimeoutSeconds: 45, oneTimeChallenges: true,
      crlUrl: "http://pki.example.test/scep/ca.crl", crlValidityHours: 6, adminListen: { host: "::1", port: 9090 },
    });
  });

  it("lets flags override the environment; empty variables count as unset", () => {
    const env = { PORT: "9000", SCEP_CHALLENGE: "", SCEP_PENDING: "0", SCEP_DATA_DIR: "/env" };
    const argv = ["--port", "0", "--data-dir", "/flag", "--pending", "--challenge", "flag-pw", "--validity-days", "7", "--max-body=4096", "--host", "::1"];
    expect(parseConfig(argv, { ...env, SCEP_ADMIN_TOKEN: "0123456789abcdef" })).toEqual({
      ...DEFAULTS, port: 0, dataDir: "/flag", pending: true, challenge: "flag-pw", validityDays: 7, maxBodyBytes: 4096, host: "::1", adminToken: "0123456789abcdef",
    });
    expect(parseConfig([], env)).toEqual({ ...DEFAULTS, port: 9000, dataDir: "/env" });
    expect(parseConfig(["--help"], {})).toEqual({ help: true });
    expect(parseConfig(["--workers", "2"], { SCEP_WORKERS: "4" })).toEqual({ ...DEFAULTS, workers: 2, keyWorkers: autoKeyWorkers(2) });
    expect(parseConfig([], { SCEP_WORKERS: "4" })).toEqual({ ...DEFAULTS, workers: 4, keyWorkers: autoKeyWorkers(4) });
    expect(parseConfig(["--key-workers", "0"], { SCEP_KEY_WORKERS: "2" })).toEqual({ ...DEFAULTS, keyWorkers: 0 });
    // A static challenge may start with a dash: after a space it is the value, as with "=".
    expect(parseConfig(["--challenge", "-Xy9", "--port", "0"], {})).toEqual({ ...DEFAULTS, challenge: "-Xy9", port: 0 });
    expect(parseConfig(["--challenge=-Xy9"], {})).toMatchObject({ challenge: "-Xy9" });
  });

  it("reads --workers auto as one worker per CPU (pending mode needs one worker)", () => {
    expect(parseConfig(["--workers", "auto"], {})).toEqual({ ...DEFAULTS, workers: Math.min(64, availableParallelism()), keyWorkers: 0 });
    expect(parseConfig([], { SCEP_WORKERS: "AUTO" })).toEqual({ ...DEFAULTS, workers: Math.min(64, availableParallelism()), keyWorkers: 0 });
    expect(parseConfig(["--pending"], { SCEP_WORKERS: "1", SCEP_ADMIN_TOKEN: "0123456789abcdef" })).toEqual({ ...DEFAULTS, pending: true, adminToken: "0123456789abcdef" });
  });

  it("reads --key-workers: auto (default) is 2 threads per process (1 on one core), none when the processes take every core", () => {
    expect(parseConfig([], {})).toMatchObject({ keyWorkers: autoKeyWorkers(1) });
    expect(parseConfig(["--key-workers", "auto"], {})).toEqual(DEFAULTS);
    expect(parseConfig([], { SCEP_KEY_WORKERS: "AUTO", SCEP_WORKERS: "auto" })).toMatchObject({ keyWorkers: 0 });
    expect(parseConfig(["--key-workers", "64"], {})).toMatchObject({ keyWorkers: 64 });
    if (availableParallelism() === 2) expect(DEFAULTS.keyWorkers).toBe(2); // the measured machine: two threads for one process
    if (availableParallelism() === 2) expect(parseConfig(["--workers", "2"], {})).toMatchObject({ keyWorkers: 0 });
  });

  it("takes a shutdown timeout of up to a day (86 400 000 ms)", () => {
    expect(parseConfig([], { SCEP_SHUTDOWN_TIMEOUT_MS: "86400000" })).toEqual({ ...DEFAULTS, shutdownTimeoutMs: 86_400_000 });
  });

  it("takes the body timeout from a shorter request timeout unless it is given", () => {
    expect(parseConfig([], { SCEP_REQUEST_TIMEOUT_MS: "600", SCEP_HEADERS_TIMEOUT_MS: "300" })).toEqual({ ...DEFAULTS, requestTimeoutMs: 600, headersTimeoutMs: 300, bodyTimeoutMs: 600 });
    expect(parseConfig(["--body-timeout-ms", "200"], { SCEP_REQUEST_TIMEOUT_MS: "600", SCEP_HEADERS_TIMEOUT_MS: "300" })).toEqual({ ...DEFAULTS, requestTimeoutMs: 600, headersTimeoutMs: 300, bodyTimeoutMs: 200 });
  });

  it.each([
    [["--port", "http"], {}, '--port must be an integer from 0 to 65535, got "http"'],
    [[], { PORT: "70000" }, 'PORT must be an integer from 0 to 65535, got "70000"'],
    [["--host", "localhost:8080"], {}, '--host takes an address or host name without a port (e.g. 127.0.0.1, localhost or ::1; the port is --port), got "localhost:8080"'],
    [[], { HOST: "[::1]" }, 'HOST takes an IPv6 address without brackets (::1), got "[::1]"'],
    [[], { SCEP_VALIDITY_DAYS: "-1" }, 'SCEP_VALIDITY_DAYS must be a positive number of days, got "-1"'],
    [[], { SCEP_PENDING: "maybe" }, 'SCEP_PENDING must be one of 1, true, yes, on, 0, false, no, off (any case) or empty, got "maybe"'],
    [[], { SCEP_CERT_FILES: "y" }, 'SCEP_CERT_FILES must be one of 1, true, yes, on, 0, false, no, off (any case) or empty, got "y"'],
    [[], { SCEP_ONE_TIME_CHALLENGES: "enabled" }, 'SCEP_ONE_TIME_CHALLENGES must be one of 1, true, yes, on, 0, false, no, off (any case) or empty, got "enabled"'],
    [["--ca-cert", "ca.pem"], {}, "--ca-cert/SCEP_CA_CERT and --ca-key/SCEP_CA_KEY must be given together"],
    [[], { SCEP_HEADERS_TIMEOUT_MS: "5000", SCEP_REQUEST_TIMEOUT_MS: "1000" }, "the headers timeout (5000 ms) must not exceed the request timeout (1000 ms)"],
    [[], { SCEP_BODY_TIMEOUT_MS: "2000", SCEP_REQUEST_TIMEOUT_MS: "1000" }, "the body timeout (2000 ms) must not exceed the request timeout (1000 ms)"],
    [["--max-in-flight", "0"], {}, '--max-in-flight must be an integer from 1 to 1000000, got "0"'],
    [[], { SCEP_MAX_CONNECTIONS: "lots" }, 'SCEP_MAX_CONNECTIONS must be an integer from 1 to 1000000, got "lots"'],
    [["--retry-after-seconds", "0"], {}, '--retry-after-seconds must be an integer from 1 to 3600, got "0"'],
    // Past setTimeout's 2^31 − 1 ms the shutdown timers fired after 1 ms: SIGTERM cut every in-flight request at once
    // (and a --workers primary SIGKILLed its workers at once), the opposite of a long drain.
    [[], { SCEP_SHUTDOWN_TIMEOUT_MS: "3000000000" }, 'SCEP_SHUTDOWN_TIMEOUT_MS must be an integer from 0 to 86400000, got "3000000000"'],
    [["--shutdown-timeout-ms", "86400001"], {}, '--shutdown-timeout-ms must be an integer from 0 to 86400000, got "86400001"'],
    [[], { SCEP_ADMIN_TOKEN: "short" }, "SCEP_ADMIN_TOKEN must be at least 16 characters"],
    // Tokens no Authorization: Bearer header can carry (a space, a CR from a Windows-edited env file, a non-ASCII
    // letter): the server started, then refused every admin request or scrape. The message never holds the token.
    [[], { SCEP_ADMIN_TOKEN: "my admin token 12345" }, "SCEP_ADMIN_TOKEN must be visible ASCII characters only (no space, tab, line break or non-ASCII letter): an Authorization: Bearer header cannot carry any other, so no request could match it"],
    [[], { SCEP_ADMIN_TOKEN: "0123456789abcdef\r" }, "SCEP_ADMIN_TOKEN must be visible ASCII characters only (no space, tab, line break or non-ASCII letter): an Authorization: Bearer header cannot carry any other, so no request could match it"],
    [[], { SCEP_METRICS_TOKEN: "pässwörd-0123456789" }, "SCEP_METRICS_TOKEN must be visible ASCII characters only (no space, tab, line break or non-ASCII letter): an Authorization: Bearer header cannot carry any other, so no request could match it"],
    [[], { SCEP_METRICS_TOKEN: "short" }, "SCEP_METRICS_TOKEN must be at least 16 characters"],
    [["--max-body", "10"], {}, '--max-body must be an integer from 1024 to 1073741824, got "10"'],
    [["--nope"], {}, "unknown option '--nope'"],
    [["--workers", "0"], {}, '--workers must be an integer from 1 to 64 or auto, got "0"'],
    [[], { SCEP_WORKERS: "many" }, 'SCEP_WORKERS must be an integer from 1 to 64 or auto, got "many"'],
    [["--key-workers", "65"], {}, '--key-workers must be an integer from 0 to 64 or auto, got "65"'],
    [[], { SCEP_KEY_WORKERS: "-1" }, 'SCEP_KEY_WORKERS must be an integer from 0 to 64 or auto, got "-1"'],
    [["--backdate-seconds=-5"], {}, '--backdate-seconds must be an integer from 0 to 86400, got "-5"'],
    // A value after a space that starts with one dash is the value (parseArgs alone calls it ambiguous).
    [["--key-workers", "-1"], {}, '--key-workers must be an integer from 0 to 64 or auto, got "-1"'],
    [["--key-workers", "--port", "3"], {}, "--key-workers has no value (for a value that starts with a dash write --key-workers=VALUE)"],
    [[], { SCEP_CA_KEY_PASSPHRASE: "a", SCEP_CA_KEY_PASSPHRASE_FILE: "/p" }, "give SCEP_CA_KEY_PASSPHRASE or SCEP_CA_KEY_PASSPHRASE_FILE, not both"],
    [["--ca-key-passphrase", "x"], {}, "unknown option '--ca-key-passphrase'"],
  ])("rejects %j %j", (argv, env, message) => {
    expect(() => parseConfig(argv, env)).toThrow(new ConfigError(message));
  });

  it("refuses pending mode with more than one worker without Redis, in a message that needs no --help", () => {
    const error = new ConfigError(
      "--pending cannot run with 2 workers without --redis-url: pending requests would live in one process's memory (use --workers 1, or give SCEP_REDIS_URL)",
      { showUsage: false },
    );
    expect(() => parseConfig(["--pending", "--workers", "2"], {})).toThrow(error);
    expect(() => parseConfig([], { SCEP_PENDING: "1", SCEP_WORKERS: "2" })).toThrow(error);
  });

  it("--redis-start-timeout / SCEP_REDIS_START_TIMEOUT: seconds, default 30, 0 (no wait) to 3600, flag over variable, one line for a bad value", () => {
    const redis = { SCEP_REDIS_URL: "redis://127.0.0.1:6379/0" };
    expect(parseConfig([], redis)).toMatchObject({ redisStartTimeoutSeconds: 30 });
    expect(parseConfig([], { ...redis, SCEP_REDIS_START_TIMEOUT: "0" })).toMatchObject({ redisStartTimeoutSeconds: 0 });
    expect(parseConfig(["--redis-start-timeout", "120"], { ...redis, SCEP_REDIS_START_TIMEOUT: "5" })).toMatchObject({ redisStartTimeoutSeconds: 120 });
    expect(parseConfig([], { ...redis, SCEP_REDIS_START_TIMEOUT: "3600" })).toMatchObject({ redisStartTimeoutSeconds: 3600 });
    expect(() => parseConfig([], { ...redis, SCEP_REDIS_START_TIMEOUT: "3601" })).toThrow(new ConfigError('SCEP_REDIS_START_TIMEOUT must be an integer from 0 to 3600, got "3601"'));
    expect(() => parseConfig(["--redis-start-timeout", "1.5"], redis)).toThrow(new ConfigError('--redis-start-timeout must be an integer from 0 to 3600, got "1.5"'));
    expect(() => parseConfig(["--redis-start-timeout=-1"], redis)).toThrow(new ConfigError('--redis-start-timeout must be an integer from 0 to 3600, got "-1"'));
    expect(configErrorLine("express-server", (() => { try { parseConfig([], { ...redis, SCEP_REDIS_START_TIMEOUT: "30s" }); } catch (e) { return e as Error; } return new Error("none"); })())).toBe(
      'express-server: SCEP_REDIS_START_TIMEOUT must be an integer from 0 to 3600, got "30s" (run with --help)',
    );
  });

  it("--redis-key-prefix / SCEP_REDIS_KEY_PREFIX: default scep:, flag over variable, checked as @scep/redis checks keyPrefix, only with Redis", () => {
    const redis = { SCEP_REDIS_URL: "redis://127.0.0.1:6379/0" };
    expect(parseConfig([], redis)).toMatchObject({ redisKeyPrefix: "scep:" });
    expect(parseConfig([], { ...redis, SCEP_REDIS_KEY_PREFIX: "staging:" })).toMatchObject({ redisKeyPrefix: "staging:" });
    expect(parseConfig(["--redis-key-prefix", "prod:"], { ...redis, SCEP_REDIS_KEY_PREFIX: "staging:" })).toMatchObject({ redisKeyPrefix: "prod:" });
    expect(parseConfig([], { ...redis, SCEP_REDIS_KEY_PREFIX: "" })).toMatchObject({ redisKeyPrefix: "scep:" });
    expect(() => parseConfig(["--redis-key-prefix", "a{b}:"], redis)).toThrow(new ConfigError('--redis-key-prefix must not contain { or } (the stores add Redis Cluster hash tags), got "a{b}:"'));
    expect(() => parseConfig([], { ...redis, SCEP_REDIS_KEY_PREFIX: "}" })).toThrow(new ConfigError('SCEP_REDIS_KEY_PREFIX must not contain { or } (the stores add Redis Cluster hash tags), got "}"'));
    expect(() => parseConfig(["--redis-key-prefix", "prod:"], {})).toThrow(new ConfigError("--redis-key-prefix needs --redis-url or SCEP_REDIS_URL: without Redis nothing is stored under a key prefix", { showUsage: false }));
    expect(() => parseConfig([], { SCEP_REDIS_KEY_PREFIX: "staging:" })).toThrow(new ConfigError("SCEP_REDIS_KEY_PREFIX needs --redis-url or SCEP_REDIS_URL: without Redis nothing is stored under a key prefix", { showUsage: false }));
    expect(configErrorLine("express-server", (() => { try { parseConfig(["--redis-key-prefix", "{"], redis); } catch (e) { return e as Error; } return new Error("none"); })())).toBe(
      'express-server: --redis-key-prefix must not contain { or } (the stores add Redis Cluster hash tags), got "{" (run with --help)',
    );
  });

  it("with --redis-url, pending mode and one-time challenges run on several workers", () => {
    const env = { SCEP_ADMIN_TOKEN: "0123456789abcdef", SCEP_REDIS_URL: "redis://127.0.0.1:6379" };
    expect(parseConfig(["--pending", "--one-time-challenges", "--workers", "4"], env)).toEqual({
      ...DEFAULTS, pending: true, oneTimeChallenges: true, workers: 4, keyWorkers: autoKeyWorkers(4), adminToken: "0123456789abcdef", redisUrl: "redis://127.0.0.1:6379",
    });
    expect(parseConfig(["--redis-url", "rediss://u:p@cache.example:6380/1"], {})).toMatchObject({ redisUrl: "rediss://u:p@cache.example:6380/1" });
    // PENDING on a replica without the admin API: another replica on the same Redis approves it; without Redis the
    // start is not refused either (the banner warns that nothing can approve).
    expect(parseConfig(["--pending", "--redis-url", "redis://127.0.0.1:6379"], {})).toMatchObject({ pending: true, adminToken: undefined });
    expect(parseConfig(["--pending"], {})).toEqual({ ...DEFAULTS, pending: true });
    expect(parseConfig([], { SCEP_PENDING: "true" })).toEqual({ ...DEFAULTS, pending: true });
  });

  it.each([
    [["--redis-url", "http://x"], {}, "--redis-url must be a redis:// or rediss:// URL, got a http: URL"],
    [[], { SCEP_REDIS_URL: "not a url :pw" }, "SCEP_REDIS_URL must be a redis:// or rediss:// URL"],
    [["--crl-url", "ldap://x/ca.crl"], {}, '--crl-url must be an http:// or https:// URL, got "ldap://x/ca.crl"'],
    [[], { SCEP_CRL_URL: "/scep/ca.crl" }, 'SCEP_CRL_URL must be an http:// or https:// URL, got "/scep/ca.crl"'],
    // a refused URL is echoed with its credentials masked (userinfo, ?token=): the host says which one it was
    [["--crl-url", "ftp://user:s3cret@crl.example/ca.crl?token=s3cret"], {}, '--crl-url must be an http:// or https:// URL, got "ftp://user:***@crl.example/ca.crl?token=***"'],
    [[], { SCEP_CRL_URL: "http://user:s3cret@crl.example/ca.crl?token=s3cret x" }, 'SCEP_CRL_URL must be an http:// or https:// URL, got "http://user:***@crl.example/ca.crl?token=*** x"'],
    [["--crl-validity-hours", "0"], {}, '--crl-validity-hours must be an integer from 1 to 8760, got "0"'],
    [["--admin-listen", "localhost:99999"], { SCEP_ADMIN_TOKEN: "0123456789abcdef" }, '--admin-listen must be [host:]port (e.g. 127.0.0.1:9090), got "localhost:99999"'],
    [["--admin-listen", "9090"], {}, "--admin-listen needs SCEP_ADMIN_TOKEN: it serves the admin API"],
    [["--one-time-challenges"], {}, "--one-time-challenges needs SCEP_ADMIN_TOKEN: one-time challenges are issued by POST /admin/scep/challenges"],
    [["--one-time-challenges", "--workers", "2"], { SCEP_ADMIN_TOKEN: "0123456789abcdef" }, "--one-time-challenges cannot run with 2 workers without --redis-url: challenges would live in one process's memory (use --workers 1, or give SCEP_REDIS_URL)"],
  ])("refuses the shared-state settings %j %j (never echoing the URL)", (argv, env, message) => {
    expect(() => parseConfig(argv, env)).toThrow(message);
    try {
      parseConfig(argv, env);
    } catch (e) {
      expect((e as Error).message).toBe(message);
    }
  });

  it("prints every flag and variable in --help", () => {
    const text = usage("express-server");
    for (const name of ["--port", "PORT", "--host", "HOST", "--data-dir", "SCEP_DATA_DIR", "--challenge", "SCEP_CHALLENGE", "--ca-cert", "SCEP_CA_CERT", "--ca-key", "SCEP_CA_KEY", "--validity-days", "SCEP_VALIDITY_DAYS", "--pending", "SCEP_PENDING", "--max-body", "SCEP_MAX_BODY", "SCEP_ADMIN_TOKEN", "--workers", "SCEP_WORKERS", "SCEP_CA_KEY_PASSPHRASE", "SCEP_CA_KEY_PASSPHRASE_FILE", "--backdate-seconds", "SCEP_BACKDATE_SECONDS", "--redis-url", "SCEP_REDIS_URL", "--one-time-challenges", "SCEP_ONE_TIME_CHALLENGES", "--key-workers", "SCEP_KEY_WORKERS"]) {
      expect(text).toContain(name);
    }
  });

  it("the README's configuration table is SETTINGS row for row, in the same words as --help", () => {
    const readme = readFileSync(`${REPO_ROOT}README.md`, "utf8");
    const header = "| flag | environment variable | default | meaning |\n| --- | --- | --- | --- |\n";
    const start = readme.indexOf(header);
    expect(start, "README has the configuration table").toBeGreaterThan(-1);
    const table = readme.slice(start + header.length).split("\n").filter((_, i, lines) => lines.slice(0, i + 1).every((l) => l.startsWith("|")));
    const code = (v: string): string => (v.startsWith("(") ? v : `\`${v}\``);
    expect(table).toEqual(SETTINGS.map(([flag, env, def, meaning]) => `| ${flag ? code(flag) : "—"} | ${code(env)} | ${code(def)} | ${meaning} |`));
    // --help prints the same meanings, without Markdown.
    const text = usage("express-server");
    expect(text).toContain("PEM certificate of an existing CA (with --ca-key; a DER one is refused: convert it with openssl x509 -inform der), or a bundle of it and the certificates above it");
    expect(text).toContain("its private key, PEM or DER (told apart by the file's bytes): RSA (the CA also decrypts requests; an EC key is refused, exit 2), PKCS#1 or PKCS#8, possibly encrypted (see SCEP_CA_KEY_PASSPHRASE)");
    expect(text).toContain("at least 16 characters, visible ASCII (no spaces); enables the admin API under /admin/scep/ (profiles, activity, pending, approve, reject, challenges, certificates, revoke, reload-trust, stats: see Admin API)");
    expect(text).not.toContain("`");
    expect(text).not.toContain("](#");
  });
});
