/**
 * SCEP authenticated attributes (RFC 8894 §3.2.1): read from and written to a
 * SignerInfo.
 */
import * as der from "../lib/der.js";
import * as oids from "../oids.js";
import type { FailInfo } from "../errors.js";
import { MessageMalformedError } from "../errors.js";
import { attribute } from "../cms/signed-data.js";
import { FAIL_INFO_CODE, failInfoFromCode } from "./types.js";

/** The SCEP attributes of a message. @group Codec */
export interface ScepAttributes {
  /** messageType number. */
  messageType: number;
  /** transactionID. */
  transactionId: string;
  /** senderNonce (16 bytes in practice). */
  senderNonce: Uint8Array;
  /** recipientNonce (CertRep). */
  recipientNonce?: Uint8Array;
  /** pkiStatus (CertRep). */
  pkiStatus?: string;
  /** failInfo (CertRep FAILURE). */
  failInfo?: FailInfo;
  /** failInfo number as sent, when it is not one RFC 8894 defines. */
  failInfoRaw?: string;
  /** failInfoText (RFC 8894). */
  failInfoText?: string;
  /** signingTime, when present. */
  signingTime?: Date;
}

function single(attrs: Map<string, der.Tlv[]>, type: string, name: string): der.Tlv | undefined {
  const v = attrs.get(type);
  if (!v) return undefined;
  if (v.length !== 1) throw new MessageMalformedError(`${name} must have exactly one value`);
  return v[0];
}

const MAX_TRANSACTION_ID = 256;

/**
 * The transactionID attribute (RFC 8894 §3.2.1.1) of a SignerInfo's signed attributes: one value, a string of 1–256
 * characters. Throws {@link MessageMalformedError} `ERR_MESSAGE_MALFORMED` otherwise: no CertRep can answer a request
 * without one. @internal
 */
export function readTransactionId(attrs: Map<string, der.Tlv[]>): string {
  const tid = single(attrs, oids.id_transactionID, "transactionID");
  if (!tid) throw new MessageMalformedError("missing transactionID attribute (RFC 8894 §3.2.1.1): without one no CertRep can answer the request");
  const transactionId = der.readString(tid, "transactionID");
  if (transactionId.length === 0 || transactionId.length > MAX_TRANSACTION_ID) throw new MessageMalformedError("transactionID is empty or too long");
  return transactionId;
}

/**
 * Reads the SCEP attributes from a SignerInfo's signed attributes (RFC 8894 §3.2.1). A missing transactionID is
 * always an error: no FAILURE CertRep can answer a request without one (§3.2.1.1). With `senderNonceOptional`, a
 * missing senderNonce reads as an empty one; with `messageTypeOptional`, a missing messageType reads as 0 (no SCEP
 * messageType), so a server can verify the request before it answers the omission with a FAILURE CertRep.
 * @group Codec
 */
export function readScepAttributes(attrs: Map<string, der.Tlv[]>, options: { senderNonceOptional?: boolean; messageTypeOptional?: boolean } = {}): ScepAttributes {
  return readScepAttributesOf(attrs, readTransactionId(attrs), options);
}

/**
 * The value of a messageType attribute (RFC 8894 §3.2.1.2: a PrintableString of a decimal number, 1 to 3 digits; any
 * string type is read). Throws {@link MessageMalformedError} `ERR_MESSAGE_MALFORMED` for one that is no number, an
 * `Asn1Error` for one that is no string. @internal
 */
export function readMessageType(value: der.Tlv): number {
  const text = der.readString(value, "messageType");
  if (!/^\d{1,3}$/.test(text)) throw new MessageMalformedError("messageType is not a number");
  return Number(text);
}

/** {@link readScepAttributes} with the transactionID already read by {@link readTransactionId}. @internal */
export function readScepAttributesOf(attrs: Map<string, der.Tlv[]>, transactionId: string, options: { senderNonceOptional?: boolean; messageTypeOptional?: boolean } = {}): ScepAttributes {
  const mt = single(attrs, oids.id_messageType, "messageType");
  if (!mt && !options.messageTypeOptional) throw new MessageMalformedError("missing messageType attribute (RFC 8894 §3.2.1.2)");
  const messageType = mt ? readMessageType(mt) : 0;
  const sn = single(attrs, oids.id_senderNonce, "senderNonce");
  if (!sn && !options.senderNonceOptional) throw new MessageMalformedError("missing senderNonce attribute (RFC 8894 §3.2.1.5)");
  const senderNonce = sn ? der.octets(der.expectTag(sn, der.Tag.OCTET_STRING, "senderNonce")).slice() : new Uint8Array();
  if (sn && (senderNonce.length === 0 || senderNonce.length > 64)) throw new MessageMalformedError("senderNonce has a bad length");
  const out: ScepAttributes = { messageType, transactionId, senderNonce };
  const rn = single(attrs, oids.id_recipientNonce, "recipientNonce");
  if (rn) out.recipientNonce = der.octets(der.expectTag(rn, der.Tag.OCTET_STRING, "recipientNonce")).slice();
  const st = single(attrs, oids.id_pkiStatus, "pkiStatus");
  if (st) out.pkiStatus = der.readString(st, "pkiStatus");
  const fi = single(attrs, oids.id_failInfo, "failInfo");
  if (fi) {
    const raw = der.readString(fi, "failInfo");
    const name = failInfoFromCode(raw);
    if (name) out.failInfo = name;
    else out.failInfoRaw = raw;
  }
  // RFC 8894 §3.2.1.4.5: id-scep-failInfoText ::= { id-scep 1 }, a UTF8String. step-ca puts its text under the arc
  // id-scep itself (1.3.6.1.5.5.7.24): read there when the real attribute is absent, so its reason ("wrong password
  // provided") reaches the caller instead of being dropped as an unknown attribute.
  // Only a single string there counts; anything else under the arc is ignored, never a reason to refuse the reply.
  const ft = single(attrs, oids.id_scep_failInfoText, "failInfoText");
  if (ft) out.failInfoText = der.readString(ft, "failInfoText");
  else {
    const arc = attrs.get(oids.id_scep);
    if (arc?.length === 1) {
      try {
        out.failInfoText = der.readString(arc[0]!, "failInfoText");
      } catch {
        // not a string: not step-ca's failInfoText
      }
    }
  }
  const time = single(attrs, oids.id_signingTime, "signingTime");
  if (time) out.signingTime = der.readTime(time, "signingTime");
  return out;
}

/** The signed attributes of a SCEP message (contentType and messageDigest are added by the CMS layer). @group Codec */
export function encodeScepAttributes(a: ScepAttributes): der.Der[] {
  const out = [
    attribute(oids.id_messageType, der.printable(String(a.messageType))),
    attribute(oids.id_transactionID, der.directoryString(a.transactionId)),
    attribute(oids.id_senderNonce, der.octetString(a.senderNonce)),
  ];
  if (a.signingTime) out.push(attribute(oids.id_signingTime, der.time(a.signingTime)));
  if (a.pkiStatus !== undefined) out.push(attribute(oids.id_pkiStatus, der.printable(a.pkiStatus)));
  if (a.recipientNonce) out.push(attribute(oids.id_recipientNonce, der.octetString(a.recipientNonce)));
  if (a.failInfo) out.push(attribute(oids.id_failInfo, der.printable(FAIL_INFO_CODE[a.failInfo])));
  if (a.failInfoText) out.push(attribute(oids.id_scep_failInfoText, der.utf8(a.failInfoText)));
  return out;
}
