/**
 * loadConfig (the configuration file of several profiles): what a valid file
 * resolves to, and the exact one-line message, naming the field, of each
 * mistake; parseConfig reading it from --config / SCEP_CONFIG.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CONFIG_SCHEMA_URL, ConfigError, ConfigFileError, loadConfig, parseConfig } from "../src/index.js";
import { MAX_CONFIG_BYTES } from "../src/config-file.js";

const tmp = mkdtempSync(join(tmpdir(), "scep-config-file-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const api = { mode: "api", tenantId: "contoso.onmicrosoft.com", clientId: "66666666-7777-8888-9999-000000000000", clientSecretEnv: "INTUNE_CLIENT_SECRET" };
const token = { mode: "signed-token", trustAnchors: "anchors.pem", audience: "https://scep.example.com/intune-b" };
const text = (profiles: unknown[]): string => JSON.stringify({ profiles });

/** The message loadConfig throws for `profiles`. */
function mistake(profiles: unknown[] | unknown): string {
  try {
    loadConfig(JSON.stringify(Array.isArray(profiles) ? { profiles } : profiles), { baseDir: "/etc/scep" });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigFileError);
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("no error");
}

describe("loadConfig: a valid file", () => {
  it("resolves each profile: names default to the path, relative paths against the file's directory, defaults named, no secret read", () => {
    const file = join(tmp, "scep.json");
    writeFileSync(
      file,
      text([
        { path: "/scep", challengePasswordEnv: "SCEP_CHALLENGE_CORP" },
        { name: "otp", path: "/otp/", challenge: "one-time", pending: true, validityDays: 30 },
        { path: "/intune", allowSid: true, ca: { cert: "pki/intune-ca.pem", key: "pki/intune-ca.key", keyPassphraseFile: "pki/pass" }, intune: { ...api, loginBaseUrl: "http://127.0.0.1:9999", revocationSyncSeconds: 900, replay: { ttlSeconds: 600 }, rateLimit: { max: 5, windowSeconds: 3600 } } },
        { path: "/intune-b", intune: { ...token, strict: false, clockSkewSeconds: 30, maxValiditySeconds: false, rateLimit: false } },
        { path: "/intune-c", challenge: "intune", intune: { mode: "api", tenantId: "t", clientId: "c", clientSecretFile: "/run/secrets/intune" } },
      ]),
    );
    const config = loadConfig(file);
    expect(config.file).toBe(file);
    expect(config.profiles).toEqual([
      { name: "/scep", path: "/scep", ca: undefined, validityDays: undefined, pending: undefined, allowSid: false, challenge: { type: "static", password: { env: "SCEP_CHALLENGE_CORP" } } },
      { name: "otp", path: "/otp", ca: undefined, validityDays: 30, pending: true, allowSid: false, challenge: { type: "one-time" } },
      {
        name: "/intune",
        path: "/intune",
        ca: { dataDir: undefined, certPath: join(tmp, "pki/intune-ca.pem"), keyPath: join(tmp, "pki/intune-ca.key"), keyPassphrase: { file: join(tmp, "pki/pass") } },
        validityDays: undefined,
        pending: undefined,
        allowSid: true,
        challenge: {
          type: "intune-api", tenantId: "contoso.onmicrosoft.com", clientId: "66666666-7777-8888-9999-000000000000", clientSecret: { env: "INTUNE_CLIENT_SECRET" },
          loginBaseUrl: "http://127.0.0.1:9999", graphBaseUrl: undefined, intuneResource: undefined, timeoutMs: undefined, retries: undefined,
          deliverWhenNotificationFails: false, caConfiguration: undefined, revocationSyncSeconds: 900, replayTtlMs: 600_000, rateLimit: { max: 5, windowMs: 3_600_000 },
        },
      },
      {
        name: "/intune-b",
        path: "/intune-b",
        ca: undefined,
        validityDays: undefined,
        pending: undefined,
        allowSid: false,
        challenge: { type: "intune-signed-token", trustAnchors: join(tmp, "anchors.pem"), audience: "https://scep.example.com/intune-b", strict: false, clockSkewMs: 30_000, maxValidityMs: false, replayTtlMs: undefined, rateLimit: false },
      },
      expect.objectContaining({ path: "/intune-c", challenge: expect.objectContaining({ type: "intune-api", clientSecret: { file: "/run/secrets/intune" } }) }),
    ]);
  });

  it("a webhook profile: the challenge is webhook by default, its secret and Authorization named, never written", () => {
    const config = loadConfig(text([{ path: "/w", webhook: { url: "https://mdm.example/scep/challenge", notifyUrl: "https://mdm.example/scep/notify", secretFile: "webhook.secret", secretEncoding: "base64", signatureHeader: "X-Smallstep-Signature", authorizationEnv: "MDM_AUTH", id: "scep-1", timeoutMs: 3000 } }]), { baseDir: "/etc/scep" });
    expect(config.profiles[0]!.challenge).toEqual({
      type: "webhook", url: "https://mdm.example/scep/challenge", notifyUrl: "https://mdm.example/scep/notify", secret: { file: "/etc/scep/webhook.secret" }, secretEncoding: "base64",
      signatureHeader: "X-Smallstep-Signature", authorizationEnv: "MDM_AUTH", id: "scep-1", timeoutMs: 3000, deliverWhenNotificationFails: false,
    });
  });

  it("takes JSON text as well as a path (text: relative paths against baseDir); strict is on by default", () => {
    const config = loadConfig(`  ${text([{ path: "/b", intune: token }])}`, { baseDir: "/etc/scep" });
    expect(config.file).toBeUndefined();
    expect(config.profiles[0]!.challenge).toEqual({ type: "intune-signed-token", trustAnchors: "/etc/scep/anchors.pem", audience: token.audience, strict: true, clockSkewMs: undefined, maxValidityMs: undefined, replayTtlMs: undefined, rateLimit: undefined });
  });

  it("aliases: other paths a profile answers, normalized as its path is (none unless given)", () => {
    const [a, b] = loadConfig(text([{ path: "/a", aliases: ["/cgi-bin/", "/certsrv/mscep/mscep.dll"] }, { path: "/b" }])).profiles;
    expect([a!.aliases, b!.aliases]).toEqual([["/cgi-bin", "/certsrv/mscep/mscep.dll"], undefined]);
  });

  it("paths that only look alike load, as @scep/core routes them apart: a suffix clients append must follow the other path exactly", () => {
    for (const profiles of [
      [{ path: "/scep" }, { path: "/scep/corp" }, { path: "/scep/cgi-bin-2" }],
      [{ path: "/a/pkiclient.exe" }, { path: "/a/cgi-bin" }],
      [{ path: "/" }, { path: "/scep" }, { path: "/scep/corp", aliases: ["/certsrv"] }],
    ]) {
      expect(loadConfig(text(profiles)).profiles.map((p) => p.path)).toEqual(profiles.map((p) => p.path));
    }
  });

  it("the schema file is JSON Schema draft-07 and names every field loadConfig reads", () => {
    const schema = JSON.parse(readFileSync(CONFIG_SCHEMA_URL, "utf8"));
    expect(schema.$schema).toBe("http://json-schema.org/draft-07/schema#");
    expect(Object.keys(schema.definitions.profile.properties).sort()).toEqual(["aliases", "allowSid", "ca", "challenge", "challengePasswordEnv", "challengePasswordFile", "intune", "name", "path", "pending", "validityDays", "webhook"]);
    expect(Object.keys(schema.definitions.intune.properties)).toHaveLength(20);
  });
});

describe("the README's configuration files", () => {
  it("every JSON example of the README's configuration file and Intune sections loads", () => {
    const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
    const section = readme.slice(readme.indexOf("## Configuration file: several profiles"), readme.indexOf("## Command-line client"));
    const examples = [...section.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(examples).toHaveLength(2);
    const loaded = examples.map((t) => loadConfig(t, { baseDir: "/etc/scep" }).profiles.map((p) => [p.path, p.challenge.type]));
    expect(loaded).toEqual([
      [["/scep", "static"], ["/routers", "static"], ["/lab", "one-time"]],
      [["/scep", "static"], ["/intune", "intune-api"], ["/mdm", "intune-signed-token"]],
    ]);
  });
});

describe("loadConfig: one line naming the bad field", () => {
  it.each([
    ["a missing mode-A field", [{ path: "/scep" }, { path: "/i", intune: { mode: "api", clientId: "x", clientSecretEnv: "S" } }], "profiles[1].intune.tenantId: required"],
    ["a missing mode-B field", [{ path: "/i", intune: { mode: "signed-token" } }], "profiles[0].intune.trustAnchors: required"],
    ["no client secret source", [{ path: "/i", intune: { mode: "api", tenantId: "t", clientId: "c" } }], "profiles[0].intune.clientSecretEnv: required (or clientSecretFile): the client secret's environment variable"],
    ["two client secret sources", [{ path: "/i", intune: { ...api, clientSecretFile: "s" } }], "profiles[0].intune.clientSecretEnv: give clientSecretEnv or clientSecretFile, not both"],
    ["an inline client secret", [{ path: "/i", intune: { ...api, clientSecret: "s3cret" } }], "profiles[0].intune.clientSecret: secrets are never written in the file: use clientSecretEnv or clientSecretFile"],
    ["an inline challenge password", [{ path: "/s", challengePassword: "pw" }], "profiles[0].challengePassword: secrets are never written in the file: use challengePasswordEnv or challengePasswordFile"],
    ["a secret's value where its variable's name goes", [{ path: "/i", intune: { ...api, clientSecretEnv: "abc~def.ghi" } }], "profiles[0].intune.clientSecretEnv: must be the name of an environment variable (letters, digits, _), not its value"],
    ["a signed-token field in mode api", [{ path: "/i", intune: { ...api, trustAnchors: "a.pem" } }], 'profiles[0].intune.trustAnchors: only for "mode": "signed-token"'],
    ["an api field in mode signed-token", [{ path: "/i", intune: { ...token, tenantId: "t" } }], 'profiles[0].intune.tenantId: only for "mode": "api"'],
    ["a revocation sync in mode signed-token", [{ path: "/i", intune: { ...token, revocationSyncSeconds: 60 } }], 'profiles[0].intune.revocationSyncSeconds: only for "mode": "api"'],
    ["a revocation sync every 0 s", [{ path: "/i", intune: { ...api, revocationSyncSeconds: 0 } }], "profiles[0].intune.revocationSyncSeconds: must be >= 1"],
    ["an unknown mode", [{ path: "/i", intune: { mode: "jwt" } }], 'profiles[0].intune.mode: must be one of "api", "signed-token"'],
    ["an unknown challenge", [{ path: "/i", challenge: "ldap" }], 'profiles[0].challenge: must be one of "static", "one-time", "intune", "webhook"'],
    ["a webhook challenge without its settings", [{ path: "/w", challenge: "webhook" }], 'profiles[0].webhook: required with "challenge": "webhook"'],
    ["a webhook without url", [{ path: "/w", webhook: { notifyUrl: "https://mdm.example/n" } }], "profiles[0].webhook.url: required"],
    ["a webhook url that is not http(s)", [{ path: "/w", webhook: { url: "ftp://mdm.example/c" } }], "profiles[0].webhook.url: must be an http(s):// URL"],
    ["an inline webhook secret", [{ path: "/w", webhook: { url: "https://mdm.example/c", secret: "s" } }], "profiles[0].webhook.secret: secrets are never written in the file: use secretEnv or secretFile"],
    ["inline webhook headers", [{ path: "/w", webhook: { url: "https://mdm.example/c", headers: { authorization: "Bearer x" } } }], "profiles[0].webhook.headers: secrets are never written in the file: use authorizationEnv"],
    ["intune and webhook together", [{ path: "/w", intune: token, webhook: { url: "https://mdm.example/c" } }], "profiles[0].webhook: give intune or webhook, not both"],
    ["intune without settings", [{ path: "/i", challenge: "intune" }], 'profiles[0].intune: required with "challenge": "intune"'],
    ["intune settings on a static profile", [{ path: "/i", challenge: "static", intune: api }], 'profiles[0].intune: not used with "challenge": "static"'],
    ["a static password on a one-time profile", [{ path: "/i", challenge: "one-time", challengePasswordEnv: "X" }], 'profiles[0].challengePasswordEnv: only for "challenge": "static"'],
    ["a rate limit of 0", [{ path: "/i", intune: { ...token, rateLimit: { max: 0, windowSeconds: 60 } } }], "profiles[0].intune.rateLimit.max: must be >= 1"],
    ["a rate limit of true", [{ path: "/i", intune: { ...token, rateLimit: true } }], "profiles[0].intune.rateLimit: must be { max, windowSeconds } or false"],
    ["a replay TTL of 0 (not a silent off)", [{ path: "/i", intune: { ...token, replay: { ttlSeconds: 0 } } }], "profiles[0].intune.replay.ttlSeconds: must be >= 1"],
    ["an endpoint that is not http(s)", [{ path: "/i", intune: { ...api, graphBaseUrl: "file:///etc/passwd" } }], "profiles[0].intune.graphBaseUrl: must be an http(s):// URL"],
    ["a path without its slash", [{ path: "scep" }], "profiles[0].path: must start with / and hold only letters, digits and . _ ~ / -"],
    ["a path used twice", [{ path: "/a" }, { path: "/b" }, { path: "/a/" }], 'profiles[2].path: "/a" is already used by profiles[0]'],
    ["a name used twice", [{ name: "x", path: "/a" }, { name: "x", path: "/b" }], 'profiles[1].name: "x" is already used by profiles[0]'],
    ["an alias that is another profile's path", [{ path: "/a" }, { path: "/b", aliases: ["/a/"] }], 'profiles[1].aliases[0]: "/a" is already used by profiles[0]'],
    ["an alias that is the profile's own path", [{ path: "/a", aliases: ["/cgi-bin", "/a"] }], 'profiles[0].aliases[1]: "/a" is already used by this profile'],
    ["a path that is an earlier profile's alias", [{ path: "/a", aliases: ["/cgi-bin"] }, { path: "/cgi-bin" }], 'profiles[1].path: "/cgi-bin" is already used by profiles[0]'],
    ["a path that is an earlier profile's path plus /cgi-bin (it would take that profile's Windows devices)", [{ path: "/scep" }, { path: "/scep/cgi-bin" }], 'profiles[1].path: "/scep/cgi-bin" is profiles[0].path "/scep" with a suffix clients append, so it would take that profile\'s requests'],
    ["a path that is a later profile's path plus /pkiclient.exe", [{ path: "/scep/x/PKICLIENT.EXE/x" }, { path: "/scep/Cgi-Bin/pkiclient.exe" }, { path: "/scep" }], 'profiles[2].path: profiles[1].path "/scep/Cgi-Bin/pkiclient.exe" is "/scep" with a suffix clients append, so it would take this profile\'s requests'],
    ["an alias that is another profile's alias plus /cgi-bin", [{ path: "/a", aliases: ["/certsrv"] }, { path: "/b", aliases: ["/certsrv/cgi-bin/"] }], 'profiles[1].aliases[0]: "/certsrv/cgi-bin" is profiles[0].aliases[0] "/certsrv" with a suffix clients append, so it would take that profile\'s requests'],
    ["an alias with doubled slashes, as @scep/core reads it", [{ path: "/scep" }, { path: "/b", aliases: ["/scep//cgi-bin"] }], 'profiles[1].aliases[0]: "/scep//cgi-bin" is profiles[0].path "/scep" with a suffix clients append, so it would take that profile\'s requests'],
    ["a path /a/pkiclient.exe next to a profile at /", [{ path: "/" }, { path: "/a/pkiclient.exe" }], 'profiles[1].path: "/a/pkiclient.exe" is profiles[0].path "/" with a suffix clients append, so it would take that profile\'s requests'],
    ["an alias /cgi-bin next to a profile at /", [{ path: "/" }, { path: "/b", aliases: ["/cgi-bin"] }], 'profiles[1].aliases[0]: "/cgi-bin" is profiles[0].path "/" with a suffix clients append, so it would take that profile\'s requests'],
    ["an alias without its slash", [{ path: "/a", aliases: ["cgi-bin"] }], "profiles[0].aliases[0]: must start with / and hold only letters, digits and . _ ~ / -"],
    ["aliases that are not a list", [{ path: "/a", aliases: "/cgi-bin" }], "profiles[0].aliases: must be array"],
    ["a CA certificate without its key", [{ path: "/a", ca: { cert: "ca.pem" } }], "profiles[0].ca.key: required together with ca.cert"],
    ["a zero lifetime", [{ path: "/a", validityDays: 0 }], "profiles[0].validityDays: must be > 0"],
    ["a wrong type", [{ path: "/a", pending: "yes" }], "profiles[0].pending: must be boolean"],
    ["an unknown field close to a known one", [{ path: "/a", paht: "/b" }], "profiles[0].paht: unknown field (did you mean path?)"],
    ["a known field's name without its s", [{ path: "/a", validityDay: 90 }], "profiles[0].validityDay: unknown field (did you mean validityDays?)"],
    ["an unknown field like no known one", [{ path: "/a", colour: "red" }], "profiles[0].colour: unknown field"],
    ["an unknown field named like an Object.prototype property", [{ path: "/a", constructor: 1 }], "profiles[0].constructor: unknown field"],
    ["no profiles", [], "profiles: at least one profile is required"],
    ["no profiles key", { profile: [] }, "profiles: required"],
  ])("%s", (_what, profiles, message) => {
    expect(mistake(profiles)).toBe(message);
  });

  it("a file that is not JSON, or cannot be read: the file and what went wrong, with a stable code", () => {
    const file = join(tmp, "broken.json");
    writeFileSync(file, '{"profiles": [');
    expect(() => loadConfig(file)).toThrow(expect.objectContaining({ code: "ERR_CONFIG_FILE_JSON", message: expect.stringMatching(new RegExp(`^${file}: not valid JSON \\(`)) }));
    expect(() => loadConfig(join(tmp, "missing.json"))).toThrow(expect.objectContaining({ code: "ERR_CONFIG_FILE_READ", message: `${join(tmp, "missing.json")}: cannot read the configuration file: no such file (ENOENT)` }));
    // Refused before reading (issue 12 §3, config size): over 1 MiB, or not a regular file (a directory, /dev/zero).
    const huge = join(tmp, "huge.json");
    writeFileSync(huge, `{"profiles":[${" ".repeat(MAX_CONFIG_BYTES)}]}`);
    expect(() => loadConfig(huge)).toThrow(expect.objectContaining({ code: "ERR_CONFIG_FILE_READ", message: `${huge}: larger than 1048576 bytes (${MAX_CONFIG_BYTES + 15}): a configuration file is a few KB` }));
    expect(() => loadConfig(`{"profiles":[${" ".repeat(MAX_CONFIG_BYTES)}]}`)).toThrow(expect.objectContaining({ code: "ERR_CONFIG_FILE_READ" }));
    expect(() => loadConfig(tmp)).toThrow(expect.objectContaining({ code: "ERR_CONFIG_FILE_READ", message: `${tmp}: not a regular file` }));
    expect(() => loadConfig("/dev/zero")).toThrow(expect.objectContaining({ code: "ERR_CONFIG_FILE_READ", message: "/dev/zero: not a regular file" }));
    const bad = join(tmp, "bad.json");
    writeFileSync(bad, text([{ path: "/i", intune: { mode: "api" } }]));
    expect(() => loadConfig(bad)).toThrow(expect.objectContaining({ code: "ERR_CONFIG_FILE_INVALID", field: "profiles[0].intune.tenantId", problem: "required", message: `${bad}: profiles[0].intune.tenantId: required` }));
  });
});

describe("parseConfig with --config / SCEP_CONFIG", () => {
  const file = join(tmp, "two.json");
  writeFileSync(file, text([{ path: "/scep" }, { path: "/otp", challenge: "one-time" }, { path: "/b", intune: token }]));

  it("reads the file named by the flag or the variable (relative to the invoking directory) into profiles", () => {
    const env = { SCEP_ADMIN_TOKEN: "0123456789abcdef" };
    const viaFlag = parseConfig(["--config", "two.json"], env, { cwd: tmp });
    expect(viaFlag).toMatchObject({ configFile: file, profiles: [{ path: "/scep" }, { path: "/otp" }, { path: "/b" }] });
    expect(parseConfig([], { ...env, SCEP_CONFIG: file })).toEqual(viaFlag);
  });

  it("a bad file is a ConfigError naming file and field, without the usage hint", () => {
    writeFileSync(join(tmp, "bad2.json"), text([{ path: "/i", intune: { mode: "api", tenantId: "t", clientId: "c", clientSecretEnv: "S", trustAnchors: "x" } }]));
    expect(() => parseConfig(["--config", join(tmp, "bad2.json")], {})).toThrow(
      expect.objectContaining({ showUsage: false, message: `${join(tmp, "bad2.json")}: profiles[0].intune.trustAnchors: only for "mode": "signed-token"` }),
    );
  });

  it("refuses what a profile cannot have with these flags: one-time without the admin token, state one process would keep with several workers", () => {
    expect(() => parseConfig(["--config", file], {})).toThrow(`${file}: profiles[1].challenge: "one-time" needs SCEP_ADMIN_TOKEN: one-time challenges are issued by POST /admin/scep/challenges`);
    const tokenOnly = join(tmp, "b.json");
    writeFileSync(tokenOnly, text([{ path: "/b", intune: token }]));
    expect(() => parseConfig(["--config", tokenOnly, "--workers", "2"], {})).toThrow(`${tokenOnly}: profiles[0]: the signed-token replay cache and rate limiter cannot be shared by 2 workers without --redis-url (use --workers 1, or give SCEP_REDIS_URL)`);
    expect(parseConfig(["--config", tokenOnly, "--workers", "2", "--redis-url", "redis://127.0.0.1:6379"], {})).toMatchObject({ workers: 2, profiles: [{ path: "/b" }] });
    expect(() => parseConfig(["--config", tokenOnly, "--one-time-challenges"], { SCEP_ADMIN_TOKEN: "0123456789abcdef" })).toThrow('--one-time-challenges does not go with --config: give a profile "challenge": "one-time" in the file');
  });

  it("a PENDING profile without the admin API is not refused (the banner warns); --pending is only the profiles' default", () => {
    const pending = join(tmp, "pending.json");
    writeFileSync(pending, text([{ path: "/open", pending: false }, { path: "/held", pending: true }]));
    expect(parseConfig(["--config", pending], {})).toMatchObject({ profiles: [{ pending: false }, { pending: true }] });
    expect(parseConfig(["--config", pending], { SCEP_ADMIN_TOKEN: "0123456789abcdef" })).toMatchObject({ profiles: [{ pending: false }, { pending: true }] });
    expect(parseConfig(["--config", pending, "--redis-url", "redis://127.0.0.1:6379"], {})).toMatchObject({ profiles: [{ pending: false }, { pending: true }] });
    const open = join(tmp, "open.json");
    writeFileSync(open, text([{ path: "/open", pending: false }]));
    expect(parseConfig(["--config", open, "--pending"], {})).toMatchObject({ pending: true, profiles: [{ pending: false }] });
  });
});
