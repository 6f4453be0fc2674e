/**
 * Phase 4, challenge: the profile's challenge validator (RFC 8894 §2.3) runs
 * for a first enrollment, and for a renewal when `renewalRequiresChallenge`.
 * A refusal is a FAILURE CertRep with the validator's failInfo and text; the
 * event reason is the validator's label. A PKCSReq signed by a lapsed or
 * revoked certificate of this CA without a valid challenge gets badTime or
 * badCertId (the certificate, not the challenge, is what the client got wrong).
 *
 * @module
 */
import { failure } from "../replies.js";
import type { Phase } from "./enrollment.js";
import { LIMITS } from "../../limits.js";

export const challenge: Phase = {
  name: "challenge",
  async run(ctx, e) {
    const p = e.profile;
    if (e.renewal && !p.renewalRequiresChallenge) return undefined;
    const presented = e.csr.challengePassword;
    // Refused before any validator parses it or sends it anywhere (a signed token, a webhook, Intune). Counted without
    // encoding it; a lone surrogate counts 3, as TextEncoder writes U+FFFD.
    if (presented !== undefined && Buffer.byteLength(presented, "utf8") > LIMITS.challengeBytes) {
      return failure(ctx, p, e.request, "badRequest", "challenge_too_long", `the challenge password is longer than ${LIMITS.challengeBytes} bytes`);
    }
    const verdict = await p.validateChallenge({ challenge: e.csr.challengePassword, csr: e.csr, request: e.request, profile: p.name }, ctx.store, { resend: e.resumesLapsedClaim === true });
    const unusable = e.unusableSigner;
    if (!verdict.ok && unusable) return failure(ctx, p, e.request, unusable.failInfo, unusable.reason, unusable.text);
    if (!verdict.ok) return failure(ctx, p, e.request, verdict.failInfo, verdict.reason, verdict.failInfoText);
    e.challengeValidated = true;
    if (verdict.data !== undefined) e.challengeData = verdict.data;
    if (verdict.release) e.releaseChallenge = verdict.release;
    return undefined;
  },
};
