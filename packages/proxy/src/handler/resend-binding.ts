/**
 * What binds a re-sent PKCSReq to the PKCSReq that spent a `custom` CA's one-time challenge (RFC 8894 §3.3.1: a
 * client whose request went PENDING or whose reply was lost sends the same request again, same transactionID).
 *
 * The proxy cannot read the CSR (it is encrypted to the CA), so it binds what the unencrypted outer SignedData shows
 * and a signature backs: the signed transactionID and the public key of the certificate the SignerInfo names,
 * recorded with the spent mark when the challenge is consumed (`ChallengeStore.consume`'s `binding`) and matched on a
 * later PKCSReq through the same URL (`ChallengeStore.isSpentBy`). The binding is computed only for a message whose
 * signature verifies ({@link verifyRequestSigner}), so a match means the holder of the first request's private key
 * signed this message under the same transactionID:
 *
 * - the exact bytes replayed by someone who saw them: forwarded, and harmless (the CA answers its own transaction,
 *   a certificate or a PENDING, to the device's key, as it answers the device's own re-send);
 * - a new message with the same transactionID and signer certificate but another signature, content or signed
 *   attribute: its signature does not verify here, it gets no binding, and it is refused like any use of a spent
 *   challenge (requeue + 400 `challenge failed`); the proxy does not leave this check to the CA;
 * - another transactionID or another signer key: another binding, refused the same way.
 *
 * The key holder itself may send another request under the same transactionID while the challenge lives (certmonger
 * rebuilds its CSR on each submission); the CA, which opens it, decides whether that is its transaction's re-send
 * (`@scep/core`: same key and subject while PENDING; same challenge and extensions once ISSUED) or a new enrollment
 * it checks as such. So the one-time challenge no longer bounds the key holder to one certificate: an upstream that
 * takes a different CSR under a known transactionID as a new enrollment (a static-challenge CA, `@scep/core`
 * included) issues one per such request, for any subject the CSR names, until the challenge expires. The proxy
 * cannot tell, since the CSR is encrypted to the CA. Whoever first used the URL is that key holder (the device, or
 * someone who took the URL before it).
 *
 * @module
 */
import { MessageType, publicKeyThumbprint, toBase64Url, verifyRequestSigner } from "@scep/core";

/**
 * The binding of a PKCSReq (messageType 19) whose signature verifies: `pkcsreq:` then the JSON of its transactionID
 * and its signer key's RFC 7638 thumbprint (the SHA-256 of its SubjectPublicKeyInfo, base64url, for a key without a
 * JWK form). Undefined for any other message type (a RenewalReq spends its challenge as before, unbound), and for a
 * message that does not verify. Never rejects.
 *
 * `options.certPoll`: a CertPoll (messageType 20) whose signature verifies gets the binding of the PKCSReq it polls
 * (RFC 8894 §3.3.3: same transactionID, signed by the same requester key), so it matches what that PKCSReq's consume
 * recorded. Used only where the handler matches a poll (a profile requeued while its device waited, status `none`).
 */
export async function resendBinding(message: Uint8Array, options?: { certPoll?: boolean }): Promise<string | undefined> {
  const signed = verifyRequestSigner(message);
  if (!signed) return undefined;
  const polls = options?.certPoll === true && signed.messageType === MessageType.CertPoll;
  if (signed.messageType !== MessageType.PKCSReq && !polls) return undefined;
  const spki = signed.signerCertificate.spki;
  const key = publicKeyThumbprint(spki) ?? `spki:${toBase64Url(new Uint8Array(await crypto.subtle.digest("SHA-256", spki as Uint8Array<ArrayBuffer>)))}`;
  return `pkcsreq:${JSON.stringify([signed.transactionId, key])}`;
}
