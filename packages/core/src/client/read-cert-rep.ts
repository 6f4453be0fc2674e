/**
 * Client side: read, verify and decrypt a CertRep.
 *
 * @module
 */
import * as oids from "../oids.js";
import type { FailInfo } from "../errors.js";
import { Asn1Error, CertRepError, ScepError } from "../errors.js";
import { equalBytes } from "../lib/der.js";
import { uniqueCertificates } from "../lib/unique-ders.js";
import { findNamed, parseSignedData, signerAlgorithms, verifySignerInfo } from "../cms/signed-data.js";
import { openEnvelope, parseEnvelopedData } from "../cms/enveloped-data.js";
import type { Decrypter } from "../keys/key.js";
import { Certificate, unreadableCertificatePart } from "../x509/certificate.js";
import { readScepAttributes } from "../message/attributes.js";
import { isCaInSet } from "../message/certificate-roles.js";
import { MessageType, type PkiStatus, pkiStatusFromCode } from "../message/types.js";

/** Options of {@link readCertRep}. @group Client */
export interface ReadCertRepOptions {
  /** The requester's key: opens a SUCCESS envelope (without it the reply is verified but not opened). */
  decrypter?: Decrypter;
  /**
   * Certificates the reply may be signed by when its SignedData omits the
   * signer (NDES does): the GetCACert set.
   */
  caCertificates?: readonly (Certificate | Uint8Array | string)[];
  /**
   * When given (a pinned client passes the GetCACert certificates that chain
   * to its pin), the reply's signer must be one of these certificates or be
   * issued by one of them (signature checked); otherwise {@link CertRepError}.
   */
  trustedSigners?: readonly Certificate[];
  /** The request answered: transactionID and senderNonce are checked against it. */
  request?: { transactionId: string; senderNonce: Uint8Array };
  /**
   * The SubjectPublicKeyInfo (DER) of the key the certificate was requested
   * for (`csr.spki`): on SUCCESS, {@link CertRep.certificate} is the
   * certificate for that key, and a reply without one is a {@link CertRepError}.
   */
  requestedKey?: Uint8Array;
}

/** A read CertRep. @group Client */
export interface CertRep {
  /** SUCCESS, FAILURE or PENDING. */
  status: PkiStatus;
  /** FAILURE: reason code. */
  failInfo?: FailInfo;
  /** FAILURE: reason text, when the server sent one. */
  failInfoText?: string;
  /** transactionID. */
  transactionId: string;
  /** senderNonce of the reply (empty when the server sent none, as old micromdm servers do). */
  senderNonce: Uint8Array;
  /** recipientNonce (the request's senderNonce). */
  recipientNonce?: Uint8Array;
  /** The certificate that signed the reply. */
  signerCertificate: Certificate;
  /** The digest of the reply's SignerInfo. */
  digestAlgorithm: string;
  /**
   * SUCCESS: the issued certificate, found by role, not by position: the one
   * for `requestedKey` when given, else the end-entity certificate (not a CA,
   * issuer of none of the others). Undefined when no decrypter was given.
   */
  certificate?: Certificate;
  /** SUCCESS: every certificate of the reply, in the order the server sent them (a SET OF: servers differ); empty when no decrypter was given. */
  certificates: Certificate[];
  /** SUCCESS to GetCRL: CRLs, DER. */
  crls: Uint8Array[];
  /** SUCCESS: the content cipher of the envelope. */
  contentCipher?: string;
  /** SUCCESS: the key transport of the envelope. */
  keyTransport?: string | undefined;
}

/** The issued certificate of a SUCCESS reply: by key when known, else the end entity of the set. */
function issuedCertificate(certificates: readonly Certificate[], requestedKey: Uint8Array | undefined): Certificate | undefined {
  if (requestedKey) return certificates.find((c) => equalBytes(c.spki, requestedKey));
  // A server that names the issued certificate twice (a full chain after the leaf) still names one end entity.
  const leaves = uniqueCertificates(certificates.filter((c) => !isCaInSet(c, certificates)));
  return leaves.length === 1 ? leaves[0] : undefined;
}

/**
 * CertRepError `ERR_CERTREP` when a part of a certificate the reply carries that is parsed only when first read (names,
 * subjectAltName, keyUsage, basicConstraints, subjectKeyIdentifier) does not parse: refused here, not by a getter the
 * caller reads later.
 */
function readable(certificate: Certificate, what: string): void {
  const e = unreadableCertificatePart(certificate);
  if (e) throw new CertRepError(`the CertRep's ${what} has names or extensions that do not parse: ${e.message}`, { cause: e });
}


/**
 * Reads a CertRep: verifies its signature (against the signer certificate in
 * the message, or one of `caCertificates`), checks transactionID and
 * recipientNonce against the request (a FAILURE without recipientNonce is reported: a server answers so a request
 * whose senderNonce it could not read, RFC 8894 §3.3.2.2; a SUCCESS or PENDING must carry it), and on SUCCESS
 * decrypts the envelope. The names and extensions of the
 * signer certificate and of every certificate of a SUCCESS are read here, so the certificates returned never
 * throw from a getter later.
 *
 * @throws CertRepError `ERR_CERTREP` (a reply that does not verify or match the request, or whose decrypted
 * certificates-only SignedData or a certificate of it does not parse, names and extensions included), or another
 * ScepError (`ERR_ASN1` for bad DER outside the envelope, …).
 *
 * @example
 * ```ts
 * import { writeFileSync } from "node:fs";
 * import { ScepClient, buildPkcsReq, createSelfSignedSigner, generateCsr, generateRsaKeyPair, readCertRep, selectRecipient } from "@scep/core";
 *
 * const client = new ScepClient({ url: "http://127.0.0.1:8080/scep" });
 * const caCertificates = await client.getCaCert();
 * const keys = await generateRsaKeyPair();
 * const signer = await createSelfSignedSigner({ keys, subject: "CN=device-42" });
 * const csr = await generateCsr({ keys, subject: "CN=device-42", challengePassword: "secret" });
 * const built = await buildPkcsReq({ csr, signer, recipient: selectRecipient(caCertificates) });
 * const body = await client.pkiOperation(built.der);
 * const rep = await readCertRep(body, { decrypter: signer, caCertificates, request: built });
 * if (rep.status === "SUCCESS") writeFileSync("cert.pem", rep.certificate!.toPem());
 * ```
 * @group Client
 */
export async function readCertRep(bytes: Uint8Array, options: ReadCertRepOptions = {}): Promise<CertRep> {
  try {
    const sd = parseSignedData(bytes);
    const si = sd.signerInfos[0];
    if (!si || sd.signerInfos.length !== 1) throw new CertRepError("a CertRep has exactly one SignerInfo");
    const candidates = [...sd.certificates, ...(options.caCertificates ?? []).map((c) => Certificate.from(c))];
    // A pinned client looks among the certificates that chain to its pin first (another certificate may carry the same key
    // identifier); byte for byte in both lists before a serial by value in either (findSigner's order).
    const trusted = options.trustedSigners ?? [];
    const signer =
      findNamed(si.sid, trusted, false) ?? findNamed(si.sid, candidates, false) ?? findNamed(si.sid, trusted, true) ?? findNamed(si.sid, candidates, true);
    if (!signer) throw new CertRepError("the CertRep's signer certificate is neither in the message nor among the CA certificates");
    readable(signer, "signer certificate");
    if (options.trustedSigners && !options.trustedSigners.some((t) => equalBytes(t.der, signer.der) || (t.isCa && signer.isIssuedBy(t)))) {
      throw new CertRepError(`the CertRep is signed by ${signer.subject}, which does not chain to the pinned CA`);
    }
    verifySignerInfo(si, signer, sd.content ?? new Uint8Array());
    const attrs = readScepAttributes(si.attributes, { senderNonceOptional: true });
    if (attrs.messageType !== MessageType.CertRep) throw new CertRepError(`expected a CertRep, got messageType ${attrs.messageType}`);
    const status = pkiStatusFromCode(attrs.pkiStatus ?? "");
    if (!status) throw new CertRepError(`unknown pkiStatus ${attrs.pkiStatus ?? "(missing)"}`);
    if (options.request) {
      if (attrs.transactionId !== options.request.transactionId) throw new CertRepError("the CertRep's transactionID does not match the request");
      // A FAILURE may come without recipientNonce: a server answers so a request it could not read the nonce of
      // (RFC 8894 §3.3.2.2), and a FAILURE hands over nothing, so its signed failInfo is worth reporting. A nonce
      // that is there must match; SUCCESS and PENDING must carry it.
      const unbound = !attrs.recipientNonce && status === "FAILURE";
      if (!unbound && (!attrs.recipientNonce || !equalBytes(attrs.recipientNonce, options.request.senderNonce))) {
        throw new CertRepError("the CertRep's recipientNonce does not match the request's senderNonce");
      }
    }
    const out: CertRep = {
      status,
      transactionId: attrs.transactionId,
      senderNonce: attrs.senderNonce,
      signerCertificate: signer,
      digestAlgorithm: signerAlgorithms(si).digest,
      certificates: [],
      crls: [],
    };
    if (attrs.recipientNonce) out.recipientNonce = attrs.recipientNonce;
    if (status === "FAILURE") {
      out.failInfo = attrs.failInfo ?? "badRequest";
      if (attrs.failInfoText) out.failInfoText = attrs.failInfoText;
    }
    if (status === "SUCCESS") {
      // An empty eContent is no envelope either (Dogtag sent SUCCESS so to a request awaiting approval).
      if (!sd.content || sd.content.length === 0 || sd.contentType !== oids.id_data) throw new CertRepError("a SUCCESS CertRep without pkcsPKIEnvelope");
      const env = parseEnvelopedData(sd.content);
      out.contentCipher = env.cipher;
      out.keyTransport = env.recipients[0]?.transport;
      if (options.decrypter) {
        const opened = (await openEnvelope(env, [options.decrypter])).content;
        let inner: ReturnType<typeof parseSignedData>;
        try {
          inner = parseSignedData(opened);
        } catch (e) {
          // The envelope opened, so this is the CA's own content: say whose bytes did not parse.
          if (e instanceof Asn1Error) throw new CertRepError(`the SUCCESS CertRep's certificates do not parse: ${e.message}`, { cause: e });
          throw e;
        }
        inner.certificates.forEach((c, i) => readable(c, `certificate ${i + 1}`));
        out.certificates = inner.certificates;
        out.crls = inner.crls;
        const issued = issuedCertificate(inner.certificates, options.requestedKey);
        if (issued) out.certificate = issued;
        else if (options.requestedKey && inner.certificates.length > 0) throw new CertRepError("the SUCCESS CertRep holds no certificate for the requested key");
      }
    }
    return out;
  } catch (e) {
    if (e instanceof ScepError) throw e;
    throw new CertRepError("malformed CertRep", { cause: e });
  }
}
