/**
 * The enrollment pipeline (PKCSReq, RenewalReq; RFC 8894 §3.3.1) as an
 * ordered list of named phases, one file each:
 *
 * 1. `decode.ts`: verify and decrypt the message (shared by every PKIOperation, so it runs before dispatch)
 * 2. `policy.ts`: re-send, renewal, CSR policy
 * 3. `claim.ts`: a first enrollment (a PKCSReq that is not a renewal) takes its transactionID in the shared store (one issuance across replicas)
 * 4. `challenge.ts`: the challenge validator
 * 5. `issue.ts`: the issue hook (SUCCESS, PENDING, FAILURE)
 * 6. `confirm.ts`: the profile's last check before delivery
 * 7. `reply.ts`: the SUCCESS CertRep, then the claim recorded ISSUED, which a re-send is answered from (`record.ts`)
 *
 * A PKCSReq first waits for any earlier one with its
 * transactionID in this process (`in-flight.ts`), so identical requests
 * arriving together share one issuance without a store round trip; across
 * processes the claim does it. A claim still held when the enrollment ends
 * otherwise (a FAILURE, a throw) is let go.
 *
 * An issuing CA certificate outside its validity (it expired while the
 * server ran) stops the enrollment before any phase: `CaNotValidError`,
 * answered 503 by the server, no challenge spent, no hook asked.
 *
 * A phase ends the enrollment by returning a reply. Once the issue phase has
 * issued a certificate, any phase that throws makes it undelivered
 * (`undelivered.ts`): FAILURE badRequest and `onUndelivered`, never a 5xx.
 * A phase that throws before that (a store down, an issue hook that threw)
 * first gives back a one-time challenge the challenge phase spent (unless
 * a PENDING transaction was recorded with it).
 *
 * @module
 */
import type { PkiRequest } from "../../message/pki-message.js";
import type { ServerContext } from "../context.js";
import { type ResolvedProfile, requireValidCa } from "../profile.js";
import type { Reply } from "../replies.js";
import { challenge } from "./challenge.js";
import { claim, releaseClaim } from "./claim.js";
import { confirm } from "./confirm.js";
import type { Enrollment, Phase } from "./enrollment.js";
import { oneAtATime } from "./in-flight.js";
import { issue } from "./issue.js";
import { policy } from "./policy.js";
import { reply } from "./reply.js";
import { undelivered } from "./undelivered.js";

/** The phases after decode, in order. @group Server */
export const ENROLLMENT_PHASES: readonly Phase[] = [policy, claim, challenge, issue, confirm, reply];

/** Runs a decoded PKCSReq/RenewalReq through the phases. @group Server */
export async function enroll(ctx: ServerContext, p: ResolvedProfile, req: PkiRequest): Promise<Reply> {
  // The operator's problem, not the request's: 503 (scep-server.ts), before a one-time challenge is spent.
  requireValidCa(p.name, p.ca, ctx.now());
  const e: Enrollment = { profile: p, request: req, csr: req.csr!, renewal: false };
  // Identical requests at once in this process share one issuance (in-flight.ts).
  const r = await oneAtATime(p, req, () => run(ctx, e));
  // What the event tells operators about the enrollment (the activity log's kind and challenge).
  return r.with({ renewal: e.renewal, challengeKind: p.challengeKind });
}

async function run(ctx: ServerContext, e: Enrollment): Promise<Reply> {
  try {
    return await phases(ctx, e);
  } finally {
    // Not issued, or issued and not recorded (undelivered): a retry with the transactionID is a new enrollment. Best
    // effort, bounded by the store timeout; when it fails, the claim's lease lapses.
    if (e.claim) await releaseClaim(ctx, e).catch(() => undefined);
  }
}

async function phases(ctx: ServerContext, e: Enrollment): Promise<Reply> {
  for (const phase of ENROLLMENT_PHASES) {
    let r: Reply | undefined;
    try {
      r = await phase.run(ctx, e);
    } catch (error) {
      if (!e.issued) {
        // The server failed the request (a 5xx, or 503 for a store that is down) before issuing: a one-time challenge
        // it spent goes back, so the device's resend (RFC 8894 §3.3.3) can use it. Best effort, bounded by the store
        // timeout; the request's own error is what the client gets.
        if (e.releaseChallenge) await e.releaseChallenge().catch(() => undefined);
        throw error;
      }
      return undelivered(ctx, e, `${phase.name}_failed`, "the certificate was issued but could not be delivered", error);
    }
    if (r) return r;
  }
  throw new Error("the enrollment pipeline ended without a reply"); // the reply phase always answers
}
