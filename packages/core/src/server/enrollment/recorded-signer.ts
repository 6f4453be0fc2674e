/**
 * What a first enrollment's transaction keeps of the certificate that signed its
 * request (RFC 8894 §3.3.3): its claim (`claim.ts`) and the ISSUED record the
 * claim becomes (`record.ts`). A CertPoll for the transaction is the
 * requester's when it is signed with the CSR's key or with the recorded
 * signer certificate's key (`cert-poll.ts`); a first enrollment is not only
 * self-signed: a manufacturer's IDevID from another CA, this CA's expired,
 * not yet valid or revoked certificate, or an RA signing for other names
 * signs it with a key that is not the CSR's, and polls with that key.
 *
 * @module
 */
import { samePublicKey } from "../../lib/node-crypto.js";
import type { Enrollment } from "./enrollment.js";

const NO_BYTES = new Uint8Array(0);

/**
 * The `Transaction.signerCertificate` of a first enrollment's claim and ISSUED record: empty (zero bytes) when the
 * request's signer certificate holds the CSR's public key (a self-signed certificate of it: a CertPoll signed with that
 * key is matched by the CSR, and a re-sent request's reply is encrypted to the re-send's own signer certificate, so
 * the record saves ~0.8 KB of ~3.6 KB, issue 13, goal 4); otherwise the signer certificate's DER, so that a CertPoll
 * signed with the signer's key (the IDevID's, the RA's) gets the transaction's state, not FAILURE badCertId
 * `signer_mismatch`. Never throws (keys that do not parse are not the same key: the DER is kept).
 */
export function recordedSigner(e: Pick<Enrollment, "request" | "csr">): Uint8Array {
  const signer = e.request.signerCertificate;
  return samePublicKey(signer.spki, e.csr.spki) ? NO_BYTES : signer.der;
}
