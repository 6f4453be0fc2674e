/**
 * The in-memory {@link CaRegistry}, validating its configuration.
 *
 * @module
 */
import { ProxyConfigError } from "../errors.js";
import { CA_TYPES, MAX_CA_NAME_LENGTH, type CaConfig } from "./ca-config.js";
import type { CaRegistry } from "./ca-registry.js";
import { CONTROL_CHARACTER, LONE_SURROGATE } from "../lib/text.js";
import { integerOption } from "../lib/options.js";
import { basicCredentialsFault, urlCredentials } from "../lib/url-credentials.js";

/** Options of {@link MemoryCaRegistry}. @group CAs */
export interface MemoryCaRegistryOptions {
  /** Name of the CA used by identifiers without a caName (default: the only CA when exactly one is configured). */
  defaultName?: string;
}

/**
 * A challenge source's settings (`ndes`, `smallstep`), when given: what `NdesChallengeSource` and
 * `SmallstepChallengeSource` check on each fetch (an absolute http(s) URL without user info), checked once here,
 * and credentials HTTP Basic can carry (RFC 7617 §2: no colon in the user name, no control character; the NDES
 * source falls back to Basic when that is all its front end offers). Before, such settings were registered and every
 * challenge fetch failed with `ERR_PROXY_CHALLENGE_SOURCE_CONFIG`, or the CA read another user than the one configured.
 */
function challengeSourceSettings(ca: CaConfig, where: string): void {
  for (const key of ["ndes", "smallstep"] as const) {
    const settings: unknown = ca[key];
    if (settings === undefined) continue;
    const urlKey = key === "ndes" ? "adminUrl" : "webhookUrl";
    const s = settings as Record<string, unknown> | null;
    if (typeof s !== "object" || s === null || typeof s[urlKey] !== "string" || typeof s.username !== "string" || typeof s.password !== "string" || (key === "ndes" && s.domain !== undefined && typeof s.domain !== "string")) {
      throw new ProxyConfigError(`${where}: ${key} must be an object with ${urlKey}, username and password strings${key === "ndes" ? " and an optional domain string" : ""}`);
    }
    const what = `${where}: ${key}.${urlKey}`;
    let url: URL;
    try {
      url = new URL(s[urlKey] as string);
    } catch {
      throw new ProxyConfigError(`${what} is not an absolute URL`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new ProxyConfigError(`${what} must be http or https`);
    // The source refuses any user info (decodable or not) on every fetch: the account is the settings' own.
    if (url.username !== "" || url.password !== "") throw new ProxyConfigError(`${what} must not hold user info (user:password@); give the account as ${key}.username and ${key}.password`);
    // NDES's password goes into NTLM, which carries any character; only its Basic fallback would need the check.
    const fault =
      basicCredentialsFault(s.username as string, key === "smallstep" ? (s.password as string) : "", { username: `${key}.username`, password: `${key}.password` }) ??
      // The NDES domain is part of the Basic user name (`DOMAIN\user`).
      (typeof s.domain === "string" ? basicCredentialsFault(s.domain, "", { username: "ndes.domain", password: "" }) : undefined);
    if (fault !== undefined) throw new ProxyConfigError(`${where}: ${fault}`);
  }
}

function validate(ca: CaConfig, index: number): CaConfig {
  const where = `CA #${index + 1}`;
  // A lone surrogate has no UTF-8: no device URL can carry the name (buildIdentifier refuses it, and a URL's
  // percent-encoded UTF-8 never decodes to it), so the CA could never be reached.
  if (typeof ca?.name !== "string" || ca.name === "" || CONTROL_CHARACTER.test(ca.name) || LONE_SURROGATE.test(ca.name)) {
    throw new ProxyConfigError(`${where}: name must be a non-empty string without control characters or lone surrogates`);
  }
  // The name goes into the device's URL, a store's keys and log lines: bounded like Fleet's CA names.
  if (ca.name.length > MAX_CA_NAME_LENGTH) throw new ProxyConfigError(`${where}: name must be at most ${MAX_CA_NAME_LENGTH} characters (got ${ca.name.length})`);
  if (!CA_TYPES.includes(ca.type)) throw new ProxyConfigError(`${where}: type must be one of ${CA_TYPES.join(", ")}`);
  let url: URL;
  try {
    url = new URL(ca.url);
  } catch {
    throw new ProxyConfigError(`${where}: url is not an absolute URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ProxyConfigError(`${where}: url must be http or https`);
  // User info becomes the upstream's Basic authorization: one that does not percent-decode is refused now, not on
  // every forwarded request.
  urlCredentials(url, `${where}: url`);
  integerOption(`${where}: challengeTtlMs`, ca.challengeTtlMs, 0, { min: 1, max: 365 * 86_400_000, unit: "ms" });
  if (ca.caIdentifier !== undefined && (typeof ca.caIdentifier !== "string" || ca.caIdentifier === "" || ca.caIdentifier.length > 255 || CONTROL_CHARACTER.test(ca.caIdentifier) || LONE_SURROGATE.test(ca.caIdentifier))) {
    // A lone surrogate has no UTF-8: the upstream would get U+FFFD, another identifier (ScepClient refuses it too).
    throw new ProxyConfigError(`${where}: caIdentifier must be a string of 1 to 255 characters without control characters or lone surrogates`);
  }
  challengeSourceSettings(ca, where);
  // Copies of what the caller may change afterwards, so what was checked is what is served.
  return {
    ...ca,
    ...(ca.exemptPlatforms ? { exemptPlatforms: [...ca.exemptPlatforms] } : {}),
    ...(ca.ndes ? { ndes: { ...ca.ndes } } : {}),
    ...(ca.smallstep ? { smallstep: { ...ca.smallstep } } : {}),
  };
}

/**
 * A {@link CaRegistry} over a fixed list of CAs, checked when built.
 *
 * @example
 * ```ts
 * import { MemoryCaRegistry } from "@scep/proxy";
 *
 * const cas = new MemoryCaRegistry(
 *   [
 *     { name: "ndes", type: "ndes", url: "https://ndes.corp.example/certsrv/mscep/mscep.dll", exemptPlatforms: ["windows"] },
 *     { name: "step", type: "smallstep", url: "https://ca.corp.example/scep/mdm" },
 *   ],
 *   { defaultName: "ndes" },
 * );
 * ```
 *
 * @throws {@link ProxyConfigError} (`ERR_PROXY_CONFIG`) for an empty or duplicate name (or one holding a control
 * character or a lone UTF-16 surrogate, which no device URL can carry, or longer than {@link MAX_CA_NAME_LENGTH}
 * characters), an unknown type, a URL that is not absolute http(s) or whose user info (`https://user:pass@…`, sent
 * as Basic authorization) does not percent-decode to UTF-8 (the message says whether the user name or the password,
 * never its value), a `challengeTtlMs` that is not an integer number of milliseconds from 1 to 31 536 000 000
 * (365 days), a `caIdentifier` that is empty, longer than 255 characters or holds a control character or a lone
 * surrogate, `ndes` or `smallstep` settings whose `adminUrl` / `webhookUrl` is not an absolute http(s) URL or holds
 * user info (the challenge sources refuse such a URL on every fetch) or whose `username` (or NDES `domain`) holds a
 * colon or a control character (or, for `smallstep`, whose `password` holds a control character: RFC 7617 §2, HTTP
 * Basic cannot carry them), a URL whose decoded user info holds the same (a user name with `%3A`; `%0D`, `%0A`, `%00`
 * in either), or a `defaultName` not configured. No message holds a user name, a password or user info.
 *
 * @group CAs
 */
export class MemoryCaRegistry implements CaRegistry {
  readonly #cas: Map<string, CaConfig>;
  /** {@inheritDoc CaRegistry.defaultName} */
  readonly defaultName?: string;

  constructor(cas: readonly CaConfig[], options: MemoryCaRegistryOptions = {}) {
    this.#cas = new Map();
    cas.forEach((ca, i) => {
      const checked = validate(ca, i);
      if (this.#cas.has(checked.name)) throw new ProxyConfigError(`CA #${i + 1}: the name is configured twice`);
      this.#cas.set(checked.name, checked);
    });
    const defaultName = options.defaultName ?? (cas.length === 1 ? cas[0]!.name : undefined);
    if (defaultName !== undefined) {
      if (!this.#cas.has(defaultName)) throw new ProxyConfigError("defaultName names no configured CA");
      this.defaultName = defaultName;
    }
  }

  /** {@inheritDoc CaRegistry.get} */
  get(name: string): CaConfig | undefined {
    return this.#cas.get(name);
  }

  /** {@inheritDoc CaRegistry.list} */
  list(): CaConfig[] {
    return [...this.#cas.values()];
  }
}
