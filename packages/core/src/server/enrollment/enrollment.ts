/**
 * The state an enrollment (PKCSReq, RenewalReq: RFC 8894 §3.3.1) carries
 * through its phases, and the shape of a phase.
 *
 * @module
 */
import type { FailInfo } from "../../errors.js";
import type { Certificate } from "../../x509/certificate.js";
import type { CertificationRequest } from "../../x509/certification-request.js";
import type { PkiRequest } from "../../message/pki-message.js";
import type { ServerContext } from "../context.js";
import type { IssueContext, ResolvedProfile } from "../profile.js";
import type { Reply } from "../replies.js";

/** One enrollment request on its way through the phases. @group Server */
export interface Enrollment {
  readonly profile: ResolvedProfile;
  /** The decoded, verified request. */
  readonly request: PkiRequest;
  /** Its CSR. */
  readonly csr: CertificationRequest;
  /** Set by the policy phase: a renewal (RenewalReq, or PKCSReq signed by a valid certificate of this CA). */
  renewal: boolean;
  /** Set by the policy phase: the certificate being renewed. */
  renewalOf?: Certificate;
  /**
   * Set by the policy phase once the signer is evaluated: a PKCSReq that is not a renewal (signed by a self-signed
   * certificate, by another CA's such as a manufacturer's IDevID, or by one of this CA that cannot authenticate a
   * renewal: `unusableSigner`). Only a first enrollment takes a claim (`claim.ts`), is recorded ISSUED
   * (`record.ts`) and has its re-send answered from that record (RFC 8894 §3.3.3); a renewal always gets a new
   * certificate.
   */
  firstEnrollment?: boolean;
  /**
   * Set by the policy phase: a PKCSReq signed by a certificate of this CA that cannot authenticate a renewal
   * (expired, not yet valid, revoked, or, with `renewalSameNames`, for names the CSR does not ask for). It is a first
   * enrollment, authenticated by its challenge (RFC 8894 §2.3); without a valid one it gets this failure (badTime for
   * a lapsed certificate, badCertId for a revoked one, badRequest for other names).
   */
  unusableSigner?: UnusableSigner;
  /**
   * Set by the policy phase: a finished (ISSUED or REJECTED) record of another request holds the transactionID. The
   * claim phase then takes no claim (a request whose challenge is not checked yet must not erase it: another
   * device's re-send is answered from it), and the reply phase replaces it once this request is issued, as before
   * claims (`record.ts`).
   */
  replacesRecord?: boolean;
  /**
   * Set by the claim phase: the `updatedAt` of this request's ISSUING claim on its transactionID in the store (its
   * fencing token), while it holds one; cleared once the claim is let go or recorded ISSUED.
   */
  claim?: Date;
  /**
   * Set by the claim phase: this request took its claim over from a claim of the same request (same key and subject)
   * that lapsed while it waited: its first send's holder died (kill -9, a lost host) or could not let go (the store
   * down) before any answer was recorded. The challenge phase then lets a one-time challenge that first send spent
   * pass for this re-send (`resend-binding.ts`).
   */
  resumesLapsedClaim?: boolean;
  /** Set by the challenge phase: the validator ran and accepted (its own confirm and failure phases apply). */
  challengeValidated?: boolean;
  /** Set by the challenge phase: undoes what the validator spent (a one-time challenge) when the server fails the request before issuing; cleared once a PENDING transaction is recorded. */
  releaseChallenge?: () => Promise<unknown>;
  /** Set by the challenge phase: what the validator passed on for the issue hook. */
  challengeData?: unknown;
  /** Set by the issue phase: what the issue hook was asked. */
  issueContext?: IssueContext;
  /** Set by the issue phase when the hook issued: the certificate and the chain sent with it (DER). */
  issued?: { certificate: Certificate; chain: Uint8Array[] };
}

/**
 * A phase: returns a {@link Reply} to end the enrollment there (an answer, FAILURE, PENDING), or undefined to go
 * on to the next phase.
 * @group Server
 */
export interface Phase {
  /** Stable name, e.g. `challenge`. */
  readonly name: string;
  run(ctx: ServerContext, e: Enrollment): Promise<Reply | undefined>;
}

/** Why the request's signer certificate cannot authenticate it: the FAILURE to answer if the challenge does not pass. */
export interface UnusableSigner {
  failInfo: FailInfo;
  /** The event's reason label. */
  reason: string;
  /** The client's failInfoText. */
  text: string;
}
