/**
 * Phase 2, policy: what kind of request this is and whether the profile takes
 * it. A re-send of a stored transaction is answered like a CertPoll (RFC 8894
 * §3.3.3); a request signed by a certificate of this CA is a renewal (§3.3.1.2)
 * and must be within its validity; the CSR must pass the profile's CSR policy.
 * A stored certificate that expired or was revoked is never handed out again:
 * the re-send becomes a new enrollment. A PKCSReq signed by a lapsed or
 * revoked certificate of this CA, or by one whose names the CSR does not ask
 * for again (`renewalSameNames`), is a first enrollment that needs its
 * challenge; a RenewalReq signed by one is refused.
 *
 * Every PKCSReq that is not a renewal (self-signed, signed by another CA's
 * certificate such as a manufacturer's IDevID, or by an unusable one of this
 * CA) is a first enrollment (`Enrollment.firstEnrollment`): its re-send after
 * SUCCESS is answered from the ISSUED record, so the signer is evaluated
 * before that re-send is decided (it never fails a PKCSReq).
 *
 * @module
 */
import type { FailInfo } from "../../errors.js";
import { equalBytes } from "../../lib/der.js";
import { MessageType } from "../../message/types.js";
import { id_ce_subjectKeyIdentifier } from "../../oids.js";
import { CertificationRequest } from "../../x509/certification-request.js";
import { poll } from "../cert-poll.js";
import { staticChallengeMatches } from "../challenge.js";
import { checkCsrPolicy } from "../csr-policy.js";
import type { PkiRequest } from "../../message/pki-message.js";
import type { ServerContext } from "../context.js";
import type { ResolvedProfile } from "../profile.js";
import { type Reply, failure } from "../replies.js";
import { revocationReasonOf } from "../revocation-store.js";
import { isStale, revocationOf } from "../stale.js";
import type { Transaction } from "../transaction-store.js";
import { RENEWAL_NAMES_TEXT, asksForNamesOf } from "./renewal-names.js";
import type { Enrollment, Phase, UnusableSigner } from "./enrollment.js";

/**
 * Why a CA-issued signer cannot authenticate the request, with the event reason agreeing with the event's `renewal`:
 * a RenewalReq is a renewal (`renewal_expired` / `renewal_revoked` / `renewal_names_differ`); a PKCSReq signed by
 * such a certificate is taken as a first enrollment (`renewal: false`), refused as `signer_expired` /
 * `signer_revoked` / `signer_names_differ` when its challenge does not pass. The client's text is the same: in its usage both were renewals.
 */
function unusableSigner(renewal: boolean, failInfo: FailInfo, why: "expired" | "revoked" | "names_differ", text: string): UnusableSigner {
  return { failInfo, reason: `${renewal ? "renewal" : "signer"}_${why}`, text };
}

/** Whether two CSRs are for the same key and subject (a re-sent request, while its transaction waits). */
export function sameRequest(a: CertificationRequest, b: CertificationRequest): boolean {
  return equalBytes(a.spki, b.spki) && equalBytes(a.subjectDer, b.subjectDer);
}

/**
 * Whether `b` re-sends `a`, the request an ISSUED transaction holds (RFC 8894 §3.3.3): same key and subject, and the
 * same challengePassword and requested extensions (a subjectKeyIdentifier aside: certmonger makes a fresh one each
 * time). Many clients derive the transactionID from the key (sscep, micromdm, this SDK's `buildPkcsReq`), so the same
 * key asking with another challenge or other extensions is a new enrollment, checked and issued as one, not a re-send.
 */
export function sameIssuedRequest(a: CertificationRequest, b: CertificationRequest): boolean {
  return sameRequest(a, b) && sameChallenge(a.challengePassword, b.challengePassword) && sameExtensions(a, b);
}

function sameChallenge(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return staticChallengeMatches(a, b); // constant time: the stored one is a secret
}

function sameExtensions(a: CertificationRequest, b: CertificationRequest): boolean {
  const x = a.extensions.filter((e) => e.oid !== id_ce_subjectKeyIdentifier);
  const y = b.extensions.filter((e) => e.oid !== id_ce_subjectKeyIdentifier);
  return x.length === y.length && x.every((e, i) => e.oid === y[i]!.oid && e.critical === y[i]!.critical && equalBytes(e.value, y[i]!.value));
}

/**
 * FAILURE badRequest `transaction_id_in_use`: a request for another key or subject holds this transactionID (PENDING,
 * or being issued). Answering with that transaction's state told this device PENDING on a request that is not its own
 * and, once approved, sent it the other device's certificate (sscep once sent one transactionID for every key, the
 * MD5 of nothing: certnanny/sscep#167). RFC 8894 §3.2.1.1: one transactionID per enrollment.
 */
export function transactionIdInUse(ctx: ServerContext, p: ResolvedProfile, req: PkiRequest): Promise<Reply> {
  return failure(ctx, p, req, "badRequest", "transaction_id_in_use", "the transactionID is in use by a request for another key or subject (pending or being issued); send a new transactionID");
}

export const policy: Phase = {
  name: "policy",
  async run(ctx, e) {
    const { profile: p, request: req, csr } = e;
    // A client re-sending a PKCSReq it already sent (some poll this way) gets the
    // transaction's state, as a CertPoll would: the stored request must not be
    // overwritten (an ISSUED certificate would be lost) nor its challenge re-checked.
    // Same key and subject, not the same bytes: certmonger rebuilds its CSR on each submission
    // (a fresh subjectKeyIdentifier every time); the CSR's signature proves the same key holder.
    // Once ISSUED (approved, or issued directly: record.ts), the re-send must also carry the same challenge and
    // extensions (sameIssuedRequest), and be a first enrollment (e.firstEnrollment, known once the signer is); a
    // renewal always gets a new certificate.
    // One read of the transaction and one staleness check (hence one isRevoked call) per request: both go to poll.
    let existing = await ctx.store("transaction store", () => p.transactions.get(p.name, req.transactionId));
    if (existing?.status === "ISSUED" && (await isStale(ctx, p, existing))) {
      // This re-send is a new enrollment: it is not answered from the record (RFC 8894 §3.3.3). The record is left
      // in place, not deleted: a CertPoll is refused its stale certificate by poll's own check, and this enrollment's
      // `create` (claim, PENDING or its issue) replaces a finished record atomically. A delete here, unconditional,
      // removed whatever the key held by then: another replica's claim for this very request (which then issued a
      // second certificate) or its PENDING record (and the approval it waited for).
      existing = undefined;
    }
    // PENDING, or an approver issuing it: answered before the signer is looked at. A first enrollment's claim
    // (claim.ts) is left to after it for a PKCSReq (which may be a first enrollment).
    const claimed = existing?.status === "ISSUING" && existing.direct && req.messageType === MessageType.PKCSReq;
    if (!claimed && (existing?.status === "PENDING" || existing?.status === "ISSUING")) return answerHeld(ctx, e, existing);
    // A PKCSReq's signer never fails it here (it is a renewal or a first enrollment); a RenewalReq's may.
    const refused = await evaluateSigner(ctx, e);
    if (refused) return refused;
    // Every PKCSReq that is not a renewal is a first enrollment (self-signed, another CA's certificate, or an unusable
    // one of this CA: e.unusableSigner): its re-send is answered from its record (RFC 8894 §3.3.3).
    e.firstEnrollment = req.messageType === MessageType.PKCSReq && !e.renewal;
    if (existing?.status === "ISSUING") {
      // Another first enrollment's claim: a first enrollment's claim phase waits for it to end, then answers or takes
      // it. A renewal gets the claim's state (the same request) or transaction_id_in_use, as it would while PENDING.
      if (!e.firstEnrollment) return answerHeld(ctx, e, existing);
      existing = undefined;
    }
    if (existing) {
      if (e.firstEnrollment && sameIssuedRequest(new CertificationRequest(existing.csr), csr)) return poll(ctx, p, req, { tx: existing, notStale: true });
      e.replacesRecord = true;
    }
    const policyError = checkCsrPolicy(csr, p.csrPolicy);
    if (policyError) return failure(ctx, p, req, "badRequest", "csr_policy", policyError);
    return undefined;
  },
};

/**
 * The answer to a request whose transactionID a PENDING or ISSUING transaction holds: the same request (key and
 * subject, `sameRequest`) gets its state (a CertPoll's answer); another key or subject is refused before the challenge
 * is spent or the issue hook runs (RFC 8894 §3.2.1.1: one transactionID per enrollment; see `transactionIdInUse`).
 */
function answerHeld(ctx: ServerContext, e: Enrollment, tx: Transaction): Promise<Reply> {
  const { profile: p, request: req, csr } = e;
  return sameRequest(new CertificationRequest(tx.csr), csr) ? poll(ctx, p, req, { tx, notStale: true }) : transactionIdInUse(ctx, p, req);
}

/**
 * Sets `e.renewal` (and `renewalOf`) or `e.unusableSigner` from the request's signer certificate: a RenewalReq, or a
 * PKCSReq signed by a valid, unrevoked certificate of this CA for the names the CSR asks for, is a renewal (RFC 8894
 * §3.3.1.2). A RenewalReq whose signer cannot authenticate it gets its FAILURE; a PKCSReq never does (it is then a
 * first enrollment, authenticated by its challenge), so this resolves undefined for every PKCSReq.
 */
async function evaluateSigner(ctx: ServerContext, e: Enrollment): Promise<Reply | undefined> {
  const { profile: p, request: req, csr } = e;
  const signer = req.signerCertificate;
  const t = ctx.now();
  e.renewal = req.messageType === MessageType.RenewalReq;
  if (signer.isSelfIssued && !e.renewal) return undefined;
  let revoked: Awaited<ReturnType<typeof revocationOf>>;
  if (!signer.isIssuedBy(p.ca)) {
    if (e.renewal) return failure(ctx, p, req, "badRequest", "renewal_not_chained", "the renewal is not signed by a certificate of this CA");
  } else if (signer.notAfter.getTime() < t.getTime() || signer.notBefore.getTime() > t.getTime()) {
    const refused = unusableSigner(e.renewal, "badTime", "expired", "the certificate being renewed is expired or not yet valid");
    if (e.renewal) return failure(ctx, p, req, refused.failInfo, refused.reason, refused.text);
    e.unusableSigner = refused;
  } else if (p.isRevoked && (revoked = await revocationOf(ctx, p, signer))) {
    // A revoked certificate authenticates nothing (the same rule as for a stored certificate, issue 6 §3). The
    // reason, when the hook gives it, ends the text in parentheses (RFC 5280 §5.3.1 name): a client tells a
    // keyCompromise (a new key is needed) from a superseded or cessationOfOperation one (the key may be reused).
    const reason = revocationReasonOf(revoked);
    const refused = unusableSigner(e.renewal, "badCertId", "revoked", `the certificate being renewed was revoked${reason ? ` (${reason})` : ""}`);
    if (e.renewal) return failure(ctx, p, req, refused.failInfo, refused.reason, refused.text);
    e.unusableSigner = refused;
  } else if (p.renewalSameNames && !asksForNamesOf(csr, signer)) {
    // Not a renewal of the signer's certificate (another device's name, an RA signing on behalf of a device:
    // openxpki#337): a RenewalReq is refused; a PKCSReq is a first enrollment, authenticated by its challenge.
    const refused = unusableSigner(e.renewal, "badRequest", "names_differ", RENEWAL_NAMES_TEXT);
    if (e.renewal) return failure(ctx, p, req, refused.failInfo, refused.reason, refused.text);
    e.unusableSigner = refused;
  } else {
    e.renewal = true;
    e.renewalOf = signer;
  }
  return undefined;
}
