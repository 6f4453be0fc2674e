/**
 * Intune service discovery through Microsoft Graph: the service principal of
 * Intune (appId 0000000a-0000-0000-c000-000000000000) lists each Intune
 * service's endpoint; the SCEP validation service is
 * `ScepRequestValidationFEService`.
 *
 * @module
 */
import { IntuneDiscoveryError, IntuneTransportError } from "../errors.js";
import { randomUuid } from "../lib/node-crypto.js";
import type { EntraTokenProvider } from "./entra-token.js";
import { asObject, callJson, type Fetch } from "./http.js";
import { SharedWork } from "../lib/shared-work.js";

/** Intune's well-known application ID. */
export const INTUNE_APP_ID = "0000000a-0000-0000-c000-000000000000";
/** Graph's app-only scope. */
export const GRAPH_SCOPE = "https://graph.microsoft.com/.default";

/** The first hold of a service two discovery answers in a row left out, milliseconds (then doubled per answer). */
export const MISSING_HOLD_FIRST_MS = 1_000;
/** The longest hold of a service Graph keeps leaving out, milliseconds: it is asked for again at least this often. */
export const MISSING_HOLD_MAX_MS = 60_000;

/** What the locator needs. */
export interface ServiceLocatorOptions {
  tokens: EntraTokenProvider;
  graphBaseUrl: string;
  graphScope: string;
  timeoutMs: number;
  fetch: Fetch;
  /**
   * The clock (default the system clock): an HTTP-date `Retry-After` is counted from it when Graph's answer has no
   * `Date` header, and the hold of a service Graph leaves out runs on it.
   */
  now?: () => Date;
}

/**
 * Finds and caches Intune service endpoints. The cache is dropped with
 * {@link IntuneServiceLocator.invalidate} (the client does so when a call
 * fails at the transport level or with 404) and refilled on the next lookup.
 * A list that lacks the service asked for is not kept either: the lookup
 * throws, and the next one asks Graph again at once (a partial answer). When
 * that answer lacks it too, the service is held missing: lookups of it throw
 * at once without asking Graph for {@link MISSING_HOLD_FIRST_MS} (1 s), the
 * hold doubling with each further answer that lacks it up to
 * {@link MISSING_HOLD_MAX_MS} (60 s), by the injected clock; an answer that
 * lists it ends the hold. A tenant not (yet) licensed for Intune thus costs
 * Graph about one call a minute however many enrollments arrive, instead of
 * one per enrollment (Graph throttles the app with 429s past its quota).
 * It does not retry: a failed discovery (a 429 or 503 with its `retryAfterSeconds`
 * included) is the calling client's to retry, by its policy.
 */
export class IntuneServiceLocator {
  readonly #o: ServiceLocatorOptions;
  #map: Map<string, string> | undefined;
  #pending: SharedWork<Map<string, string>> | undefined;
  /** Services the last answers left out: how many answers in a row (`from`: the last one), and until when (ms) Graph is not asked again. */
  readonly #missing = new Map<string, { misses: number; from: Map<string, string>; until: number }>();

  constructor(options: ServiceLocatorOptions) {
    this.#o = options;
  }

  /**
   * The endpoint of `serviceName` (compared case-insensitively, as Microsoft's libraries do). `signal` (optional)
   * ends this lookup's wait at once (rejecting with its reason); a discovery under way is cut when no lookup waits
   * for it any more.
   *
   * @throws {@link IntuneDiscoveryError} `ERR_INTUNE_DISCOVERY` when Graph does not list it (or did not in its last
   * answers and the hold is not over: then without asking Graph) or answers garbage; the token and transport errors
   * of the calls it makes.
   */
  async locate(serviceName: string, signal?: AbortSignal): Promise<string> {
    const key = serviceName.toLowerCase();
    const held = this.#missing.get(key);
    if (held) {
      const wait = held.until - this.#clock();
      // A wait longer than any hold: the clock went backwards, and the hold is over rather than stretched.
      if (wait > 0 && wait <= MISSING_HOLD_MAX_MS) {
        throw new IntuneDiscoveryError(`Graph listed no endpoint for ${serviceName} in its last ${held.misses} answers; asked again in ${Math.ceil(wait / 1000)} s (is the tenant licensed for Intune, and Application.Read.All consented?)`);
      }
    }
    if (signal?.aborted) throw signal.reason;
    const map = this.#map ?? (await this.#refresh(signal));
    const uri = map.get(key);
    if (!uri) {
      // An incomplete list (a tenant still being provisioned, a partial Graph answer) must not stick until restart.
      if (this.#map === map) this.#map = undefined;
      // Counted once per answer, however many lookups shared it; the first miss is asked again at once.
      const last = this.#missing.get(key);
      const misses = last?.from === map ? last.misses : (last?.misses ?? 0) + 1;
      const hold = misses < 2 ? 0 : Math.min(MISSING_HOLD_FIRST_MS * 2 ** Math.min(misses - 2, 16), MISSING_HOLD_MAX_MS);
      this.#missing.set(key, { misses, from: map, until: this.#clock() + hold });
      throw new IntuneDiscoveryError(`Graph lists no endpoint for ${serviceName} (is the tenant licensed for Intune, and Application.Read.All consented?)`);
    }
    this.#missing.delete(key);
    return uri;
  }

  /** The injected clock, milliseconds. */
  #clock(): number {
    return (this.#o.now?.() ?? new Date()).getTime();
  }

  /** Forgets the discovered endpoints. */
  invalidate(): void {
    this.#map = undefined;
  }

  #refresh(signal: AbortSignal | undefined): Promise<Map<string, string>> {
    // An abandoned discovery is being cut: a new lookup starts its own.
    if (!this.#pending || this.#pending.abandoned) {
      const started: SharedWork<Map<string, string>> = new SharedWork(
        (s) => this.#discover(s),
        () => {
          if (this.#pending === started) this.#pending = undefined;
        },
      );
      this.#pending = started;
    }
    return this.#pending.wait(signal);
  }

  /** One Graph discovery; `signal` (the shared discovery's own) cuts its token wait and its request. */
  async #discover(signal: AbortSignal): Promise<Map<string, string>> {
    const token = await this.#o.tokens.getToken(this.#o.graphScope, { signal });
    const url = `${this.#o.graphBaseUrl.replace(/\/+$/, "")}/v1.0/servicePrincipals/appId=${INTUNE_APP_ID}/endpoints`;
    let answer;
    try {
      answer = await callJson({
        fetch: this.#o.fetch,
        method: "GET",
        url,
        headers: { authorization: `Bearer ${token}`, accept: "application/json", "client-request-id": randomUuid() },
        timeoutMs: this.#o.timeoutMs,
        what: "Graph endpoint discovery",
        signal,
        now: this.#o.now,
      });
    } catch (e) {
      if (e instanceof IntuneTransportError && e.status === 401) this.#o.tokens.invalidate(this.#o.graphScope);
      throw e;
    }
    const value = asObject(answer.json)?.["value"];
    if (!Array.isArray(value)) throw new IntuneDiscoveryError("Graph endpoint discovery: the answer has no value array");
    const map = new Map<string, string>();
    for (const item of value) {
      const o = asObject(item);
      const name = o?.["providerName"];
      const uri = o?.["uri"];
      if (typeof name !== "string" || typeof uri !== "string") continue;
      try {
        const u = new URL(uri);
        // https only, unless Graph itself was configured on plain http (a loopback test double)
        if (u.protocol !== "https:" && !(u.protocol === "http:" && this.#o.graphBaseUrl.startsWith("http:"))) continue;
        // userinfo would go out as a Basic Authorization header beside our bearer token, and into error messages
        if (u.username !== "" || u.password !== "") continue;
      } catch {
        continue;
      }
      map.set(name.toLowerCase(), uri.replace(/\/+$/, ""));
    }
    this.#map = map;
    return map;
  }
}
