/**
 * Entra ID client-credentials tokens (OAuth 2.0 RFC 6749 §4.4 on the v2.0
 * endpoint), by client secret or by certificate (a signed client assertion,
 * RFC 7523), cached per scope until shortly before they expire.
 *
 * @module
 */
import { Certificate, toBase64Url } from "@scep/core";
import { IntuneAuthError, IntuneConfigError, IntuneResponseError, IntuneTransportError } from "../errors.js";
import { certificateThumbprints, privateKeyFromPem, randomUuid, signRs256 } from "../lib/node-crypto.js";
import { asObject, callJson, isRetryable, type Fetch } from "./http.js";
import { TIMER_MS, configFunction, configNumber, configUrl } from "../lib/options.js";
import { callerAbort, defaultSleep, waitBeforeRetry } from "../lib/retry-wait.js";
import { SharedWork } from "../lib/shared-work.js";

/**
 * How the app authenticates to Entra ID.
 *
 * @group Intune API
 */
export type EntraCredential =
  /** A client secret (never logged). */
  | { clientSecret: string }
  /** A certificate credential: the certificate registered on the app (DER, or PEM: its first CERTIFICATE block, text around it ignored) and its RSA private key (PEM). */
  | { certificate: string | Uint8Array; privateKey: string };

/**
 * Options of {@link EntraTokenProvider}.
 *
 * @group Intune API
 */
export interface EntraTokenProviderOptions {
  /** Directory (tenant) ID or a verified domain. */
  tenant: string;
  /** Application (client) ID. */
  clientId: string;
  /** Client secret or certificate. */
  credential: EntraCredential;
  /** Authority host (default `https://login.microsoftonline.com`); tests point it at a loopback server. An absolute https: URL without userinfo, else `ERR_INTUNE_CONFIG`. */
  loginBaseUrl?: string;
  /**
   * Per-request timeout, milliseconds (default 10,000), and the longest wait before a retry that a 429's or 503's
   * `Retry-After` (seconds) may ask for: a longer one fails the token request at once with that answer's
   * `ERR_INTUNE_TRANSPORT` (its `retryAfterSeconds` set). An integer from 1 to 2 147 483 647 (ms), else `ERR_INTUNE_CONFIG`.
   */
  timeoutMs?: number;
  /**
   * Extra attempts after a timeout, network failure, 429 or 5xx, a count (default 1): each after the answer's
   * `Retry-After` when a 429 or 503 gave one (at most `timeoutMs`), else after 200 ms × the retry's number.
   * An integer from 0 to 5, else `ERR_INTUNE_CONFIG`.
   */
  retries?: number;
  /** A token is renewed this long before it expires, milliseconds (default 300,000). An integer from 0 to 86 400 000 (ms, one day), else `ERR_INTUNE_CONFIG`. */
  refreshBeforeMs?: number;
  /** The `fetch` to use (default the global one). */
  fetch?: Fetch;
  /** The clock (default the system clock). */
  now?: () => Date;
  /** Waits between attempts, milliseconds (default `setTimeout`); tests pass a no-op. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Names the token endpoint in error messages. */
const WHAT = "Entra ID token endpoint";

interface Cached {
  token: string;
  renewAt: number;
}

/**
 * Acquires and caches app-only access tokens from Entra ID. Concurrent
 * requests for one scope share a single token request.
 *
 * @example
 * ```ts
 * const tokens = new EntraTokenProvider({
 *   tenant: process.env.INTUNE_TENANT_ID!,
 *   clientId: process.env.INTUNE_CLIENT_ID!,
 *   credential: { clientSecret: process.env.INTUNE_CLIENT_SECRET! },
 * });
 * const graph: string = await tokens.getToken("https://graph.microsoft.com/.default");
 * ```
 *
 * @group Intune API
 */
export class EntraTokenProvider {
  readonly #o: EntraTokenProviderOptions;
  readonly #cache = new Map<string, Cached>();
  readonly #pending = new Map<string, SharedWork<string>>();
  readonly #now: () => number;
  readonly #fetch: Fetch;
  readonly #assertionKey: ReturnType<typeof privateKeyFromPem> | undefined;
  readonly #x5t: { x5t: string; x5tS256: string } | undefined;

  /**
   * @throws {@link IntuneConfigError} `ERR_INTUNE_CONFIG` for a missing tenant, client ID or credential, an unreadable
   *   certificate/key, a `timeoutMs` / `retries` / `refreshBeforeMs` out of its range, or a `fetch` / `now` / `sleep`
   *   that is not a function, or a `loginBaseUrl` that is not an http(s) URL or has userinfo (`user:password@`).
   */
  constructor(options: EntraTokenProviderOptions) {
    // NaN retries made no attempt at all, a NaN timeout aborted each request at once, a NaN refreshBeforeMs cached nothing.
    configNumber("timeoutMs", options.timeoutMs, 10_000, TIMER_MS);
    configNumber("retries", options.retries, 1, { min: 0, max: 5 });
    configNumber("refreshBeforeMs", options.refreshBeforeMs, 300_000, { min: 0, max: 86_400_000, unit: "ms" });
    for (const hook of ["fetch", "now", "sleep"] as const) configFunction(hook, options[hook]);
    configUrl("loginBaseUrl", options.loginBaseUrl);
    if (!options.tenant || !/^[A-Za-z0-9.-]+$/.test(options.tenant)) throw new IntuneConfigError("tenant must be a tenant ID or domain");
    if (!options.clientId) throw new IntuneConfigError("clientId is required");
    this.#o = options;
    const now = options.now;
    this.#now = now ? () => now().getTime() : () => Date.now();
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    const c = options.credential as Partial<{ clientSecret: string; certificate: string | Uint8Array; privateKey: string }>;
    if ("clientSecret" in c) {
      if (!c.clientSecret) throw new IntuneConfigError("credential.clientSecret is empty");
    } else if (c.certificate !== undefined && c.privateKey !== undefined) {
      try {
        this.#assertionKey = privateKeyFromPem(c.privateKey);
        // @scep/core's reading: the first CERTIFICATE block of PEM (text around it, such as openssl's "Bag Attributes",
        // skipped as RFC 7468 §2 allows) or DER, parsed, so a certificate that does not parse is refused here.
        this.#x5t = certificateThumbprints(Certificate.from(c.certificate).der);
      } catch (cause) {
        throw new IntuneConfigError("credential.certificate / credential.privateKey cannot be read", { cause });
      }
      if (this.#assertionKey.asymmetricKeyType !== "rsa") throw new IntuneConfigError("a certificate credential needs an RSA key");
    } else throw new IntuneConfigError("credential needs clientSecret, or certificate and privateKey");
  }

  /** The token endpoint URL. */
  get tokenUrl(): string {
    return `${(this.#o.loginBaseUrl ?? "https://login.microsoftonline.com").replace(/\/+$/, "")}/${this.#o.tenant}/oauth2/v2.0/token`;
  }

  /**
   * A valid access token for `scope` (e.g. `https://graph.microsoft.com/.default`), from the cache when it
   * has more than `refreshBeforeMs` left.
   *
   * A timeout, network failure, 429 or 5xx is retried `retries` times, after the answer's `Retry-After` when a 429
   * or 503 gave one and it is at most `timeoutMs` (else its error is thrown at once), otherwise after 200 ms × the
   * retry's number. Concurrent callers share the request and its waits.
   *
   * @param options `signal` (optional) ends this call's wait at once; the shared request (its HTTP attempt, its
   *   timeout timer, a wait before a retry) is cut when no caller waits for it any more.
   * @throws {@link IntuneAuthError} `ERR_INTUNE_AUTH` when Entra ID refuses (4xx, e.g. `invalid_client`);
   * `ERR_INTUNE_TRANSPORT` (with `retryAfterSeconds` on a throttled 429 / 503) / `ERR_INTUNE_TIMEOUT` /
   * `ERR_INTUNE_RESPONSE` when it cannot be reached or answers garbage; on `signal`'s abort,
   * {@link IntuneTimeoutError} `ERR_INTUNE_TIMEOUT` for a `TimeoutError` reason, else the reason.
   */
  async getToken(scope: string, options: { signal?: AbortSignal } = {}): Promise<string> {
    const signal = options.signal;
    if (signal?.aborted) throw callerAbort(signal, WHAT);
    const hit = this.#cache.get(scope);
    if (hit && this.#now() < hit.renewAt) return hit.token;
    let work = this.#pending.get(scope);
    if (!work || work.abandoned) {
      // An abandoned request is being cut: a new caller starts its own.
      const started: SharedWork<string> = new SharedWork(
        (s) => this.#acquire(scope, s),
        () => {
          if (this.#pending.get(scope) === started) this.#pending.delete(scope);
        },
      );
      this.#pending.set(scope, started);
      work = started;
    }
    try {
      return await work.wait(signal);
    } catch (e) {
      if (signal?.aborted) throw callerAbort(signal, WHAT);
      throw e;
    }
  }

  /** Drops the cached token of `scope` (after a 401 from the API it was for). */
  invalidate(scope: string): void {
    this.#cache.delete(scope);
  }

  /** The token request with its retries; `signal` (the shared request's own) cuts the attempt or the wait. */
  async #acquire(scope: string, signal: AbortSignal): Promise<string> {
    const retries = this.#o.retries ?? 1;
    const wait = { timeoutMs: this.#o.timeoutMs ?? 10_000, sleep: this.#o.sleep ?? defaultSleep, signal };
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#request(scope, signal);
      } catch (e) {
        if (attempt >= retries || !isRetryable(e)) throw e;
        await waitBeforeRetry(e, attempt + 1, wait);
      }
    }
  }

  async #request(scope: string, signal: AbortSignal): Promise<string> {
    const form = new URLSearchParams({ client_id: this.#o.clientId, scope, grant_type: "client_credentials" });
    const cred = this.#o.credential;
    if ("clientSecret" in cred) form.set("client_secret", cred.clientSecret);
    else {
      form.set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
      form.set("client_assertion", this.#assertion());
    }
    const started = this.#now();
    let answer;
    try {
      answer = await callJson({
        fetch: this.#fetch,
        method: "POST",
        url: this.tokenUrl,
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json", "client-request-id": randomUuid() },
        body: form.toString(),
        timeoutMs: this.#o.timeoutMs ?? 10_000,
        what: WHAT,
        signal,
        now: this.#o.now,
      });
    } catch (e) {
      if (e instanceof IntuneTransportError && e.status !== undefined && e.status >= 400 && e.status < 500 && e.status !== 408 && e.status !== 429) {
        const body = asObject((e as { body?: unknown }).body);
        const code = typeof body?.["error"] === "string" ? body["error"] : `HTTP ${e.status}`;
        throw new IntuneAuthError(`Entra ID refused the token request for ${scope}: ${code}`, { cause: e });
      }
      throw e;
    }
    const body = asObject(answer.json);
    const token = body?.["access_token"];
    const expiresIn = secondsOf(body?.["expires_in"]);
    if (typeof token !== "string" || token === "" || !Number.isFinite(expiresIn) || expiresIn <= 0) {
      throw new IntuneResponseError("Entra ID token endpoint: the answer has no access_token and expires_in");
    }
    const lifetime = expiresIn * 1000;
    const early = Math.min(this.#o.refreshBeforeMs ?? 300_000, lifetime / 2);
    this.#cache.set(scope, { token, renewAt: started + lifetime - early });
    return token;
  }

  /** A client assertion (RFC 7523 §2.2) signed RS256 with the certificate's key, `x5t` naming the certificate. */
  #assertion(): string {
    const now = Math.floor(this.#now() / 1000);
    const b64 = (o: unknown): string => toBase64Url(Buffer.from(JSON.stringify(o)));
    const header = b64({ alg: "RS256", typ: "JWT", x5t: this.#x5t!.x5t, "x5t#S256": this.#x5t!.x5tS256 });
    const payload = b64({ aud: this.tokenUrl, iss: this.#o.clientId, sub: this.#o.clientId, jti: randomUuid(), nbf: now, iat: now, exp: now + 600 });
    const sig = toBase64Url(signRs256(this.#assertionKey!, Buffer.from(`${header}.${payload}`)));
    return `${header}.${payload}.${sig}`;
  }
}

/**
 * `expires_in` of a token answer in seconds: a JSON number, or a string of digits (Entra ID's v1 endpoint sends
 * `"3599"`); NaN for anything else. Never `Number()` of what a peer sent: an object whose `toString` is not a function
 * would throw a TypeError instead of the typed error.
 */
function secondsOf(value: unknown): number {
  if (typeof value === "number") return value;
  return typeof value === "string" && /^\d{1,10}$/.test(value) ? Number(value) : Number.NaN;
}
