/**
 * CertPoll (RFC 8894 §3.3.3): the state of a stored transaction. Also answers
 * a re-sent PKCSReq for a transaction that is still waiting. A stored
 * certificate that has expired or was revoked gets FAILURE badCertId
 * (`stale_certificate`) instead of SUCCESS. A CertPoll signed by a key that is
 * neither the recorded request's nor its signer's gets FAILURE badCertId
 * (`signer_mismatch`), as an unknown transactionID does.
 *
 * @module
 */
import { samePublicKey } from "../lib/node-crypto.js";
import type { PkiRequest } from "../message/pki-message.js";
import { MessageType, isFailInfo } from "../message/types.js";
import { Certificate } from "../x509/certificate.js";
import { CertificationRequest } from "../x509/certification-request.js";
import type { ServerContext } from "./context.js";
import type { ResolvedProfile } from "./profile.js";
import { Reply, certRep, failure } from "./replies.js";
import { isStale } from "./stale.js";
import type { Transaction } from "./transaction-store.js";

/**
 * A transaction the caller already read, so {@link poll} does not read it again: the policy phase's re-send path
 * (`enrollment/policy.ts`), which also found an ISSUED one's certificate not stale (so `isRevoked` is not asked twice).
 */
export interface KnownTransaction {
  tx: Transaction;
  /** True when an ISSUED `tx`'s certificate was already found neither expired nor revoked (`isStale`). */
  notStale: boolean;
}

/**
 * PENDING while waiting (or being issued), SUCCESS with the certificate, FAILURE when rejected or unknown. Reads the
 * transaction from the store unless `known` hands it over (one read per request either way).
 * @group Server
 */
export async function poll(ctx: ServerContext, p: ResolvedProfile, req: PkiRequest, known?: KnownTransaction): Promise<Reply> {
  const tx = known ? known.tx : await ctx.store("transaction store", () => p.transactions.get(p.name, req.transactionId));
  if (!tx) return failure(ctx, p, req, "badCertId", "unknown_transaction", NO_SUCH_REQUEST);
  // Another device's transactionID (guessed, or one a client reuses for every key: certnanny/sscep#167) gets neither
  // that device's state nor its certificate. The same answer as an unknown transactionID: no oracle for which exist.
  if (req.messageType === MessageType.CertPoll && !signedByRequester(req, tx)) return failure(ctx, p, req, "badCertId", "signer_mismatch", NO_SUCH_REQUEST);
  // ISSUING: an approver is running the issue hook right now.
  if (tx.status === "PENDING" || tx.status === "ISSUING") return new Reply(await certRep(ctx, p, req, "PENDING", {}, req), "pending", "still_pending");
  if (tx.status === "REJECTED") {
    // A record a CertRep cannot carry as stored (written by an older version, or by another writer of a shared store)
    // gets the defaults, not an HTTP 500 on every CertPoll until it expires.
    const failInfo = isFailInfo(tx.failInfo) ? tx.failInfo : "badRequest";
    return failure(ctx, p, req, failInfo, tx.reason ?? "rejected_by_operator", typeof tx.failInfoText === "string" ? tx.failInfoText : "the request was rejected");
  }
  // Never hand out an expired or revoked certificate (issue 6 §3): the client must enroll again.
  if (!known?.notStale && (await isStale(ctx, p, tx))) {
    return failure(ctx, p, req, "badCertId", "stale_certificate", "the certificate issued for this transaction has expired or was revoked; send a new enrollment request");
  }
  const certs = [tx.certificate!, ...(tx.chain ?? p.caChain)];
  const cert = new Certificate(tx.certificate!);
  const reason = issuedDirectly(tx) ? "issued_resent" : "issued_after_approval";
  return new Reply(await certRep(ctx, p, req, "SUCCESS", { certificates: certs }, req), "success", reason, { subject: cert.subject, serial: cert.serialNumberHex });
}

const NO_SUCH_REQUEST = "no pending request with this transactionID";

/**
 * Whether a CertPoll comes from the device that sent the recorded request: it is signed with the request's key (the
 * CSR's; a self-signed certificate of it, as most first enrollments are) or with the key of the certificate that
 * signed the request (a renewal's old certificate; a first enrollment's IDevID of another CA, this CA's lapsed or
 * revoked certificate, or an RA's: `enrollment/recorded-signer.ts`). The CertPoll's IssuerAndSubject (RFC 8894 §3.3.3) is not what tells: its
 * names are public and clients write them differently (the CA's issuer for the CA, certnanny/sscep#42,
 * seize-the-dave/jscep#9; issuer and subject swapped, certnanny/sscep#94), and it sits in the encrypted content, which
 * the server does not decrypt for a CertPoll (a CBC padding oracle on a captured envelope, `enrollment/decode.ts`).
 * The signature over the message is verified before this runs, so the key is proven.
 */
function signedByRequester(req: PkiRequest, tx: Transaction): boolean {
  const key = req.signerCertificate.spki;
  if (samePublicKey(key, new CertificationRequest(tx.csr).spki)) return true;
  // (A first enrollment's claim or ISSUED record keeps none when its request was signed with the CSR's key.)
  return tx.signerCertificate.length > 0 && samePublicKey(key, new Certificate(tx.signerCertificate).spki);
}

/**
 * Whether an ISSUED record is the one the reply phase wrote when the hook issued at once (`enrollment/record.ts`):
 * `direct`, or, in a record written before that field existed, `reason: "issued"`. An approved one has neither.
 */
function issuedDirectly(tx: Transaction): boolean {
  return tx.direct === true || tx.reason === "issued";
}
