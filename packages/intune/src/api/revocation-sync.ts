/**
 * One round of Intune's revocation sync: download the revocation requests,
 * let the CA act on each, upload one result per request. The round
 * Microsoft's reference example runs (github.com/microsoft/Intune-Resource-Access,
 * src/CsrValidation/csharp/revocationExample), with every outcome mapped to
 * the documented result codes, and a CA action that throws or hangs answered
 * with a retryable code instead of ending the round.
 *
 * @module
 */
import { InvalidArgumentError, isScepError, numberOption, isStoreUnavailable, normalizeSerialNumber, sameName, type RevocationReason, type RevocationStore } from "@scep/core";
import { abortable } from "@scep/core/internal";
import { isIntuneError, type IntuneError } from "../errors.js";
import { callerAbort } from "../lib/retry-wait.js";
import { MAX_REVOCATION_REQUESTS, type IntuneRevocationClient, type IntuneRevocationRequest, type IntuneRevocationResult } from "./revocation-client.js";
import { INTUNE_REVOCATION_CODES, isIntuneRevocationCode, isRetryableRevocationCode, type IntuneRevocationCode } from "./revocation-codes.js";

/**
 * What the CA's action did with one request:
 *
 * | outcome | `errorCode` sent |
 * | --- | --- |
 * | `"revoked"` | 0 `None` (succeeded) |
 * | `"already_revoked"` | 4005 `ConflictError` (Microsoft's example of a conflict), or 0 with `alreadyRevoked: "succeeded"` |
 * | `"not_found"` | 4004 `CertificateNotFoundError` |
 * | `"issuer_mismatch"` | 4004 `CertificateNotFoundError` (this CA holds no certificate of that issuer and serial) |
 * | `"invalid_serial"` | 4002 `ParameterDataInvalidError` |
 * | `{ errorCode, errorMessage? }` | as given (any of {@link INTUNE_REVOCATION_CODES}) |
 *
 * A throw is an outcome too: `ERR_STORE_UNAVAILABLE` → 4101 `ServiceUnavailableException`, `ERR_INVALID_ARGUMENT`
 * (a serial the store refuses) → 4002, anything else → 4100 `RetryableServiceException`.
 *
 * @group Intune API
 */
export type IntuneRevokeOutcome = "revoked" | "already_revoked" | "not_found" | "issuer_mismatch" | "invalid_serial" | { errorCode: IntuneRevocationCode; errorMessage?: string };

/**
 * The CA's action for one revocation request (for example {@link revocationStoreRevoker} over a @scep/core `RevocationStore`).
 * {@link syncIntuneRevocations} passes `options.signal`: it aborts when the request's `revokeTimeoutMs` passes (a
 * `TimeoutError` reason) or the round's `signal` aborts; the round no longer waits for the outcome then, so an action
 * should not start a write after it (a write it does make anyway stays, and the next round sees it as already revoked).
 *
 * @group Intune API
 */
export type IntuneRevoke = (request: IntuneRevocationRequest, options?: { signal?: AbortSignal }) => Promise<IntuneRevokeOutcome>;

/**
 * Options of {@link syncIntuneRevocations}.
 *
 * @group Intune API
 */
export interface SyncIntuneRevocationsOptions {
  /** The client (an {@link IntuneRevocationClient}, or anything with its two methods). */
  client: Pick<IntuneRevocationClient, "downloadRevocationRequests" | "uploadRevocationResults">;
  /** The CA's action per request. */
  revoke: IntuneRevoke;
  /**
   * This CA's issuer name, as it was sent in successNotification's `issuingCertificateAuthority` (e.g. `CN=Contoso CA, O=Contoso`):
   * with `IntuneValidator.confirmHook()` or `notifySuccess`, the issued certificate's `issuer`, i.e. the CA certificate's
   * `Certificate.subject` (`Certificate.from(caPem).subject`). Requests of another name count in the summary's `issuerMismatches`.
   * It filters the download, and a request naming another issuer is answered `issuer_mismatch` without calling `revoke`
   * (compared as `sameName` of @scep/core does: by attribute OID, values after RFC 4518 preparation, RDNs in either order;
   * Microsoft's `S=`, quoted values and `;` separators read). Absent: every request of the tenant.
   */
  issuerName?: string;
  /** Most requests downloaded in this round, 1 to 500 (default 100). One download per round: Intune keeps the rest for the next. */
  maxRequests?: number;
  /** What an already revoked certificate is reported as (default `"conflict"`: 4005, as Microsoft's enum documents). */
  alreadyRevoked?: "conflict" | "succeeded";
  /**
   * How long one `revoke` may take, milliseconds (default 30,000); past it the request is answered 4100 and the round
   * goes on. An integer from 1 to 2 147 483 647 (ms; it runs on a timer), else InvalidArgumentError `ERR_INVALID_ARGUMENT`.
   */
  revokeTimeoutMs?: number;
  /**
   * Ends the round (a process shutting down, a deadline of the caller's own): the download, a `revoke` (through its
   * own signal), the upload or a wait before a retry stop at once, their timers cleared and connections closed. The
   * round then rejects: with {@link IntuneTimeoutError} `ERR_INTUNE_TIMEOUT` when the reason is a `TimeoutError` (as
   * `AbortSignal.timeout(ms)` gives), else with the signal's reason (an `AbortError` `DOMException` for a bare
   * `controller.abort()`). Nothing is uploaded after the abort: revocations already made stay in the store, and Intune
   * sends every request of the round again in the next one (an already revoked certificate is then `already_revoked`,
   * see `alreadyRevoked`). An upload that completed before the abort is kept: the round resolves with its summary.
   */
  signal?: AbortSignal;
}

/**
 * How one request was answered.
 *
 * @group Intune API
 */
export interface IntuneRevocationSyncItem {
  /** The request as downloaded. */
  request: IntuneRevocationRequest;
  /** The outcome label: an {@link IntuneRevokeOutcome} name, `"custom"` for an `{ errorCode }` outcome, or `"store_unavailable"`, `"revoke_failed"`, `"revoke_timeout"`. */
  outcome: string;
  /** The result uploaded for it. */
  result: IntuneRevocationResult;
}

/**
 * What one round did.
 *
 * @group Intune API
 */
export interface IntuneRevocationSyncSummary {
  /** Requests downloaded. */
  downloaded: number;
  /** Results with `succeeded: true`. */
  succeeded: number;
  /** Results with a final code (4000–4007). */
  failed: number;
  /** Results with a retryable code (4100–4103): Intune will send these again. */
  retryable: number;
  /**
   * Requests answered `issuer_mismatch` by the sync itself (4004, `revoke` not called; counted in `failed` too):
   * their `issuerName` is not the `issuerName` option. When every request is one, the option is not the name
   * successNotification sent (`issuingCertificateAuthority`, the CA certificate's subject as `Certificate.subject`
   * prints it): log it, since each such request is answered 4004 and Intune does not ask again.
   */
  issuerMismatches: number;
  /** One entry per downloaded request, in download order. */
  items: IntuneRevocationSyncItem[];
  /** Whether Intune recorded the results (false when nothing was downloaded, or the upload failed). */
  uploaded: boolean;
  /** Why the upload failed (`ERR_INTUNE_*`); the revocations done stay done, and Intune sends the unanswered requests again. */
  uploadError?: IntuneError;
}

const MESSAGES: Record<string, string> = {
  already_revoked: "the certificate was already revoked",
  not_found: "this CA issued no certificate with this serial number",
  issuer_mismatch: "the certificate was not issued by this CA",
  invalid_serial: "the serial number is not a valid certificate serial number",
  store_unavailable: "the revocation store is unavailable",
};

/**
 * Runs one round of Intune's revocation sync: one `downloadRevocationRequests`, `revoke` for each request in
 * turn, then one `uploadRevocationResults` with a result for every request (none when nothing was downloaded).
 * A `revoke` that throws, hangs past `revokeTimeoutMs` or answers something unknown never ends the round: its
 * request is answered with a retryable code (4100, or 4101 when the store is unavailable). Run it periodically
 * (EJBCA's worker and CZERTAINLY run it every hour or so); two rounds must not overlap.
 *
 * @throws InvalidArgumentError (@scep/core) `ERR_INVALID_ARGUMENT` for a `maxRequests` out of 1..500, a bad
 *   `revokeTimeoutMs` or an `issuerName` that is not a distinguished name (`sameName` of @scep/core cannot read it, or
 *   it is empty); the download's errors (`ERR_INTUNE_AUTH`, `ERR_INTUNE_DISCOVERY`, `ERR_INTUNE_TRANSPORT`,
 *   `ERR_INTUNE_TIMEOUT`, `ERR_INTUNE_RESPONSE`), before anything is revoked. An upload failure is not thrown: it is
 *   the summary's `uploadError`. On `signal`'s abort, at once (whatever step the round is in): {@link IntuneTimeoutError}
 *   `ERR_INTUNE_TIMEOUT` (`Intune revocation sync: the caller's deadline passed`) for a `TimeoutError` reason, else the
 *   signal's reason; nothing is uploaded then (see {@link SyncIntuneRevocationsOptions.signal}).
 * @example
 * ```ts
 * import { MemoryRevocationStore } from "@scep/core";
 * import { IntuneRevocationClient, revocationStoreRevoker, syncIntuneRevocations } from "@scep/intune";
 *
 * const revocations = new MemoryRevocationStore(); // the CA's store, behind its CRL
 * const client = new IntuneRevocationClient({
 *   tenant: process.env.INTUNE_TENANT_ID!,
 *   clientId: process.env.INTUNE_CLIENT_ID!,
 *   credential: { clientSecret: process.env.INTUNE_CLIENT_SECRET! },
 * });
 * const summary = await syncIntuneRevocations({
 *   client,
 *   issuerName: "CN=Contoso Issuing CA, O=Contoso",
 *   revoke: revocationStoreRevoker(revocations),
 * });
 * console.log(`${summary.succeeded} revoked, ${summary.failed} refused, ${summary.retryable} to retry`);
 * ```
 *
 * @group Intune API
 */
export async function syncIntuneRevocations(options: SyncIntuneRevocationsOptions): Promise<IntuneRevocationSyncSummary> {
  // Above 2^31 − 1 ms the timer fired at once: every revoke answered 4100.
  const revokeTimeoutMs = numberOption("revokeTimeoutMs", options.revokeTimeoutMs, 30_000, { min: 1, max: 2_147_483_647, unit: "ms" });
  const maxRequests = numberOption("maxRequests", options.maxRequests, 100, { min: 1, max: MAX_REVOCATION_REQUESTS });
  // Our own name is checked before the download: one that cannot be compared would answer every request meant for this
  // CA issuer_mismatch (4004, not retried), so Intune would give up revoking those certificates.
  if (options.issuerName !== undefined) checkIssuerName(options.issuerName);
  const signal = options.signal;
  if (signal?.aborted) throw callerAbort(signal, SYNC);
  let requests: IntuneRevocationRequest[];
  try {
    // Raced against the signal too: a client of the caller's own may not read it.
    requests = await abortable(options.client.downloadRevocationRequests({ maxRequests, ...(options.issuerName !== undefined ? { issuerName: options.issuerName } : {}), ...(signal ? { signal } : {}) }), signal);
  } catch (e) {
    if (signal?.aborted) throw callerAbort(signal, SYNC);
    throw e;
  }
  const items: IntuneRevocationSyncItem[] = [];
  let issuerMismatches = 0;
  for (const request of requests) {
    // Nothing answered after an abort: the round uploads nothing, so Intune sends every request again.
    if (signal?.aborted) throw callerAbort(signal, SYNC);
    const otherIssuer = options.issuerName !== undefined && request.issuerName !== undefined && !sameIssuer(options.issuerName, request.issuerName);
    if (otherIssuer) issuerMismatches++;
    const { outcome, errorCode, errorMessage } = otherIssuer
      ? { outcome: "issuer_mismatch", errorCode: C.CertificateNotFoundError, errorMessage: MESSAGES["issuer_mismatch"]! }
      : await answer(request, options, revokeTimeoutMs, signal);
    const result: IntuneRevocationResult = { requestContext: request.requestContext, succeeded: errorCode === 0, errorCode, ...(errorMessage !== undefined ? { errorMessage } : {}) };
    items.push({ request, outcome, result });
  }
  const summary: IntuneRevocationSyncSummary = {
    downloaded: requests.length,
    succeeded: items.filter((i) => i.result.succeeded).length,
    failed: items.filter((i) => !i.result.succeeded && !isRetryableRevocationCode(i.result.errorCode)).length,
    retryable: items.filter((i) => isRetryableRevocationCode(i.result.errorCode)).length,
    issuerMismatches,
    items,
    uploaded: false,
  };
  if (items.length === 0) return summary;
  if (signal?.aborted) throw callerAbort(signal, SYNC);
  try {
    await abortable(options.client.uploadRevocationResults(items.map((i) => i.result), ...(signal ? [{ signal }] : [])), signal);
    summary.uploaded = true;
  } catch (e) {
    // The caller's abort ends the round (its deadline too, which the client throws as ERR_INTUNE_TIMEOUT): not an uploadError.
    if (signal?.aborted) throw callerAbort(signal, SYNC);
    if (!isIntuneError(e)) throw e;
    summary.uploadError = e;
  }
  return summary;
}

interface Answer {
  outcome: string;
  errorCode: IntuneRevocationCode;
  errorMessage?: string;
}

const C = INTUNE_REVOCATION_CODES;

/**
 * What `revoke` did with a request of this CA's issuer (or of no issuer named), as the result code to send.
 *
 * @throws on `round`'s abort, at once ({@link callerAbort}): the round ends, whatever `revoke` answers later.
 */
async function answer(request: IntuneRevocationRequest, options: SyncIntuneRevocationsOptions, timeoutMs: number, round: AbortSignal | undefined): Promise<Answer> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let outcome: unknown;
  // The action's own signal: aborted at its timeout (the round goes on without its answer) or with the round.
  const own = new AbortController();
  const onRound = (): void => own.abort(round!.reason);
  round?.addEventListener("abort", onRound, { once: true });
  try {
    const race = Promise.race([
      Promise.resolve().then(() => options.revoke(request, { signal: own.signal })),
      new Promise<typeof TIMEOUT>(
        (resolve) =>
          (timer = setTimeout(() => {
            resolve(TIMEOUT);
            own.abort(new DOMException(`revocation did not complete within ${timeoutMs} ms`, "TimeoutError"));
          }, timeoutMs)),
      ),
    ]);
    outcome = await abortable(race, round);
  } catch (e) {
    if (round?.aborted) throw callerAbort(round, SYNC);
    if (isStoreUnavailable(e)) return { outcome: "store_unavailable", errorCode: C.ServiceUnavailableException, errorMessage: MESSAGES["store_unavailable"]! };
    if (isScepError(e) && e.code === "ERR_INVALID_ARGUMENT") return { outcome: "invalid_serial", errorCode: C.ParameterDataInvalidError, errorMessage: MESSAGES["invalid_serial"]! };
    // The class name only: an error's message may name internal hosts or paths.
    return { outcome: "revoke_failed", errorCode: C.RetryableServiceException, errorMessage: `revocation failed: ${e instanceof Error ? e.name : typeof e}` };
  } finally {
    clearTimeout(timer);
    round?.removeEventListener("abort", onRound);
  }
  // Aborted as the action answered: the round ends all the same (it uploads nothing).
  if (round?.aborted) throw callerAbort(round, SYNC);
  switch (outcome) {
    case TIMEOUT:
      return { outcome: "revoke_timeout", errorCode: C.RetryableServiceException, errorMessage: `revocation did not complete within ${timeoutMs} ms` };
    case "revoked":
      return { outcome, errorCode: C.None };
    case "already_revoked":
      return options.alreadyRevoked === "succeeded" ? { outcome, errorCode: C.None } : { outcome, errorCode: C.ConflictError, errorMessage: MESSAGES[outcome]! };
    case "not_found":
    case "issuer_mismatch":
      return { outcome, errorCode: C.CertificateNotFoundError, errorMessage: MESSAGES[outcome]! };
    case "invalid_serial":
      return { outcome, errorCode: C.ParameterDataInvalidError, errorMessage: MESSAGES[outcome]! };
  }
  const o = outcome as { errorCode?: unknown; errorMessage?: unknown } | null;
  if (typeof o === "object" && o !== null && isIntuneRevocationCode(o.errorCode) && (o.errorMessage === undefined || typeof o.errorMessage === "string")) {
    return { outcome: "custom", errorCode: o.errorCode, ...(o.errorMessage !== undefined ? { errorMessage: o.errorMessage } : {}) };
  }
  return { outcome: "revoke_failed", errorCode: C.RetryableServiceException, errorMessage: "revocation failed: the CA's action answered an unknown outcome" };
}

const TIMEOUT = Symbol("timeout");
/** Names the round in the error of a `TimeoutError` abort. */
const SYNC = "Intune revocation sync";

/** Throws InvalidArgumentError unless `issuerName` is a distinguished name sameName reads (not empty). */
function checkIssuerName(issuerName: string): void {
  let named: boolean;
  try {
    named = sameName(issuerName, issuerName);
  } catch (error) {
    throw new InvalidArgumentError(`issuerName ${(error as Error).message.replace(/^the first name /, "")}`, { cause: error });
  }
  if (!named) throw new InvalidArgumentError("issuerName must be a distinguished name such as the CA certificate's subject (got an empty one)");
}

/** Whether Intune's issuer name names this CA (sameName, RFC 5280 §7.1); a name that is no distinguished name names another. */
function sameIssuer(ours: string, theirs: string): boolean {
  try {
    return sameName(ours, theirs);
  } catch {
    return false;
  }
}

/**
 * Options of {@link revocationStoreRevoker}.
 *
 * @group Intune API
 */
export interface RevocationStoreRevokerOptions {
  /**
   * The CRL reason recorded (RFC 5280 §5.3.1). Default `"unspecified"`: Intune does not say why. A revocation request
   * (`downloadRevocationRequests`, api-version 5019-05-05) carries `requestContext`, `serialNumber`, `issuerName` and
   * `caConfiguration` only (Microsoft's Intune-Resource-Access `CARevocationRequest`); Intune asks when a device is
   * wiped, retired or deleted, or the profile no longer applies to it, which is no statement about the key.
   * `unspecified` is written without a reasonCode entry extension (RFC 5280 §5.3.1 asks for that), says nothing false,
   * and a later `keyCompromise` revoke still upgrades it (`KEY_COMPROMISE_UPGRADABLE_REASONS`). Set
   * `"cessationOfOperation"` (RFC 5280: no longer needed, the key not suspected) when your policy makes that true of
   * every request.
   */
  reason?: RevocationReason;
  /**
   * Whether this CA issued the certificate with that serial (lower-case hex, as `normalizeSerialNumber` gives it:
   * compare with `normalizeSerialNumber(certificate.serialNumberHex)`, not `serialNumberHex` itself, which drops the
   * `00` of a serial whose first octet is 0x80 or more), e.g. a look-up in the CA's certificate index. False → `not_found`, and nothing is revoked. Absent: every
   * well-formed serial is revoked (a CRL entry for a serial the CA never issued is harmless, but noise).
   */
  isIssued?: (serialNumber: string) => boolean | Promise<boolean>;
}

/**
 * An {@link IntuneRevoke} over a @scep/core `RevocationStore` (memory, or `RedisRevocationStore` from
 * @scep/redis): normalizes Intune's serial (`invalid_serial` when it is not one), asks `isIssued` when given
 * (`not_found`), and records the revocation (`revoked`, or `already_revoked` when the store had it). The
 * store's `ERR_STORE_UNAVAILABLE` is thrown through, which {@link syncIntuneRevocations} answers 4101.
 *
 * @example
 * ```ts
 * import { MemoryRevocationStore } from "@scep/core";
 * import { revocationStoreRevoker } from "@scep/intune";
 *
 * const store = new MemoryRevocationStore();
 * const revoke = revocationStoreRevoker(store, { reason: "cessationOfOperation" });
 * await revoke({ requestContext: "ctx-1", serialNumber: "0A1B2C" }); // "revoked"
 * await revoke({ requestContext: "ctx-2", serialNumber: "0a:1b:2c" }); // "already_revoked"
 * ```
 *
 * @group Intune API
 */
export function revocationStoreRevoker(store: RevocationStore, options: RevocationStoreRevokerOptions = {}): IntuneRevoke {
  const reason = options.reason ?? "unspecified";
  return async (request, call) => {
    let serialNumber: string;
    try {
      serialNumber = normalizeSerialNumber(request.serialNumber);
    } catch {
      return "invalid_serial";
    }
    if (options.isIssued && !(await options.isIssued(serialNumber))) return "not_found";
    // The sync stopped waiting (its timeout or the round's abort) while isIssued was asked: no write it would not report.
    call?.signal?.throwIfAborted();
    const { created } = await store.revoke({ serialNumber, reason });
    return created ? "revoked" : "already_revoked";
  };
}
