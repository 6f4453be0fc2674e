/**
 * Phase 6, reply: the SUCCESS CertRep carrying the issued certificate and its
 * chain, encrypted to the requester (RFC 8894 §3.3.2.1).
 *
 * @module
 */
import { Reply, certRep } from "../replies.js";
import type { Phase } from "./enrollment.js";

export const reply: Phase = {
  name: "reply",
  async run(ctx, e) {
    const { certificate, chain } = e.issued!;
    const response = await certRep(ctx, e.profile, e.request, "SUCCESS", { certificates: [certificate.der, ...chain] }, e.request);
    return new Reply(response, "success", "issued", { subject: certificate.subject, serial: certificate.serialNumberHex });
  },
};
