/**
 * The one place that handles a certificate that was issued but cannot be
 * delivered (issue 6 §4): the client gets FAILURE badRequest with a text,
 * never a 5xx, and the profile's `onUndelivered` hook is told so the issuer
 * can revoke it; never a silently orphaned certificate.
 *
 * @module
 */
import type { ServerContext } from "../context.js";
import { Reply, failure } from "../replies.js";
import type { Enrollment } from "./enrollment.js";
import { issueFailed } from "./failure.js";

/**
 * Tells the profile, and (unless the challenge policy's own confirm vetoed) the challenge policy's failure hook, then
 * answers FAILURE badRequest with event reason `reason`.
 */
export async function undelivered(ctx: ServerContext, e: Enrollment, reason: string, failInfoText: string, error?: unknown, vetoedByChallenge = false): Promise<Reply> {
  const p = e.profile;
  const certificate = e.issued!.certificate;
  if (p.onUndelivered) {
    try {
      await p.onUndelivered({ profile: p.name, transactionId: e.request.transactionId, certificate, reason, ...(error !== undefined ? { error } : {}) });
    } catch {
      /* the client's answer does not depend on the hook */
    }
  }
  if (!vetoedByChallenge && e.issueContext) await issueFailed(p, e.challengeValidated, { ...e.issueContext, reason, failInfo: "badRequest", failInfoText, certificate });
  const reply = await failure(ctx, p, e.request, "badRequest", reason, failInfoText);
  return new Reply(reply.response, reply.outcome, reply.reason, { ...reply.extra, subject: certificate.subject, serial: certificate.serialNumberHex });
}
