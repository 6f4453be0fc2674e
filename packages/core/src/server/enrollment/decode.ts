/**
 * Phase 1, decode: the PKIOperation message is verified and decrypted
 * (RFC 8894 §3.2) with the profile's decrypters and algorithm policy. Runs for
 * every PKIOperation (enrollments, CertPoll, GetCert, GetCRL). A message that
 * fails after its transactionID and senderNonce were read gets a FAILURE
 * CertRep with the error's failInfo (§3.3.2.2), and so does a verified one
 * without a messageType or senderNonce (FAILURE badRequest, no
 * recipientNonce); one that fails earlier, or has no transactionID, gets
 * HTTP 400. A request whose signer key cannot receive the reply's RSA key
 * transport gets FAILURE badAlg here, before anything is issued
 * (`key-transport.ts` says why). The parts of the request that are parsed
 * only when first read (the CSR's and the signer certificate's names and
 * extensions) are read here too: a malformed one is the client's mistake,
 * answered FAILURE badRequest, never an error later in a policy, a hook or
 * the event line (after a certificate was issued).
 *
 * @module
 */
import { isScepError } from "../../errors.js";
import { type PkiRequest, decodePkiMessage } from "../../message/pki-message.js";
import type { CertRepRequest } from "../../message/cert-rep.js";
import { MessageType, messageTypeName } from "../../message/types.js";
import type { ServerContext } from "../context.js";
import type { ScepOperation } from "../events.js";
import type { ResolvedProfile } from "../profile.js";
import { Reply, certRep, failure, text } from "../replies.js";
import { canReceiveKeyTransport, keyAlgorithmName } from "../key-transport.js";
import { unreadableCertificatePart } from "../../x509/certificate.js";
import { unreadableRequestPart } from "../../x509/certification-request.js";

/** The decoded request, or the reply for a message that cannot be decoded. @group Server */
export async function decode(ctx: ServerContext, p: ResolvedProfile, message: Uint8Array): Promise<PkiRequest | Reply> {
  let req: PkiRequest;
  try {
    // Content the server does not read is not decrypted (no CBC padding oracle through it, RFC 5652 §6.3): a CertPoll
    // is answered from its transactionID, a GetCert or GetCRL this profile does not serve is refused unread.
    req = await decodePkiMessage(message, { decrypters: p.decrypters, policy: p.algorithmPolicy, maxSize: ctx.maxBody, skipContentOf: unreadTypes(p), ...(ctx.keyTransports ? { keyTransportGuard: ctx.keyTransports.check } : {}) });
  } catch (e) {
    // A key that could not be used is the server's fault, not the request's: 503, never a FAILURE CertRep.
    if (!isScepError(e) || e.code === "ERR_KEY_UNAVAILABLE") throw e;
    const partial = e.request;
    // Without a senderNonce, only a request whose signature verified is answered (RFC 8894 §3.3.2.2: its FAILURE
    // CertRep then has no recipientNonce); without a transactionID nothing can be (HTTP 400).
    if (partial?.transactionId && (partial.senderNonce || partial.signatureVerified)) {
      // The wire answer is the error's; the event (the operator's side) names the cause of a DecryptError that hides
      // one (content that is no verifying CSR: refused as a bad padding is, so no padding oracle; pki-message.ts).
      const cause: unknown = e.code === "ERR_DECRYPT_FAILED" ? e.cause : undefined;
      const reason = (isScepError(cause) ? cause.code : e.code).replace(/^ERR_/, "").toLowerCase();
      const fr: CertRepRequest = { transactionId: partial.transactionId, senderNonce: partial.senderNonce ?? new Uint8Array() };
      if (partial.digestAlgorithm) fr.digestAlgorithm = partial.digestAlgorithm;
      // Name the operation when the messageType was read and is a request type.
      const name = partial.messageType === undefined ? undefined : messageTypeName(partial.messageType);
      const operation = name && name !== "CertRep" ? { operation: name as ScepOperation } : {};
      return new Reply(await certRep(ctx, p, fr, "FAILURE", { failInfo: e.failInfo, failInfoText: e.message }), "failure", reason, { ...operation, failInfo: e.failInfo, transactionId: partial.transactionId });
    }
    return new Reply(text(400, `malformed PKIOperation: ${e.message}`), "rejected", "decode_error");
  }
  const unreadable = unreadablePart(req);
  if (!unreadable) return req;
  const r = await failure(ctx, p, req, "badRequest", unreadable.reason, unreadable.text);
  return r.with({ operation: req.messageTypeName as ScepOperation, transactionId: req.transactionId });
}

/**
 * Reads every lazily parsed part of the request that the server, a policy or a hook may read: the CSR's subject,
 * commonName and subjectAltNames (RFC 2986, RFC 5280 §4.2.1.6), the signer certificate's subject, issuer and
 * extensions (RFC 5280 §4.1.2.4, §4.2). The first that does not parse, or undefined.
 */
function unreadablePart(req: PkiRequest): { reason: string; text: string } | undefined {
  const csrError = req.csr && unreadableRequestPart(req.csr);
  if (csrError) return { reason: "csr_invalid", text: `the PKCS#10 request's subject or subjectAltName does not parse: ${csrError.message}` };
  const signerError = unreadableCertificatePart(req.signerCertificate);
  if (signerError) return { reason: "signer_certificate_invalid", text: `the signer certificate's names or extensions do not parse: ${signerError.message}` };
  return undefined;
}

/**
 * FAILURE badAlg when the reply could not be encrypted to the requester: its content key is RSA-encrypted to the
 * signer certificate (RFC 8894 §3.3.2, RFC 5652 §6.2.1). Runs for every PKIOperation, before any hook.
 */
export async function requireKeyTransport(ctx: ServerContext, p: ResolvedProfile, req: PkiRequest): Promise<Reply | undefined> {
  const spki = req.signerCertificate.spki;
  if (canReceiveKeyTransport(spki)) return undefined;
  const why = `the reply is encrypted to the signer certificate with RSA key transport (RFC 8894 §3.3.2); the signer certificate holds an ${keyAlgorithmName(spki)} key, which cannot receive it: sign the request with an RSA key`;
  return failure(ctx, p, req, "badAlg", "signer_key_not_rsa", why);
}

const CERT_POLL: readonly MessageType[] = [MessageType.CertPoll];
const CERT_POLL_GET_CRL: readonly MessageType[] = [MessageType.CertPoll, MessageType.GetCRL];
const CERT_POLL_GET_CERT: readonly MessageType[] = [MessageType.CertPoll, MessageType.GetCert];
const CERT_POLL_GET_CERT_GET_CRL: readonly MessageType[] = [MessageType.CertPoll, MessageType.GetCert, MessageType.GetCRL];

/** The message types whose content this profile never reads (see decodePkiMessage's `skipContentOf`). */
function unreadTypes(p: ResolvedProfile): readonly MessageType[] {
  if (p.getCert) return p.getCrl ? CERT_POLL : CERT_POLL_GET_CRL;
  return p.getCrl ? CERT_POLL_GET_CERT : CERT_POLL_GET_CERT_GET_CRL;
}
