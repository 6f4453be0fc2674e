import { readFileSync } from "node:fs";
import { Certificate, CertificationRequest, isScepError, isStoreUnavailable, type ScepServer } from "@scep/core";

declare const server: ScepServer; // createScepServer({ profiles: [profile] }), as above

// What an admin page lists: the requests waiting for a decision, oldest first.
export async function waiting() {
  return (await server.pending("corp")).map((tx) => ({
    transactionId: tx.transactionId,
    csr: CertificationRequest.from(tx.csr), // tx.csr is the PKCS#10, DER: .subject, .subjectAltNames.dns…
    signer: new Certificate(tx.signerCertificate).subject, // DER: the device's self-signed (or old) certificate
    renewal: tx.renewal,
    since: tx.createdAt, // a Date; forgotten at tx.expiresAt (pendingTtlMs)
  }));
}

// The operator's decision; the device's next CertPoll gets the answer.
export async function decide(transactionId: string, decision: "issue" | "upload" | "reject"): Promise<number> {
  try {
    if (decision === "issue") await server.approve("corp", transactionId); // the issue hook runs again, approved: true
    else if (decision === "upload") await server.approve("corp", transactionId, { certificate: readFileSync("device-42.pem"), chain: [readFileSync("ca.pem")] });
    else await server.reject("corp", transactionId, { failInfo: "badRequest", failInfoText: "unknown device" });
    return 200;
  } catch (e) {
    if (isScepError(e) && e.code === "ERR_TRANSACTION_STATE") return 404; // no pending transaction with this ID (any more)
    if (isStoreUnavailable(e)) return 503; // a store down or full (ERR_STORE_UNAVAILABLE): e.retryAfterSeconds for Retry-After
    throw e; // ERR_INVALID_ARGUMENT (no profile "corp", or device-42.pem is not for this CSR's key), ERR_ISSUE_HOOK, or what the hook threw
  }
}
