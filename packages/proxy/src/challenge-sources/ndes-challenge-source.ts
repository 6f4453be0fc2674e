/**
 * Challenges from Microsoft NDES's admin page (`/certsrv/mscep_admin/`),
 * fetched over NTLM (proactive by default), or Basic when that is all the
 * front end offers.
 *
 * @module
 */
import type { CaConfig } from "../cas/ca-config.js";
import { ntlmHttpGet, type NtlmHttpGetOptions } from "../ntlm/node-http-transport.js";
import { type ChallengeSource, type FetchedChallenge, fitsPrintableString } from "./challenge-source.js";
import { ChallengeSourceConfigError, NdesHttpStatusError } from "./errors.js";
import { parseNdesAdminPage } from "./ndes-page.js";
import { basicCredentialsFault } from "../lib/url-credentials.js";
import { BODY_BYTES, TIMER_MS, booleanOption, functionOption, integerOption } from "../lib/options.js";

/**
 * Options of {@link NdesChallengeSource}.
 *
 * @group Challenge sources
 */
export interface NdesChallengeSourceOptions {
  /** Clock for `retrievedAt` (and the NTLMv2 timestamp when NDES sends none). Default `() => new Date()`. */
  now?: () => Date;
  /** Deadline for one fetch, NTLM handshake included, in ms. Default 30 000. An integer from 1 to 2 147 483 647 (ms), else `ProxyConfigError` (`ERR_PROXY_CONFIG`) from the constructor. */
  timeoutMs?: number;
  /**
   * `"proactive"` (default): send the NTLM NEGOTIATE message with the first
   * request, for NDES behind a WAF or an access gateway (Okta) that drops an
   * unauthenticated request. `"reactive"`: wait for IIS's 401 first (and fall
   * back to proactive if the first request is dropped).
   */
  mode?: "proactive" | "reactive";
  /** Use Basic when the front end offers only Basic. Default true. */
  allowBasic?: boolean;
  /** Also send Basic over plain `http:` admin URLs (password in clear on the network). Default false. */
  allowBasicOverHttp?: boolean;
  /** Largest admin page read, in bytes. Default 1 MiB. An integer from 1 to 1 073 741 824 (bytes), else `ProxyConfigError` (`ERR_PROXY_CONFIG`) from the constructor. */
  maxBodyBytes?: number;
  /** TLS settings for `https:` admin URLs: `ca`, the CA certificates (PEM) to verify against instead of Node's built-in list (Node's `ca`), and `rejectUnauthorized`. */
  tls?: { ca?: string | string[]; rejectUnauthorized?: boolean };
  /**
   * Over `https:` admin URLs, send the TLS channel binding in the NTLM AUTHENTICATE message (MsvAvChannelBindings,
   * MS-NLMP §2.2.2.1; RFC 5929 §4 `tls-server-end-point`), which IIS requires under Extended Protection for
   * Authentication "Required". Default true. Set false when the certificate the proxy sees is not the one IIS holds
   * (a TLS-inspecting egress proxy, a load balancer that re-encrypts): IIS with Extended Protection "Accept" or
   * "Required" refuses a wrong binding, and "Accept" or off takes none. Not a boolean: `ProxyConfigError`
   * (`ERR_PROXY_CONFIG`) from the constructor.
   */
  channelBinding?: boolean;
}

/**
 * A {@link ChallengeSource} for CAs of type `ndes`: GETs `ca.ndes.adminUrl`
 * (NDES's `mscep_admin` page) as `ca.ndes.username`, NTLMv2 over one
 * keep-alive connection (Basic if that is all the front end offers), decodes
 * the page (UTF-16LE from IIS, UTF-8 through Okta, or its charset) and
 * extracts `The enrollment challenge password is: <B> …`.
 *
 * `retrievedAt` is the injected clock's time when the request was sent, so
 * the proxy's 57-minute window never outlasts NDES's own 60 minutes.
 *
 * Errors (all `ChallengeSourceError`s; `retryable` true means back off and
 * retry, not "mark the device failed"):
 * - `ERR_PROXY_NDES_CACHE_FULL` (retryable): "The password cache is full";
 * - `ERR_PROXY_NDES_PERMISSION`: the account may not enroll with SCEP;
 * - `ERR_PROXY_NDES_AUTH`: 401 after the NTLM handshake or to Basic (bad credentials);
 * - `ERR_PROXY_NDES_AUTH_SCHEME`: no NTLM/Negotiate/Basic offered, or Basic over http refused;
 * - `ERR_PROXY_NDES_EMPTY`, `ERR_PROXY_NDES_UNKNOWN_PAGE`: a 200 without a challenge;
 * - `ERR_PROXY_NDES_HTTP_STATUS` (`status`; retryable for 5xx/429): 404 and other statuses;
 * - `ERR_PROXY_NDES_TIMEOUT`, `ERR_PROXY_NDES_TRANSPORT` (retryable);
 * - `ERR_PROXY_NTLM_MESSAGE`: a malformed NTLM CHALLENGE;
 * - `ERR_PROXY_CHALLENGE_SOURCE_CONFIG`: `ca` is not of type `ndes` or lacks `ndes` settings, its `adminUrl` is not
 *   an absolute http(s) URL or holds user info, or its `username` (or `domain`) holds a colon or a control character
 *   (which the Basic fallback cannot carry, RFC 7617 §2); nothing is sent. `MemoryCaRegistry` refuses such settings
 *   when the CA is configured.
 * - `ERR_PROXY_CONFIG` ({@link ProxyConfigError}, from the constructor): `timeoutMs` or `maxBodyBytes` is not a positive integer, or `channelBinding` is not a boolean.
 *
 * Messages never hold the password, the challenge or the page's text.
 *
 * @example
 * ```ts
 * import { NdesChallengeSource, type CaConfig } from "@scep/proxy";
 *
 * const ca: CaConfig = {
 *   name: "corp-ndes",
 *   type: "ndes",
 *   url: "https://ndes.corp.example/certsrv/mscep/mscep.dll",
 *   ndes: { adminUrl: "https://ndes.corp.example/certsrv/mscep_admin/", username: "svc-ndes", password: "…", domain: "CORP" },
 * };
 * const ndes = new NdesChallengeSource({ timeoutMs: 15_000 });
 * const { challenge, retrievedAt } = await ndes.fetchChallenge(ca, { signal: AbortSignal.timeout(20_000) });
 * // put `challenge` in the profile; store `retrievedAt` as the profile's challengeRetrievedAt
 * ```
 * @group Challenge sources
 */
export class NdesChallengeSource implements ChallengeSource {
  readonly #options: NdesChallengeSourceOptions;
  readonly #now: () => Date;

  /** @throws ProxyConfigError `ERR_PROXY_CONFIG` for a `timeoutMs` / `maxBodyBytes` out of range, a `now` that is not a function or a `channelBinding` that is not a boolean. */
  constructor(options: NdesChallengeSourceOptions = {}) {
    functionOption("now", options.now);
    // Validated here, so a bad limit fails at construction rather than on every fetch (ntlmHttpGet applies the defaults).
    integerOption("timeoutMs", options.timeoutMs, 1, TIMER_MS);
    integerOption("maxBodyBytes", options.maxBodyBytes, 1, BODY_BYTES);
    booleanOption("channelBinding", options.channelBinding, true);
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * Fetches one challenge from `ca`'s NDES admin page.
   *
   * @param ca - A CA of type `ndes` with `ndes` settings.
   * @param options - `signal` aborts the fetch: the promise rejects with its reason, except for a deadline (a
   *   `TimeoutError` reason, as `AbortSignal.timeout` gives), which is `NdesTimeoutError` (`ERR_PROXY_NDES_TIMEOUT`,
   *   retryable) whichever deadline passed first.
   * @returns The challenge and the time (ms since the epoch) the request was sent.
   * @throws ChallengeSourceError with the codes listed on the class.
   */
  async fetchChallenge(ca: CaConfig, options: { signal?: AbortSignal } = {}): Promise<FetchedChallenge> {
    if (ca.type !== "ndes" || !ca.ndes) {
      throw new ChallengeSourceConfigError(`CA "${ca.name}" is not an NDES CA with ndes settings (adminUrl, username, password)`);
    }
    // A CA from a registry that did not check its settings (MemoryCaRegistry refuses these): nothing is sent.
    if (typeof ca.ndes.username !== "string" || typeof ca.ndes.password !== "string") throw new ChallengeSourceConfigError("NDES settings: username and password must be strings");
    // The Basic fallback cannot carry these (RFC 7617 §2), and no Windows account name holds one.
    const fault =
      basicCredentialsFault(ca.ndes.username, "", { username: "NDES username", password: "NDES password" }) ??
      (typeof ca.ndes.domain === "string" ? basicCredentialsFault(ca.ndes.domain, "", { username: "NDES domain", password: "" }) : undefined);
    if (fault !== undefined) throw new ChallengeSourceConfigError(fault);
    const retrievedAt = this.#now().getTime();
    const o = this.#options;
    const get: NtlmHttpGetOptions = {
      credentials: { username: ca.ndes.username, password: ca.ndes.password, ...(ca.ndes.domain !== undefined ? { domain: ca.ndes.domain } : {}) },
      now: this.#now,
    };
    if (o.mode) get.mode = o.mode;
    if (o.allowBasic !== undefined) get.allowBasic = o.allowBasic;
    if (o.allowBasicOverHttp !== undefined) get.allowBasicOverHttp = o.allowBasicOverHttp;
    if (o.timeoutMs !== undefined) get.timeoutMs = o.timeoutMs;
    if (o.maxBodyBytes !== undefined) get.maxBodyBytes = o.maxBodyBytes;
    if (o.tls) get.tls = o.tls;
    if (o.channelBinding !== undefined) get.channelBinding = o.channelBinding;
    if (options.signal) get.signal = options.signal;
    const res = await ntlmHttpGet(ca.ndes.adminUrl, get);
    if (res.status < 200 || res.status > 299) throw new NdesHttpStatusError(`NDES admin page answered HTTP ${res.status}`, res.status);
    const { challenge } = parseNdesAdminPage(res.body, res.contentType);
    return { challenge, retrievedAt, printableString: fitsPrintableString(challenge) };
  }
}
