/**
 * Phase 3, claim: a first enrollment (a PKCSReq the policy phase found not to
 * be a renewal, `Enrollment.firstEnrollment`: the only request whose re-send
 * is answered from a record, `record.ts`) takes its
 * transactionID in the profile's TransactionStore before its challenge is
 * checked or its issue hook runs, so replicas sharing one store never both
 * issue for one request (RFC 8894 §3.3.3: a device's re-send, or a relay's
 * retry, that lands on another replica while the first is still issuing).
 *
 * The claim is an ISSUING record with `direct` (not an approver's claim:
 * `approve` and `pending` leave it alone), created atomically
 * (`TransactionStore.create` refuses over a live PENDING or ISSUING record)
 * with a short lease: it expires `claimLeaseMs` (default 10 s) after it was
 * taken, and its holder renews it every third of that (same `updatedAt`, a
 * later `expiresAt`) until the enrollment ends, or `approvalLeaseMs` (5
 * minutes) after it was taken (`claim-renewal.ts`). So a slow challenge check
 * or issue hook keeps it, one that never settles lets go then, and a replica
 * that died mid-issue (`kill -9`, a lost host) holds the transactionID for at
 * most one lease: a later request's `create` replaces the expired record. Its `updatedAt` is the fencing token
 * of everything the claim's holder writes after:
 *
 * - the hook issued: ISSUING→ISSUED (`record.ts`), which fails once the claim
 *   was taken over, so a late holder never overwrites the new one's record;
 * - the hook answered PENDING: ISSUING→PENDING (`issue.ts`), the same fenced
 *   transition, so no other request can take the transactionID in between
 *   (and have its ISSUED record replaced by a PENDING one);
 * - any other end (a FAILURE, the hook threw, the store failed): the claim is
 *   let go (`releaseClaim`), so a retry with the transactionID is a new
 *   enrollment, as it was before claims.
 *
 * A request that finds the transactionID claimed waits for the claim to end,
 * as it waits for an earlier request of this process (`in-flight.ts`): it
 * reads the record again, at growing intervals (50 ms to 0.5 s), for up to
 * one lease and a second. A claim that ends (issued, let go, or lapsed with
 * its holder dead) is then answered as the policy phase answers a record, or
 * taken. A claim still held after the wait (a holder alive and slow) gets,
 * for the same key and subject, the holder's state (PENDING: the device
 * polls or re-sends, and then gets the recorded certificate); for another key
 * or subject FAILURE badRequest `transaction_id_in_use`. Neither spends the
 * challenge or runs the hook. Cost: one store write per first enrollment
 * (the create; the ISSUED record is a transition of it), one more per third
 * of a lease that its challenge check and hook take.
 *
 * No claim is taken over a finished (ISSUED or REJECTED) record of another
 * request with this transactionID: a request whose challenge is not checked
 * yet must not erase what another device's re-send is answered from. Such a
 * request is recorded as before claims (`record.ts`), and two copies of it
 * on two replicas may each be issued.
 *
 * @module
 */
import type { ServerContext } from "../context.js";
import type { ResolvedProfile } from "../profile.js";
import { poll } from "../cert-poll.js";
import type { Transaction, TransactionUpdate } from "../transaction-store.js";
import { CertificationRequest } from "../../x509/certification-request.js";
import type { Enrollment, Phase } from "./enrollment.js";
import { sameIssuedRequest, sameRequest, transactionIdInUse } from "./policy.js";
import { keepRenewed, stopRenewing } from "./claim-renewal.js";
import { recordedSigner } from "./recorded-signer.js";

/** An `expiresAt` every store has passed: a transition to it ends the record (a fenced delete). */
const GONE = new Date(0);

/** Added to one lease: how much longer than a dead holder's claim can last a request waits for it to end (ms). */
const CLAIM_WAIT_MARGIN_MS = 1_000;
/** First and longest pause between two reads of a claim a request waits for (ms). */
const FIRST_PAUSE_MS = 50;
const LONGEST_PAUSE_MS = 500;

export const claim: Phase = {
  name: "claim",
  async run(ctx, e) {
    const { profile: p, request: req, csr } = e;
    // A finished record of another request is there (policy.ts): replaced only once this request is issued.
    if (!e.firstEnrollment || e.replacesRecord) return undefined;
    const waitUntil = performance.now() + p.claimLeaseMs + CLAIM_WAIT_MARGIN_MS;
    let pause = FIRST_PAUSE_MS;
    let lastTry = false;
    // Create on the first pass, and after a read found nothing; never on a pass that only waited: `create` replaces a
    // finished record, so taking a claim then would run the hook again over the holder's ISSUED record.
    let take = true;
    // Whether a claim of this very request (same key and subject) was seen held: its first send, still in flight or dead.
    let sawOwnClaim = false;
    for (let attempt = 0; ; attempt++) {
      const tried = take;
      if (take) {
        const t = ctx.now();
        const tx: Transaction = {
          profile: p.name,
          transactionId: req.transactionId,
          status: "ISSUING",
          csr: csr.der,
          // As in the ISSUED record it becomes (record.ts): none when the request was signed with the CSR's key, else
          // the signer's (an IDevID, an RA), so a CertPoll signed with it gets PENDING now and the certificate then.
          signerCertificate: recordedSigner(e),
          renewal: false,
          createdAt: t,
          updatedAt: t,
          expiresAt: new Date(t.getTime() + Math.min(p.claimLeaseMs, p.leaseMs)),
          direct: true,
        };
        if (await ctx.store("transaction store", () => p.transactions.create(tx))) {
          e.claim = t;
          // Taken after a claim of this very request was seen: that claim ended unanswered (no record), so its holder
          // died or could not let go; the one-time challenge it may have spent is this request's (challenge.ts).
          if (sawOwnClaim) e.resumesLapsedClaim = true;
          keepRenewed(ctx, e, t);
          return undefined;
        }
      }
      const held = await ctx.store("transaction store", () => p.transactions.get(p.name, req.transactionId));
      take = false;
      if (!held) {
        // Let go, or lapsed (its holder died): take it. Within the wait, or once more past it (else the request would be
        // answered from no record: FAILURE badCertId, unknown_transaction).
        const left = waitUntil - performance.now();
        if (attempt === 0 || left > 0 || !lastTry) {
          if (left <= 0) lastTry = true;
          // A create refused, then nothing read: another request took and let go of it between; not in a tight loop.
          if (tried && attempt > 0 && left > 0) await sleep(Math.min(pause, left));
          take = true;
          continue;
        }
      }
      if (held?.status === "ISSUED" || held?.status === "REJECTED") {
        // Finished since the policy phase read (its holder issued or failed): answered as the policy phase answers a finished
        // record. Its certificate only to a re-send of that very request (the same challenge and extensions, not just
        // the key and subject); anything else is a new enrollment that replaces it once issued, taking no claim.
        if (sameIssuedRequest(new CertificationRequest(held.csr), csr)) return poll(ctx, p, req, { tx: held, notStale: false });
        e.replacesRecord = true;
        return undefined;
      }
      // Another enrollment's claim: wait for it to end (its holder issues, lets go, or died and its lease lapses).
      if (held?.status === "ISSUING" && held.direct) {
        if (!sawOwnClaim && sameRequest(new CertificationRequest(held.csr), csr)) sawOwnClaim = true;
        const left = waitUntil - performance.now();
        if (left > 0) {
          await sleep(Math.min(pause, left));
          pause = Math.min(pause * 2, LONGEST_PAUSE_MS);
          continue;
        }
      }
      if (held && !sameRequest(new CertificationRequest(held.csr), csr)) return transactionIdInUse(ctx, p, req);
      // The same request's: PENDING while it waits or issues, then its certificate or its FAILURE.
      return poll(ctx, p, req, held ? { tx: held, notStale: false } : undefined);
    }
  },
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Lets go of the enrollment's claim, if it holds one: a compare-and-set on the claim's `updatedAt` to a record that
 * has expired, so a claim taken over since is left alone. Rejects as the store does (StoreUnavailableError); the
 * claim is then given up all the same and its lease lapses.
 */
export async function releaseClaim(ctx: ServerContext, e: Enrollment): Promise<void> {
  const at = e.claim;
  if (!at) return;
  delete e.claim;
  stopRenewing(e);
  await letGoOfClaim(ctx, e, at);
}

/** {@link releaseClaim} of the claim taken at `at`, once the enrollment has given it up (`e.claim` cleared). */
export async function letGoOfClaim(ctx: ServerContext, e: Enrollment, at: Date): Promise<void> {
  const p = e.profile;
  await ctx.store("transaction store", () => p.transactions.transition(p.name, e.request.transactionId, "ISSUING", { status: "REJECTED", updatedAt: ctx.now(), expiresAt: GONE }, { updatedAt: at }));
}

/**
 * Ends the claim taken at `claimedAt` as the hook's answer says: `update` (ISSUED, or PENDING) in one transition from
 * ISSUING fenced by the claim's `updatedAt`, so nothing can take the transactionID between the claim and its record.
 * When the claim is gone (its lease lapsed while the hook ran: its renewals failed, or this process stalled) and
 * nothing holds the transactionID now, `whole` is created, as before claims; another request that took it over keeps
 * its record or claim. Resolves whether this request's record was written. `gaveUp()` true (the caller's deadline
 * passed) stops a late step from writing. Rejects as the store does.
 */
export async function settleClaim(p: ResolvedProfile, claimedAt: Date, update: TransactionUpdate, whole: Transaction, gaveUp: () => boolean): Promise<boolean> {
  if (await p.transactions.transition(p.name, whole.transactionId, "ISSUING", update, { updatedAt: claimedAt })) return true;
  if (gaveUp() || (await p.transactions.get(p.name, whole.transactionId)) !== undefined) return false;
  return !gaveUp() && (await p.transactions.create(whole));
}
