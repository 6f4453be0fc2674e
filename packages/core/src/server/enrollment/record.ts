/**
 * The record of a certificate the issue hook issued directly (SUCCESS): the
 * transaction is stored ISSUED (certificate, chain, CSR, `direct: true`; the
 * signer certificate only when its key is not the CSR's: `recorded-signer.ts`,
 * so a CertPoll signed by an IDevID or an RA that signed the request gets the
 * certificate) so a device whose SUCCESS reply was lost and that re-sends
 * the same request (same transactionID, key and subject; a first enrollment:
 * a PKCSReq the policy phase found not to be a renewal, whatever signed it)
 * gets the same certificate from the policy phase's re-send path (RFC 8894
 * §3.3.3), instead of a second certificate (static challenge) or a refused,
 * already used one-time challenge. It is kept `transactionRetentionMs`
 * (default 1 day), as a certificate `approve` issued: long enough for a
 * device's retries, not the `pendingTtlMs` (7 days) an operator's decision
 * may take; an expired or revoked certificate is never handed out from it
 * (`stale.ts`). A renewal is not recorded: it always gets a new certificate
 * (many clients derive the transactionID from the key, and a renewal with the
 * same key must not be handed the certificate it renews).
 *
 * The record is the enrollment's claim (`claim.ts`, taken before the
 * challenge phase) moved ISSUING→ISSUED: identical requests on replicas that
 * share the store get one issuance (the later one is answered PENDING while
 * the hook runs, then from the record); in one process they also wait for
 * each other (`in-flight.ts`).
 *
 * Best effort: the record is for idempotency only. A store that fails or
 * times out never costs the device its certificate, nor holds its reply long
 * (`reply.ts`); the event reason then says `issued_not_recorded` (the claim's
 * lease then lapses).
 *
 * @module
 */
import type { ServerContext } from "../context.js";
import type { Transaction, TransactionUpdate } from "../transaction-store.js";
import { stopRenewing } from "./claim-renewal.js";
import { settleClaim } from "./claim.js";
import type { Enrollment } from "./enrollment.js";
import { recordedSigner } from "./recorded-signer.js";

/**
 * Whether the record was written or had no need to be: the enrollment's claim (`claim.ts`) moved ISSUING→ISSUED,
 * fenced by the claim's `updatedAt` (with no claim, over another request's finished record: a `create` replacing it);
 * when the claim's lease lapsed while the hook ran and nothing holds the transactionID now, a `create` of the record.
 * False when the store failed or timed out, or when another request took the transactionID over after the lease
 * lapsed (that one's record or claim stands, and a re-send would not get this certificate). The calls run under one
 * `storeTimeoutMs`, so this settles within it (the late event and the in-flight wait of `in-flight.ts` with it).
 * Never rejects.
 */
export async function recordIssued(ctx: ServerContext, e: Enrollment): Promise<boolean> {
  const { profile: p, request: req } = e;
  // Only a first enrollment's record is read (policy.ts): a renewal always gets a new certificate.
  if (!e.firstEnrollment) return true;
  const claimedAt = e.claim;
  delete e.claim; // recorded or not, the pipeline does not let it go: a lapsed lease ends it
  stopRenewing(e);
  if (!claimedAt && !e.replacesRecord) return false;
  let gaveUp = false;
  try {
    const { certificate, chain } = e.issued!;
    const t = ctx.now();
    // The whole ISSUED record, for a `create` where no claim of this request's is left to move.
    const whole: Transaction = {
      profile: p.name,
      transactionId: req.transactionId,
      status: "ISSUED",
      csr: e.csr.der,
      signerCertificate: recordedSigner(e),
      renewal: false,
      createdAt: t,
      updatedAt: t,
      expiresAt: new Date(t.getTime() + p.retentionMs),
      certificate: certificate.der,
      direct: true,
      ...(chain === p.caChain ? {} : { chain }),
    };
    if (!claimedAt) {
      // No claim (another request's finished record held the transactionID): it is replaced whole, unless a
      // PENDING/ISSUING record took the transactionID since (create refuses; this certificate is then not recorded).
      return await ctx.store("transaction store", () => p.transactions.create(whole));
    }
    // The claim already holds the CSR, the signer certificate as the record keeps it (none when the request was signed
    // with the CSR's key: the re-send's reply is encrypted to the re-send's own, ~0.8 KB less per record, of ~3.6 KB,
    // issue 13, goal 4; else the signer's, which a CertPoll may be signed with: recorded-signer.ts) and `direct` (told
    // apart from an approved certificate by CertPoll: its re-send is reported `issued_resent`).
    const update: TransactionUpdate = {
      status: "ISSUED",
      updatedAt: t,
      expiresAt: whole.expiresAt,
      certificate: certificate.der,
      // The profile's own chain is not copied into every record: CertPoll falls back to it.
      ...(chain === p.caChain ? {} : { chain }),
    };
    // One deadline for the calls together (each under its own made the record take up to three times storeTimeoutMs).
    // When the claim is gone and nothing holds the transactionID, this certificate is recorded as before claims, so
    // the device's re-send gets it rather than a second one.
    return await ctx.store("transaction store", () => settleClaim(p, claimedAt, update, whole, () => gaveUp));
  } catch {
    // (Everything that can throw is in here, the clock too: this never rejects, so reply.ts needs no catch.)
    gaveUp = true; // past the deadline: a late step must not write what nobody reads the answer of
    return false;
  }
}
