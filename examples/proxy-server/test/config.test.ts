/**
 * The example proxy's configuration: the JSON file's CAs (types, URLs,
 * windows, secrets by variable), flags over environment over file, and one
 * clear line for every mistake.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { selfSignedLoopbackCert } from "../../../packages/proxy/test/support/tls-cert.js";
import { ConfigError, parseConfig, SETTINGS, usage, type ProxyConfig } from "../src/config.js";

const TOKEN = "0123456789abcdef-token";
const CORP = { name: "corp", type: "custom", url: "http://127.0.0.1:8080/scep" };
/** A CA certificate as `ndesAccess.caFile` needs one (each block is parsed at start). */
const PEM = selfSignedLoopbackCert().cert;

function parse(file: unknown, env: Record<string, string> = {}, argv: string[] = []): ProxyConfig {
  const result = parseConfig(argv, { PROXY_ADMIN_TOKEN: TOKEN, ...env }, { cwd: "/srv", readFile: () => (typeof file === "string" ? file : JSON.stringify(file)) });
  if ("help" in result) throw new Error("help");
  return result;
}

const error = (file: unknown, env: Record<string, string> = {}, argv: string[] = []): string => {
  try {
    parse(file, env, argv);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("no ConfigError");
};

describe("proxy-server configuration", () => {
  it("reads the CAs, with defaults for everything else", () => {
    expect(parse({ cas: [CORP] })).toEqual({
      port: 8090,
      host: "127.0.0.1",
      publicUrl: undefined,
      path: "/scep",
      cas: [{ name: "corp", type: "custom", url: "http://127.0.0.1:8080/scep", challengeTtlMs: undefined, exemptPlatforms: undefined, challenge: undefined, ndes: undefined, smallstep: undefined }],
      defaultCa: "corp",
      maxBodyBytes: 2 * 1024 * 1024,
      upstreamTimeoutMs: 30_000,
      http: { headersTimeoutMs: 10_000, requestTimeoutMs: 60_000, bodyTimeoutMs: 10_000, keepAliveTimeoutMs: 5_000, maxInFlight: 512, maxConnections: 4096, retryAfterSeconds: 1 },
      ndesAccess: {},
      adminToken: TOKEN,
      redisUrl: undefined,
      redisKeyPrefix: "scep-proxy:",
      redisStartTimeoutSeconds: 30,
      forwardResends: true,
      configPath: "/srv/proxy.json",
    });
  });

  it("forwardResends: the file's key, PROXY_FORWARD_RESENDS over it, --forward-resends over both; a bad value is one line", () => {
    expect(parse({ cas: [CORP], forwardResends: false }).forwardResends).toBe(false);
    expect(parse({ cas: [CORP], forwardResends: false }, { PROXY_FORWARD_RESENDS: "true" }).forwardResends).toBe(true);
    expect(parse({ cas: [CORP] }, { PROXY_FORWARD_RESENDS: "off" }).forwardResends).toBe(false);
    expect(parse({ cas: [CORP] }, { PROXY_FORWARD_RESENDS: "" }).forwardResends).toBe(true);
    expect(parse({ cas: [CORP] }, { PROXY_FORWARD_RESENDS: "true" }, ["--forward-resends", "false"]).forwardResends).toBe(false);
    expect(parse({ cas: [CORP], forwardResends: false }, {}, ["--forward-resends=yes"]).forwardResends).toBe(true);
    expect(error({ cas: [CORP], forwardResends: "false" })).toBe('forwardResends must be true or false, got "false"');
    expect(error({ cas: [CORP] }, { PROXY_FORWARD_RESENDS: "nope" })).toBe('PROXY_FORWARD_RESENDS must be true or false (or 1/0, yes/no, on/off), got "nope"');
    expect(error({ cas: [CORP] }, {}, ["--forward-resends", "2"])).toBe('--forward-resends must be true or false (or 1/0, yes/no, on/off), got "2"');
  });

  it("reads every CA type with its window, exempt platforms and secrets from variables", () => {
    const config = parse(
      {
        defaultCa: "ndes",
        cas: [
          { ...CORP, challengeEnv: "CORP_CHALLENGE", challengeTtlMs: 600_000 },
          { name: "ndes", type: "ndes", url: "https://ndes.corp.example/certsrv/mscep/mscep.dll", challengeTtlMs: 3_420_000, exemptPlatforms: ["windows"], ndes: { adminUrl: "https://ndes.corp.example/certsrv/mscep_admin/", username: "svc-scep", passwordEnv: "NDES_PASSWORD", domain: "CORP" } },
          { name: "step", type: "smallstep", url: "https://ca.example/scep/mdm", smallstep: { webhookUrl: "https://ca.example/webhook", username: "mdm", password: "inline-secret" } },
        ],
      },
      { CORP_CHALLENGE: "static-upstream-secret", NDES_PASSWORD: "ndes-secret" },
    );
    expect(config.defaultCa).toBe("ndes");
    expect(config.cas.map((ca) => [ca.name, ca.type, ca.challengeTtlMs, ca.exemptPlatforms, ca.challenge])).toEqual([
      ["corp", "custom", 600_000, undefined, "static-upstream-secret"],
      ["ndes", "ndes", 3_420_000, ["windows"], undefined],
      ["step", "smallstep", undefined, undefined, undefined],
    ]);
    expect(config.cas[1]!.ndes).toEqual({ adminUrl: "https://ndes.corp.example/certsrv/mscep_admin/", username: "svc-scep", password: "ndes-secret", domain: "CORP" });
    expect(config.cas[2]!.smallstep).toEqual({ webhookUrl: "https://ca.example/webhook", username: "mdm", password: "inline-secret" });
  });

  it("flags override environment variables, which override the file", () => {
    const file = { port: 9000, host: "0.0.0.0", publicUrl: "https://file.example/", cas: [CORP] };
    expect(parse(file)).toMatchObject({ port: 9000, host: "0.0.0.0", publicUrl: "https://file.example" });
    expect(parse(file, { PORT: "9100", HOST: "::1", PROXY_PUBLIC_URL: "https://env.example", SCEP_REDIS_URL: "redis://127.0.0.1:6379" })).toMatchObject({ port: 9100, host: "::1", publicUrl: "https://env.example", redisUrl: "redis://127.0.0.1:6379" });
    expect(parse(file, { PORT: "9100" }, ["--port", "0", "--public-url", "https://flag.example", "--redis-url", "rediss://r.example:6380", "--config", "etc/p.json"])).toMatchObject({
      port: 0,
      publicUrl: "https://flag.example",
      redisUrl: "rediss://r.example:6380",
      configPath: "/srv/etc/p.json",
    });
    expect(parse(file, { SCEP_PROXY_CONFIG: "/etc/scep/proxy.json", INIT_CWD: "/home/me" }).configPath).toBe("/etc/scep/proxy.json");
    expect(parse(file, { SCEP_PROXY_CONFIG: "p.json", INIT_CWD: "/home/me" }).configPath).toBe("/home/me/p.json");
  });

  it("--ca-url NAME=URL and PROXY_CA_URLS move a CA of the file (the flag wins for the same name), the rest as the file says", () => {
    const NDES = { name: "ndes", type: "ndes", url: "http://ndes.corp.example/certsrv/mscep/mscep.dll" };
    const urls = (env: Record<string, string>, argv: string[]): string[] => parse({ cas: [CORP, NDES] }, env, argv).cas.map((ca) => ca.url);
    expect(urls({}, ["--ca-url", "corp=http://127.0.0.1:9080/scep"])).toEqual(["http://127.0.0.1:9080/scep", NDES.url]);
    expect(urls({ PROXY_CA_URLS: " corp=http://127.0.0.1:9081/scep  ndes=https://ndes2.corp.example/mscep.dll " }, [])).toEqual(["http://127.0.0.1:9081/scep", "https://ndes2.corp.example/mscep.dll"]);
    expect(urls({ PROXY_CA_URLS: "corp=http://127.0.0.1:9081/scep" }, ["--ca-url=corp=http://127.0.0.1:9082/scep", "--ca-url", "ndes=http://127.0.0.1:9083/x"])).toEqual([
      "http://127.0.0.1:9082/scep",
      "http://127.0.0.1:9083/x",
    ]);
    expect(error({ cas: [CORP, NDES] }, {}, ["--ca-url", "other=http://127.0.0.1:1/scep"])).toBe('--ca-url names the CA "other", which is not among the file\'s cas (corp, ndes)');
    expect(error({ cas: [CORP] }, {}, ["--ca-url", "http://127.0.0.1:9080/scep"])).toBe('--ca-url takes NAME=URL (the name of a CA in the file, then its SCEP URL), got "http://127.0.0.1:9080/scep"');
    expect(error({ cas: [CORP] }, { PROXY_CA_URLS: "corp=ftp://x/scep" })).toBe("PROXY_CA_URLS corp= must be an http:// or https:// URL, got a ftp: URL");
    // A URL given without NAME= (or whose query's '=' reads as one) never puts its credentials in the error line.
    expect(error({ cas: [CORP] }, {}, ["--ca-url", "http://scep:s3cret@ca.example/scep"])).toBe('--ca-url takes NAME=URL (the name of a CA in the file, then its SCEP URL), got "http://…@ca.example/scep"');
    expect(error({ cas: [CORP] }, { PROXY_CA_URLS: "https://scep:s3cret@ca.example/scep?profile=a" })).toBe(
      'PROXY_CA_URLS names the CA "https://…@ca.example/scep?profile", which is not among the file\'s cas (corp)',
    );
  });

  it("--redis-key-prefix / SCEP_PROXY_KEY_PREFIX: default scep-proxy:, flag over variable, no { or } (as @scep/redis), the flag only with Redis", () => {
    const redis = { SCEP_REDIS_URL: "redis://127.0.0.1:6379" };
    expect(parse({ cas: [CORP] }, redis).redisKeyPrefix).toBe("scep-proxy:");
    expect(parse({ cas: [CORP] }, { ...redis, SCEP_PROXY_KEY_PREFIX: "staging-proxy:" }).redisKeyPrefix).toBe("staging-proxy:");
    expect(parse({ cas: [CORP] }, { ...redis, SCEP_PROXY_KEY_PREFIX: "staging-proxy:" }, ["--redis-key-prefix", "prod-proxy:"]).redisKeyPrefix).toBe("prod-proxy:");
    expect(error({ cas: [CORP] }, redis, ["--redis-key-prefix", "p{1}:"])).toBe('--redis-key-prefix must not contain { or } (the stores add Redis Cluster hash tags), got "p{1}:"');
    expect(error({ cas: [CORP] }, { ...redis, SCEP_PROXY_KEY_PREFIX: "}" })).toBe('SCEP_PROXY_KEY_PREFIX must not contain { or } (the stores add Redis Cluster hash tags), got "}"');
    expect(error({ cas: [CORP] }, {}, ["--redis-key-prefix", "prod-proxy:"])).toBe("--redis-key-prefix needs --redis-url or SCEP_REDIS_URL: without Redis nothing is stored under a key prefix");
  });

  it("SCEP_PROXY_KEY_PREFIX without a Redis URL is refused as the flag is (one line), not silently ignored; empty counts as unset", () => {
    expect(error({ cas: [CORP] }, { SCEP_PROXY_KEY_PREFIX: "staging-proxy:" })).toBe("SCEP_PROXY_KEY_PREFIX needs --redis-url or SCEP_REDIS_URL: without Redis nothing is stored under a key prefix");
    expect(error({ cas: [CORP] }, { SCEP_PROXY_KEY_PREFIX: "scep-proxy:" })).toBe("SCEP_PROXY_KEY_PREFIX needs --redis-url or SCEP_REDIS_URL: without Redis nothing is stored under a key prefix");
    expect(parse({ cas: [CORP] }, { SCEP_PROXY_KEY_PREFIX: "" }).redisKeyPrefix).toBe("scep-proxy:");
    expect(parse({ cas: [CORP] }, { SCEP_PROXY_KEY_PREFIX: "staging-proxy:" }, ["--redis-url", "redis://127.0.0.1:6379"])).toMatchObject({ redisUrl: "redis://127.0.0.1:6379", redisKeyPrefix: "staging-proxy:" });
  });

  it("--redis-start-timeout / SCEP_REDIS_START_TIMEOUT: seconds, default 30, 0 to 3600, flag over variable", () => {
    expect(parse({ cas: [CORP] }, {}).redisStartTimeoutSeconds).toBe(30);
    expect(parse({ cas: [CORP] }, { SCEP_REDIS_START_TIMEOUT: "0" }).redisStartTimeoutSeconds).toBe(0);
    expect(parse({ cas: [CORP] }, { SCEP_REDIS_START_TIMEOUT: "5" }, ["--redis-start-timeout", "90"]).redisStartTimeoutSeconds).toBe(90);
    expect(error({ cas: [CORP] }, { SCEP_REDIS_START_TIMEOUT: "30s" })).toBe('SCEP_REDIS_START_TIMEOUT must be an integer from 0 to 3600, got "30s"');
    expect(error({ cas: [CORP] }, {}, ["--redis-start-timeout", "3601"])).toBe('--redis-start-timeout must be an integer from 0 to 3600, got "3601"');
  });

  it("--help, and the usage names every setting", () => {
    expect(parseConfig(["--help"], {})).toEqual({ help: true });
    const text = usage("proxy-server");
    for (const [flag, env] of SETTINGS) {
      if (flag) expect(text).toContain(flag);
      expect(text).toContain(env);
    }
    // The columns line up: each row's environment variable and default start where the header's do (the longest
    // flag, --redis-start-timeout, pushed its row's columns right).
    const lines = text.split("\n").slice(2);
    const header = lines[0]!;
    for (const [i, [flag, env, def]] of SETTINGS.entries()) {
      const row = lines[i + 1]!;
      expect([flag, row.indexOf(` ${env} `) + 1]).toEqual([flag, header.indexOf("environment")]);
      expect([flag, row.indexOf(` ${def} `, row.indexOf(env) + env.length) + 1]).toEqual([flag, header.indexOf("default")]);
    }
  });

  it.each([
    ["no admin token", { cas: [CORP] }, { PROXY_ADMIN_TOKEN: "" }, [], "PROXY_ADMIN_TOKEN must be set to at least 16 characters (the admin API registers devices)"],
    ["a short admin token", { cas: [CORP] }, { PROXY_ADMIN_TOKEN: "short" }, [], "PROXY_ADMIN_TOKEN must be set to at least 16 characters (the admin API registers devices)"],
    ["an admin token with a space", { cas: [CORP] }, { PROXY_ADMIN_TOKEN: "proxy admin token 0123456789" }, [], "PROXY_ADMIN_TOKEN must be visible ASCII characters only (no space, tab, line break or non-ASCII letter): an Authorization: Bearer header cannot carry any other, so no request could match it"],
    ["an admin token with a tab", { cas: [CORP] }, { PROXY_ADMIN_TOKEN: "proxy-admin-token\t0123456789" }, [], "PROXY_ADMIN_TOKEN must be visible ASCII characters only (no space, tab, line break or non-ASCII letter): an Authorization: Bearer header cannot carry any other, so no request could match it"],
    ["an admin token with a trailing CR (a Windows-edited env file)", { cas: [CORP] }, { PROXY_ADMIN_TOKEN: "proxy-admin-token-0123456789\r" }, [], "PROXY_ADMIN_TOKEN must be visible ASCII characters only (no space, tab, line break or non-ASCII letter): an Authorization: Bearer header cannot carry any other, so no request could match it"],
    ["an admin token with a non-ASCII letter", { cas: [CORP] }, { PROXY_ADMIN_TOKEN: "proxy-admin-tökën-0123456789" }, [], "PROXY_ADMIN_TOKEN must be visible ASCII characters only (no space, tab, line break or non-ASCII letter): an Authorization: Bearer header cannot carry any other, so no request could match it"],
    ["an unknown flag", { cas: [CORP] }, {}, ["--bogus"], "unknown option '--bogus' (run with --help)"],
    ["a flag without its value", { cas: [CORP] }, {}, ["--port", "--config", "x"], "--port has no value (for a value that starts with a dash write --port=VALUE) (run with --help)"],
    ["a negative port after a space", { cas: [CORP] }, {}, ["--port", "-1"], '--port must be an integer from 0 to 65535, got "-1"'],
    ["a file that is not JSON", "{cas:", {}, [], expect.stringMatching(/^\/srv\/proxy\.json is not valid JSON: /)],
    ["a file without CAs", {}, {}, [], "/srv/proxy.json: cas must list at least one upstream CA"],
    ["an unknown top-level key", { cas: [CORP], bogus: 1 }, {}, [], expect.stringMatching(/^\/srv\/proxy\.json: unknown key "bogus" \(allowed: /)],
    ["an unknown CA type", { cas: [{ ...CORP, type: "digicert" }] }, {}, [], 'CA "corp": type must be one of ndes, smallstep, custom, got "digicert"'],
    ["a CA name with a comma", { cas: [{ ...CORP, name: "a,b" }] }, {}, [], 'CA "a,b": the name must not contain a comma, slash, percent sign or space (it goes into device URLs)'],
    // Before, these passed here and @scep/proxy's CA registry refused them once the proxy listened (exit 1, not 2).
    ["a CA name with a control character", { cas: [{ ...CORP, name: "co\u0007rp" }] }, {}, [], 'CA "co\\u0007rp": the name must be well-formed text without control characters (it goes into device URLs)'],
    ["a CA name with a lone UTF-16 surrogate", "{\"cas\": [{\"name\": \"corp\\ud800\", \"type\": \"custom\", \"url\": \"http://127.0.0.1:8080/scep\"}]}", {}, [], 'CA "corp\\ud800": the name must be well-formed text without control characters (it goes into device URLs)'],
    ["two CAs of one name", { cas: [CORP, CORP] }, {}, [], 'two CAs are named "corp"'],
    ["a non-http URL", { cas: [{ ...CORP, url: "ftp://x/scep" }] }, {}, [], 'CA "corp": url must be an http:// or https:// URL, got a ftp: URL'],
    ["credentials in a URL", { cas: [{ ...CORP, url: "http://u:p@x/scep" }] }, {}, [], 'CA "corp": url must not hold credentials (give them as username/passwordEnv)'],
    ["a window under a second", { cas: [{ ...CORP, challengeTtlMs: 10 }] }, {}, [], 'CA "corp": challengeTtlMs must be an integer from 1000 to 31536000000, got 10'],
    ["a challenge variable that is not set", { cas: [{ ...CORP, challengeEnv: "NOPE" }] }, {}, [], 'CA "corp".challengeEnv names NOPE, which is not set'],
    ["both an inline secret and a variable", { cas: [{ ...CORP, challenge: "a", challengeEnv: "B" }] }, {}, [], 'CA "corp": give challenge or challengeEnv, not both'],
    ["ndes settings on a custom CA", { cas: [{ ...CORP, ndes: {} }] }, {}, [], 'CA "corp": ndes settings belong to a CA of type ndes'],
    ["an unknown default CA", { cas: [CORP], defaultCa: "other" }, {}, [], 'defaultCa names "other", which is not among the cas'],
    ["a path ending in a slash", { cas: [CORP], path: "/scep/" }, {}, [], 'path must start with / and not end with one, got "/scep/"'],
    ["a bad port", { cas: [CORP] }, { PORT: "70000" }, [], 'PORT must be an integer from 0 to 65535, got "70000"'],
    ["a host with a port", { cas: [CORP] }, {}, ["--host", "localhost:8090"], '--host takes an address or host name without a port (e.g. 127.0.0.1, localhost or ::1; the port is --port), got "localhost:8090"'],
    ["a host with a port in the file", { cas: [CORP], host: "127.0.0.1:8090" }, {}, [], 'host takes an address or host name without a port (e.g. 127.0.0.1, localhost or ::1; the port is --port), got "127.0.0.1:8090"'],
    ["a non-Redis URL", { cas: [CORP] }, { SCEP_REDIS_URL: "http://x" }, [], "SCEP_REDIS_URL must be a redis:// or rediss:// URL"],
    ["an ndesAccess that is not an object", { cas: [CORP], ndesAccess: true }, {}, [], "ndesAccess must be a JSON object"],
    ["an unknown ndesAccess key", { cas: [CORP], ndesAccess: { caCert: "ca.pem" } }, {}, [], 'ndesAccess: unknown key "caCert" (allowed: channelBinding, timeoutMs, caFile)'],
    ["a channelBinding that is not a boolean", { cas: [CORP], ndesAccess: { channelBinding: "false" } }, {}, [], 'ndesAccess.channelBinding must be true or false, got "false"'],
    ["an NDES fetch deadline of 0 ms", { cas: [CORP], ndesAccess: { timeoutMs: 0 } }, {}, [], "ndesAccess.timeoutMs must be an integer from 1 to 2147483647, got 0"],
    ["a fractional NDES fetch deadline", { cas: [CORP], ndesAccess: { timeoutMs: 1.5 } }, {}, [], "ndesAccess.timeoutMs must be an integer from 1 to 2147483647, got 1.5"],
    ["an NDES fetch deadline past a timer's range", { cas: [CORP], ndesAccess: { timeoutMs: 2_147_483_648 } }, {}, [], "ndesAccess.timeoutMs must be an integer from 1 to 2147483647, got 2147483648"],
    ["an empty caFile", { cas: [CORP], ndesAccess: { caFile: "" } }, {}, [], "ndesAccess.caFile must be a non-empty string"],
    ["a caFile that does not exist", { cas: [CORP], ndesAccess: { caFile: "/nonexistent/ndes-ca.pem" } }, {}, [], "ndesAccess.caFile: cannot read /nonexistent/ndes-ca.pem: no such file (ENOENT)"],
    ["a caFile that is not a regular file", { cas: [CORP], ndesAccess: { caFile: "/dev/zero" } }, {}, [], "ndesAccess.caFile /dev/zero: not a regular file"],
    ["an unknown http key", { cas: [CORP], http: { timeout: 1 } }, {}, [], 'http: unknown key "timeout" (allowed: headersTimeoutMs, requestTimeoutMs, bodyTimeoutMs, keepAliveTimeoutMs, maxInFlight, maxConnections, retryAfterSeconds)'],
    ["no in-flight request allowed", { cas: [CORP], http: { maxInFlight: 0 } }, {}, [], "http.maxInFlight must be an integer from 1 to 1000000, got 0"],
    ["a body timeout past the request timeout", { cas: [CORP], http: { requestTimeoutMs: 1000, headersTimeoutMs: 500, bodyTimeoutMs: 2000 } }, {}, [], "http.bodyTimeoutMs (2000 ms) must not exceed http.requestTimeoutMs (1000 ms)"],
  ])("refuses %s with one line", (_what, file, env, argv, message) => {
    expect(error(file, env as Record<string, string>, argv as string[])).toEqual(message);
  });

  it("every problem at once, one line each: the file's, the admin token, the listen and Redis settings", () => {
    const all = (): unknown => parseConfig(["--config", "/nonexistent/proxy.json", "--host", "localhost:8090"], { PORT: "70000", SCEP_REDIS_URL: "http://x" });
    expect(all).toThrow(ConfigError);
    try {
      all();
    } catch (e) {
      expect((e as ConfigError).problems).toEqual([
        "cannot read the configuration file /nonexistent/proxy.json: no such file (ENOENT)",
        "PROXY_ADMIN_TOKEN must be set to at least 16 characters (the admin API registers devices)",
        "SCEP_REDIS_URL must be a redis:// or rediss:// URL",
        'PORT must be an integer from 0 to 65535, got "70000"',
        '--host takes an address or host name without a port (e.g. 127.0.0.1, localhost or ::1; the port is --port), got "localhost:8090"',
      ]);
      expect((e as Error).message).toBe((e as ConfigError).problems.join("\n"));
    }
    // A file mistake and a bad value in the file's own listen settings are both reported.
    expect(error({ cas: [], port: "x" }, { PROXY_ADMIN_TOKEN: "" })).toBe(
      ["/srv/proxy.json: cas must list at least one upstream CA", "PROXY_ADMIN_TOKEN must be set to at least 16 characters (the admin API registers devices)", 'port must be an integer from 0 to 65535, got "x"'].join("\n"),
    );
  });

  it("a configuration file that cannot be read says why in words", () => {
    expect(() => parseConfig(["--config", "/nonexistent/proxy.json"], { PROXY_ADMIN_TOKEN: TOKEN })).toThrow(
      new ConfigError("cannot read the configuration file /nonexistent/proxy.json: no such file (ENOENT)"),
    );
  });

  it("reads the http limits; the body timeout follows a shorter request timeout", () => {
    expect(parse({ cas: [CORP], http: { headersTimeoutMs: 500, requestTimeoutMs: 800, keepAliveTimeoutMs: 100, maxInFlight: 8, maxConnections: 16, retryAfterSeconds: 3 } }).http).toEqual({
      headersTimeoutMs: 500, requestTimeoutMs: 800, bodyTimeoutMs: 800, keepAliveTimeoutMs: 100, maxInFlight: 8, maxConnections: 16, retryAfterSeconds: 3,
    });
  });

  it("a configuration over 1 MiB, or a path that is not a regular file, is refused before it is parsed (one line)", () => {
    expect(error(`{"cas":[${" ".repeat(1_048_576)}]}`)).toBe("/srv/proxy.json: larger than 1048576 bytes: a configuration file is a few KB");
    const dir = mkdtempSync(join(tmpdir(), "proxy-config-"));
    try {
      const result = (): unknown => parseConfig(["--config", dir], { PROXY_ADMIN_TOKEN: TOKEN });
      expect(result).toThrow(new ConfigError(`${dir}: not a regular file`));
      expect(() => parseConfig(["--config", "/dev/zero"], { PROXY_ADMIN_TOKEN: TOKEN })).toThrow(new ConfigError("/dev/zero: not a regular file"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("ndesAccess: channelBinding, timeoutMs and caFile, each only when given; caFile resolved against the file's directory and read at start", () => {
    const dir = mkdtempSync(join(tmpdir(), "proxy-config-"));
    try {
      mkdirSync(join(dir, "certs"));
      writeFileSync(join(dir, "certs", "ndes-ca.pem"), PEM);
      const at = (ndesAccess: unknown): ProxyConfig => parse({ cas: [CORP], ndesAccess }, {}, ["--config", join(dir, "proxy.json")]);
      expect(parse({ cas: [CORP], ndesAccess: {} }).ndesAccess).toEqual({});
      expect(parse({ cas: [CORP], ndesAccess: { channelBinding: false } }).ndesAccess).toEqual({ channelBinding: false });
      expect(parse({ cas: [CORP], ndesAccess: { channelBinding: true, timeoutMs: 15_000 } }).ndesAccess).toEqual({ channelBinding: true, timeoutMs: 15_000 });
      // Relative: against the configuration file's directory, not the working directory (/srv here).
      expect(at({ caFile: "certs/ndes-ca.pem" }).ndesAccess).toEqual({ caFile: join(dir, "certs", "ndes-ca.pem"), ca: PEM });
      expect(at({ caFile: join(dir, "certs", "ndes-ca.pem"), timeoutMs: 5_000 }).ndesAccess).toEqual({ timeoutMs: 5_000, caFile: join(dir, "certs", "ndes-ca.pem"), ca: PEM });
      // A file without a certificate (a key, say), or a directory: one line at start, not a failed fetch later.
      writeFileSync(join(dir, "key.pem"), "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n");
      expect(() => at({ caFile: "key.pem" })).toThrow(new ConfigError(`ndesAccess.caFile ${join(dir, "key.pem")} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`));
      // A damaged block (a truncated copy): refused at start too, naming which block.
      writeFileSync(join(dir, "damaged.pem"), `${PEM}-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2FGaWxl\n-----END CERTIFICATE-----\n`);
      expect(() => at({ caFile: "damaged.pem" })).toThrow(new ConfigError(`ndesAccess.caFile ${join(dir, "damaged.pem")}: certificate 2 of 2 is not a readable X.509 certificate`));
      // A stray character in a block's base64: Node's base64 decoder would skip it, OpenSSL's PEM reader (as TLS
      // reads the bundle) does not, so it is refused at start too.
      writeFileSync(join(dir, "stray.pem"), PEM.replace("\n", "\n!"));
      expect(() => at({ caFile: "stray.pem" })).toThrow(new ConfigError(`ndesAccess.caFile ${join(dir, "stray.pem")}: certificate 1 of 1 is not a readable X.509 certificate`));
      expect(() => at({ caFile: "certs" })).toThrow(new ConfigError(`ndesAccess.caFile ${join(dir, "certs")}: not a regular file`));
      expect(() => at({ caFile: "missing.pem" })).toThrow(new ConfigError(`ndesAccess.caFile: cannot read ${join(dir, "missing.pem")}: no such file (ENOENT)`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("no default CA when several are configured and none is named", () => {
    expect(parse({ cas: [CORP, { ...CORP, name: "other" }] }).defaultCa).toBeUndefined();
  });
});
