/**
 * Command-line parsing on `node:util` parseArgs, with every parse problem
 * turned into a {@link UsageError} (exit 64).
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import type { ContentCipher, DigestAlgorithm } from "@scep/core";
import { redactUrl, redactUrlsInText } from "@scep/core";
import { UsageError } from "./exit.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Options every command takes. */
export const COMMON_OPTIONS = {
  url: { type: "string" },
  timeout: { type: "string" },
  "ca-identifier": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies Options;

/** Help text for {@link COMMON_OPTIONS}. */
export const COMMON_HELP = `  --url URL           SCEP endpoint, e.g. http://127.0.0.1:8080/scep (required)
  --timeout MS        per-request HTTP timeout in milliseconds (default 180000:
                      long enough for a proxy's or NDES's own timeout reply)
  --ca-identifier TEXT
                      which CA of a multi-CA server to ask (EJBCA in CA mode:
                      the CA's name), sent as the message of GetCACaps and
                      GetCACert (RFC 8894 §3.5.1, §4.2); default: none
  -h, --help          show this help`;

/** The values parseArgs returns for `O`. */
export type ParsedValues<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>>["values"];

/**
 * `--name -value` as `--name=-value` for a string option when `-value` is no option of this command: a one-time
 * challenge is base64url and may start with `-`, which parseArgs alone refuses as ambiguous. `--name --other` is
 * left alone (a forgotten value, refused as before).
 */
function joinDashValues(argv: readonly string[], options: Options): string[] {
  const shorts = new Set(Object.values(options).flatMap((o) => (o.short ? [`-${o.short}`] : [])));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const name = arg.startsWith("--") && !arg.includes("=") ? arg.slice(2) : undefined;
    if (name !== undefined && Object.hasOwn(options, name) && options[name]!.type === "string" && next !== undefined && /^-[^-]/.test(next) && !shorts.has(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

/** Parses `argv` strictly against `options` (no positionals). */
export function parse<const O extends Options>(command: string, argv: readonly string[], options: O): ParsedValues<O> {
  try {
    return parseArgs({ args: joinDashValues(argv, options), options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    // ERR_PARSE_ARGS_UNKNOWN_OPTION, _INVALID_OPTION_VALUE, _UNEXPECTED_POSITIONAL
    // One line: parseArgs' messages run over several lines and explain its own syntax.
    let message = ((error as Error).message.split("\n")[0] ?? String(error)).split(". To specify")[0]!;
    const ambiguous = /^Option '(--[\w-]+)(?: <value>)?' argument is ambiguous/.exec(message);
    if (ambiguous) message = `${ambiguous[1]} has no value (for a value that starts with a dash write ${ambiguous[1]}=VALUE)`;
    const unknown = /^Unknown option '--([\w-]+)'/.exec(message);
    const meant = unknown ? closestOption(unknown[1]!, Object.keys(options)) : undefined;
    if (meant) message += `; did you mean --${meant}?`;
    throw new UsageError(`${command}: ${message}`);
  }
}

/**
 * The option `typed` most likely meant (a typo: `challange` for `challenge`): the one at the smallest edit distance
 * (Levenshtein: insertions, deletions, substitutions), when that is at most 2 and at most a third of the name, and no
 * other option is as close; else undefined.
 */
function closestOption(typed: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  let tie = false;
  for (const name of names) {
    const d = editDistance(typed.toLowerCase(), name.toLowerCase());
    if (d < bestDistance) [best, bestDistance, tie] = [name, d, false];
    else if (d === bestDistance) tie = true;
  }
  return best !== undefined && !tie && bestDistance <= Math.min(2, Math.floor(best.length / 3)) ? best : undefined;
}

/** Levenshtein distance between two short strings (one row of the table at a time). */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/** A required string option. */
export function required(command: string, name: string, value: string | undefined): string {
  if (value === undefined || value === "") throw new UsageError(`${command}: --${name} is required`);
  return value;
}

/**
 * `--url`: required, http(s). A value without `scheme://` (`127.0.0.1:8080/scep`, which is no URL, or
 * `localhost:8080/scep`, which reads as the scheme `localhost:`) is refused naming the `http://` URL meant. A URL with
 * credentials (`http://user:password@host/scep`, deprecated by RFC 3986 §3.2.1) is refused too: fetch throws on every
 * request to it; the line names the URL through `redactUrl` (password masked).
 *
 * @throws UsageError (exit 64) for each of these.
 */
export function urlOption(command: string, value: string | undefined): string {
  const url = required(command, "url", value);
  if (!url.includes("://") && /^[\w.-]+(:\d+)?(\/|$)/.test(url)) {
    // Credentials in it (userinfo, ?token=) are masked: a usage line ends up in terminals, CI logs and bug reports.
    const meant = redactUrlsInText(`http://${url}`);
    throw new UsageError(`${command}: --url ${meant.slice("http://".length)} has no http:// or https://; did you mean ${meant}?`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`${command}: --url ${redactUrlsInText(url)} is not a URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new UsageError(`${command}: --url must be http: or https:, got ${parsed.protocol}`);
  if (parsed.username !== "" || parsed.password !== "") {
    throw new UsageError(`${command}: --url ${redactUrl(parsed)} has credentials (user:password@), which are not supported: give the URL without them`);
  }
  return url;
}

/**
 * `--ca-identifier`: ScepClient's `caIdentifier` (sent, percent-encoded, as the `message` of GetCACaps and GetCACert,
 * RFC 8894 §3.5.1, §4.2), as options to spread into its constructor; none without the flag. Empty: a usage error.
 */
export function caIdentifierOption(command: string, value: string | undefined): { caIdentifier?: string } {
  if (value === undefined) return {};
  if (value === "") throw new UsageError(`${command}: --ca-identifier is empty (leave it out to send no CA identifier)`);
  return { caIdentifier: value };
}

/** A number option of at least `min` (default 0) and at most `max` (default none), an integer when `integer`; or its default. */
export function numberOption(command: string, name: string, value: string | undefined, fallback: number, options: { integer?: boolean; min?: number; max?: number } = {}): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  const min = options.min ?? 0;
  const max = options.max ?? Number.POSITIVE_INFINITY;
  if (value.trim() === "" || !Number.isFinite(n) || n < min || n > max || (options.integer && !Number.isInteger(n))) {
    const range = options.max === undefined ? `>= ${min}` : `from ${min} to ${options.max}`;
    throw new UsageError(`${command}: --${name} must be ${options.integer ? "an integer" : "a number"} ${range}, got "${value}"`);
  }
  return n;
}

/**
 * `--timeout`'s default, in milliseconds: 180 s, longer than what sits between the CLI and a CA gives up after (the
 * example proxy's `upstreamTimeoutMs`, 30 s, and its whole-request limit, 60 s; IIS, in front of NDES, 120 s), so
 * their own timeout reply (the proxy's 504) reaches the user instead of the CLI giving up first. micromdm's scepclient
 * sets no timeout at all.
 */
export const DEFAULT_TIMEOUT_MS = 180_000;

/** `--timeout` in milliseconds (default {@link DEFAULT_TIMEOUT_MS}). */
export function timeoutOption(command: string, value: string | undefined): number {
  // At most 2^31 − 1 ms, ScepClient's bound: a longer timer fires at once.
  return numberOption(command, "timeout", value, DEFAULT_TIMEOUT_MS, { integer: true, min: 1, max: 2_147_483_647 });
}

/** Content ciphers `--cipher` accepts. */
export const CIPHER_NAMES = ["aes128", "aes192", "aes256", "des3", "des"] as const satisfies readonly ContentCipher[];
/** Digests `--digest` accepts. */
export const DIGEST_NAMES = ["sha1", "sha256", "sha384", "sha512"] as const satisfies readonly DigestAlgorithm[];

/** Checks a value against a fixed list. */
export function oneOf<const T extends string>(command: string, name: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${command}: --${name} must be one of ${allowed.join(", ")}, got "${value}"`);
  return value as T;
}

/** `--post` / `--get`: force the PKIOperation method (default: POST when the CA advertises it). */
export function methodOption(command: string, post: boolean | undefined, get: boolean | undefined): "post" | "get" | undefined {
  if (post && get) throw new UsageError(`${command}: --post and --get exclude each other`);
  return post ? "post" : get ? "get" : undefined;
}
