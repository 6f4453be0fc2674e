/**
 * Mode A: the challenge validator that asks Microsoft's Intune SCEP
 * validation API, and the notifications that close an enrollment.
 *
 * @module
 */
import { Certificate, type CertificationRequest, type ChallengeStatus, type ChallengeStatusReporter, type FailInfo, ignoreRejection, isScepError } from "@scep/core";
import { IntuneResponseError, type IntuneError, isIntuneError } from "../errors.js";
import { sha1Hex } from "../lib/node-crypto.js";
import type { ChallengeValidator, ValidationInput, ValidatorVerdict } from "../verdict.js";
import { INTUNE_FAIL_INFO, UNAVAILABLE_REASON, UNKNOWN_CODE_REASON, type IntuneResultCode } from "./error-codes.js";
import { IntuneScepClient, type IntuneScepClientOptions, type ScepActionResult } from "./intune-client.js";
import type { IntuneCallOptions } from "./intune-session.js";
import { MemoryRateLimiter, checkLimit, type RateLimit, type RateLimiter } from "../stores/rate-limiter.js";
import { checkTtl, type ReplayCache } from "../stores/replay-cache.js";
import { Spent } from "../stores/spent.js";
import { configFunction } from "../lib/options.js";
import { callerAbort } from "../lib/retry-wait.js";
import { abortable } from "@scep/core/internal";

/**
 * Options of {@link IntuneValidator}: the client's, plus an error sink.
 *
 * @group Intune API
 */
export interface IntuneValidatorOptions extends IntuneScepClientOptions {
  /**
   * Told of every failure to reach Intune, with the typed error, for logs and alerts: validateRequest (the verdict
   * is then `intune_unavailable`), and the notifications sent by {@link IntuneValidator.confirmHook} and
   * {@link IntuneValidator.withFailureNotification}. Messages never hold a secret or a token.
   */
  onError?: (error: IntuneError, operation: "validateRequest" | "successNotification" | "failureNotification") => void;
  /** An existing client to use instead of building one from these options (tests, sharing one token cache). */
  client?: IntuneScepClient;
  /**
   * Optional: remembers the transactionID of every request Intune accepted, so a second validation of the same
   * transactionID within `replayTtlMs` is refused as `replay` (badMessageCheck). Off by default.
   */
  replayCache?: ReplayCache;
  /** How long an accepted transactionID is remembered, milliseconds (default 3,600,000). An integer from 1 to 31 536 000 000 (365 days), else `ERR_INTUNE_CONFIG`. */
  replayTtlMs?: number;
  /** Where accepted enrollments per CSR subject are counted (default: a {@link MemoryRateLimiter} when `rateLimit` is set). */
  rateLimiter?: RateLimiter;
  /** Optional: most accepted enrollments per CSR subject in a sliding window (`rate_limited`, badRequest). Off by default. */
  rateLimit?: RateLimit;
}

/**
 * What {@link IntuneValidator.notifySuccess} needs.
 *
 * @group Intune API
 */
export interface NotifySuccessInput {
  /** The enrollment's transactionID. */
  transactionId: string;
  /** The CSR, DER (the same bytes validateRequest saw). */
  csr: Uint8Array;
  /** The issued certificate (DER, PEM or a parsed Certificate). */
  certificate: Certificate | Uint8Array | string;
  /** CA configuration string (optional). */
  caConfiguration?: string;
  /** Certificate authority name (optional). */
  certificateAuthority?: string;
}

/**
 * What {@link IntuneValidator.confirmHook} is given: @scep/core's confirm context (the issue context and the new certificate).
 *
 * @group Intune API
 */
export interface IntuneConfirmContext {
  /** transactionID of the enrollment. */
  transactionId: string;
  /** The CSR the certificate was issued from. */
  csr: CertificationRequest;
  /** The certificate just issued. */
  certificate: Certificate;
  /** What the challenge validator passed on; the hook acts only on enrollments this validator accepted. */
  challengeData?: unknown;
  /**
   * Ends the wait for successNotification (optional; @scep/core's confirm context has none, so a server adds its own:
   * `confirm: (ctx) => hook({ ...ctx, signal: AbortSignal.timeout(20_000) })`): at its abort the hook answers as for a
   * notification that failed (a veto, or ok with `deliverWhenNotificationFails`).
   */
  signal?: AbortSignal;
}

/**
 * The confirm hook's answer, as @scep/core's confirm phase reads it.
 *
 * @group Intune API
 */
export type IntuneConfirmResult = { ok: true } | { ok: false; reason: string; failInfoText: string };

/**
 * What {@link IntuneValidator.withFailureNotification} wraps: an issue hook (@scep/core's `IssueHook` fits).
 *
 * @group Intune API
 */
export type IssueHookLike<C extends { transactionId: string; csr: CertificationRequest; challengeData?: unknown; signal?: AbortSignal }, R> = (ctx: C) => Promise<R> | R;

/**
 * Options of {@link IntuneValidator.confirmHook}.
 *
 * @group Intune API
 */
export interface IntuneConfirmOptions {
  /**
   * Deliver the certificate even when successNotification fails (SCEPman's
   * `WaitForSuccessNotificationResponse=false`). Default false: a failed
   * notification means FAILURE for the device and `onUndelivered` for the issuer.
   */
  deliverWhenNotificationFails?: boolean;
  /** CA configuration string sent with every notification. */
  caConfiguration?: string;
  /** Certificate authority name sent with every notification. */
  certificateAuthority?: string;
}

/** The verdict when Intune cannot be asked (down, slow, garbage, or the caller's abort). */
const unavailable = (): ValidatorVerdict => ({ ok: false, reason: UNAVAILABLE_REASON, failInfo: "badRequest", failInfoText: "Intune challenge validation is unavailable; try again later" });

/** What an abort of validate names in its `ERR_INTUNE_TIMEOUT`: the call to Intune (also once its answer came in)... */
const VALIDATE_WHAT = "Intune validateRequest";
/** ... or the replay cache and rate limiter asked after Intune's Success. */
const STORES_WHAT = "Intune validation (replay cache and rate limiter after Intune's Success)";

/** The reason of a refusal for a CSR whose subject does not parse (with a rate limit, which counts by subject). */
const CSR_INVALID_REASON = "csr_invalid";

/** Whether `challengeData` says this validator accepted the enrollment. */
function validatedByIntune(challengeData: unknown): boolean {
  return typeof challengeData === "object" && challengeData !== null && typeof (challengeData as { intune?: unknown }).intune === "object";
}

/** Serial number of `der`'s certificate as Windows prints it: upper-case hex, no separators. */
function serialHex(c: Certificate): string {
  return c.serialNumberHex.toUpperCase();
}

/**
 * Validates Intune challenges by asking Intune (`validateRequest`): the
 * whole CSR (challenge inside) goes to Microsoft, and only an answer with
 * `code: "Success"` accepts. Every refusal code becomes a verdict whose
 * reason is the code itself (`ChallengeExpired`, `SubjectNameMismatch`, …)
 * with the failInfo of {@link INTUNE_FAIL_INFO}; an unrecognised code is
 * `intune_unknown_code`; an API that is down, slow, refuses our credentials
 * or answers garbage is `intune_unavailable` (failInfo badRequest). It never
 * throws from `validate` for Intune's sake, so a broken upstream is a FAILURE
 * CertRep, not a 5xx. With the optional stores, a transactionID Intune already
 * accepted is `replay` and too many enrollments of one CSR subject (per
 * profile) are `rate_limited`, which gives the transactionID back (when the cache has `release`: the device's resend
 * once the window has room is no replay) (with a rate limit, a CSR whose subject does not parse is `csr_invalid`, failInfo
 * badRequest, before Intune is asked); only a store that is down makes `validate`
 * reject (@scep/core's `StoreUnavailableError`: the server answers 503), and
 * then nothing stays spent: when the rate limiter fails after the transactionID
 * was recorded, the transactionID is released (best effort), and a store whose
 * own write failed undoes it (see {@link ReplayCache}), so the device's resend
 * validates. An accepted verdict carries `release` (the server calls it when it
 * fails the request afterwards): it gives back the transactionID (when the cache
 * has `release`) and the rate-limit hit.
 *
 * After issuance, send {@link IntuneValidator.notifySuccess} before
 * delivering the certificate (if it throws, do not deliver; revoke), or
 * {@link IntuneValidator.notifyFailure} when issuance failed.
 *
 * @example
 * ```ts
 * import { createScepServer } from "@scep/core";
 * import { IntuneValidator } from "@scep/intune";
 *
 * const intune = new IntuneValidator({
 *   tenant: process.env.INTUNE_TENANT_ID!,
 *   clientId: process.env.INTUNE_CLIENT_ID!,
 *   credential: { clientSecret: process.env.INTUNE_CLIENT_SECRET! },
 * });
 * createScepServer({ profiles: [{ ...profile, challenge: { type: "custom", validate: (ctx) => intune.validate(ctx) } }] });
 * ```
 *
 * @group Intune API
 */
export class IntuneValidator implements ChallengeValidator, ChallengeStatusReporter {
  /** The API client (token cache and discovery shared by every call). */
  readonly client: IntuneScepClient;
  readonly #onError: IntuneValidatorOptions["onError"];
  readonly #replay: ReplayCache | undefined;
  readonly #replayTtl: number;
  readonly #limit: RateLimit | undefined;
  readonly #limiter: RateLimiter | undefined;

  /** @throws {@link IntuneConfigError} `ERR_INTUNE_CONFIG` for missing or invalid options. */
  constructor(options: IntuneValidatorOptions) {
    this.client = options.client ?? new IntuneScepClient(options);
    configFunction("onError", options.onError);
    this.#onError = options.onError;
    this.#replay = options.replayCache;
    this.#replayTtl = options.replayTtlMs ?? 3_600_000;
    checkTtl(this.#replayTtl, "replayTtlMs");
    this.#limit = options.rateLimit;
    if (this.#limit) {
      checkLimit(this.#limit);
      this.#limiter = options.rateLimiter ?? new MemoryRateLimiter(options.now ? { now: options.now } : {});
    }
  }

  /**
   * What operators see of this validator (@scep/core's `ChallengeStatusReporter`, shown in `server.snapshot()`
   * when the profile passes `status: intune`): kind `intune`, mode `validation-api`. No tenant, client id or secret.
   *
   * @example
   * ```ts
   * import { IntuneValidator } from "@scep/intune";
   *
   * const intune = new IntuneValidator({ tenant: "contoso.onmicrosoft.com", clientId: "app-id", credential: { clientSecret: process.env.INTUNE_CLIENT_SECRET! } });
   * intune.challengeStatus(); // { kind: "intune", mode: "validation-api" }
   * ```
   */
  challengeStatus(): ChallengeStatus {
    return { kind: "intune", mode: "validation-api" };
  }

  /**
   * Judges one enrollment's challenge by asking Intune (`validateRequest`, INTUNE.md Mode A); never throws for a
   * refusal or an unavailable Intune, which are refusal verdicts (see the class). Rejects only with @scep/core's
   * `StoreUnavailableError` (`ERR_STORE_UNAVAILABLE`) when the replay cache or rate limiter is down.
   *
   * `input.signal` (optional) ends the wait for Intune (the attempt under way, or the wait before a retry), and for
   * the replay cache and rate limiter after Intune's yes, at its abort: the verdict is then `intune_unavailable`
   * (badRequest), nothing spent (not even when the abort comes as Intune's or a store's answer does: what a store
   * records after the abort is given back when it answers). `onError` is told an abort whose
   * reason is a `TimeoutError` (`AbortSignal.timeout(ms)`) once, as `IntuneTimeoutError` `ERR_INTUNE_TIMEOUT`
   * (operation `validateRequest`), whichever step it ended: the call to Intune, Intune's answer coming in, or the
   * replay cache and rate limiter; any other abort, the caller's own decision, is not reported.
   *
   * @example
   * ```ts
   * import type { ChallengeContext } from "@scep/core";
   * import type { IntuneValidator } from "@scep/intune";
   *
   * declare const intune: IntuneValidator;
   * const challenge = { type: "custom", validate: (ctx: ChallengeContext) => intune.validate({ ...ctx, signal: AbortSignal.timeout(20_000) }) } as const;
   * ```
   */
  async validate(input: ValidationInput): Promise<ValidatorVerdict> {
    // The rate limit counts by subject: read it before Intune is asked and anything is spent.
    let subject: string | undefined;
    if (this.#limit) {
      try {
        subject = input.csr.subject;
      } catch (e) {
        if (!isScepError(e)) throw e;
        return { ok: false, reason: CSR_INVALID_REASON, failInfo: "badRequest", failInfoText: "the CSR's subject does not parse" };
      }
    }
    let r: ScepActionResult;
    const signal = input.signal;
    try {
      r = await this.client.validateRequest({ transactionId: input.request.transactionId, certificateRequest: input.csr.der }, signal ? { signal } : {});
    } catch (e) {
      // The session turns the caller's deadline into ERR_INTUNE_TIMEOUT (reported once, below) and passes any other
      // abort on as its reason: the caller's own decision, no failure to reach Intune, not reported.
      if (signal?.aborted && !isIntuneError(e)) return this.#aborted(signal, VALIDATE_WHAT);
      this.#report(e, "validateRequest");
      return unavailable();
    }
    // Aborted while Intune's answer came in: the caller will not use a verdict, so it would never release what an
    // acceptance spends (the transactionID, a rate-limit hit); spend nothing.
    if (signal?.aborted) return this.#aborted(signal, VALIDATE_WHAT);
    if (r.code === "Success") {
      const spent = new Spent();
      const stores = this.#spend(spent, input, subject, r.activityId);
      if (!signal) return stores;
      let verdict: ValidatorVerdict;
      try {
        // A store that hangs does not hold an aborted validation either.
        verdict = await abortable(stores, signal);
      } catch (e) {
        if (!signal.aborted) throw e;
        // Cut while the stores were asked: what they record after all is given back when they answer (best effort).
        void stores.then(() => spent.release()?.(), () => undefined).catch(() => undefined);
        return this.#aborted(signal, STORES_WHAT);
      }
      // Aborted as the stores answered: the caller will not use the verdict (nor release it), so give back what it spent.
      if (signal.aborted) {
        void spent.release()?.().catch(() => undefined);
        return this.#aborted(signal, STORES_WHAT);
      }
      return verdict;
    }
    const failInfo: FailInfo | undefined = Object.hasOwn(INTUNE_FAIL_INFO, r.code) ? INTUNE_FAIL_INFO[r.code as Exclude<IntuneResultCode, "Success">] : undefined;
    if (!failInfo) return { ok: false, reason: UNKNOWN_CODE_REASON, failInfo: "badRequest", failInfoText: "Intune refused the challenge" };
    return { ok: false, reason: r.code, failInfo, failInfoText: `Intune refused the challenge: ${r.code}` };
  }

  /**
   * The store steps of an enrollment Intune accepted: after Intune's yes, so refusals are never recorded; a store
   * that is down throws (the server answers 503) and leaves nothing spent (Spent gives back the transactionID when
   * the rate limiter then fails).
   */
  async #spend(spent: Spent, input: ValidationInput, subject: string | undefined, activityId: string): Promise<ValidatorVerdict> {
    if (this.#replay && !(await spent.insert(this.#replay, input.request.transactionId, this.#replayTtl))) {
      return { ok: false, reason: "replay", failInfo: "badMessageCheck", failInfoText: "this transaction was validated before" };
    }
    if (this.#limit && this.#limiter) {
      const limit = this.#limit;
      const hit = await spent.hit(this.#limiter, JSON.stringify([input.profile ?? "", subject]), limit);
      if (!hit.allowed) {
        // A refusal spends nothing: the transactionID is given back, so the device's resend once the window has room
        // (a client's transactionID is a hash of its key: the same on every attempt) is not refused as a replay.
        await spent.refuseEntry();
        return { ok: false, reason: "rate_limited", failInfo: "badRequest", failInfoText: `more than ${limit.max} enrollments of this subject in ${limit.windowMs / 1000} s` };
      }
    }
    const data = { intune: { activityId } };
    // Gives back what this acceptance spent, for a request the server then fails (its resend is no replay).
    const release = spent.release();
    return release ? { ok: true, data, release } : { ok: true, data };
  }

  /**
   * Sends successNotification for an issued certificate: SHA-1 thumbprint
   * and serial (upper-case hex), expiry (ISO 8601 UTC) and issuer, read from
   * the certificate.
   *
   * @param options `signal` (optional) ends the call, the HTTP attempt under way or the wait before a retry, at once
   *   ({@link IntuneCallOptions}): an embedding app bounds the notification with it (`{ signal: AbortSignal.timeout(20_000) }`).
   * @throws `ERR_INTUNE_REJECTED` when Intune answers anything but Success; `ERR_INTUNE_TRANSPORT`,
   * `ERR_INTUNE_TIMEOUT`, `ERR_INTUNE_RESPONSE`, `ERR_INTUNE_AUTH`, `ERR_INTUNE_DISCOVERY` when it cannot be
   * told; on `signal`'s abort, `ERR_INTUNE_TIMEOUT` for a `TimeoutError` reason, else the signal's reason. Either
   * way the certificate must not be delivered.
   */
  async notifySuccess(input: NotifySuccessInput, options: IntuneCallOptions = {}): Promise<ScepActionResult> {
    const cert = input.certificate instanceof Certificate ? input.certificate : Certificate.from(input.certificate);
    return this.client.successNotification(
      {
      transactionId: input.transactionId,
      certificateRequest: input.csr,
      certificateThumbprint: sha1Hex(cert.der).toUpperCase(),
      certificateSerialNumber: serialHex(cert),
      certificateExpirationDateUtc: cert.notAfter.toISOString(),
      issuingCertificateAuthority: cert.issuer,
      ...(input.caConfiguration !== undefined ? { caConfiguration: input.caConfiguration } : {}),
      ...(input.certificateAuthority !== undefined ? { certificateAuthority: input.certificateAuthority } : {}),
      },
      options.signal ? { signal: options.signal } : {},
    );
  }

  /**
   * Sends failureNotification when issuance failed after a successful validation.
   *
   * @param input `hResult` defaults to 0x80004005 (E_FAIL); `errorDescription` is cut to 255 characters (never put a secret in it).
   * @param options `signal` (optional) ends the call at once, as for {@link IntuneValidator.notifySuccess}.
   * @throws the errors of {@link IntuneValidator.notifySuccess}.
   */
  async notifyFailure(input: { transactionId: string; csr: Uint8Array; errorDescription: string; hResult?: number }, options: IntuneCallOptions = {}): Promise<ScepActionResult> {
    return this.client.failureNotification({ transactionId: input.transactionId, certificateRequest: input.csr, hResult: input.hResult ?? 0x80004005, errorDescription: input.errorDescription }, options.signal ? { signal: options.signal } : {});
  }

  /**
   * A confirm hook for @scep/core's confirm phase (after the issue hook, before the SUCCESS CertRep): sends
   * successNotification for enrollments this validator accepted (others pass untouched). When Intune cannot be told
   * or answers anything but Success, the hook vetoes with reason `intune_notification_failed`: the device gets
   * FAILURE and the profile's `onUndelivered` is told, so the issuer can revoke. Never throws. `ctx.signal`
   * (optional) ends the wait for Intune at once, answered as a failed notification; `onError` is told an abort whose
   * reason is a `TimeoutError` as `ERR_INTUNE_TIMEOUT`, any other abort (the caller's own decision) is not reported.
   *
   * @example
   * ```ts
   * declare const intune: IntuneValidator;
   * const confirm = intune.confirmHook(); // the profile's `confirm` (with `challenge: { type: "custom", validate: (ctx) => intune.validate(ctx) }`)
   * ```
   */
  confirmHook(options: IntuneConfirmOptions = {}): (ctx: IntuneConfirmContext) => Promise<IntuneConfirmResult> {
    return async (ctx) => {
      if (!validatedByIntune(ctx.challengeData)) return { ok: true };
      const signal = ctx.signal;
      try {
        await this.notifySuccess(
          {
            transactionId: ctx.transactionId,
            csr: ctx.csr.der,
            certificate: ctx.certificate,
            ...(options.caConfiguration !== undefined ? { caConfiguration: options.caConfiguration } : {}),
            ...(options.certificateAuthority !== undefined ? { certificateAuthority: options.certificateAuthority } : {}),
          },
          signal ? { signal } : {},
        );
        return { ok: true };
      } catch (e) {
        this.#reportUnlessAborted(e, "successNotification", signal);
        if (options.deliverWhenNotificationFails) return { ok: true };
        return { ok: false, reason: "intune_notification_failed", failInfoText: "Intune did not acknowledge the issued certificate" };
      }
    };
  }

  /**
   * Wraps an issue hook so that, for enrollments this validator accepted, an issuance that fails (the hook answers
   * `{ status: "FAILURE" }` or throws) sends failureNotification (HRESULT 0x80004005, the failInfoText or the error's
   * class as description; never the error message, which may hold details of the CA). The hook's answer or error is
   * passed on unchanged; a failing notification is only reported to `onError`. A `signal` in the context (optional;
   * @scep/core's has none) ends the wait for that notification at once (reported as for `confirmHook`).
   *
   * @example
   * ```ts
   * import type { IssueHook } from "@scep/core";
   * import type { IntuneValidator } from "@scep/intune";
   *
   * declare const intune: IntuneValidator;
   * declare const issue: IssueHook; // your CA
   * const profileIssue = intune.withFailureNotification(issue); // the profile's `issue`
   * ```
   */
  withFailureNotification<C extends { transactionId: string; csr: CertificationRequest; challengeData?: unknown; signal?: AbortSignal }, R>(issue: IssueHookLike<C, R>): (ctx: C) => Promise<R> {
    return async (ctx) => {
      let result: R;
      try {
        result = await issue(ctx);
      } catch (e) {
        if (validatedByIntune(ctx.challengeData)) await this.#notifyFailureQuietly(ctx, `issuance failed: ${e instanceof Error ? e.name : "error"}`);
        throw e;
      }
      const r = result as { status?: unknown; failInfoText?: unknown };
      if (validatedByIntune(ctx.challengeData) && r?.status === "FAILURE") {
        await this.#notifyFailureQuietly(ctx, typeof r.failInfoText === "string" && r.failInfoText ? r.failInfoText : "the CA refused the request");
      }
      return result;
    };
  }

  async #notifyFailureQuietly(ctx: { transactionId: string; csr: CertificationRequest; signal?: AbortSignal }, description: string): Promise<void> {
    const signal = ctx.signal;
    try {
      await this.notifyFailure({ transactionId: ctx.transactionId, csr: ctx.csr.der, errorDescription: description }, signal ? { signal } : {});
    } catch (e) {
      this.#reportUnlessAborted(e, "failureNotification", signal);
    }
  }

  /**
   * The verdict of a validation that `signal`'s abort ended (`intune_unavailable`), whatever step it was in: a
   * `TimeoutError` reason, the caller's deadline, is reported to `onError` once as `IntuneTimeoutError`
   * `ERR_INTUNE_TIMEOUT` (operation `validateRequest`, the message naming the step, `cause` the reason), as the
   * session reports it for the HTTP call; any other abort, the caller's own decision, is not.
   */
  #aborted(signal: AbortSignal, what: string): ValidatorVerdict {
    const e = callerAbort(signal, what);
    if (e !== signal.reason) this.#report(e, "validateRequest"); // a new IntuneTimeoutError: the reason was a TimeoutError
    return unavailable();
  }

  /** Reports `e` unless it is the caller's own abort (a `TimeoutError` reason comes as ERR_INTUNE_TIMEOUT and is reported). */
  #reportUnlessAborted(e: unknown, operation: "successNotification" | "failureNotification", signal: AbortSignal | undefined): void {
    if (!(signal?.aborted && !isIntuneError(e))) this.#report(e, operation);
  }

  #report(e: unknown, operation: "validateRequest" | "successNotification" | "failureNotification"): void {
    try {
      // An async sink (its `=> void` type admits one) that rejects: dropped, not an unhandled rejection ending the process.
      ignoreRejection(this.#onError?.(isIntuneError(e) ? e : new IntuneResponseError(`Intune ${operation} failed unexpectedly`, { cause: e }), operation));
    } catch {
      // a failing sink changes nothing
    }
  }
}
