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

/** Intune's well-known application ID. */
export const INTUNE_APP_ID = "0000000a-0000-0000-c000-000000000000";
/** Graph's app-only scope. */
export const GRAPH_SCOPE = "https://graph.microsoft.com/.default";

/** What the locator needs. */
export interface ServiceLocatorOptions {
  tokens: EntraTokenProvider;
  graphBaseUrl: string;
  graphScope: string;
  timeoutMs: number;
  fetch: Fetch;
  /** The clock an HTTP-date `Retry-After` is counted from when Graph's answer has no `Date` header (default the system clock). */
  now?: () => Date;
}

/**
 * Finds and caches Intune service endpoints. The cache is dropped with
 * {@link IntuneServiceLocator.invalidate} (the client does so when a call
 * fails at the transport level or with 404) and refilled on the next lookup.
 * A list that lacks the service asked for is not kept either: the lookup
 * throws, and the next one asks Graph again (no back-off: one discovery call
 * per lookup while Graph leaves the service out, as after a transport failure).
 * It does not retry: a failed discovery (a 429 or 503 with its `retryAfterSeconds`
 * included) is the calling client's to retry, by its policy.
 */
export class IntuneServiceLocator {
  readonly #o: ServiceLocatorOptions;
  #map: Map<string, string> | undefined;
  #pending: Promise<Map<string, string>> | undefined;

  constructor(options: ServiceLocatorOptions) {
    this.#o = options;
  }

  /**
   * The endpoint of `serviceName` (compared case-insensitively, as Microsoft's libraries do).
   *
   * @throws {@link IntuneDiscoveryError} `ERR_INTUNE_DISCOVERY` when Graph does not list it or answers garbage;
   * the token and transport errors of the calls it makes.
   */
  async locate(serviceName: string): Promise<string> {
    const map = this.#map ?? (await this.#refresh());
    const uri = map.get(serviceName.toLowerCase());
    if (!uri) {
      // An incomplete list (a tenant still being provisioned, a partial Graph answer) must not stick until restart.
      if (this.#map === map) this.#map = undefined;
      throw new IntuneDiscoveryError(`Graph lists no endpoint for ${serviceName} (is the tenant licensed for Intune, and Application.Read.All consented?)`);
    }
    return uri;
  }

  /** Forgets the discovered endpoints. */
  invalidate(): void {
    this.#map = undefined;
  }

  #refresh(): Promise<Map<string, string>> {
    this.#pending ??= this.#discover().finally(() => (this.#pending = undefined));
    return this.#pending;
  }

  async #discover(): Promise<Map<string, string>> {
    const token = await this.#o.tokens.getToken(this.#o.graphScope);
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
