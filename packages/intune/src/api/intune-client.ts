/**
 * The Intune SCEP validation API (ScepRequestValidationFEService,
 * `api-version: 2018-02-20`): validateRequest, successNotification and
 * failureNotification, with Entra ID tokens, Graph discovery, bounded
 * timeouts and retries.
 *
 * @module
 */
import { IntuneConfigError, IntuneRejectedError, IntuneResponseError, IntuneTransportError } from "../errors.js";
import { randomUuid } from "../lib/node-crypto.js";
import { PROVIDER } from "../version.js";
import { EntraTokenProvider, type EntraCredential } from "./entra-token.js";
import { asObject, callJson, isRetryable, type Fetch } from "./http.js";
import { GRAPH_SCOPE, IntuneServiceLocator } from "./service-locator.js";

/**
 * Name of the SCEP validation service in Graph's endpoint list.
 *
 * @group Intune API
 */
export const SCEP_VALIDATION_SERVICE = "ScepRequestValidationFEService";
/**
 * The `api-version` header of ScepActions calls.
 *
 * @group Intune API
 */
export const SCEP_API_VERSION = "2018-02-20";

/**
 * Options of {@link IntuneScepClient}.
 *
 * @group Intune API
 */
export interface IntuneScepClientOptions {
  /** Directory (tenant) ID or verified domain. */
  tenant: string;
  /** Application (client) ID of the app holding `scep_challenge_provider` and Graph `Application.Read.All`. */
  clientId: string;
  /** Client secret, or certificate and private key. */
  credential: EntraCredential;
  /** Entra ID authority host (default `https://login.microsoftonline.com`). */
  loginBaseUrl?: string;
  /** Microsoft Graph host (default `https://graph.microsoft.com`). */
  graphBaseUrl?: string;
  /** Intune resource (default `https://api.manage.microsoft.com/`); the scope is this + `/.default` (a double slash, as Entra ID expects). */
  intuneResource?: string;
  /** Provider name and version: the `callerInfo` of each body and the user agent (default `scep-sdk @scep/intune/<version>`). */
  provider?: string;
  /** Timeout of each HTTP request, milliseconds (default 10,000). */
  timeoutMs?: number;
  /** Extra attempts after a timeout, network failure, 429 or 5xx (default 1). */
  retries?: number;
  /** The `fetch` to use (default the global one). */
  fetch?: Fetch;
  /** The clock for token expiry (default the system clock). */
  now?: () => Date;
  /** Waits between attempts (default `setTimeout`). */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Intune's answer to a ScepActions call.
 *
 * @group Intune API
 */
export interface ScepActionResult {
  /** `Success`, or the refusal code. */
  code: string;
  /** Intune's description (may be empty). */
  errorDescription: string;
  /** The `client-request-id` of the call that got this answer (for Microsoft support). */
  activityId: string;
}

/**
 * The successNotification fields beyond transactionID and CSR.
 *
 * @group Intune API
 */
export interface SuccessNotification {
  /** SHA-1 of the issued certificate's DER, hex (upper-case, as Windows prints thumbprints). */
  certificateThumbprint: string;
  /** Serial number, hex (upper-case). */
  certificateSerialNumber: string;
  /** notAfter, ISO 8601 UTC. */
  certificateExpirationDateUtc: string;
  /** Issuer name of the issued certificate. */
  issuingCertificateAuthority: string;
  /** CA configuration string (optional, e.g. `host\\CA name`). */
  caConfiguration?: string;
  /** Certificate authority name (optional). */
  certificateAuthority?: string;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A client of the Intune SCEP validation API. Every method resolves with
 * Intune's answer or throws a typed error; it never issues anything itself.
 *
 * @example
 * ```ts
 * import type { CertificationRequest } from "@scep/core";
 * import { IntuneScepClient } from "@scep/intune";
 *
 * declare const csr: CertificationRequest; // the enrollment's CSR
 * declare const transactionId: string; // its SCEP transactionID
 *
 * const intune = new IntuneScepClient({
 *   tenant: process.env.INTUNE_TENANT_ID!,
 *   clientId: process.env.INTUNE_CLIENT_ID!,
 *   credential: { clientSecret: process.env.INTUNE_CLIENT_SECRET! },
 * });
 * const r = await intune.validateRequest({ transactionId, certificateRequest: csr.der });
 * if (r.code !== "Success") console.log("refused:", r.code, r.errorDescription);
 * ```
 *
 * @group Intune API
 */
export class IntuneScepClient {
  readonly #o: IntuneScepClientOptions;
  readonly #tokens: EntraTokenProvider;
  readonly #locator: IntuneServiceLocator;
  readonly #fetch: Fetch;
  readonly #intuneScope: string;
  readonly #provider: string;

  /** @throws {@link IntuneConfigError} `ERR_INTUNE_CONFIG` for a missing tenant, client ID, credential, or a bad timeout/retry count. */
  constructor(options: IntuneScepClientOptions) {
    const timeoutMs = options.timeoutMs ?? 10_000;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) throw new IntuneConfigError(`timeoutMs must be a positive integer (got ${timeoutMs})`);
    const retries = options.retries ?? 1;
    if (!Number.isSafeInteger(retries) || retries < 0 || retries > 5) throw new IntuneConfigError(`retries must be an integer from 0 to 5 (got ${retries})`);
    this.#o = { ...options, timeoutMs, retries };
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
    });
    this.#intuneScope = `${options.intuneResource ?? "https://api.manage.microsoft.com/"}/.default`;
    this.#provider = options.provider ?? PROVIDER;
  }

  /**
   * Asks Intune whether the CSR and the challenge in it are valid. Only `code === "Success"` means valid.
   *
   * @param request `transactionId` (RFC 8894 §3.2.1.1) and the whole PKCS#10 DER.
   * @throws the token, discovery, transport, timeout and response errors (`ERR_INTUNE_*`); never for a refusal, which is a `code`.
   */
  async validateRequest(request: { transactionId: string; certificateRequest: Uint8Array }): Promise<ScepActionResult> {
    return this.#action("validateRequest", { request: { transactionId: request.transactionId, certificateRequest: b64(request.certificateRequest), callerInfo: this.#provider } });
  }

  /**
   * Tells Intune a certificate was issued for the request. Send it before delivering the certificate.
   *
   * @throws {@link IntuneRejectedError} `ERR_INTUNE_REJECTED` when Intune answers a code other than Success; the transport errors of {@link IntuneScepClient.validateRequest}.
   */
  async successNotification(n: { transactionId: string; certificateRequest: Uint8Array } & SuccessNotification): Promise<ScepActionResult> {
    const notification: Record<string, string> = {
      transactionId: n.transactionId,
      certificateRequest: b64(n.certificateRequest),
      certificateThumbprint: n.certificateThumbprint,
      certificateSerialNumber: n.certificateSerialNumber,
      certificateExpirationDateUtc: n.certificateExpirationDateUtc,
      issuingCertificateAuthority: n.issuingCertificateAuthority,
      callerInfo: this.#provider,
    };
    if (n.caConfiguration !== undefined) notification["caConfiguration"] = n.caConfiguration;
    if (n.certificateAuthority !== undefined) notification["certificateAuthority"] = n.certificateAuthority;
    return this.#mustSucceed(await this.#action("successNotification", { notification }), "successNotification");
  }

  /**
   * Tells Intune that issuance failed after a successful validation.
   *
   * @param n `hResult`: an HRESULT (e.g. 0x80004005); `errorDescription`: cut to 255 characters.
   * @throws {@link IntuneRejectedError} `ERR_INTUNE_REJECTED` when Intune answers a code other than Success; the transport errors of {@link IntuneScepClient.validateRequest}.
   */
  async failureNotification(n: { transactionId: string; certificateRequest: Uint8Array; hResult: number; errorDescription: string }): Promise<ScepActionResult> {
    if (!Number.isSafeInteger(n.hResult) || n.hResult < -0x80000000 || n.hResult > 0xffffffff) throw new IntuneConfigError(`hResult must be a 32-bit HRESULT (got ${n.hResult})`);
    const notification = {
      transactionId: n.transactionId,
      certificateRequest: b64(n.certificateRequest),
      hResult: n.hResult,
      errorDescription: [...(n.errorDescription || "certificate issuance failed")].slice(0, 255).join(""),
      callerInfo: this.#provider,
    };
    return this.#mustSucceed(await this.#action("failureNotification", { notification }), "failureNotification");
  }

  #mustSucceed(r: ScepActionResult, what: string): ScepActionResult {
    if (r.code !== "Success") throw new IntuneRejectedError(`Intune answered ${what} with ${r.code}`, { intuneCode: r.code, errorDescription: r.errorDescription });
    return r;
  }

  /**
   * One ScepActions call with its retry policy: a network failure drops the discovered endpoint (the next
   * attempt or call rediscovers it); a 404 drops it and rediscovers once at once; a 401 drops the Intune token
   * once; timeouts, network failures, 429 and 5xx are retried up to `retries` times. At most
   * `retries` + 3 attempts of `timeoutMs` each.
   */
  async #action(action: string, body: unknown): Promise<ScepActionResult> {
    const text = JSON.stringify(body);
    const sleep = this.#o.sleep ?? defaultSleep;
    let rediscovered = false;
    let reauthenticated = false;
    let retried = 0;
    for (;;) {
      const activityId = randomUuid();
      try {
        const base = await this.#locator.locate(SCEP_VALIDATION_SERVICE);
        const token = await this.#tokens.getToken(this.#intuneScope);
        const answer = await callJson({
          fetch: this.#fetch,
          method: "POST",
          url: `${base}/ScepActions/${action}`,
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "application/json",
            accept: "application/json",
            "client-request-id": activityId,
            "api-version": SCEP_API_VERSION,
            "user-agent": this.#provider,
            UserAgent: this.#provider,
          },
          body: text,
          timeoutMs: this.#o.timeoutMs!,
          what: `Intune ${action}`,
        });
        const o = asObject(answer.json);
        const code = o?.["code"];
        const description = o?.["errorDescription"];
        if (typeof code !== "string" || code === "") throw new IntuneResponseError(`Intune ${action}: the answer has no code`);
        return { code, errorDescription: typeof description === "string" ? description : "", activityId };
      } catch (e) {
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
        if (retried < this.#o.retries! && isRetryable(e)) {
          retried++;
          await sleep(200 * retried);
          continue;
        }
        throw e;
      }
    }
  }
}

function b64(der: Uint8Array): string {
  return Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64");
}
