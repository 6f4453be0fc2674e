/**
 * The enrollment pipeline (PKCSReq, RenewalReq; RFC 8894 §3.3.1) as an
 * ordered list of named phases, one file each:
 *
 * 1. `decode.ts`: verify and decrypt the message (shared by every PKIOperation, so it runs before dispatch)
 * 2. `policy.ts`: re-send, renewal, CSR policy
 * 3. `challenge.ts`: the challenge validator
 * 4. `issue.ts`: the issue hook (SUCCESS, PENDING, FAILURE)
 * 5. `reply.ts`: the SUCCESS CertRep
 *
 * A phase ends the enrollment by returning a reply.
 *
 * @module
 */
import type { PkiRequest } from "../../message/pki-message.js";
import type { ServerContext } from "../context.js";
import type { ResolvedProfile } from "../profile.js";
import type { Reply } from "../replies.js";
import { challenge } from "./challenge.js";
import type { Enrollment, Phase } from "./enrollment.js";
import { issue } from "./issue.js";
import { policy } from "./policy.js";
import { reply } from "./reply.js";

/** The phases after decode, in order. @group Server */
export const ENROLLMENT_PHASES: readonly Phase[] = [policy, challenge, issue, reply];

/** Runs a decoded PKCSReq/RenewalReq through the phases. @group Server */
export async function enroll(ctx: ServerContext, p: ResolvedProfile, req: PkiRequest): Promise<Reply> {
  const e: Enrollment = { profile: p, request: req, csr: req.csr!, renewal: false };
  for (const phase of ENROLLMENT_PHASES) {
    const r = await phase.run(ctx, e);
    if (r) return r;
  }
  throw new Error("the enrollment pipeline ended without a reply"); // the reply phase always answers
}
