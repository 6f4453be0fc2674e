/**
 * Intune's revocation requests for a third-party CA (PkiConnectorFEService,
 * `api-version: 5019-05-05`): download the certificates Intune wants revoked
 * (an admin removed a SCEP profile or wiped, retired or deleted a device), and
 * upload what the CA did with each. Source: Microsoft's reference libraries,
 * github.com/microsoft/Intune-Resource-Access, src/CsrValidation (Java and C#
 * `IntuneRevocationClient`, `CARevocationRequest`, `CARevocationResult`,
 * `CARevocationDownloadParameters`); EJBCA's `IntuneRestApi` sends the same
 * bodies.
 *
 * @module
 */
import { InvalidArgumentError, numberOption } from "@scep/core";
import { IntuneRejectedError, IntuneResponseError } from "../errors.js";
import { asObject } from "./http.js";
import { IntuneApiSession, type IntuneApiOptions, type IntuneCallOptions } from "./intune-session.js";
import { isIntuneRevocationCode, type IntuneRevocationCode } from "./revocation-codes.js";

/**
 * Name of Intune's CA connector service in Graph's endpoint list.
 *
 * @group Intune API
 */
export const PKI_CONNECTOR_SERVICE = "PkiConnectorFEService";
/**
 * The `api-version` header of the revocation calls.
 *
 * @group Intune API
 */
export const REVOCATION_API_VERSION = "5019-05-05";
/**
 * Most revocation requests one download may ask for (the reference libraries refuse more).
 *
 * @group Intune API
 */
export const MAX_REVOCATION_REQUESTS = 500;

/**
 * Options of {@link IntuneRevocationClient}: the same as {@link IntuneScepClient}'s, and the same Entra ID
 * app (EJBCA's Intune revocation worker is configured with the SCEP server's app ID, secret and tenant). Intune
 * answers 403 (`ERR_INTUNE_TRANSPORT`, `status: 403`) when the app lacks a permission.
 *
 * @group Intune API
 */
export type IntuneRevocationClientOptions = IntuneApiOptions;

/**
 * One certificate Intune asks the CA to revoke (an item of `downloadRevocationRequests`'s `value`).
 *
 * @group Intune API
 */
export interface IntuneRevocationRequest {
  /** Intune's opaque handle of the request; the result must carry it back unchanged. */
  requestContext: string;
  /** The certificate's serial number as Intune recorded it from the successNotification (hex, as the CA reported it). */
  serialNumber: string;
  /** The certificate's issuer name as Intune recorded it (the successNotification's `issuingCertificateAuthority`), when known. */
  issuerName?: string;
  /** The CA configuration string of the successNotification (e.g. `host\\CA name`), when known. */
  caConfiguration?: string;
}

/**
 * What the CA did with one request (an item of `uploadRevocationResults`'s `results`).
 *
 * @group Intune API
 */
export interface IntuneRevocationResult {
  /** The request's `requestContext`, unchanged. */
  requestContext: string;
  /** True exactly when `errorCode` is 0 (`None`). */
  succeeded: boolean;
  /** One of {@link INTUNE_REVOCATION_CODES}: 0 on success, 4000–4007 (final) or 4100–4103 (Intune may retry). */
  errorCode: IntuneRevocationCode;
  /** A short reason for Intune's admin console (sent as `null` when absent). Never put secrets here. */
  errorMessage?: string;
}

/**
 * A client of Intune's revocation-request API. It only talks to Intune: what
 * to revoke is the CA's business ({@link syncIntuneRevocations} runs the whole
 * download → revoke → upload round). Shares nothing with an
 * {@link IntuneScepClient} but the options; each keeps its own token and
 * endpoint caches.
 *
 * @example
 * ```ts
 * import { IntuneRevocationClient, INTUNE_REVOCATION_CODES } from "@scep/intune";
 *
 * const intune = new IntuneRevocationClient({
 *   tenant: process.env.INTUNE_TENANT_ID!,
 *   clientId: process.env.INTUNE_CLIENT_ID!,
 *   credential: { clientSecret: process.env.INTUNE_CLIENT_SECRET! },
 * });
 * const requests = await intune.downloadRevocationRequests({ maxRequests: 100, issuerName: "CN=Contoso Issuing CA" });
 * if (requests.length > 0) {
 *   await intune.uploadRevocationResults(requests.map((r) => ({ requestContext: r.requestContext, succeeded: false, errorCode: INTUNE_REVOCATION_CODES.NotSupportedError, errorMessage: "not yet" })));
 * }
 * ```
 *
 * @group Intune API
 */
export class IntuneRevocationClient {
  readonly #session: IntuneApiSession;

  /** @throws {@link IntuneConfigError} `ERR_INTUNE_CONFIG` for a missing tenant, client ID, credential, or a bad timeout/retry count. */
  constructor(options: IntuneRevocationClientOptions) {
    this.#session = new IntuneApiSession(options);
  }

  /**
   * Downloads up to `maxRequests` pending revocation requests: `POST {PkiConnectorFEService}/CertificateAuthorityRequests/downloadRevocationRequests`
   * with `{"downloadParameters":{"maxRequests":…,"issuerName":…|null}}`. One call, no paging (the reference libraries do not page:
   * a CA calls again on its next round).
   *
   * @param options `maxRequests`: an integer from 1 to {@link MAX_REVOCATION_REQUESTS}; `issuerName`: only requests for
   *   certificates of this issuer (sent as `null`, meaning all of the tenant's, when absent); `signal` ends the call, a
   *   wait before a retry included ({@link IntuneCallOptions}). Retries wait for a 429's or 503's `Retry-After` (seconds)
   *   when it is at most `timeoutMs`; a longer one fails at once with `ERR_INTUNE_TRANSPORT` and its `retryAfterSeconds`.
   * @throws InvalidArgumentError (@scep/core) `ERR_INVALID_ARGUMENT` for a `maxRequests` out of range or an empty `issuerName`;
   *   {@link IntuneResponseError} `ERR_INTUNE_RESPONSE` when the answer has no `value` array, or an item without a non-empty string
   *   `requestContext` and a string `serialNumber` (or with an `issuerName`/`caConfiguration` that is neither a string nor null);
   *   the token, discovery, transport and timeout errors (`ERR_INTUNE_AUTH`, `ERR_INTUNE_DISCOVERY`, `ERR_INTUNE_TRANSPORT`, `ERR_INTUNE_TIMEOUT`).
   */
  async downloadRevocationRequests(options: { maxRequests: number; issuerName?: string } & IntuneCallOptions): Promise<IntuneRevocationRequest[]> {
    const { maxRequests, issuerName } = options;
    numberOption("maxRequests", maxRequests ?? null, 0, { min: 1, max: MAX_REVOCATION_REQUESTS });
    if (issuerName !== undefined && (typeof issuerName !== "string" || issuerName.trim() === "")) throw new InvalidArgumentError("issuerName must be a non-empty string when given");
    const what = "Intune downloadRevocationRequests";
    const { json } = await this.#session.post({
      service: PKI_CONNECTOR_SERVICE,
      apiVersion: REVOCATION_API_VERSION,
      path: "CertificateAuthorityRequests/downloadRevocationRequests",
      body: { downloadParameters: { maxRequests, issuerName: issuerName ?? null } },
      what,
      signal: options.signal,
    });
    const value = asObject(json)?.["value"];
    if (!Array.isArray(value)) throw new IntuneResponseError(`${what}: the answer has no value array`);
    return value.map((item, i) => {
      const o = asObject(item);
      const requestContext = o?.["requestContext"];
      const serialNumber = o?.["serialNumber"];
      if (typeof requestContext !== "string" || requestContext === "") throw new IntuneResponseError(`${what}: item ${i} has no requestContext`);
      if (typeof serialNumber !== "string") throw new IntuneResponseError(`${what}: item ${i} has no serialNumber`);
      const request: IntuneRevocationRequest = { requestContext, serialNumber };
      for (const key of ["issuerName", "caConfiguration"] as const) {
        const v = o![key];
        if (typeof v === "string") request[key] = v;
        else if (v !== undefined && v !== null) throw new IntuneResponseError(`${what}: item ${i} has a ${key} that is not a string`);
      }
      return request;
    });
  }

  /**
   * Uploads the CA's results, all in one call: `POST {PkiConnectorFEService}/CertificateAuthorityRequests/uploadRevocationResults`
   * with `{"results":[{"requestContext","succeeded","errorCode","errorMessage"}…]}`; `errorCode` is a JSON number, `errorMessage`
   * `null` when absent (as the reference libraries send them). Intune answers `{"value":true}`.
   *
   * @param options `signal` ends the call, a wait before a retry included ({@link IntuneCallOptions}).
   * @returns the `client-request-id` of the call (for Microsoft support).
   * @throws InvalidArgumentError (@scep/core) `ERR_INVALID_ARGUMENT` for an empty list, an empty `requestContext`, an `errorCode`
   *   not in {@link INTUNE_REVOCATION_CODES}, or `succeeded` that disagrees with it (true exactly when the code is 0);
   *   {@link IntuneRejectedError} `ERR_INTUNE_REJECTED` (`intuneCode: "false"`) when Intune answers `{"value":false}`;
   *   {@link IntuneResponseError} `ERR_INTUNE_RESPONSE` when `value` is not a boolean; the token, discovery, transport and timeout errors.
   */
  async uploadRevocationResults(results: readonly IntuneRevocationResult[], options: IntuneCallOptions = {}): Promise<{ activityId: string }> {
    if (!Array.isArray(results) || results.length === 0) throw new InvalidArgumentError("results must be a non-empty array");
    const body = results.map((r, i) => {
      if (typeof r?.requestContext !== "string" || r.requestContext === "") throw new InvalidArgumentError(`results[${i}].requestContext must be a non-empty string`);
      if (!isIntuneRevocationCode(r.errorCode)) throw new InvalidArgumentError(`results[${i}].errorCode must be one of INTUNE_REVOCATION_CODES (got ${typeof r.errorCode === "number" ? r.errorCode : typeof r.errorCode === "string" ? "a string" : typeof r.errorCode})`);
      if (r.succeeded !== (r.errorCode === 0)) throw new InvalidArgumentError(`results[${i}].succeeded must be true exactly when errorCode is 0`);
      if (r.errorMessage !== undefined && typeof r.errorMessage !== "string") throw new InvalidArgumentError(`results[${i}].errorMessage must be a string`);
      return { requestContext: r.requestContext, succeeded: r.succeeded, errorCode: r.errorCode, errorMessage: r.errorMessage ?? null };
    });
    const what = "Intune uploadRevocationResults";
    const { json, activityId } = await this.#session.post({
      service: PKI_CONNECTOR_SERVICE,
      apiVersion: REVOCATION_API_VERSION,
      path: "CertificateAuthorityRequests/uploadRevocationResults",
      body: { results: body },
      what,
      signal: options.signal,
    });
    const value = asObject(json)?.["value"];
    if (typeof value !== "boolean") throw new IntuneResponseError(`${what}: the answer has no boolean value`);
    if (!value) throw new IntuneRejectedError(`${what}: Intune did not record the results (value: false)`, { intuneCode: "false" });
    return { activityId };
  }
}
