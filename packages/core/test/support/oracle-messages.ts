/**
 * PKCSReq messages for the padding-oracle checks (issue 12 §4): validly
 * signed by the requester, with an RSAES-PKCS1-v1_5 key transport to the CA
 * that is either badly padded (Bleichenbacher's probe) or well padded around
 * the wrong content key. Used by server.padding-oracle.test.ts (same answer)
 * and bench/padding-oracle.ts (same timing).
 *
 * A content key that is not the right one opens AES-CBC with a valid-looking
 * padding about once in 256 tries (and the CSR parse fails instead: no
 * oracle, but a different path to time). Each message is therefore redrawn
 * until the key the CA derives from it fails the CBC padding, so both kinds
 * take the same path and differ only in the RSA padding.
 */
import { constants, publicEncrypt, randomBytes } from "node:crypto";
import { CIPHERS, type ContentCipher, type LocalKey } from "../../src/index.js";
import { buildSignedData } from "../../src/cms/signed-data.js";
import { encodeScepAttributes } from "../../src/message/attributes.js";
import { MessageType } from "../../src/message/types.js";
import * as der from "../../src/lib/der.js";
import * as nc from "../../src/lib/node-crypto.js";
import * as oids from "../../src/oids.js";

/** What an oracle message gets wrong. */
export type OracleKind = "bad-padding" | "wrong-key";

/** The requester that signs the messages. */
export interface OracleRequester {
  signer: LocalKey;
  /** Its CSR, DER (the encrypted content). */
  csr: Uint8Array;
}

/** A PKCS#1 v1.5 encryption block of type 1 (signature padding) around `message`: a padding error for decryption. */
function badBlock(k: number, message: Uint8Array): Uint8Array {
  const em = new Uint8Array(k);
  em[1] = 0x01;
  em.fill(0xff, 2, k - message.length - 1);
  em.set(message, k - message.length);
  return em;
}

/** Builds one message of `kind`; the same transactionID and senderNonce for every message, so replies have one size. */
export async function oracleMessage(ca: LocalKey, requester: OracleRequester, kind: OracleKind, options: { cipher?: ContentCipher; transactionId?: string; now?: Date } = {}): Promise<Uint8Array> {
  const cipher = options.cipher ?? "aes256";
  const info = CIPHERS[cipher];
  const publicKey = nc.publicKeyFromSpki(ca.certificate.spki);
  const k = nc.rsaModulusBytes(publicKey);
  for (let attempt = 0; attempt < 256; attempt++) {
    const cek = nc.randomBytes(info.keyLength);
    const iv = nc.randomBytes(info.ivLength);
    const encrypted = nc.encryptContent(cipher, cek, iv, requester.csr);
    const encryptedKey =
      kind === "bad-padding"
        ? publicEncrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, badBlock(k, cek))
        : publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, randomBytes(info.keyLength));
    const seen = await ca.decrypt(encryptedKey, { transport: "rsaes-pkcs1-v1_5", keyLength: info.keyLength });
    try {
      nc.decryptContent(cipher, seen, iv, encrypted);
      continue; // the wrong key happened to unpad: redraw (see the module comment)
    } catch {
      /* fails the CBC padding, as wanted */
    }
    const ktri = der.seq(der.int(0), ca.certificate.issuerAndSerialNumber(), der.algId(oids.id_rsaEncryption, der.NULL), der.octetString(encryptedKey));
    const eci = der.seq(der.oid(oids.id_data), der.algId(info.oid, der.octetString(iv)), der.tlv(0x80, encrypted));
    const envelope = der.encode(der.seq(der.oid(oids.id_envelopedData), der.ctx(0, der.seq(der.int(0), der.tlv(der.Tag.SET, ktri), eci))));
    return buildSignedData({
      content: envelope,
      certificates: [requester.signer.certificate.der],
      signer: requester.signer,
      digest: "sha256",
      signatureAlgorithm: { scheme: "rsa-pkcs1", digest: "sha256", rsaOid: "withDigest" },
      attributes: encodeScepAttributes({ messageType: MessageType.PKCSReq, transactionId: options.transactionId ?? "ORACLE-PROBE", senderNonce: new Uint8Array(16).fill(7), signingTime: options.now ?? new Date("2026-01-15T12:00:00Z") }),
    });
  }
  throw new Error(`could not craft a ${kind} message whose derived key fails the CBC padding`);
}
