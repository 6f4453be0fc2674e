/**
 * CMS EnvelopedData (RFC 5652 §6) with KeyTransRecipientInfo: read, open with
 * one of several {@link Decrypter}s, and write.
 */
import * as der from "../lib/der.js";
import * as oids from "../oids.js";
import * as nc from "../lib/node-crypto.js";
import { type ContentCipher, type DigestAlgorithm, type KeyTransport, CIPHERS, DIGEST_OID, cipherFromOid, describeAlgorithmOid, digestFromOid } from "../algorithms.js";
import { DecryptError, MessageMalformedError, NoRecipientError, UnsupportedAlgorithmError } from "../errors.js";
import type { Decrypter } from "../keys/key.js";
import { type Certificate, publicKeyOf } from "../x509/certificate.js";
import { type SignerIdentifier, findNamed, unwrapContentInfo } from "./signed-data.js";

/**
 * One KeyTransRecipientInfo.
 *
 * ```asn
 * KeyTransRecipientInfo ::= SEQUENCE { version CMSVersion,
 *   rid RecipientIdentifier, keyEncryptionAlgorithm KeyEncryptionAlgorithmIdentifier,
 *   encryptedKey EncryptedKey }
 * ```
 * @group Codec
 */
export interface ParsedRecipient {
  /** Which certificate the key was encrypted to. */
  rid: SignerIdentifier;
  /** Key transport. */
  transport: KeyTransport;
  /** OAEP hash, for RSAES-OAEP. */
  oaepHash?: DigestAlgorithm;
  /** The encrypted content-encryption key. */
  encryptedKey: Uint8Array;
}

/** An EnvelopedData as read from the wire. @group Codec */
export interface ParsedEnvelopedData {
  /** The key-transport recipients (other RecipientInfo kinds are skipped). */
  recipients: ParsedRecipient[];
  /**
   * The RecipientInfo kinds skipped (RFC 5652 §6.2: `KeyAgreeRecipientInfo`, `KEKRecipientInfo`,
   * `PasswordRecipientInfo`, `OtherRecipientInfo`), each once, for the error when no key-transport recipient is ours.
   */
  skippedRecipientKinds?: string[];
  /** Content cipher. */
  cipher: ContentCipher;
  /** CBC IV. */
  iv: Uint8Array;
  /** Encrypted content octets. */
  encryptedContent: Uint8Array;
}

function readOaepHash(params: der.Tlv | undefined): DigestAlgorithm {
  let hash: DigestAlgorithm = "sha1";
  let mgfHash: DigestAlgorithm = "sha1";
  if (params && params.tag === der.Tag.SEQUENCE) {
    for (const f of der.children(params)) {
      if (f.tag === 0xa0) hash = digestFromOid(der.readOid(der.children(der.explicit(f, 0, "hashAlgorithm"))[0]));
      else if (f.tag === 0xa1) {
        const [mgfOid, mgfParams] = der.children(der.explicit(f, 1, "maskGenAlgorithm"));
        if (der.readOid(mgfOid) !== oids.id_mgf1) throw new UnsupportedAlgorithmError("OAEP with a mask generation function other than MGF1");
        if (mgfParams) mgfHash = digestFromOid(der.readOid(der.children(mgfParams)[0]));
      } else if (f.tag === 0xa2) throw new UnsupportedAlgorithmError("OAEP with a pSourceAlgorithm label");
    }
  }
  if (hash !== mgfHash) throw new UnsupportedAlgorithmError("OAEP with an MGF1 hash different from the OAEP hash");
  return hash;
}

/** RFC 5652 §6.2 RecipientInfo CHOICE tags other than KeyTransRecipientInfo's SEQUENCE. */
const OTHER_RECIPIENT_KINDS: Readonly<Record<number, string>> = {
  0xa1: "KeyAgreeRecipientInfo (ECDH/DH key agreement)",
  0xa2: "KEKRecipientInfo (a pre-shared key-encryption key)",
  0xa3: "PasswordRecipientInfo",
  0xa4: "OtherRecipientInfo",
};

function readRecipient(t: der.Tlv): ParsedRecipient | undefined {
  if (t.tag !== der.Tag.SEQUENCE) return undefined; // kari [1], kekri [2], pwri [3], ori [4]
  const [, ridT, algT, keyT] = der.children(t);
  let rid: SignerIdentifier;
  if (ridT?.tag === der.Tag.SEQUENCE) {
    const [issuer, serial] = der.children(ridT);
    rid = { issuer: der.raw(der.expectTag(issuer, der.Tag.SEQUENCE, "rid issuer")), serialNumber: der.content(der.expectTag(serial, der.Tag.INTEGER, "rid serial")) };
  } else if (ridT?.tag === 0x80) rid = { subjectKeyIdentifier: der.content(ridT) };
  else throw new MessageMalformedError("RecipientIdentifier: unknown choice");
  const [algOid, params] = der.children(der.expectTag(algT, der.Tag.SEQUENCE, "keyEncryptionAlgorithm"));
  const o = der.readOid(algOid, "keyEncryptionAlgorithm");
  const encryptedKey = der.octets(der.expectTag(keyT, der.Tag.OCTET_STRING, "encryptedKey"));
  if (o === oids.id_rsaEncryption) return { rid, transport: "rsaes-pkcs1-v1_5", encryptedKey };
  if (o === oids.id_RSAES_OAEP) return { rid, transport: "rsaes-oaep", oaepHash: readOaepHash(params), encryptedKey };
  throw new UnsupportedAlgorithmError(`unsupported key transport ${describeAlgorithmOid(o)}`);
}

/**
 * Reads a ContentInfo holding EnvelopedData.
 *
 * ```asn
 * EnvelopedData ::= SEQUENCE { version CMSVersion,
 *   originatorInfo [0] IMPLICIT OriginatorInfo OPTIONAL,
 *   recipientInfos RecipientInfos,
 *   encryptedContentInfo EncryptedContentInfo,
 *   unprotectedAttrs [1] IMPLICIT UnprotectedAttributes OPTIONAL }
 * ```
 * @group Codec
 */
export function parseEnvelopedData(bytes: Uint8Array): ParsedEnvelopedData {
  const f = der.expect(unwrapContentInfo(bytes, oids.id_envelopedData, "EnvelopedData"), der.Tag.SEQUENCE, "EnvelopedData");
  let i = 1;
  if (f[i]?.tag === 0xa0) i++;
  const recipients: ParsedRecipient[] = [];
  let skipped: string[] | undefined;
  for (const t of der.expect(f[i++]!, der.Tag.SET, "RecipientInfos")) {
    const r = readRecipient(t);
    if (r !== undefined) recipients.push(r);
    else {
      const kind = OTHER_RECIPIENT_KINDS[t.tag] ?? "an unknown RecipientInfo";
      if (!skipped?.includes(kind)) (skipped ??= []).push(kind);
    }
  }
  const eci = der.expect(f[i]!, der.Tag.SEQUENCE, "EncryptedContentInfo");
  const [algOid, ivT] = der.children(der.expectTag(eci[1], der.Tag.SEQUENCE, "contentEncryptionAlgorithm"));
  const cipher = cipherFromOid(der.readOid(algOid, "contentEncryptionAlgorithm"));
  const iv = der.octets(der.expectTag(ivT, der.Tag.OCTET_STRING, "IV"));
  if (iv.length !== CIPHERS[cipher].ivLength) throw new MessageMalformedError(`${cipher}: IV must be ${CIPHERS[cipher].ivLength} bytes`);
  const ec = eci[2];
  if (!ec || (ec.tag !== 0x80 && ec.tag !== 0xa0)) throw new MessageMalformedError("EnvelopedData without encrypted content");
  const encryptedContent = ec.tag === 0x80 ? der.content(ec) : der.octets(ec);
  return skipped ? { recipients, skippedRecipientKinds: skipped, cipher, iv, encryptedContent } : { recipients, cipher, iv, encryptedContent };
}

/** What {@link openEnvelope} returns. @group Codec */
export interface OpenedEnvelope {
  /** The decrypted content. */
  content: Uint8Array;
  /** The key that opened it. */
  decrypter: Decrypter;
  /** The recipient entry that matched. */
  recipient: ParsedRecipient;
}

/**
 * Opens an envelope with the first decrypter whose certificate a
 * RecipientInfo names (issuer and serial, or subject key identifier). Any
 * decryption failure is one {@link DecryptError}, whatever its cause.
 * @group Codec
 */
export async function openEnvelope(env: ParsedEnvelopedData, decrypters: readonly Decrypter[]): Promise<OpenedEnvelope> {
  const { recipient, decrypter } = findRecipient(env, decrypters);
  return openRecipient(env, recipient, decrypter);
}

/**
 * {@link openEnvelope} for the recipient and key {@link findRecipient} already chose: unwraps the content key with
 * `decrypter` and decrypts the content. Any decryption failure is one {@link DecryptError}.
 * @internal
 */
export async function openRecipient(
  env: ParsedEnvelopedData,
  recipient: ParsedRecipient,
  decrypter: Decrypter,
): Promise<OpenedEnvelope> {
  const keyLength = CIPHERS[env.cipher].keyLength;
  const params = recipient.oaepHash ? { transport: recipient.transport, keyLength, oaepHash: recipient.oaepHash } : { transport: recipient.transport, keyLength };
  const cek = await decrypter.decrypt(recipient.encryptedKey, params);
  if (cek.length !== keyLength) throw new DecryptError("could not decrypt the envelope");
  return { content: nc.decryptContent(env.cipher, cek, env.iv, env.encryptedContent), decrypter, recipient };
}

/**
 * The first RecipientInfo that names a configured key (issuer and serial, or subject key identifier, as
 * {@link findSigner} matches them: a serial by value only when no recipient names a key byte for byte), and that key,
 * without decrypting anything: what {@link openEnvelope} would open it with.
 * @throws NoRecipientError `ERR_NO_RECIPIENT` when none does; UnsupportedAlgorithmError `ERR_UNSUPPORTED_ALGORITHM`
 *   (failInfo badAlg) when the envelope has no key-transport recipient at all, only kinds SCEP does not use
 *   (KeyAgreeRecipientInfo, KEKRecipientInfo, PasswordRecipientInfo).
 * @internal
 */
export function findRecipient(env: ParsedEnvelopedData, decrypters: readonly Decrypter[]): { recipient: ParsedRecipient; decrypter: Decrypter } {
  // Byte for byte first, over every recipient; then a serial number by value (as findSigner matches).
  for (const byValue of [false, true]) {
    for (const recipient of env.recipients) {
      const decrypter = decrypters.find((d) => findNamed(recipient.rid, [d.certificate], byValue) !== undefined);
      if (decrypter) return { recipient, decrypter };
    }
  }
  const skipped = env.skippedRecipientKinds;
  if (skipped !== undefined && env.recipients.length === 0) {
    throw new UnsupportedAlgorithmError(`the envelope has no KeyTransRecipientInfo, only ${skipped.join(", ")}: SCEP encrypts the content key to the CA's RSA key (RFC 8894 §3.2.2)`);
  }
  throw new NoRecipientError(
    skipped === undefined
      ? "the envelope is not encrypted to any configured key"
      : `the envelope is not encrypted to any configured key; it also holds ${skipped.join(", ")}, which SCEP does not use (RFC 8894 §3.2.2: key transport to the CA's RSA key)`,
  );
}

/** Options of {@link buildEnvelopedData}. @group Codec */
export interface BuildEnvelopedDataOptions {
  /** Content to encrypt: bytes, or an encoding under construction (written into a reused buffer, encrypted there). */
  content: der.Der;
  /** Recipient certificate (RSA). */
  recipient: Certificate;
  /** Content cipher. */
  cipher: ContentCipher;
  /** Key transport (default RSAES-PKCS1-v1_5, what every SCEP peer reads). */
  transport?: KeyTransport;
  /** OAEP hash (default SHA-1). */
  oaepHash?: DigestAlgorithm;
}

/**
 * Sets the low bit of each byte of a DES or Triple-DES key so that the byte has an odd number of set bits (FIPS 46-3,
 * SP 800-67: the parity bits), in place. The cipher ignores those bits, but a PKCS#11 token or smart card that unwraps
 * the key may refuse one without odd parity (dogtagpki/pki#8); OpenSSL draws its DES keys the same way.
 */
function setOddParity(key: Uint8Array): void {
  for (let i = 0; i < key.length; i++) {
    let b = key[i]! & 0xfe;
    let ones = 0;
    for (let v = b; v !== 0; v >>= 1) ones += v & 1;
    if (ones % 2 === 0) b |= 1;
    key[i] = b;
  }
}

/** Writes a ContentInfo holding EnvelopedData, DER. @group Codec */
export function buildEnvelopedData(options: BuildEnvelopedDataOptions): Uint8Array {
  return der.encode(envelopedData(options));
}

/**
 * {@link buildEnvelopedData}, not yet written: the content is encrypted and the key wrapped now, and `der.encode` (or
 * a writer it is nested in) gives the ContentInfo's DER. The content key is zeroed once it is wrapped.
 * @internal
 */
export function envelopedData(options: BuildEnvelopedDataOptions): der.DerElement {
  const { content, recipient, cipher } = options;
  const transport = options.transport ?? "rsaes-pkcs1-v1_5";
  const info = CIPHERS[cipher];
  const oaepHash = options.oaepHash ?? "sha1";
  const iv = new Uint8Array(info.ivLength); // written out below; the key is not kept
  // Key and IV drawn at once from the pool of CSPRNG output (each CSPRNG call has a fixed cost), into memory that is
  // zeroed once the content is encrypted and the key wrapped.
  const [encrypted, encryptedKey] = nc.withSecretBytes(info.keyLength + info.ivLength, (keyAndIv) => {
    nc.randomFill(keyAndIv);
    const key = keyAndIv.subarray(0, info.keyLength);
    if (cipher === "des" || cipher === "des3") setOddParity(key);
    const ivBytes = keyAndIv.subarray(info.keyLength);
    iv.set(ivBytes);
    const parts = der.withEncoding(content, (plain) => nc.encryptContentParts(cipher, key, ivBytes, plain));
    return [parts, nc.rsaEncrypt(publicKeyOf(recipient), transport, key, oaepHash)] as const;
  });
  const keyAlg =
    transport === "rsaes-oaep"
      ? oaepHash === "sha1"
        ? der.algId(oids.id_RSAES_OAEP, der.seq())
        : der.algId(
            oids.id_RSAES_OAEP,
            der.seq(der.ctx(0, der.algId(DIGEST_OID[oaepHash], der.NULL)), der.ctx(1, der.algId(oids.id_mgf1, der.algId(DIGEST_OID[oaepHash], der.NULL)))),
          )
      : der.algId(oids.id_rsaEncryption, der.NULL);
  // IssuerAndSerialNumber, written now (a requester's certificate is new for each reply: no encoding of it to cache).
  // Bytes of our own: a buildSignedData hashes this envelope before it awaits the signer and writes it after, so no
  // byte of it may be one of the caller's, which could change in between.
  const rid = der.encode(der.seq(recipient.issuerDer, der.tlv(der.Tag.INTEGER, recipient.serialNumber)));
  const ktri = der.seq(der.int(0), rid, keyAlg, der.octetString(encryptedKey));
  const eci = der.seq(der.oid(oids.id_data), der.algId(info.oid, der.octetString(iv)), der.tlv(0x80, ...encrypted));
  const env = der.seq(der.int(0), der.tlv(der.Tag.SET, ktri), eci);
  return der.seq(der.oid(oids.id_envelopedData), der.ctx(0, env));
}
