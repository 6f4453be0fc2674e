/**
 * The verdict every validator of this package returns, and the one interface
 * both modes implement.
 *
 * @module
 */
import type { CertificationRequest, FailInfo } from "@scep/core";

/**
 * A validator's verdict: accepted (with optional data for the issue hook, as
 * `IssueContext.challengeData`), or refused with a stable reason label, the
 * SCEP failInfo the FAILURE CertRep carries (RFC 8894 §3.2.1.4.5) and a short
 * text for it.
 *
 * The always-complete form of @scep/core's `ChallengeVerdict` (never a bare
 * boolean, never a refusal without its label), so it is returned as it is from
 * a profile's `{ type: "custom", validate }` challenge.
 *
 * @group Validators
 */
export type ValidatorVerdict =
  | {
      ok: true;
      data?: Record<string, unknown>;
      /**
       * Undoes what accepting spent (the replay-cache entry, the rate-limit hit) for a request the server then fails
       * before issuing (@scep/core calls it at most once), so the device's resend of the same challenge is accepted.
       */
      release?: () => Promise<unknown>;
    }
  | { ok: false; reason: string; failInfo: FailInfo; failInfoText: string };

/**
 * What a validator reads from an enrollment: the challengePassword, the
 * CSR, and the SCEP transactionID. @scep/core's `ChallengeContext` has this
 * shape, so a server passes its context unchanged.
 *
 * @group Validators
 */
export interface ValidationInput {
  /** The challengePassword from the CSR (undefined when absent). */
  challenge: string | undefined;
  /** The CSR (PKCS#10, RFC 2986). */
  csr: CertificationRequest;
  /** The request; only its transactionID (RFC 8894 §3.2.1.1) is read. */
  request: { transactionId: string };
  /** The profile name. */
  profile?: string;
  /**
   * Ends the validation early (optional; @scep/core's `ChallengeContext` has none, so a server adds its own:
   * `validate: (ctx) => intune.validate({ ...ctx, signal: AbortSignal.timeout(20_000) })`). `IntuneValidator`
   * stops waiting for Intune at the abort, its HTTP attempt or retry wait included, and answers the refusal
   * `intune_unavailable` (never `ok`); `SignedTokenValidator`, which calls nothing remote, does not read it.
   */
  signal?: AbortSignal;
}

/**
 * One interface for both modes: the Intune validation API (Mode A) and the
 * signed-token validator (Mode B).
 *
 * @example
 * ```ts
 * import type { CertificationRequest } from "@scep/core";
 * import { type ChallengeValidator, SignedTokenValidator, TrustAnchorPool } from "@scep/intune";
 *
 * declare const csr: CertificationRequest; // the enrollment's CSR
 * const trustAnchors = await TrustAnchorPool.fromFile("/etc/scep/intune-anchors.pem");
 * const validator: ChallengeValidator = new SignedTokenValidator({ trustAnchors, audience: "https://scep.example.com/scep" });
 * const verdict = await validator.validate({ challenge: csr.challengePassword, csr, request: { transactionId: "7A3C" } });
 * if (!verdict.ok) console.log(verdict.reason, verdict.failInfo);
 * ```
 *
 * @group Validators
 */
export interface ChallengeValidator {
  /** Judges one enrollment's challenge. Never throws for a bad challenge or an unavailable upstream: that is a refusal verdict. */
  validate(input: ValidationInput): Promise<ValidatorVerdict>;
}

