/**
 * Phase 7, reply: the SUCCESS CertRep carrying the issued certificate and its
 * chain, encrypted to the requester (RFC 8894 §3.3.2.1). Once it is built, the
 * transaction is recorded ISSUED (`record.ts`) so a re-send of the request
 * gets the same certificate (§3.3.3).
 *
 * The record never holds the reply long: the SUCCESS waits for the store at
 * most {@link RECORD_WAIT_MS} (100 ms). When the store answered by then, the
 * event says what happened: `issued` (recorded, or no record needed: a
 * renewal) or `issued_not_recorded` (the store failed, timed out or refused).
 * When it has not, the SUCCESS leaves anyway; the write goes on under
 * `storeTimeoutMs` (it is never abandoned, and its failure is never an
 * unhandled rejection), and the request's event is emitted once it settles,
 * with the reason it earned (`Reply.lateReason`). A slow store thus costs the
 * device nothing and the event never guesses.
 *
 * @module
 */
import { TIMED_OUT, within } from "../../lib/within.js";
import { Reply, certRep } from "../replies.js";
import type { Phase } from "./enrollment.js";
import { recordIssued } from "./record.js";

/** Longest a SUCCESS waits for its ISSUED record to be written, in milliseconds (bounded also by `storeTimeoutMs`). */
export const RECORD_WAIT_MS = 100;

const reasonFor = (recorded: boolean): string => (recorded ? "issued" : "issued_not_recorded");

export const reply: Phase = {
  name: "reply",
  async run(ctx, e) {
    const { certificate, chain } = e.issued!;
    const response = await certRep(ctx, e.profile, e.request, "SUCCESS", { certificates: [certificate.der, ...chain] }, e.request);
    // After the CertRep is built: a certificate that could not be delivered (undelivered.ts) is never recorded.
    const recording = recordIssued(ctx, e); // never rejects
    const recorded = await within(recording, RECORD_WAIT_MS);
    const extra = { subject: certificate.subject, serial: certificate.serialNumberHex };
    if (recorded !== TIMED_OUT) return new Reply(response, "success", reasonFor(recorded), extra);
    return new Reply(response, "success", "issued", extra, recording.then(reasonFor));
  },
};
