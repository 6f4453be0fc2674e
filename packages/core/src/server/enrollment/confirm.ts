/**
 * Phase 5, confirm: the profile's `confirm` hook has the last word before a
 * SUCCESS CertRep leaves (Intune's success notification plugs in here). A
 * veto makes the certificate undelivered: FAILURE badRequest to the client and
 * `onUndelivered` for the issuer (see `undelivered.ts`).
 *
 * @module
 */
import type { Phase } from "./enrollment.js";
import { undelivered } from "./undelivered.js";

export const confirm: Phase = {
  name: "confirm",
  async run(ctx, e) {
    const hook = e.profile.confirm;
    if (!hook || !e.issued) return undefined;
    const verdict = await hook({ ...e.issueContext!, certificate: e.issued.certificate });
    if (verdict.ok) return undefined;
    return undelivered(ctx, e, verdict.reason || "confirm_rejected", verdict.failInfoText || "the issued certificate was not confirmed");
  },
};
