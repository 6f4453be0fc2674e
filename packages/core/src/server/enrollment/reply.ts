/**
 * Phase 6, reply: the SUCCESS CertRep carrying the issued certificate and its
 * chain, encrypted to the requester (RFC 8894 §3.3.2.1). Once it is built, the
 * transaction is recorded ISSUED (`record.ts`) so a re-send of the request
 * gets the same certificate (§3.3.3); a record that cannot be written does not
 * stop the reply (event reason `issued_not_recorded`).
 *
 * @module
 */
import { Reply, certRep } from "../replies.js";
import type { Phase } from "./enrollment.js";
import { recordIssued } from "./record.js";

export const reply: Phase = {
  name: "reply",
  async run(ctx, e) {
    const { certificate, chain } = e.issued!;
    const response = await certRep(ctx, e.profile, e.request, "SUCCESS", { certificates: [certificate.der, ...chain] }, e.request);
    // After the CertRep is built: a certificate that could not be delivered (undelivered.ts) is never recorded.
    const recorded = await recordIssued(ctx, e);
    return new Reply(response, "success", recorded ? "issued" : "issued_not_recorded", { subject: certificate.subject, serial: certificate.serialNumberHex });
  },
};
