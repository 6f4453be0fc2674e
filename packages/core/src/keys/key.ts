/**
 * Keys: the {@link Signer} and {@link Decrypter} interfaces CA/RA keys are used
 * through (so they can live in an HSM or a KMS), and {@link LocalKey}, the
 * default implementation over a PEM or CryptoKey private key.
 *
 * @module
 */
import type { DigestAlgorithm, KeyTransport, SignatureAlgorithm } from "../algorithms.js";
import { Certificate } from "../x509/certificate.js";
import { DecryptError, InvalidArgumentError, KeyError, KeyPassphraseError, UnsupportedAlgorithmError } from "../errors.js";
import type { KeyUnavailableError } from "../errors.js";
import * as nc from "../lib/node-crypto.js";
import * as der from "../lib/der.js";
import { fromPem, pemTextOf } from "../encoding.js";
import { KeyWorkerPool } from "./key-worker-pool.js";

/** `-----BEGIN ENCRYPTED PRIVATE KEY-----` (PKCS#8, RFC 5958 §3) or a legacy OpenSSL header `Proc-Type: 4,ENCRYPTED` (RFC 1421 §4.6.1.1). */
const ENCRYPTED_PEM = /-----BEGIN ENCRYPTED PRIVATE KEY-----|^Proc-Type:\s*4\s*,\s*ENCRYPTED/m;

/**
 * Reads a PEM private key; an encrypted one with `passphrase`, or without one
 * with the empty passphrase. A failure to open an encrypted key is a
 * {@link KeyPassphraseError} that says whether a passphrase was given.
 */
function privateKeyFromPem(pem: string | Uint8Array, passphrase: string | undefined): nc.KeyObject {
  const text = typeof pem === "string" ? pem : new TextDecoder().decode(pem);
  if (!ENCRYPTED_PEM.test(text)) return nc.privateKeyFromPem(pem);
  try {
    return nc.privateKeyFromPem(pem, passphrase ?? "");
  } catch (cause) {
    throw passphraseError(passphrase, cause);
  }
}

/** The {@link KeyPassphraseError} for an encrypted key `passphrase` (or, when undefined, the empty one) did not open. */
function passphraseError(passphrase: string | undefined, cause: unknown): KeyPassphraseError {
  return new KeyPassphraseError(
    passphrase === undefined
      ? "the private key is encrypted and no passphrase was given (the empty passphrase does not open it)"
      : "the passphrase does not open the encrypted private key (wrong passphrase, or a damaged key)",
    { cause },
  );
}

/** Reads DER private-key bytes (PKCS#8, encrypted PKCS#8, PKCS#1 or SEC1); see {@link privateKeyFromPem} for the passphrase. */
function privateKeyFromDer(der: Uint8Array, passphrase: string | undefined): nc.KeyObject {
  const read = nc.privateKeyFromDer(der, passphrase ?? "");
  if ("key" in read) return read.key;
  throw passphraseError(passphrase, read.cause);
}

/**
 * The one reader of private keys: PEM text or bytes, DER bytes (told apart by a first byte 0x30, a SEQUENCE), or a
 * WebCrypto key; an encrypted one opened with `passphrase` (see {@link LocalKeyOptions.passphrase}).
 */
function readPrivateKey(privateKey: PrivateKeyInput, passphrase: string | undefined): nc.KeyObject {
  let key: nc.KeyObject;
  if (typeof privateKey === "string") key = privateKeyFromPem(privateKey, passphrase);
  else if (privateKey instanceof Uint8Array) key = privateKey[0] === 0x30 ? privateKeyFromDer(privateKey, passphrase) : privateKeyFromPem(privateKey, passphrase);
  else key = nc.keyFromCryptoKey(privateKey);
  if (key.type !== "private") throw new KeyError("expected a private key");
  return key;
}

/**
 * Reads a private key file as {@link LocalKey.from} does and gives it back as unencrypted PKCS#8 `PrivateKeyInfo`
 * DER (RFC 5958 §2), whatever its form: PEM (PKCS#1 `RSA PRIVATE KEY`, RFC 8017 §A.1.2; SEC1 `EC PRIVATE KEY`,
 * RFC 5915 §3; PKCS#8 `PRIVATE KEY`; encrypted PKCS#8 `ENCRYPTED PRIVATE KEY`, RFC 5958 §3; legacy
 * `Proc-Type: 4,ENCRYPTED`, RFC 1421 §4.6.1.1) as a string or bytes, or the same in DER bytes (told from PEM by a
 * first byte 0x30). For a caller that needs the key in another form as well (a WebCrypto import, a KeyObject):
 * one parser, one set of errors.
 *
 * @param privateKey - the key file: PEM text, or the file's bytes (PEM or DER).
 * @param options - `passphrase` of an encrypted key; without one the empty passphrase is tried (micromdm's depot
 *   `ca.key` is encrypted with it). Ignored for an unencrypted key.
 * @returns PKCS#8 DER, unencrypted: handle it as the secret it is.
 * @throws KeyPassphraseError `ERR_KEY_PASSPHRASE` when the key is encrypted and the passphrase (or, without one, the
 *   empty passphrase) does not open it: "the private key is encrypted and no passphrase was given (the empty
 *   passphrase does not open it)" or "the passphrase does not open the encrypted private key (wrong passphrase, or a
 *   damaged key)".
 * @throws KeyError `ERR_KEY` when the bytes are no private key in any of these forms (the `cause` is the parser's
 *   error, which never holds key material); a certificate given in its place is named: "the private key argument
 *   holds a PEM "CERTIFICATE" block, not a private key: …".
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { LocalKey, privateKeyToPkcs8 } from "@scep/core";
 *
 * const pkcs8 = privateKeyToPkcs8(readFileSync("ca.key"), { passphrase: process.env.CA_KEY_PASSPHRASE });
 * const signingKey = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["sign"]);
 * const ca = LocalKey.from(readFileSync("ca.pem"), pkcs8);
 * ```
 * @group Keys
 */
export function privateKeyToPkcs8(privateKey: string | Uint8Array, options: { passphrase?: string | undefined } = {}): Uint8Array<ArrayBuffer> {
  if (typeof privateKey !== "string" && !(privateKey instanceof Uint8Array)) throw new InvalidArgumentError("privateKey must be PEM text or the bytes of a key file");
  let key: nc.KeyObject;
  try {
    key = readPrivateKey(privateKey, options.passphrase);
  } catch (e) {
    // The cause stays the parser's error, as for any other unreadable key.
    throw certificateAsKey(privateKey, e instanceof KeyError && !(e instanceof KeyPassphraseError) && e.cause !== undefined ? e.cause : e, "privateKeyToPkcs8 reads the key file, not the certificate file") ?? e;
  }
  const der = key.export({ format: "der", type: "pkcs8" });
  try {
    return new Uint8Array(der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength));
  } finally {
    der.fill(0); // the export's own buffer: only the returned copy holds the key
  }
}

/** A PEM `… PRIVATE KEY` block's BEGIN line (PKCS#8, encrypted PKCS#8, PKCS#1 `RSA`, SEC1 `EC`, …); group 1 is the label. */
const PRIVATE_KEY_PEM = /-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY)-----/;

/**
 * Whether DER bytes are shaped as a private key rather than a certificate: a SEQUENCE whose first element is an
 * INTEGER (the version of PKCS#8 `PrivateKeyInfo`, PKCS#1 `RSAPrivateKey` and SEC1 `ECPrivateKey`), or a SEQUENCE
 * of an AlgorithmIdentifier and an OCTET STRING (PKCS#8 `EncryptedPrivateKeyInfo`, RFC 5958 §3). A certificate
 * starts with its TBSCertificate SEQUENCE (RFC 5280 §4.1).
 */
function looksLikePrivateKeyDer(bytes: Uint8Array): boolean {
  try {
    const fields = der.children(der.parse(bytes));
    return fields[0]?.tag === der.Tag.INTEGER || (fields.length === 2 && fields[0]?.tag === der.Tag.SEQUENCE && fields[1]?.tag === der.Tag.OCTET_STRING);
  } catch {
    return false;
  }
}

/**
 * The certificates of {@link LocalKey.from}'s first argument (every block of a PEM bundle), or an
 * InvalidArgumentError naming a private key given in its place.
 */
function certificatesOf(value: Certificate | Uint8Array | string): Certificate[] {
  if (value instanceof Certificate) return [value];
  const text = typeof value === "string" ? value : pemTextOf(value);
  if (text !== undefined) {
    const ders = fromPem(text, "CERTIFICATE");
    if (ders.length > 0) return ders.map((d) => new Certificate(d));
    const label = PRIVATE_KEY_PEM.exec(text)?.[1];
    if (label) throw swapped(`a PEM "${label}" block`);
    return Certificate.fromPem(text); // ERR_INVALID_ARGUMENT: no CERTIFICATE block
  }
  try {
    return [new Certificate(value as Uint8Array)];
  } catch (e) {
    if (looksLikePrivateKeyDer(value as Uint8Array)) throw swapped("DER shaped as a private key", e);
    throw e;
  }
}

function swapped(what: string, cause?: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`the certificate argument holds ${what}, not a certificate: LocalKey.from takes the certificate first, then the private key`, { cause });
}

/**
 * A KeyError saying the private-key argument holds a certificate, when it does (a PEM CERTIFICATE block, or DER that
 * parses as one); `hint` ends the message (what the function takes instead).
 */
function certificateAsKey(value: PrivateKeyInput, cause: unknown, hint = "LocalKey.from takes the certificate first, then the private key"): KeyError | undefined {
  if (typeof value !== "string" && !(value instanceof Uint8Array)) return undefined;
  const text = typeof value === "string" ? value : pemTextOf(value);
  let what: string | undefined;
  if (text !== undefined) {
    if (!PRIVATE_KEY_PEM.test(text) && /-----BEGIN CERTIFICATE-----/.test(text)) what = 'a PEM "CERTIFICATE" block';
  } else {
    try {
      new Certificate(value as Uint8Array);
      what = "a DER certificate";
    } catch {
      /* not a certificate either: the original error stands */
    }
  }
  return what === undefined ? undefined : new KeyError(`the private key argument holds ${what}, not a private key: ${hint}`, { cause });
}

/** Something that signs with the private key of {@link Signer.certificate}. @group Keys */
export interface Signer {
  /** The certificate whose key signs. */
  readonly certificate: Certificate;
  /** Signs `data` (the signer computes the digest). */
  sign(data: Uint8Array, algorithm: SignatureAlgorithm): Promise<Uint8Array>;
}

/** Parameters of {@link Decrypter.decrypt}. @group Keys */
export interface DecryptParams {
  /** RSAES-PKCS1-v1_5 or RSAES-OAEP. */
  transport: KeyTransport;
  /** The content-encryption key length the envelope needs, in bytes. */
  keyLength: number;
  /** OAEP hash (also the MGF1 hash). */
  oaepHash?: DigestAlgorithm;
}

/**
 * Something that unwraps content-encryption keys sent to
 * {@link Decrypter.certificate}.
 *
 * Implementations of RSAES-PKCS1-v1_5 MUST NOT reveal whether the padding was
 * valid: on a bad padding or a key of the wrong length, return `keyLength`
 * pseudo-random bytes (implicit rejection) instead of throwing. {@link LocalKey}
 * does this.
 * @group Keys
 */
export interface Decrypter {
  /** The certificate requests are encrypted to. */
  readonly certificate: Certificate;
  /** Unwraps an encrypted content-encryption key. */
  decrypt(encryptedKey: Uint8Array, params: DecryptParams): Promise<Uint8Array>;
}

/** A private key in any form {@link LocalKey} reads. @group Keys */
export type PrivateKeyInput = string | Uint8Array | CryptoKey;

/** Options of {@link LocalKey.from}. @group Keys */
export interface LocalKeyOptions {
  /**
   * Passphrase of an encrypted key (PKCS#8 `ENCRYPTED PRIVATE KEY` in PEM or DER,
   * or a legacy PEM `Proc-Type: 4,ENCRYPTED`). Without one, an encrypted key is tried with the
   * empty passphrase (micromdm's depot `ca.key` is encrypted with it). Ignored
   * for an unencrypted key.
   */
  passphrase?: string;
  /**
   * Sign on libuv's thread pool instead of the calling thread (default false;
   * ignored with {@link LocalKeyOptions.workerPool}, whose threads sign).
   * A server under concurrent load then keeps its event loop free and spreads
   * signatures over the other cores; each signature pays a thread hop, so a
   * sequential caller is a little slower.
   */
  threadPool?: boolean;
  /**
   * Run every private-key operation on this {@link KeyWorkerPool}'s threads
   * instead of the calling thread: RSA decryptions ({@link LocalKey.decrypt}:
   * RSAES-PKCS1-v1_5 with implicit rejection, and RSAES-OAEP) and signatures
   * ({@link LocalKey.sign}); `true`: the process-wide
   * {@link KeyWorkerPool.shared} pool (default: none, in the calling thread, or
   * signatures on libuv's pool with {@link LocalKeyOptions.threadPool}). The
   * answers are the same (an RSA PKCS#1 v1.5 signature byte for byte); a
   * server under concurrent load keeps its event loop for parsing, and each
   * operation pays a thread hop (cheaper than libuv's: measured on a 2-core VM,
   * about 0.1 ms of the event loop's time against 0.36 ms). With a pool,
   * `decrypt` and `sign` may also reject with {@link KeyUnavailableError}
   * `ERR_KEY_UNAVAILABLE` (a thread crashed, the queue is full, the pool is closed).
   */
  workerPool?: KeyWorkerPool | boolean;
}

/**
 * A certificate and its private key held in this process: both a
 * {@link Signer} and a {@link Decrypter}.
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { LocalKey, decodePkiMessage } from "@scep/core";
 *
 * const ca = LocalKey.fromPem(readFileSync("ca.pem", "utf8"), readFileSync("ca.key", "utf8"));
 * const request = await decodePkiMessage(readFileSync("request.p7"), { decrypters: [ca] });
 * ```
 * @group Keys
 */
export class LocalKey implements Signer, Decrypter {
  /** The certificate. */
  readonly certificate: Certificate;
  readonly #key: nc.KeyObject;
  readonly #rejectionSecret = nc.randomBytes(32);
  readonly #threadPool: boolean;
  readonly #workerPool: KeyWorkerPool | undefined;

  private constructor(certificate: Certificate, key: nc.KeyObject, threadPool: boolean, workerPool: KeyWorkerPool | undefined) {
    if (key.type !== "private") throw new KeyError("expected a private key");
    if (!nc.samePublicKey(nc.spkiOf(key), certificate.spki)) throw new KeyError("the private key does not match the certificate");
    this.certificate = certificate;
    this.#key = key;
    this.#threadPool = threadPool;
    this.#workerPool = workerPool;
  }

  /**
   * From a certificate and its private key.
   *
   * The certificate: a {@link Certificate}, DER bytes, or PEM (RFC 7468) as a string or as the bytes of a PEM file
   * (`readFileSync(path)`). A PEM bundle (e.g. a CA and its root) gives the certificate whose public key is the
   * private key's, wherever it stands in the file.
   *
   * The private key: PEM (PKCS#1 `RSA PRIVATE KEY`, SEC1 `EC PRIVATE KEY` or PKCS#8 `PRIVATE KEY`, each possibly
   * encrypted: see {@link LocalKeyOptions.passphrase}) as a string or bytes, the same in DER bytes (PKCS#8
   * `PrivateKeyInfo` or `EncryptedPrivateKeyInfo`, RFC 5958; PKCS#1 `RSAPrivateKey`, RFC 8017 §A.1.2; SEC1
   * `ECPrivateKey`, RFC 5915), or a WebCrypto `CryptoKey`. Prefer an extractable `CryptoKey`: a non-extractable one
   * is read through `KeyObject.from`, which Node 24.22+ deprecates at run time (DEP0204, a warning on stderr) and a
   * later Node will refuse (then `ERR_KEY` "unusable CryptoKey"); WebCrypto itself cannot do the RSAES-PKCS1-v1_5
   * decryption a SCEP CA or client needs, so there is no other way to use such a key.
   *
   * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` when the certificate argument holds a private key (a PEM
   *   `… PRIVATE KEY` block, or DER shaped as one: the arguments are swapped), or PEM without a CERTIFICATE block.
   * @throws Asn1Error `ERR_ASN1` when the certificate's DER cannot be read.
   * @throws KeyPassphraseError `ERR_KEY_PASSPHRASE` when the key is encrypted and the passphrase (or, without
   *   one, the empty passphrase) does not open it.
   * @throws KeyError `ERR_KEY` when the key cannot be read (a certificate given as the key is said so) or belongs
   *   to no certificate given: "the private key does not match the certificate", with the number of certificates
   *   tried when a bundle held several.
   *
   * @example
   * ```ts
   * import { readFileSync } from "node:fs";
   * import { LocalKey } from "@scep/core";
   *
   * const ca = LocalKey.from(readFileSync("ca.pem"), readFileSync("ca.key", "utf8"), { passphrase: process.env.CA_KEY_PASSPHRASE });
   * // A bundle (issuing CA and root, in any order): the certificate of this key is chosen.
   * const issuing = LocalKey.from(readFileSync("bundle.pem"), readFileSync("issuing-ca.key"));
   * console.log(ca.certificate.subject, issuing.certificate.subject);
   * ```
   */
  static from(certificate: Certificate | Uint8Array | string, privateKey: PrivateKeyInput, options: LocalKeyOptions = {}): LocalKey {
    const certs = certificatesOf(certificate);
    let key: nc.KeyObject;
    try {
      key = readPrivateKey(privateKey, options.passphrase);
    } catch (e) {
      throw certificateAsKey(privateKey, e) ?? e;
    }
    let cert = certs[0]!;
    if (certs.length > 1) {
      // Only the certificate of the key is kept: the order of the others (their issuer path) is no concern here, so
      // no issuer signature is checked.
      const spki = nc.spkiOf(key);
      const ofKey = certs.find((c) => nc.samePublicKey(spki, c.spki));
      if (!ofKey) throw new KeyError(`the private key does not match the certificate (tried all ${certs.length} certificates of the PEM bundle)`);
      cert = ofKey;
    }
    const pool = options.workerPool === true ? KeyWorkerPool.shared() : options.workerPool || undefined;
    return new LocalKey(cert, key, options.threadPool ?? false, pool);
  }

  /**
   * From PEM texts. Same as {@link LocalKey.from} (a bundle gives the certificate of the key).
   *
   * @throws KeyPassphraseError `ERR_KEY_PASSPHRASE` (encrypted key, missing or wrong passphrase), KeyError `ERR_KEY`,
   *   InvalidArgumentError `ERR_INVALID_ARGUMENT` (a private key given as the certificate, or no CERTIFICATE block).
   *
   * @example
   * ```ts
   * import { readFileSync } from "node:fs";
   * import { LocalKey } from "@scep/core";
   *
   * // micromdm's depot: ca.key is encrypted with the empty passphrase, which is tried when none is given
   * const ca = LocalKey.fromPem(readFileSync("depot/ca.pem", "utf8"), readFileSync("depot/ca.key", "utf8"));
   * ```
   */
  static fromPem(certificatePem: string, privateKeyPem: string, options: LocalKeyOptions = {}): LocalKey {
    return LocalKey.from(certificatePem, privateKeyPem, options);
  }

  /** "rsa" or "ec". */
  get keyType(): string {
    return nc.keyType(this.#key);
  }

  /** {@inheritDoc Signer.sign} */
  async sign(data: Uint8Array, algorithm: SignatureAlgorithm): Promise<Uint8Array> {
    if (this.#workerPool) return this.#workerPool.sign(this.#key, algorithm, data);
    return this.#threadPool ? nc.signInThreadPool(this.#key, algorithm, data) : nc.sign(this.#key, algorithm, data);
  }

  /**
   * Unwraps an encrypted content-encryption key ({@link Decrypter.decrypt}).
   * RSAES-PKCS1-v1_5 never rejects for a bad padding or a content key of the
   * wrong length (implicit rejection: pseudo-random bytes of `keyLength`, the
   * same for the same ciphertext). RSAES-OAEP rejects with {@link DecryptError}
   * `ERR_DECRYPT_FAILED`. With {@link LocalKeyOptions.workerPool}, also
   * {@link KeyUnavailableError} `ERR_KEY_UNAVAILABLE`.
   */
  async decrypt(encryptedKey: Uint8Array, params: DecryptParams): Promise<Uint8Array> {
    if (nc.keyType(this.#key) !== "rsa") throw new UnsupportedAlgorithmError(`key transport needs an RSA key, this is ${this.keyType}`);
    const pool = this.#workerPool;
    if (params.transport === "rsaes-oaep") {
      // RFC 8017 §7.1.2 step 1b: a ciphertext that is not k octets long is a decryption error. OpenSSL takes a shorter
      // one (the same integer without its leading zero octets): a second spelling of one key transport, which the
      // server's key-transport ledger (it knows a key transport by its octets) would take for another.
      if (encryptedKey.length !== nc.rsaModulusBytes(this.#key)) throw new DecryptError("could not decrypt the envelope");
      const hash = params.oaepHash ?? "sha1";
      const k = pool ? await pool.rsaOaepDecrypt(this.#key, encryptedKey, hash) : nc.rsaDecryptOaep(this.#key, encryptedKey, hash);
      if (k?.length !== params.keyLength) throw new DecryptError("could not decrypt the envelope");
      return k;
    }
    if (pool) return nc.rsaDecryptPkcs1ImplicitWith(this.#key, encryptedKey, params.keyLength, this.#rejectionSecret, (key, c) => pool.rsaRawDecrypt(key, c));
    return nc.rsaDecryptPkcs1Implicit(this.#key, encryptedKey, params.keyLength, this.#rejectionSecret);
  }
}
