/**
 * The failure phase of the two-phase enrollment: when issuance fails after the
 * challenge validator accepted the request (the issue hook answered FAILURE or
 * threw, the certificate could not be delivered, the operator rejected a
 * PENDING request), the challenge policy's `onIssueFailure` is told, so what
 * validated the request (Intune, a webhook) learns it came to nothing. Its
 * errors are ignored: the client's answer does not depend on it.
 *
 * @module
 */
import type { IssueFailureContext } from "../challenge.js";
import type { ResolvedProfile } from "../profile.js";

/** Runs the challenge policy's failure hook, when it has one and it accepted this request. */
export async function issueFailed(p: ResolvedProfile, validated: boolean | undefined, ctx: IssueFailureContext): Promise<void> {
  if (!validated || !p.challengeFailure) return;
  try {
    await p.challengeFailure(ctx);
  } catch {
    /* the client's answer does not depend on the hook */
  }
}
