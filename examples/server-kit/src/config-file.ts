// The example servers' configuration file (--config / SCEP_CONFIG): several profiles, each with its path, CA,
// challenge and Intune settings. loadConfig is pure apart from reading the named file: it never reads a secret
// (profiles name the variable or file that holds one; the kit reads them at start), so a reload can call it again.
import { readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { isScepPathSuffix } from "@scep/core";
import AjvModule, { type ErrorObject } from "ajv";
import { ConfigError } from "./errors.js";
import { fileErrorReason } from "./file-error.js";

/** The JSON Schema of the configuration file (`examples/server-kit/config.schema.json`). */
export const CONFIG_SCHEMA_URL = new URL("../config.schema.json", import.meta.url);

/** The largest configuration file (or inline JSON) {@link loadConfig} reads: 1 MiB, in bytes. */
export const MAX_CONFIG_BYTES = 1_048_576;

/** A file {@link readConfigFileText} refused before reading it; `message` is the problem, without the path. */
export class ConfigFileRefused extends Error {
  override name = "ConfigFileRefused";
}

/**
 * Reads a configuration file as UTF-8 text, refusing it before it is read when it is not a regular file
 * (a directory, `/dev/zero`) or is larger than {@link MAX_CONFIG_BYTES}: a huge or endless file must not
 * fill memory. Used by {@link loadConfig} and the example proxy's configuration.
 *
 * @throws ConfigFileRefused (`not a regular file`, `larger than 1048576 bytes (N): …`); the file system's
 * own error (`code` `ENOENT`, `EACCES`, …) when it cannot be read.
 *
 * @example
 * ```ts
 * const text = readConfigFileText("/etc/scep/scep.json");
 * ```
 */
export function readConfigFileText(file: string): string {
  const stat = statSync(file);
  if (!stat.isFile()) throw new ConfigFileRefused("not a regular file");
  if (stat.size > MAX_CONFIG_BYTES) throw new ConfigFileRefused(`larger than ${MAX_CONFIG_BYTES} bytes (${stat.size}): a configuration file is a few KB`);
  return readFileSync(file, "utf8");
}

/**
 * A configuration file that cannot be used: unreadable, not JSON, or a field
 * that breaks the schema or a rule. `message` is one line naming the field,
 * e.g. `profiles[1].intune.tenantId: required` (prefixed with the file when one
 * was read).
 */
export class ConfigFileError extends ConfigError {
  override name = "ConfigFileError";
  /** Stable code: `ERR_CONFIG_FILE_READ` (cannot read), `ERR_CONFIG_FILE_JSON` (not JSON), `ERR_CONFIG_FILE_INVALID` (a field). */
  readonly code: "ERR_CONFIG_FILE_READ" | "ERR_CONFIG_FILE_JSON" | "ERR_CONFIG_FILE_INVALID";
  /** The field, as `profiles[1].intune.tenantId` (empty for the whole file). */
  readonly field: string;
  /** What is wrong with it, e.g. `required`. */
  readonly problem: string;
  /** The file, when one was read. */
  readonly file: string | undefined;
  constructor(code: ConfigFileError["code"], field: string, problem: string, file: string | undefined) {
    super(`${file ? `${file}: ` : ""}${field ? `${field}: ` : ""}${problem}`, { showUsage: false });
    this.code = code;
    this.field = field;
    this.problem = problem;
    this.file = file;
  }
}

/** A rate limit: at most `max` accepted enrollments per device in `windowMs`. */
export interface RateLimitSettings {
  max: number;
  windowMs: number;
}

/** Mode A: Microsoft's Intune SCEP validation API. */
export interface IntuneApiSettings {
  type: "intune-api";
  tenantId: string;
  clientId: string;
  /** Where the client secret is: an environment variable's name, or an absolute file path. */
  clientSecret: { env: string } | { file: string };
  loginBaseUrl: string | undefined;
  graphBaseUrl: string | undefined;
  intuneResource: string | undefined;
  timeoutMs: number | undefined;
  retries: number | undefined;
  deliverWhenNotificationFails: boolean;
  caConfiguration: string | undefined;
  /** Download Intune's revocation requests and revoke them in this profile's CA every so many seconds; undefined: off. */
  revocationSyncSeconds: number | undefined;
  /** Remember accepted transactionIDs (`replay` on a second validation); undefined: off. */
  replayTtlMs: number | undefined;
  /** Accepted enrollments per CSR subject; undefined: no limit. */
  rateLimit: RateLimitSettings | undefined;
}

/** Mode B: a signed-token (JWS) challenge verified locally. */
export interface SignedTokenSettings {
  type: "intune-signed-token";
  /** Absolute path of the PEM bundle of trust anchors. */
  trustAnchors: string;
  audience: string | undefined;
  strict: boolean;
  clockSkewMs: number | undefined;
  maxValidityMs: number | false | undefined;
  replayTtlMs: number | undefined;
  /** undefined: the validator's default (3 per 24 h); false: no limit. */
  rateLimit: RateLimitSettings | false | undefined;
}

/** A challenge webhook (@scep/core's `webhookChallenge`). */
export interface WebhookSettings {
  type: "webhook";
  url: string;
  notifyUrl: string | undefined;
  /** Where the body-signature secret is; undefined: calls are not signed. */
  secret: { env: string } | { file: string } | undefined;
  secretEncoding: "utf8" | "base64";
  signatureHeader: string | undefined;
  /** Variable holding an Authorization header value. */
  authorizationEnv: string | undefined;
  id: string | undefined;
  timeoutMs: number | undefined;
  deliverWhenNotificationFails: boolean;
}

/** How one profile checks the challenge. */
export type ChallengeSettings =
  | { type: "static"; password: { env: string } | { file: string } | undefined }
  | { type: "one-time" }
  | IntuneApiSettings
  | SignedTokenSettings
  | WebhookSettings;

/** One profile of the configuration file, resolved (absolute paths, defaults named). */
export interface ProfileSettings {
  name: string;
  path: string;
  /** This profile's own CA; undefined: the server's CA. */
  ca: { dataDir: string | undefined; certPath: string | undefined; keyPath: string | undefined; keyPassphrase: { env: string } | { file: string } | undefined } | undefined;
  /** undefined: `--validity-days`. */
  validityDays: number | undefined;
  /** undefined: `--pending`. */
  pending: boolean | undefined;
  /** Certify a Windows SID the CSR carries (the profile's `csrPolicy.allowSid`); default false. */
  allowSid: boolean;
  /** Other URL paths the profile answers (the `ScepProfile.aliases` of @scep/core); default none. */
  aliases?: string[];
  challenge: ChallengeSettings;
}

/** What {@link loadConfig} returns. */
export interface Config {
  /** The file read (absolute), or undefined for text. */
  file: string | undefined;
  profiles: ProfileSettings[];
}

// ajv is CommonJS: its default export is the class under ESM interop and bundlers alike.
const Ajv = ((AjvModule as unknown as { default?: typeof AjvModule }).default ?? AjvModule) as unknown as typeof AjvModule;
let validateSchema: ReturnType<InstanceType<typeof AjvModule>["compile"]> | undefined;

function schemaValidator(): NonNullable<typeof validateSchema> {
  if (validateSchema) return validateSchema;
  const schema = JSON.parse(readFileSync(CONFIG_SCHEMA_URL, "utf8")) as Record<string, unknown>;
  validateSchema = new Ajv({ allErrors: false, strict: true, strictRequired: false, verbose: true }).compile(schema);
  return validateSchema;
}

/** `/profiles/1/intune` → `profiles[1].intune`. */
function fieldOf(instancePath: string, child?: string): string {
  const parts = instancePath.split("/").slice(1).map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"));
  if (child !== undefined) parts.push(child);
  return parts.reduce((out, p) => (/^\d+$/.test(p) ? `${out}[${p}]` : out ? `${out}.${p}` : p), "");
}

/** Fields a user might write a secret into; refused with a pointer to where secrets go. */
const SECRET_FIELDS: Record<string, string> = {
  clientSecret: "secrets are never written in the file: use clientSecretEnv or clientSecretFile",
  secret: "secrets are never written in the file: use secretEnv or secretFile",
  authorization: "secrets are never written in the file: use authorizationEnv",
  headers: "secrets are never written in the file: use authorizationEnv",
  challengePassword: "secrets are never written in the file: use challengePasswordEnv or challengePasswordFile",
  password: "secrets are never written in the file: use challengePasswordEnv or challengePasswordFile",
  keyPassphrase: "secrets are never written in the file: use keyPassphraseEnv or keyPassphraseFile",
};

/** Edit distance (insertions, deletions, substitutions, swaps of neighbours), case-insensitive. */
function distance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The known field `name` is most likely a typo of (at most 2 edits, and fewer than a third of its length), if any. */
function closest(name: string, known: string[]): string | undefined {
  let best: [string, number] | undefined;
  for (const k of known) {
    const n = distance(name, k);
    if (n <= 2 && n < Math.max(k.length, name.length) / 3 && (!best || n < best[1])) best = [k, n];
  }
  return best?.[0];
}

function describeError(e: ErrorObject): [string, string] {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "required":
      return [fieldOf(e.instancePath, String(p.missingProperty)), "required"];
    case "additionalProperties": {
      const name = String(p.additionalProperty);
      const known = Object.keys((e.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties ?? {});
      const near = closest(name, known);
      return [fieldOf(e.instancePath, name), (Object.hasOwn(SECRET_FIELDS, name) ? SECRET_FIELDS[name] : undefined) ?? (near ? `unknown field (did you mean ${near}?)` : "unknown field")];
    }
    case "enum":
      return [fieldOf(e.instancePath), `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`];
    case "minItems":
      return [fieldOf(e.instancePath), "at least one profile is required"];
    case "oneOf":
      return [fieldOf(e.instancePath), e.instancePath.endsWith("/rateLimit") ? "must be { max, windowSeconds } or false" : "must be a number of seconds or false"];
    case "pattern": {
      const field = fieldOf(e.instancePath);
      if (/Env$/.test(field)) return [field, "must be the name of an environment variable (letters, digits, _), not its value"];
      if (/BaseUrl$|Resource$|[uU]rl$/.test(field)) return [field, "must be an http(s):// URL"];
      if (/signatureHeader$/.test(field)) return [field, "must be an HTTP header name (letters, digits, -)"];
      if (/\.(path|aliases\[\d+\])$/.test(field)) return [field, "must start with / and hold only letters, digits and . _ ~ / -"];
      return [field, "must be 1 to 64 letters, digits or . _ ~ / -"];
    }
    default:
      return [fieldOf(e.instancePath), e.message ?? e.keyword];
  }
}

const has = (o: object, k: string): boolean => Object.hasOwn(o, k);

/**
 * Reads a configuration file: JSON text, or the path of a JSON file (a
 * string whose first non-blank character is `{` is taken as text). Checks it
 * against {@link CONFIG_SCHEMA_URL} and the rules a schema cannot say (one
 * challenge source, mode-specific fields, unique paths and names), resolves
 * relative paths against the file's directory (text: `options.baseDir`, else
 * the working directory) and names defaults. Reads no secret and no
 * environment variable: the kit does that when it starts.
 *
 * @throws ConfigFileError (`ERR_CONFIG_FILE_READ`, `ERR_CONFIG_FILE_JSON`, `ERR_CONFIG_FILE_INVALID`), one line naming the field.
 *
 * @example
 * ```ts
 * const config = loadConfig('{"profiles":[{"path":"/scep"}]}');
 * config.profiles[0]?.challenge; // { type: "static", password: undefined }
 * ```
 */
export function loadConfig(input: string, options: { baseDir?: string } = {}): Config {
  let text: string;
  let file: string | undefined;
  if (input.trimStart().startsWith("{")) {
    text = input;
    const bytes = Buffer.byteLength(text);
    if (bytes > MAX_CONFIG_BYTES) throw new ConfigFileError("ERR_CONFIG_FILE_READ", "", `larger than ${MAX_CONFIG_BYTES} bytes (${bytes}): a configuration file is a few KB`, undefined);
  } else {
    file = resolve(options.baseDir ?? process.cwd(), input);
    try {
      text = readConfigFileText(file);
    } catch (e) {
      if (e instanceof ConfigFileRefused) throw new ConfigFileError("ERR_CONFIG_FILE_READ", "", e.message, file);
      throw new ConfigFileError("ERR_CONFIG_FILE_READ", "", `cannot read the configuration file: ${fileErrorReason(e)}`, file);
    }
  }
  const baseDir = file ? dirname(file) : (options.baseDir ?? process.cwd());
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigFileError("ERR_CONFIG_FILE_JSON", "", `not valid JSON (${(e as Error).message.split("\n", 1)[0]})`, file);
  }
  const validate = schemaValidator();
  if (!validate(raw)) {
    const errors = validate.errors ?? [];
    // A value of the wrong kind under oneOf (`"rateLimit": true`) is said by the oneOf; a bad field inside it by its own error.
    const oneOf = errors.find((e) => e.keyword === "oneOf");
    const deepest = errors.find((e) => e.keyword !== "if" && e.keyword !== "oneOf");
    const first = oneOf && (!deepest || deepest.instancePath === oneOf.instancePath) ? oneOf : (deepest ?? errors[0]);
    const [field, problem] = first ? describeError(first) : ["", "does not match the schema"];
    throw new ConfigFileError("ERR_CONFIG_FILE_INVALID", field, problem, file);
  }
  const bad = (field: string, problem: string): never => {
    throw new ConfigFileError("ERR_CONFIG_FILE_INVALID", field, problem, file);
  };
  const path = (p: string): string => resolve(baseDir, p);
  const doc = raw as { profiles: Record<string, unknown>[] };
  const byPath = new Map<string, number>();
  const byName = new Map<string, number>();
  const routes: { key: string; index: number; field: string; shown: string }[] = [];
  /** Whether a request to `longer` routes to `shorter`'s profile: `longer` is `shorter` plus a suffix clients append. */
  const extends_ = (longer: string, shorter: string): boolean => {
    const prefix = shorter === "/" ? "/" : `${shorter}/`;
    return longer.startsWith(prefix) && isScepPathSuffix(longer.slice(prefix.length));
  };
  const profiles = doc.profiles.map((p, i): ProfileSettings => {
    const at = `profiles[${i}]`;
    const profilePath = String(p.path).replace(/\/+$/, "") || "/";
    const name = typeof p.name === "string" ? p.name : profilePath;
    for (const [map, key, what] of [[byPath, profilePath.replace(/\/pkiclient\.exe$/i, "").toLowerCase(), "path"], [byName, name, "name"]] as const) {
      const other = map.get(key);
      if (other !== undefined) bad(`${at}.${what}`, `${JSON.stringify(what === "path" ? profilePath : name)} is already used by profiles[${other}]`);
      map.set(key, i);
    }
    const aliases = ((p.aliases as string[] | undefined) ?? []).map((a) => a.replace(/\/+$/, "") || "/");
    aliases.forEach((alias, j) => {
      const other = byPath.get(alias.toLowerCase());
      if (other !== undefined) bad(`${at}.aliases[${j}]`, `${JSON.stringify(alias)} is already used by ${other === i ? "this profile" : `profiles[${other}]`}`);
      byPath.set(alias.toLowerCase(), i);
    });
    // A path that is another profile's path plus a suffix clients append (`/scep/cgi-bin` next to `/scep`) would take
    // that profile's requests (the server routes the longest match), so @scep/core refuses it: said here by field,
    // judged as core judges it (slashes collapsed, the path compared as written, the suffix in any case).
    for (const [field, shown] of [[`${at}.path`, profilePath] as const, ...aliases.map((a, j) => [`${at}.aliases[${j}]`, a] as const)]) {
      const key = shown.replace(/\/+/g, "/").replace(/(.)\/$/, "$1");
      for (const route of routes) {
        if (route.index === i) continue;
        if (extends_(key, route.key)) bad(field, `${JSON.stringify(shown)} is ${route.field} ${JSON.stringify(route.shown)} with a suffix clients append, so it would take that profile's requests`);
        if (extends_(route.key, key)) bad(field, `${route.field} ${JSON.stringify(route.shown)} is ${JSON.stringify(shown)} with a suffix clients append, so it would take this profile's requests`);
      }
      routes.push({ key, index: i, field, shown });
    }
    const ca = p.ca as Record<string, string> | undefined;
    if (ca) {
      if (has(ca, "cert") !== has(ca, "key")) bad(`${at}.ca.${has(ca, "cert") ? "key" : "cert"}`, "required together with " + (has(ca, "cert") ? "ca.cert" : "ca.key"));
      if (has(ca, "keyPassphraseEnv") && has(ca, "keyPassphraseFile")) bad(`${at}.ca.keyPassphraseFile`, "give keyPassphraseEnv or keyPassphraseFile, not both");
      if ((has(ca, "keyPassphraseEnv") || has(ca, "keyPassphraseFile")) && !has(ca, "key")) bad(`${at}.ca.key`, "required with a key passphrase");
    }
    const intune = p.intune as Record<string, unknown> | undefined;
    const webhook = p.webhook as Record<string, unknown> | undefined;
    if (intune && webhook) bad(`${at}.webhook`, "give intune or webhook, not both");
    const kind = (p.challenge as string | undefined) ?? (intune ? "intune" : webhook ? "webhook" : "static");
    if (kind === "intune" && !intune) bad(`${at}.intune`, 'required with "challenge": "intune"');
    if (kind !== "intune" && intune) bad(`${at}.intune`, `not used with "challenge": "${kind}"`);
    if (kind === "webhook" && !webhook) bad(`${at}.webhook`, 'required with "challenge": "webhook"');
    if (kind !== "webhook" && webhook) bad(`${at}.webhook`, `not used with "challenge": "${kind}"`);
    for (const k of ["challengePasswordEnv", "challengePasswordFile"]) if (kind !== "static" && has(p, k)) bad(`${at}.${k}`, `only for "challenge": "static"`);
    if (has(p, "challengePasswordEnv") && has(p, "challengePasswordFile")) bad(`${at}.challengePasswordFile`, "give challengePasswordEnv or challengePasswordFile, not both");
    let challenge: ChallengeSettings;
    if (kind === "static") {
      challenge = { type: "static", password: has(p, "challengePasswordEnv") ? { env: String(p.challengePasswordEnv) } : has(p, "challengePasswordFile") ? { file: path(String(p.challengePasswordFile)) } : undefined };
    } else if (kind === "one-time") {
      challenge = { type: "one-time" };
    } else if (kind === "webhook") {
      const w = webhook!;
      if (has(w, "secretEnv") && has(w, "secretFile")) bad(`${at}.webhook.secretFile`, "give secretEnv or secretFile, not both");
      if (has(w, "secretEncoding") && !has(w, "secretEnv") && !has(w, "secretFile")) bad(`${at}.webhook.secretEncoding`, "only with secretEnv or secretFile");
      challenge = {
        type: "webhook",
        url: String(w.url),
        notifyUrl: w.notifyUrl as string | undefined,
        secret: has(w, "secretEnv") ? { env: String(w.secretEnv) } : has(w, "secretFile") ? { file: path(String(w.secretFile)) } : undefined,
        secretEncoding: w.secretEncoding === "base64" ? "base64" : "utf8",
        signatureHeader: w.signatureHeader as string | undefined,
        authorizationEnv: w.authorizationEnv as string | undefined,
        id: w.id as string | undefined,
        timeoutMs: w.timeoutMs as number | undefined,
        deliverWhenNotificationFails: w.deliverWhenNotificationFails === true,
      };
    } else {
      const n = intune!;
      const apiOnly = ["tenantId", "clientId", "clientSecretEnv", "clientSecretFile", "loginBaseUrl", "graphBaseUrl", "intuneResource", "timeoutMs", "retries", "deliverWhenNotificationFails", "caConfiguration", "revocationSyncSeconds"];
      const tokenOnly = ["trustAnchors", "audience", "strict", "clockSkewSeconds", "maxValiditySeconds"];
      const mode = n.mode as "api" | "signed-token";
      for (const k of mode === "api" ? tokenOnly : apiOnly) if (has(n, k)) bad(`${at}.intune.${k}`, `only for "mode": "${mode === "api" ? "signed-token" : "api"}"`);
      const replay = n.replay as { ttlSeconds: number } | undefined;
      const limit = n.rateLimit as { max: number; windowSeconds: number } | false | undefined;
      const rateLimit = limit === undefined || limit === false ? limit : { max: limit.max, windowMs: limit.windowSeconds * 1000 };
      if (mode === "api") {
        if (has(n, "clientSecretEnv") === has(n, "clientSecretFile")) bad(`${at}.intune.clientSecretEnv`, has(n, "clientSecretEnv") ? "give clientSecretEnv or clientSecretFile, not both" : "required (or clientSecretFile): the client secret's environment variable");
        challenge = {
          type: "intune-api",
          tenantId: String(n.tenantId),
          clientId: String(n.clientId),
          clientSecret: has(n, "clientSecretEnv") ? { env: String(n.clientSecretEnv) } : { file: path(String(n.clientSecretFile)) },
          loginBaseUrl: n.loginBaseUrl as string | undefined,
          graphBaseUrl: n.graphBaseUrl as string | undefined,
          intuneResource: n.intuneResource as string | undefined,
          timeoutMs: n.timeoutMs as number | undefined,
          retries: n.retries as number | undefined,
          deliverWhenNotificationFails: n.deliverWhenNotificationFails === true,
          caConfiguration: n.caConfiguration as string | undefined,
          revocationSyncSeconds: n.revocationSyncSeconds as number | undefined,
          replayTtlMs: replay ? replay.ttlSeconds * 1000 : undefined,
          rateLimit: rateLimit === false ? undefined : rateLimit,
        };
      } else {
        const maxValidity = n.maxValiditySeconds as number | false | undefined;
        challenge = {
          type: "intune-signed-token",
          trustAnchors: path(String(n.trustAnchors)),
          audience: n.audience as string | undefined,
          strict: n.strict !== false,
          clockSkewMs: typeof n.clockSkewSeconds === "number" ? n.clockSkewSeconds * 1000 : undefined,
          maxValidityMs: typeof maxValidity === "number" ? maxValidity * 1000 : maxValidity,
          replayTtlMs: replay ? replay.ttlSeconds * 1000 : undefined,
          rateLimit,
        };
      }
    }
    return {
      name,
      path: profilePath,
      ca: ca
        ? {
            dataDir: ca.dataDir === undefined ? undefined : path(ca.dataDir),
            certPath: ca.cert === undefined ? undefined : path(ca.cert),
            keyPath: ca.key === undefined ? undefined : path(ca.key),
            keyPassphrase: ca.keyPassphraseEnv !== undefined ? { env: ca.keyPassphraseEnv } : ca.keyPassphraseFile !== undefined ? { file: path(ca.keyPassphraseFile) } : undefined,
          }
        : undefined,
      validityDays: p.validityDays as number | undefined,
      pending: p.pending as boolean | undefined,
      allowSid: p.allowSid === true,
      ...(aliases.length > 0 ? { aliases } : {}),
      challenge,
    };
  });
  return { file, profiles };
}
