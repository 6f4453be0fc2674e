/**
 * The Intune SCEP validation API (ScepRequestValidationFEService,
 * `api-version: 2018-02-20`): validateRequest, successNotification and
 * failureNotification, with Entra ID tokens, Graph discovery, bounded
 * timeouts and retries.
 *
 * @module
 */
import { IntuneConfigError, IntuneRejectedError, IntuneResponseError } from "../errors.js";
import { asObject } from "./http.js";
import { IntuneApiSession, type IntuneApiOptions, type IntuneCallOptions } from "./intune-session.js";

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
 * Options of {@link IntuneScepClient}: the ones every Intune API client takes.
 *
 * @group Intune API
 */
export type IntuneScepClientOptions = IntuneApiOptions;

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
  readonly #session: IntuneApiSession;
  readonly #provider: string;

  /** @throws {@link IntuneConfigError} `ERR_INTUNE_CONFIG` for a missing tenant, client ID, credential, or a bad timeout/retry count. */
  constructor(options: IntuneScepClientOptions) {
    this.#session = new IntuneApiSession(options);
    this.#provider = this.#session.provider;
  }

  /**
   * Asks Intune whether the CSR and the challenge in it are valid. Only `code === "Success"` means valid.
   *
   * A timeout, network failure, 429 or 5xx is retried (`retries`), after the answer's `Retry-After` (seconds) when a
   * 429 or 503 gave one; a `Retry-After` longer than `timeoutMs` (milliseconds) is not waited for.
   *
   * @param request `transactionId` (RFC 8894 §3.2.1.1) and the whole PKCS#10 DER.
   * @param options `signal` ends the call, a wait before a retry included ({@link IntuneCallOptions}).
   * @throws the token, discovery, transport, timeout and response errors (`ERR_INTUNE_*`); never for a refusal, which is a `code`.
   *   A 429 or 503 whose `Retry-After` is longer than `timeoutMs`, or the last attempt's, is an {@link IntuneTransportError}
   *   `ERR_INTUNE_TRANSPORT` with `status` and `retryAfterSeconds` (seconds), which a SCEP server can pass on as its own `Retry-After`.
   */
  async validateRequest(request: { transactionId: string; certificateRequest: Uint8Array }, options: IntuneCallOptions = {}): Promise<ScepActionResult> {
    return this.#action("validateRequest", { request: { transactionId: request.transactionId, certificateRequest: b64(request.certificateRequest), callerInfo: this.#provider } }, options);
  }

  /**
   * Tells Intune a certificate was issued for the request. Send it before delivering the certificate.
   *
   * @param options `signal` ends the call, a wait before a retry included ({@link IntuneCallOptions}).
   * @throws {@link IntuneRejectedError} `ERR_INTUNE_REJECTED` when Intune answers a code other than Success; the transport errors of {@link IntuneScepClient.validateRequest}.
   */
  async successNotification(n: { transactionId: string; certificateRequest: Uint8Array } & SuccessNotification, options: IntuneCallOptions = {}): Promise<ScepActionResult> {
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
    return this.#mustSucceed(await this.#action("successNotification", { notification }, options), "successNotification");
  }

  /**
   * Tells Intune that issuance failed after a successful validation.
   *
   * @param n `hResult`: an HRESULT (e.g. 0x80004005); `errorDescription`: cut to 255 characters.
   * @param options `signal` ends the call, a wait before a retry included ({@link IntuneCallOptions}).
   * @throws {@link IntuneRejectedError} `ERR_INTUNE_REJECTED` when Intune answers a code other than Success; the transport errors of {@link IntuneScepClient.validateRequest}.
   */
  async failureNotification(n: { transactionId: string; certificateRequest: Uint8Array; hResult: number; errorDescription: string }, options: IntuneCallOptions = {}): Promise<ScepActionResult> {
    if (!Number.isSafeInteger(n.hResult) || n.hResult < -0x80000000 || n.hResult > 0xffffffff) throw new IntuneConfigError(`hResult must be a 32-bit HRESULT (got ${n.hResult})`);
    const notification = {
      transactionId: n.transactionId,
      certificateRequest: b64(n.certificateRequest),
      hResult: n.hResult,
      errorDescription: [...(n.errorDescription || "certificate issuance failed")].slice(0, 255).join(""),
      callerInfo: this.#provider,
    };
    return this.#mustSucceed(await this.#action("failureNotification", { notification }, options), "failureNotification");
  }

  #mustSucceed(r: ScepActionResult, what: string): ScepActionResult {
    if (r.code !== "Success") throw new IntuneRejectedError(`Intune answered ${what} with ${r.code}`, { intuneCode: r.code, errorDescription: r.errorDescription });
    return r;
  }

  /** One ScepActions call, with the session's retry policy ({@link IntuneApiSession.post}). */
  async #action(action: string, body: unknown, options: IntuneCallOptions): Promise<ScepActionResult> {
    const { json, activityId } = await this.#session.post({ service: SCEP_VALIDATION_SERVICE, apiVersion: SCEP_API_VERSION, path: `ScepActions/${action}`, body, what: `Intune ${action}`, signal: options.signal });
    const o = asObject(json);
    const code = o?.["code"];
    const description = o?.["errorDescription"];
    if (typeof code !== "string" || code === "") throw new IntuneResponseError(`Intune ${action}: the answer has no code`);
    return { code, errorDescription: typeof description === "string" ? description : "", activityId };
  }
}

function b64(der: Uint8Array): string {
  return Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64");
}
