/**
 * Phase 6, confirm: the profile's `confirm` hook has the last word before a
 * SUCCESS CertRep leaves (Intune's success notification plugs in here). A
 * veto makes the certificate undelivered: FAILURE badRequest to the client and
 * `onUndelivered` for the issuer (see `undelivered.ts`). Then, for a request
 * the challenge validator accepted, the challenge policy's own `confirm` (a
 * webhook's success notification). `approve` runs the same checks.
 *
 * @module
 */
import type { ConfirmContext, ConfirmHook, ResolvedProfile } from "../profile.js";
import type { Phase } from "./enrollment.js";
import { undelivered } from "./undelivered.js";
import { refusalReason, refusalText } from "../hook-refusal.js";

export const confirm: Phase = {
  name: "confirm",
  async run(ctx, e) {
    if (!e.issued) return undefined;
    const veto = await confirmIssued(e.profile, { ...e.issueContext!, certificate: e.issued.certificate }, e.challengeValidated);
    if (!veto) return undefined;
    return undelivered(ctx, e, veto.reason, veto.failInfoText, undefined, veto.byChallenge);
  },
};

/** Why delivery was vetoed; `byChallenge` when the challenge policy's own confirm vetoed (its failure hook is then not called). */
export interface ConfirmVeto {
  reason: string;
  failInfoText: string;
  byChallenge: boolean;
}

/**
 * The confirm phase proper, shared with `approve`: the profile's `confirm`, then (for a request the challenge
 * validator accepted) the challenge policy's own `confirm`, so a notification goes out only for a certificate
 * every other check let through. Undefined when both agree; throws what a hook throws.
 */
export async function confirmIssued(p: ResolvedProfile, ctx: ConfirmContext, challengeValidated: boolean | undefined): Promise<ConfirmVeto | undefined> {
  const hooks: Array<[ConfirmHook | undefined, boolean]> = [
    [p.confirm, false],
    [challengeValidated ? p.challengeConfirm : undefined, true],
  ];
  for (const [hook, byChallenge] of hooks) {
    if (!hook) continue;
    const verdict = await hook(ctx);
    if (!verdict.ok) return { reason: refusalReason(verdict.reason, "confirm_rejected"), failInfoText: refusalText(verdict.failInfoText, "the issued certificate was not confirmed"), byChallenge };
  }
  return undefined;
}
