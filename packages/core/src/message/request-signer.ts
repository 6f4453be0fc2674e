/**
 * Who signed a PKIMessage, checked without opening its envelope (RFC 8894 §3.2): for a relay that holds no CA key
 * (`@scep/proxy`) and must tell a client's re-send of its own request (§3.3.1, §3.3.3) from a message someone else
 * made.
 *
 * @module
 */
import * as oids from "../oids.js";
import { findSigner, parseSignedData, signerAlgorithms, verifySignerInfo } from "../cms/signed-data.js";
import type { Certificate } from "../x509/certificate.js";
import { readScepAttributesOf, readTransactionId } from "./attributes.js";

/** What {@link verifyRequestSigner} found: the signed SCEP attributes and the certificate whose key signed them. @group Codec */
export interface VerifiedRequestSigner {
  /** The signed messageType (RFC 8894 §3.2.1.2), e.g. 19 for PKCSReq. */
  messageType: number;
  /** The signed transactionID (RFC 8894 §3.2.1.1). */
  transactionId: string;
  /** The certificate the SignerInfo names (RFC 5652 §5.3 sid) and whose key verified the signature; its chain is not checked. */
  signerCertificate: Certificate;
}

/**
 * Verifies a PKIMessage's signature without opening its pkcsPKIEnvelope (which only the CA can): the SignedData
 * (RFC 5652 §5, BER accepted) has one SignerInfo with signed attributes; its messageDigest matches the encapsulated
 * content (the envelope, as sent) and its signature verifies with the key of the certificate its `sid` names among the
 * message's certificates (the rule `decodePkiMessage` applies); its transactionID and messageType are read from the
 * signed attributes. So the answer says that the holder of that certificate's private key signed this transactionID,
 * messageType and envelope. No algorithm policy is applied (any digest and signature Node verifies), and the
 * certificate's validity, chain and self-signature are not checked: the CA that opens the message decides those.
 *
 * @param bytes - A PKIMessage (ContentInfo of SignedData), DER or BER.
 * @returns The signed messageType, transactionID and signer certificate; undefined when the bytes are not such a
 *   message, an attribute is missing or unreadable, the signer certificate is not in the message, or the digest or
 *   signature does not verify. Never throws.
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { MessageType, publicKeyThumbprint, verifyRequestSigner } from "@scep/core";
 *
 * const signed = verifyRequestSigner(readFileSync("request.p7"));
 * if (signed?.messageType === MessageType.PKCSReq) console.log(signed.transactionId, publicKeyThumbprint(signed.signerCertificate.spki));
 * ```
 * @group Codec
 */
export function verifyRequestSigner(bytes: Uint8Array): VerifiedRequestSigner | undefined {
  try {
    const sd = parseSignedData(bytes);
    const si = sd.signerInfos.length === 1 ? sd.signerInfos[0] : undefined;
    if (!si?.signedAttrs || !sd.content || sd.contentType !== oids.id_data || !si.attributes.has(oids.id_messageType)) return undefined;
    const transactionId = readTransactionId(si.attributes);
    const { messageType } = readScepAttributesOf(si.attributes, transactionId, { senderNonceOptional: true });
    const signer = findSigner(si.sid, sd.certificates);
    if (!signer) return undefined;
    verifySignerInfo(si, signer, sd.content, signerAlgorithms(si));
    return { messageType, transactionId, signerCertificate: signer };
  } catch {
    return undefined;
  }
}
