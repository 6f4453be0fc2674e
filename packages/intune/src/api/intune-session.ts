/**
 * What every Intune API client shares: the Entra ID tokens (Graph and the
 * Intune resource), Graph discovery of the service endpoints, and one POST to
 * a discovered service with its headers, timeout and retry policy. Used by
 * {@link IntuneScepClient} (ScepRequestValidationFEService) and
 * {@link IntuneRevocationClient} (PkiConnectorFEService); not exported.
 *
 * @module
 */
import { IntuneConfigError, IntuneTransportError } from "../errors.js";
import { randomUuid } from "../lib/node-crypto.js";
import { PROVIDER } from "../version.js";
import { EntraTokenProvider, type EntraCredential } from "./entra-token.js";
import { callJson, isRetryable, type Fetch } from "./http.js";
import { GRAPH_SCOPE, IntuneServiceLocator } from "./service-locator.js";
import { TIMER_MS, configFunction, configNumber, configUrl } from "../lib/options.js";
import { callerAbort, defaultSleep, waitBeforeRetry, type Sleep } from "../lib/retry-wait.js";

/**
 * Options of every Intune API client ({@link IntuneScepClient}, {@link IntuneRevocationClient}).
 *
 * @group Intune API
 */
export interface IntuneApiOptions {
  /** Directory (tenant) ID or verified domain. */
  tenant: string;
  /** Application (client) ID of the app holding the Intune permission (`scep_challenge_provider`) and Graph `Application.Read.All`. */
  clientId: string;
  /** Client secret, or certificate and private key. */
  credential: EntraCredential;
  /** Entra ID authority host (default `https://login.microsoftonline.com`): an absolute https: URL without userinfo, else `ERR_INTUNE_CONFIG`. */
  loginBaseUrl?: string;
  /** Microsoft Graph host (default `https://graph.microsoft.com`): an absolute https: URL without userinfo, else `ERR_INTUNE_CONFIG`. */
  graphBaseUrl?: string;
  /** Intune resource (default `https://api.manage.microsoft.com/`); the scope is this + `/.default` (a double slash, as Entra ID expects). An absolute https: URL without userinfo, else `ERR_INTUNE_CONFIG`. */
  intuneResource?: string;
  /** Provider name and version: the `callerInfo` of each body and the user agent (default `scep-sdk @scep/intune/<version>`). */
  provider?: string;
  /**
   * Timeout of each HTTP request, milliseconds (default 10,000), and the longest wait before a retry that a 429's or
   * 503's `Retry-After` (seconds) may ask for: a longer one fails the call at once with that answer's
   * `ERR_INTUNE_TRANSPORT` (its `retryAfterSeconds` set). An integer from 1 to 2 147 483 647 (ms), else `ERR_INTUNE_CONFIG`.
   */
  timeoutMs?: number;
  /**
   * Extra attempts after a timeout, network failure, 429 or 5xx, a count (default 1): each after the answer's
   * `Retry-After` when a 429 or 503 gave one (at most `timeoutMs`), else after 200 ms × the retry's number.
   * An integer from 0 to 5, else `ERR_INTUNE_CONFIG`.
   */
  retries?: number;
  /** The `fetch` to use (default the global one). */
  fetch?: Fetch;
  /** The clock for token expiry (default the system clock). */
  now?: () => Date;
  /** Waits between attempts, milliseconds (default `setTimeout`, cleared when the call's `signal` aborts); a call's abort ends the wait whatever this does. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * Per-call options of the Intune API clients' methods.
 *
 * @group Intune API
 */
export interface IntuneCallOptions {
  /**
   * Ends the call: the HTTP attempt under way, or the wait before a retry (its timer cleared), at once. The call
   * rejects with {@link IntuneTimeoutError} `ERR_INTUNE_TIMEOUT` when the reason is a `TimeoutError` (as
   * `AbortSignal.timeout(ms)` gives), else with the signal's reason. A token request or discovery shared with
   * other calls goes on while another call still waits for it; once none does, it is cut too (its HTTP request,
   * timeout timer and retry wait end), so an abandoned call keeps no socket or timer alive.
   */
  signal?: AbortSignal;
}

/** One POST to an Intune service. */
export interface IntunePost {
  /** Graph `providerName` of the service, e.g. `ScepRequestValidationFEService`. */
  service: string;
  /** The `api-version` header. */
  apiVersion: string;
  /** Path below the service's URI, without a leading slash (`ScepActions/validateRequest`). */
  path: string;
  /** The JSON body. */
  body: unknown;
  /** Names the call in error messages (`Intune validateRequest`). */
  what: string;
  /** The caller's signal ({@link IntuneCallOptions.signal}). */
  signal?: AbortSignal | undefined;
}

/** Tokens, discovery and the retry policy of one set of {@link IntuneApiOptions}. */
export class IntuneApiSession {
  /** The `callerInfo` and user agent (the options' `provider`, or `scep-sdk @scep/intune/<version>`). */
  readonly provider: string;
  readonly #tokens: EntraTokenProvider;
  readonly #locator: IntuneServiceLocator;
  readonly #fetch: Fetch;
  readonly #intuneScope: string;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #sleep: Sleep;
  readonly #now: (() => Date) | undefined;

  /** @throws {@link IntuneConfigError} `ERR_INTUNE_CONFIG` for a missing tenant, client ID, credential, a bad timeout/retry count, or a base URL that is not http(s) or has userinfo. */
  constructor(options: IntuneApiOptions) {
    const timeoutMs = configNumber("timeoutMs", options.timeoutMs, 10_000, TIMER_MS);
    const retries = configNumber("retries", options.retries, 1, { min: 0, max: 5 });
    for (const hook of ["fetch", "now", "sleep"] as const) configFunction(hook, options[hook]);
    for (const name of ["loginBaseUrl", "graphBaseUrl", "intuneResource"] as const) configUrl(name, options[name]);
    this.#timeoutMs = timeoutMs;
    this.#retries = retries;
    this.#sleep = options.sleep ?? defaultSleep;
    this.#now = options.now;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#tokens = new EntraTokenProvider({
      tenant: options.tenant,
      clientId: options.clientId,
      credential: options.credential,
      timeoutMs,
      retries,
      fetch: this.#fetch,
      ...(options.loginBaseUrl ? { loginBaseUrl: options.loginBaseUrl } : {}),
      ...(options.now ? { now: options.now } : {}),
      ...(options.sleep ? { sleep: options.sleep } : {}),
    });
    this.#locator = new IntuneServiceLocator({
      tokens: this.#tokens,
      graphBaseUrl: options.graphBaseUrl ?? "https://graph.microsoft.com",
      graphScope: options.graphBaseUrl ? `${options.graphBaseUrl.replace(/\/+$/, "")}/.default` : GRAPH_SCOPE,
      timeoutMs,
      fetch: this.#fetch,
      ...(options.now ? { now: options.now } : {}),
    });
    this.#intuneScope = `${options.intuneResource ?? "https://api.manage.microsoft.com/"}/.default`;
    this.provider = options.provider ?? PROVIDER;
  }

  /**
   * One POST with its retry policy: a network failure drops the discovered endpoints (the next attempt or
   * call rediscovers them); a 404 drops them and rediscovers once at once; a 401 drops the Intune token once;
   * timeouts, network failures, 429 and 5xx (of Intune, of Graph discovery) are retried up to `retries` times, after
   * the answer's `Retry-After` when a 429 or 503 gave one, else after 200 ms × the retry's number ({@link waitBeforeRetry}).
   * A `Retry-After` longer than `timeoutMs` is not waited for: that answer's error is thrown at once. At most
   * `retries` + 3 attempts of `timeoutMs` each, plus the waits. Resolves with the 2xx answer's JSON and the
   * `client-request-id` it was sent with.
   *
   * @throws the token, discovery, transport, timeout and response errors (`ERR_INTUNE_*`) of the last attempt
   *   (`retryAfterSeconds` on a 429's or 503's {@link IntuneTransportError}); on `call.signal`'s abort, at once,
   *   {@link IntuneTimeoutError} for a `TimeoutError` reason, else the reason.
   */
  async post(call: IntunePost): Promise<{ json: unknown; activityId: string }> {
    const text = JSON.stringify(call.body);
    const signal = call.signal;
    let rediscovered = false;
    let reauthenticated = false;
    let retried = 0;
    for (;;) {
      if (signal?.aborted) throw callerAbort(signal, call.what);
      const activityId = randomUuid();
      try {
        // Discovery and tokens are shared with concurrent calls: this call stops waiting at its abort; they are cut
        // only when no call waits for them any more.
        const base = await this.#locator.locate(call.service, signal);
        const token = await this.#tokens.getToken(this.#intuneScope, signal ? { signal } : {});
        const answer = await callJson({
          fetch: this.#fetch,
          method: "POST",
          url: `${base}/${call.path}`,
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "application/json",
            accept: "application/json",
            "client-request-id": activityId,
            "api-version": call.apiVersion,
            "user-agent": this.provider,
            UserAgent: this.provider,
          },
          body: text,
          timeoutMs: this.#timeoutMs,
          what: call.what,
          signal,
          now: this.#now,
        });
        return { json: answer.json, activityId };
      } catch (e) {
        if (signal?.aborted) throw callerAbort(signal, call.what);
        if (e instanceof IntuneTransportError && e.status === undefined) this.#locator.invalidate(); // rediscovered by the next attempt or call
        if (e instanceof IntuneTransportError && e.status === 404 && !rediscovered) {
          rediscovered = true;
          this.#locator.invalidate();
          continue;
        }
        if (e instanceof IntuneTransportError && e.status === 401 && !reauthenticated) {
          reauthenticated = true;
          this.#tokens.invalidate(this.#intuneScope);
          continue;
        }
        if (retried < this.#retries && isRetryable(e)) {
          retried++;
          try {
            await waitBeforeRetry(e, retried, { timeoutMs: this.#timeoutMs, sleep: this.#sleep, signal });
          } catch (w) {
            if (signal?.aborted) throw callerAbort(signal, call.what);
            throw w;
          }
          continue;
        }
        throw e;
      }
    }
  }
}
