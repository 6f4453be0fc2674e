// One enrollment step by step with the SDK, for the tests that must see the first CertRep (PENDING, FAILURE) and
// poll later (after an operator's decision): ScepClient.enroll polls on its own, so these build the messages.
import {
  CertificationRequest,
  ScepClient,
  buildCertPoll,
  buildPkcsReq,
  createSelfSignedSigner,
  generateCsr,
  generateRsaKeyPair,
  readCertRep,
  selectIssuerName,
  selectRecipient,
} from "@scep/core";

/** What {@link pkcsReqAndPoll} sends. */
export interface PkcsReqOptions {
  /** Subject DN of the CSR, e.g. `CN=device-1`. */
  subject: string;
  /** The CSR's challengePassword. */
  challenge: string;
  /** A DNS subjectAltName for the CSR. */
  dns?: string;
  /** The transactionID to send (default: the client's, from the key). */
  transactionId?: string;
}

/**
 * Sends one PKCSReq (RFC 8894 §3.3.1) to `url` with a fresh RSA 2048 key and returns its first CertRep, and `poll()`,
 * which sends a CertPoll (RFC 8894 §3.3.3) for the same transaction and returns that CertRep.
 */
export async function pkcsReqAndPoll(url: string, o: PkcsReqOptions) {
  const keys = await generateRsaKeyPair(2048);
  const client = new ScepClient({ url });
  const csr = await generateCsr({ keys, subject: o.subject, challengePassword: o.challenge, ...(o.dns ? { san: { dns: [o.dns] } } : {}) });
  const signer = await createSelfSignedSigner({ keys, subject: o.subject });
  const caCerts = await client.getCaCert();
  const req = await buildPkcsReq({ csr, signer, recipient: selectRecipient(caCerts), ...(o.transactionId ? { transactionId: o.transactionId } : {}) });
  const first = await readCertRep(await client.pkiOperation(req.der), { decrypter: signer, caCertificates: caCerts, request: req });
  const poll = async () => {
    const built = await buildCertPoll({ issuerName: selectIssuerName(caCerts), subject: CertificationRequest.from(csr).subjectDer, transactionId: req.transactionId, signer, recipient: selectRecipient(caCerts) });
    return readCertRep(await client.pkiOperation(built.der), { decrypter: signer, caCertificates: caCerts, request: built });
  };
  return { first, transactionId: req.transactionId, poll, signer, caCerts, client, keys };
}
