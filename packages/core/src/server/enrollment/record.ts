/**
 * The record of a certificate the issue hook issued directly (SUCCESS): the
 * transaction is stored ISSUED (certificate, chain, CSR, `direct: true`; no
 * signer certificate) so a device whose SUCCESS reply was lost and that re-sends
 * the same request (same transactionID, key and subject, self-signed signer)
 * gets the same certificate from the policy phase's re-send path (RFC 8894
 * §3.3.3), instead of a second certificate (static challenge) or a refused,
 * already used one-time challenge. It is kept `transactionRetentionMs`
 * (default 1 day), as a certificate `approve` issued: long enough for a
 * device's retries, not the `pendingTtlMs` (7 days) an operator's decision
 * may take; an expired or revoked certificate is never handed out from it
 * (`stale.ts`).
 *
 * Best effort: the record is for idempotency only. A store that fails or
 * times out never costs the device its certificate, nor holds its reply long
 * (`reply.ts`); the event reason then says `issued_not_recorded`. Two
 * identical requests at once in one process share one issuance
 * (`in-flight.ts`); on two replicas each runs the issue hook (no claim is
 * taken in the shared store before it), and the later record replaces the
 * earlier.
 *
 * @module
 */
import { equalBytes } from "../../lib/der.js";
import type { PkiRequest } from "../../message/pki-message.js";
import { MessageType } from "../../message/types.js";
import type { ServerContext } from "../context.js";
import type { Transaction } from "../transaction-store.js";
import type { Enrollment } from "./enrollment.js";

const NO_BYTES = new Uint8Array(0);

/**
 * Whether `req` is a first enrollment, the only request whose re-send is answered from its ISSUED record (RFC 8894
 * §3.3.3): a PKCSReq signed by a self-signed certificate. Only its ISSUED record is written here, only its re-send
 * reads one (`policy.ts`), and only it waits for an identical request in flight (`in-flight.ts`). A RenewalReq, or a
 * request signed by a certificate of this CA, always gets a new certificate.
 */
export function answeredFromRecord(req: PkiRequest): boolean {
  return req.messageType === MessageType.PKCSReq && req.signerCertificate.isSelfIssued;
}

/**
 * Whether the record was written or had no need to be. False when the store failed or timed out, or when it refused
 * the write (`create` resolved false: a PENDING/ISSUING record of this transactionID, a concurrent request the hook
 * answered PENDING, keeps the key) and the record there is not this certificate's ISSUED one: a re-send would then
 * not get this certificate. The `create` and the `get` after a refusal run under one `storeTimeoutMs` together, so
 * this settles within `storeTimeoutMs` (the late event and the in-flight wait of `in-flight.ts` with it). Never
 * rejects.
 */
export async function recordIssued(ctx: ServerContext, e: Enrollment): Promise<boolean> {
  const { profile: p, request: req, csr } = e;
  // Any other request's record would never be read.
  if (!answeredFromRecord(req)) return true;
  let gaveUp = false;
  try {
    const { certificate, chain } = e.issued!;
    const t = ctx.now();
    const tx: Transaction = {
      profile: p.name,
      transactionId: req.transactionId,
      status: "ISSUED",
      csr: csr.der,
      // Not kept: the re-send's reply is encrypted to the re-send's own signer certificate, and nothing else reads it
      // (~0.8 KB less per record, of ~3.6 KB: issue 13, goal 4).
      signerCertificate: NO_BYTES,
      renewal: e.renewal,
      createdAt: t,
      updatedAt: t,
      expiresAt: new Date(t.getTime() + p.retentionMs),
      certificate: certificate.der,
      // Told apart from an approved certificate by CertPoll: its re-send is reported `issued_resent`.
      direct: true,
      // The profile's own chain is not copied into every record: CertPoll falls back to it.
      ...(chain === p.caChain ? {} : { chain }),
    };
    // One deadline for both calls: each under its own made the record take up to twice storeTimeoutMs.
    return await ctx.store("transaction store", async () => {
      if (await p.transactions.create(tx)) return true;
      // Refused. Our contract refuses only over a PENDING/ISSUING record (never this certificate); a store that also
      // refuses over an equal finished record (its own retry of this write landed) has recorded it all the same.
      if (gaveUp) return false; // past the deadline: nobody reads the answer
      const there = await p.transactions.get(p.name, req.transactionId);
      return there?.status === "ISSUED" && there.certificate !== undefined && equalBytes(there.certificate, certificate.der);
    });
  } catch {
    // (Everything that can throw is in here, the clock too: this never rejects, so reply.ts needs no catch.)
    gaveUp = true;
    return false;
  }
}
