/**
 * Phase 5, issue: the profile's issue hook turns the request into a
 * certificate, a PENDING answer (the transaction is recorded for CertPoll and
 * approve/reject, RFC 8894 §3.3.3; if it cannot be recorded the request fails
 * closed with 503), or a rejection.
 *
 * @module
 */
import { poll } from "../cert-poll.js";
import { IssueHookError } from "../../errors.js";
import { type IssueContext, type ResolvedProfile, issueRefusal, issuedFor, validityBound } from "../profile.js";
import { Reply, certRep, failure } from "../replies.js";
import { lateCall } from "../store-call.js";
import type { Phase } from "./enrollment.js";
import { sameIssuedRequest, sameRequest, transactionIdInUse } from "./policy.js";
import { CertificationRequest } from "../../x509/certification-request.js";
import { issueFailed } from "./failure.js";
import { stopRenewing } from "./claim-renewal.js";
import type { Transaction, TransactionUpdate } from "../transaction-store.js";
import { letGoOfClaim, settleClaim } from "./claim.js";
import { tellUndelivered } from "./undelivered.js";

export const issue: Phase = {
  name: "issue",
  async run(ctx, e) {
    const { profile: p, request: req, csr } = e;
    const t = ctx.now();
    const { notAfterMax, maxValidityDays } = validityBound(p, t);
    const ic: IssueContext = {
      profile: p.name,
      request: req,
      transactionId: req.transactionId,
      signerCertificate: req.signerCertificate,
      csr,
      renewal: e.renewal,
      notAfterMax,
      maxValidityDays,
      approved: false,
      allowSid: p.csrPolicy.allowSid ?? false,
    };
    if (e.renewalOf) ic.renewalOf = e.renewalOf;
    if (e.challengeData !== undefined) ic.challengeData = e.challengeData;
    e.issueContext = ic;
    let result: Awaited<ReturnType<typeof p.issue>>;
    try {
      result = await p.issue(ic);
    } catch (error) {
      // A server fault (the client gets 500); what validated the request is told it came to nothing.
      await issueFailed(p, e.challengeValidated, { ...ic, reason: "issue_failed", failInfo: "badRequest", failInfoText: "internal error" });
      throw error;
    }
    if (result.status === "SUCCESS") {
      try {
        const given = issuedFor(csr, result, "issue hook");
        e.issued = { certificate: given.certificate, chain: given.chain ?? p.caChain };
      } catch (error) {
        // The hook's answer is unusable (not a certificate, or not for this key): a server fault like a hook that throws.
        await tellWrongKey(p, req.transactionId, error);
        await issueFailed(p, e.challengeValidated, { ...ic, reason: "issue_failed", failInfo: "badRequest", failInfoText: "internal error" });
        throw error;
      }
      return undefined;
    }
    if (result.status === "PENDING") {
      // The claim (claim.ts) becomes the PENDING record in one fenced transition ISSUING→PENDING (the approver's own
      // claim takes over from there). Never let go first and create after: in between another request could take the
      // transactionID, and the create would replace its ISSUED record (or the device's re-send run the hook again).
      const claimedAt = e.claim;
      stopRenewing(e);
      const whole: Transaction = {
        profile: p.name,
        transactionId: req.transactionId,
        status: "PENDING",
        csr: csr.der,
        signerCertificate: req.signerCertificate.der,
        renewal: e.renewal,
        createdAt: t,
        updatedAt: t,
        expiresAt: new Date(t.getTime() + p.pendingTtlMs),
        ...(e.challengeValidated ? { challengeValidated: true } : {}),
        ...challengeDataJson(e.challengeData),
      };
      let created: boolean;
      let gaveUp = false;
      try {
        created = await ctx.store("transaction store", () => {
          if (!claimedAt) return p.transactions.create(whole);
          // What the claim lacks (it keeps the same CSR; its createdAt, when the request was claimed, stays).
          const { signerCertificate, renewal, expiresAt, challengeValidated, challengeData } = whole;
          const update: TransactionUpdate = { status: "PENDING", updatedAt: t, expiresAt, signerCertificate, renewal, challengeValidated, challengeData, direct: false };
          return settleClaim(p, claimedAt, update, whole, () => gaveUp);
        });
      } catch (error) {
        // Timed out: the write may still land, and then the record holds the challenge (the device's resend polls
        // it). So the pipeline must give back neither the challenge nor the claim now (letting go of the claim first
        // would make the late hand-off miss it: no record, the challenge spent): a late failure, which leaves the
        // claim as it was, gives back both; a late record keeps them. A call that failed outright left the claim as
        // it was too: the pipeline lets go of both.
        gaveUp = true;
        const late = lateCall(error);
        if (late) {
          const release = e.releaseChallenge;
          delete e.releaseChallenge;
          delete e.claim;
          const giveBack = async (): Promise<void> => {
            await release?.().catch(() => undefined);
            if (claimedAt) await letGoOfClaim(ctx, e, claimedAt);
          };
          // A late hand-off that wrote nothing (it found the claim gone: its lease lapsed, and past the deadline no
          // record is created in its place) holds nothing either: both go back, unless a record of this very request
          // (its re-send took the lapsed claim over) holds the challenge now. A read that fails keeps the challenge
          // spent (the device then needs a new one) rather than risk a second use of it.
          const wroteNothing = async (written: unknown): Promise<void> => {
            if (written !== false) return;
            const held = await p.transactions.get(p.name, req.transactionId);
            if (!held || !sameRequest(new CertificationRequest(held.csr), csr)) await giveBack();
          };
          void late.then(wroteNothing, giveBack).catch(() => undefined);
        }
        throw error;
      }
      // Handed over, or found gone (its lease lapsed and another request took the transactionID): not this request's
      // to let go any more.
      delete e.claim;
      if (!created) {
        // Another request took this transactionID since the policy phase read it (which refuses one held before: a
        // renewal's race), or took over this request's claim once its lease lapsed (claim.ts). The same key and
        // subject (a concurrent re-send): answer with its state. Another key or subject: refuse (policy.ts,
        // transactionIdInUse). The challenge goes back, for a retry with a new transactionID.
        const held = await ctx.store("transaction store", () => p.transactions.get(p.name, req.transactionId));
        // A finished record (another request took the lapsed claim and was issued or failed): its certificate only to
        // this very request re-sent, as the claim phase answers one; never replaced by this PENDING.
        const finished = held?.status === "ISSUED" || held?.status === "REJECTED";
        const heldCsr = held && new CertificationRequest(held.csr);
        if (heldCsr && !(finished ? sameIssuedRequest(heldCsr, csr) : sameRequest(heldCsr, csr))) {
          const release = e.releaseChallenge;
          delete e.releaseChallenge;
          // The device gets its FAILURE either way; the event says whether the challenge went back (a release that
          // failed or was refused leaves it spent, and the device needs a new one).
          const released = release ? await release().then((r) => r !== false, () => false) : undefined;
          const refused = await transactionIdInUse(ctx, p, req);
          return released === undefined ? refused : refused.with({ challengeReleased: released });
        }
        return poll(ctx, p, req, held ? { tx: held, notStale: false } : undefined);
      }
      // The recorded transaction holds the challenge's one use now (the device's resend polls it, an approve issues
      // it): were the PENDING reply to fail, giving the challenge back would let a second transaction use it.
      delete e.releaseChallenge;
      return new Reply(await certRep(ctx, p, req, "PENDING", {}, req), "pending", "pending_approval", { subject: csr.subject });
    }
    const { reason, failInfo, failInfoText } = issueRefusal(result);
    await issueFailed(p, e.challengeValidated, { ...ic, reason, failInfo, failInfoText });
    return failure(ctx, p, req, failInfo, reason, failInfoText);
  },
};

/** challengeData as the JSON text a transaction store keeps (absent when there is none or JSON cannot hold it). */
function challengeDataJson(data: unknown): { challengeData?: string } {
  if (data === undefined) return {};
  try {
    const text = JSON.stringify(data);
    return typeof text === "string" ? { challengeData: text } : {};
  } catch {
    return {};
  }
}

/**
 * A certificate the hook issued for another key exists and is not delivered: the profile's `onUndelivered` is told
 * (reason `wrong_key`) so the issuer can revoke it. Best effort (see `tellUndelivered`).
 */
export async function tellWrongKey(p: ResolvedProfile, transactionId: string, error: unknown): Promise<void> {
  if (error instanceof IssueHookError && error.issued) await tellUndelivered(p, transactionId, error.issued, "wrong_key", error);
}
