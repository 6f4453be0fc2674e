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

/** What goes into one PKCSReq built around a chosen key transport. */
export interface CraftedParts {
  cipher: ContentCipher;
  /** The content-encryption IV. */
  iv: Uint8Array;
  /** The requester's CSR encrypted under the content key and `iv`. */
  encrypted: Uint8Array;
  /** The RSA key transport's ciphertext, as crafted (need not hold the content key). */
  encryptedKey: Uint8Array;
  transactionId: string;
  senderNonce: Uint8Array;
  now: Date;
}

/** A PKCSReq signed by `requester` whose envelope to `ca` carries exactly `parts` (no check of the key transport). */
export async function signedPkcsReq(ca: LocalKey, requester: OracleRequester, parts: CraftedParts): Promise<Uint8Array> {
  const info = CIPHERS[parts.cipher];
  const ktri = der.seq(der.int(0), ca.certificate.issuerAndSerialNumber(), der.algId(oids.id_rsaEncryption, der.NULL), der.octetString(parts.encryptedKey));
  const eci = der.seq(der.oid(oids.id_data), der.algId(info.oid, der.octetString(parts.iv)), der.tlv(0x80, parts.encrypted));
  const envelope = der.encode(der.seq(der.oid(oids.id_envelopedData), der.ctx(0, der.seq(der.int(0), der.tlv(der.Tag.SET, ktri), eci))));
  return buildSignedData({
    content: envelope,
    certificates: [requester.signer.certificate.der],
    signer: requester.signer,
    digest: "sha256",
    signatureAlgorithm: { scheme: "rsa-pkcs1", digest: "sha256", rsaOid: "withDigest" },
    attributes: encodeScepAttributes({ messageType: MessageType.PKCSReq, transactionId: parts.transactionId, senderNonce: parts.senderNonce, signingTime: parts.now }),
  });
}

/**
 * A PKCSReq whose key transport is `craft(contentKey)`, redrawn (at most `attempts` times) until the key `ca` derives
 * from it fails the CBC padding (see the module comment), so the request fails where a wrong key fails.
 */
export async function craftedPkcsReq(
  ca: LocalKey,
  requester: OracleRequester,
  craft: (cek: Uint8Array) => Uint8Array,
  options: { cipher: ContentCipher; transactionId: string; senderNonce: Uint8Array; now: Date; attempts: number },
): Promise<Uint8Array | undefined> {
  const { cipher } = options;
  const info = CIPHERS[cipher];
  for (let attempt = 0; attempt < options.attempts; attempt++) {
    const cek = nc.randomBytes(info.keyLength);
    const iv = nc.randomBytes(info.ivLength);
    const encrypted = nc.encryptContent(cipher, cek, iv, requester.csr);
    const encryptedKey = craft(cek);
    const seen = await ca.decrypt(encryptedKey, { transport: "rsaes-pkcs1-v1_5", keyLength: info.keyLength });
    try {
      nc.decryptContent(cipher, seen, iv, encrypted);
      continue; // the wrong key happened to unpad: redraw
    } catch {
      /* fails the CBC padding, as wanted */
    }
    return signedPkcsReq(ca, requester, { cipher, iv, encrypted, encryptedKey, transactionId: options.transactionId, senderNonce: options.senderNonce, now: options.now });
  }
  return undefined;
}

/** Builds one message of `kind`; the same transactionID and senderNonce for every message, so replies have one size. */
export async function oracleMessage(ca: LocalKey, requester: OracleRequester, kind: OracleKind, options: { cipher?: ContentCipher; transactionId?: string; now?: Date } = {}): Promise<Uint8Array> {
  const cipher = options.cipher ?? "aes256";
  const publicKey = nc.publicKeyFromSpki(ca.certificate.spki);
  const k = nc.rsaModulusBytes(publicKey);
  const craft = (cek: Uint8Array): Uint8Array =>
    kind === "bad-padding"
      ? publicEncrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, badBlock(k, cek))
      : publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, randomBytes(cek.length));
  const message = await craftedPkcsReq(ca, requester, craft, {
    cipher,
    transactionId: options.transactionId ?? "ORACLE-PROBE",
    senderNonce: new Uint8Array(16).fill(7),
    now: options.now ?? new Date("2026-01-15T12:00:00Z"),
    attempts: 256,
  });
  if (!message) throw new Error(`could not craft a ${kind} message whose derived key fails the CBC padding`);
  return message;
}
