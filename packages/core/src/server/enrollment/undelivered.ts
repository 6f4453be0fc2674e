/**
 * The one place that handles a certificate that was issued but cannot be
 * delivered (issue 6 §4): the client gets FAILURE badRequest with a text,
 * never a 5xx, and the profile's `onUndelivered` hook is told so the issuer
 * can revoke it; never a silently orphaned certificate.
 *
 * @module
 */
import { Certificate } from "../../x509/certificate.js";
import type { ServerContext } from "../context.js";
import type { ResolvedProfile } from "../profile.js";
import { type Reply, failure } from "../replies.js";
import type { Enrollment } from "./enrollment.js";
import { issueFailed } from "./failure.js";

/**
 * Tells the profile, and (unless the challenge policy's own confirm vetoed) the challenge policy's failure hook, then
 * answers FAILURE badRequest with event reason `reason`.
 */
export async function undelivered(ctx: ServerContext, e: Enrollment, reason: string, failInfoText: string, error?: unknown, vetoedByChallenge = false): Promise<Reply> {
  const p = e.profile;
  const certificate = e.issued!.certificate;
  await tellUndelivered(p, e.request.transactionId, certificate, reason, error);
  if (!vetoedByChallenge && e.issueContext) await issueFailed(p, e.challengeValidated, { ...e.issueContext, reason, failInfo: "badRequest", failInfoText, certificate });
  const reply = await failure(ctx, p, e.request, "badRequest", reason, failInfoText);
  return reply.with({ subject: certificate.subject, serial: certificate.serialNumberHex });
}

/**
 * Tells the profile's `onUndelivered` hook (if any) that `certificate` was issued but will not be delivered, so the
 * issuer can revoke it. Best effort: the hook's error is swallowed, because the request's (or the approve call's)
 * outcome does not depend on it. Every `onUndelivered` call goes through here. `certificate` may be DER; it is parsed
 * only when there is a hook, and a parse error is swallowed like the hook's (an `IssueHookError` a hook throws may
 * carry any bytes as `issued`).
 */
export async function tellUndelivered(p: ResolvedProfile, transactionId: string, certificate: Certificate | Uint8Array, reason: string, error?: unknown): Promise<void> {
  if (!p.onUndelivered) return;
  try {
    const cert = certificate instanceof Uint8Array ? new Certificate(certificate) : certificate;
    await p.onUndelivered({ profile: p.name, transactionId, certificate: cert, reason, ...(error !== undefined ? { error } : {}) });
  } catch {
    /* the outcome does not depend on the hook */
  }
}
