/**
 * CertPoll (RFC 8894 §3.3.3): the state of a stored transaction. Also answers
 * a re-sent PKCSReq for a transaction that is still waiting. A stored
 * certificate that has expired or was revoked gets FAILURE badCertId
 * (`stale_certificate`) instead of SUCCESS.
 *
 * @module
 */
import type { PkiRequest } from "../message/pki-message.js";
import { Certificate } from "../x509/certificate.js";
import type { ServerContext } from "./context.js";
import type { ResolvedProfile } from "./profile.js";
import { Reply, certRep, failure } from "./replies.js";
import { isStale } from "./stale.js";

/** PENDING while waiting (or being issued), SUCCESS with the certificate, FAILURE when rejected or unknown. @group Server */
export async function poll(ctx: ServerContext, p: ResolvedProfile, req: PkiRequest): Promise<Reply> {
  const tx = await ctx.store("transaction store", () => p.transactions.get(p.name, req.transactionId));
  if (!tx) return failure(ctx, p, req, "badCertId", "unknown_transaction", "no pending request with this transactionID");
  // ISSUING: an approver is running the issue hook right now.
  if (tx.status === "PENDING" || tx.status === "ISSUING") return new Reply(await certRep(ctx, p, req, "PENDING", {}, req), "pending", "still_pending");
  if (tx.status === "REJECTED") return failure(ctx, p, req, tx.failInfo ?? "badRequest", tx.reason ?? "rejected_by_operator", tx.failInfoText ?? "the request was rejected");
  // Never hand out an expired or revoked certificate (issue 6 §3): the client must enroll again.
  if (await isStale(ctx, p, tx)) return failure(ctx, p, req, "badCertId", "stale_certificate", "the certificate issued for this transaction has expired or was revoked; send a new enrollment request");
  const certs = [tx.certificate!, ...(tx.chain ?? p.caChain)];
  const cert = new Certificate(tx.certificate!);
  // The record the reply phase wrote when the hook issued at once (record.ts) says so in `reason`; an approved one has none.
  const reason = tx.reason === "issued" ? "issued_resent" : "issued_after_approval";
  return new Reply(await certRep(ctx, p, req, "SUCCESS", { certificates: certs }, req), "success", reason, { subject: cert.subject, serial: cert.serialNumberHex });
}
