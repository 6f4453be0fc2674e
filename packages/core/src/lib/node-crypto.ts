/**
 * The one module that imports `node:crypto`. Everything else in @scep/core
 * speaks `Uint8Array` and calls these primitives.
 *
 * Two platform facts are handled here:
 * - Node 20 refuses `RSA_PKCS1_PADDING` in `privateDecrypt` (CVE-2023-46809)
 *   and WebCrypto has no RSAES-PKCS1-v1_5. We run the raw RSA operation
 *   (`RSA_NO_PADDING`, still blinded and CRT-accelerated by OpenSSL) and
 *   remove the padding here with implicit rejection: an invalid padding yields
 *   a synthetic key derived from the ciphertext, so a bad padding looks exactly
 *   like a wrong content key (no Bleichenbacher oracle).
 * - OpenSSL 3 has DES-CBC only in the legacy provider. Single DES is
 *   DES-EDE3 with K1 = K2 = K3, so DES-CBC runs on the default provider's
 *   `des-ede3-cbc` with the key repeated three times.
 */
import * as crypto from "node:crypto";
import type { ContentCipher, DigestAlgorithm, SignatureAlgorithm } from "../algorithms.js";
import { DIGEST_LENGTH } from "../algorithms.js";
import { DecryptError, KeyError, UnsupportedAlgorithmError } from "../errors.js";
import { toBase64Url } from "../encoding.js";
import { copyBytes } from "./bytes.js";
import * as der from "./der.js";
import { ScratchBytes } from "./scratch-bytes.js";

/** A key as Node holds it. */
export type KeyObject = crypto.KeyObject;

/**
 * Hashes `data`. The one-shot `crypto.hash` (Node ≥ 20.12): `createHash` makes
 * a native Hash object per call, which the garbage collector must then
 * finalise (a weak callback per object, the bulk of a scavenge's time here).
 */
export function digest(alg: DigestAlgorithm, data: Uint8Array): Uint8Array {
  return fromLatin1(crypto.hash(alg, data, "binary"));
}

/**
 * The bytes of a digest `crypto.hash` gave as a `"binary"` (latin1) string, one char per byte, in a new array of
 * their own. Asked for as `"buffer"`, each digest is a Buffer over memory outside the JS heap, which costs its
 * allocation and the scavenge that frees it (~0.6 µs here, against ~0.05 µs for a string and an array of ≤ 64 bytes,
 * which V8 keeps on its heap): a message hashes four times.
 */
function fromLatin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  putLatin1(s, out, 0);
  return out;
}

/** Writes a digest `crypto.hash` gave as a `"binary"` (latin1) string into `out` at `offset`, at most `max` bytes. */
function putLatin1(s: string, out: Uint8Array, offset: number, max = s.length): void {
  const n = Math.min(max, s.length);
  for (let i = 0; i < n; i++) out[offset + i] = s.charCodeAt(i);
}

/** HMAC-SHA256 of `data` under `key`. */
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  return crypto.createHmac("sha256", key).update(data).digest();
}

/** Cryptographically secure random bytes. */
export function randomBytes(n: number): Uint8Array {
  return crypto.randomBytes(n);
}

/**
 * A pool of CSPRNG output drawn `bytes.length` at a time: each `crypto.randomBytes` call runs a native job (a few µs
 * and an object for the garbage collector to finalise), more than the bytes cost. Every byte is handed out once,
 * copied into the caller's own memory and zeroed in the pool as it is taken, so the pool holds only bytes no one has
 * used yet (what OpenSSL's DRBG state, in the same process, already determines) and no two callers share a byte: a
 * public nonce and a secret key may come from one pool. Each worker thread loads this module, and so its own pool.
 */
export class RandomPool {
  readonly #bytes: Uint8Array;
  readonly #maxDraw: number;
  #pos: number;

  /** `bytes`: the pool's memory (its length is the refill size); draws longer than `maxDraw` go to the CSPRNG directly. */
  constructor(bytes: Uint8Array, maxDraw: number) {
    this.#bytes = bytes;
    this.#maxDraw = maxDraw;
    this.#pos = bytes.length;
  }

  /** `n` random bytes in a Buffer of their own (not a view of the pool, nor of Node's small-buffer pool). */
  draw(n: number): Buffer {
    if (n > this.#maxDraw) return crypto.randomBytes(n);
    const out = Buffer.alloc(n); // its own memory (Buffer.from would share Node's small-buffer pool)
    this.drawInto(out);
    return out;
  }

  /** Fills `out` with random bytes (the caller's memory: no array is made here). */
  drawInto(out: Uint8Array): void {
    const n = out.length;
    if (n > this.#maxDraw) {
      crypto.randomFillSync(out);
      return;
    }
    const pool = this.#bytes;
    if (this.#pos + n > pool.length) {
      crypto.randomFillSync(pool);
      this.#pos = 0;
    }
    const start = this.#pos;
    out.set(pool.subarray(start, start + n));
    pool.fill(0, start, start + n);
    this.#pos = start + n;
  }
}

const randomPool = new RandomPool(new Uint8Array(2048), 256);

/**
 * Cryptographically secure random bytes in a Buffer of their own, for a public value such as a SCEP nonce (RFC 8894
 * §3.2.1.5): at most 256 bytes from the pool (see {@link RandomPool}), longer draws from the CSPRNG.
 */
export function randomNonce(n: number): Uint8Array {
  return randomPool.draw(n);
}

/**
 * Fills `out` with cryptographically secure random bytes from the same pool: for a content-encryption key and IV
 * (RFC 5652 §6.3), drawn into memory that is zeroed after use ({@link withSecretBytes}).
 */
export function randomFill(out: Uint8Array): void {
  randomPool.drawInto(out);
}

// Where secrets are held while OpenSSL reads them: content keys and IVs for a cipher or a key transport, and the
// implicit-rejection HMAC's input (K ⊕ ipad ‖ counter ‖ ciphertext: 321 bytes for an RSA-2048 key, 577 for RSA-4096).
// Apart from the encodings' memory (der.ts), so that no secret shares a buffer with public data. A larger use gets
// memory of its own (zeroed after all the same).
export const SECRET_SCRATCH_BYTES = 2048;
const secretScratch = new ScratchBytes(SECRET_SCRATCH_BYTES);

/**
 * Calls `use` with `n` zeroed bytes outside V8's heap, for a secret that OpenSSL reads at once (a content key, an IV,
 * a key's HMAC pad), and zeroes them after; returns what `use` returns. The bytes are reused memory
 * ({@link ScratchBytes}): `use` must neither keep them nor a view of them, nor await before it has read them.
 */
export function withSecretBytes<T>(n: number, use: (bytes: Uint8Array) => T): T {
  return secretScratch.use(n, use);
}

/** Constant-time equality. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return crypto.timingSafeEqual(a, b);
}

const EC_CURVES: Record<string, { crv: string; size: number }> = {
  "1.2.840.10045.3.1.7": { crv: "P-256", size: 32 },
  "1.3.132.0.34": { crv: "P-384", size: 48 },
  "1.3.132.0.35": { crv: "P-521", size: 66 },
};

/**
 * The RFC 7638 JWK SHA-256 thumbprint of a public key, base64url: the SHA-256 of its required JWK members in
 * lexicographic order without whitespace (RSA `e`,`kty`,`n`; EC `crv`,`kty`,`x`,`y`; OKP, RFC 8037 §2: `crv`,`kty`,`x`),
 * so one key spelled two ways in DER has one thumbprint. Undefined for a key Node cannot express as a JWK (RSA-PSS,
 * EC with explicit parameters, DSA, …).
 */
export function jwkThumbprint(key: KeyObject): string | undefined {
  let jwk: crypto.JsonWebKey;
  try {
    jwk = key.export({ format: "jwk" });
  } catch {
    return undefined;
  }
  let members: string;
  if (jwk.kty === "RSA" && jwk.n && jwk.e) members = JSON.stringify({ e: jwk.e, kty: "RSA", n: jwk.n });
  else if (jwk.kty === "EC" && jwk.crv && jwk.x && jwk.y) members = JSON.stringify({ crv: jwk.crv, kty: "EC", x: jwk.x, y: jwk.y });
  else if (jwk.kty === "OKP" && jwk.crv && jwk.x) members = JSON.stringify({ crv: jwk.crv, kty: "OKP", x: jwk.x });
  else return undefined;
  return toBase64Url(crypto.createHash("sha256").update(members).digest());
}

/**
 * A public key from SubjectPublicKeyInfo DER.
 *
 * OpenSSL 3's generic SPKI decoder costs ~250–400 µs a call (it tries every
 * decoder); the same RSA key imported as PKCS#1 costs ~4 µs and an EC key as
 * JWK ~6 µs. So the SPKI is unwrapped here and handed over in those forms;
 * anything else takes the generic path.
 */
export function publicKeyFromSpki(spki: Uint8Array, remember = true): KeyObject {
  // `remember`: keep the answer for this very byte array too (a WeakMap entry; a caller that keeps the key
  // itself, as a Certificate does, passes false and spares the map its insertion).
  if (remember) {
    const byView = viewCache.get(spki);
    if (byView) return byView;
  }
  // A request's signer certificate and its CSR usually hold the same key: share one
  // KeyObject, since OpenSSL prepares a key on its first use (~10–15 µs each time).
  // Found by a hash of a sample of the bytes, then compared in full (memcmp): cheaper than a
  // string of the whole SPKI per lookup, and no better for a peer to aim collisions at, since
  // every entry with the hash is compared and the cache holds at most CONTENT_CACHE_SIZE.
  const hash = sampleHash(spki);
  let entry = contentCache.get(hash);
  while (entry && Buffer.compare(entry.spki, spki) !== 0) entry = entry.next;
  if (!entry) {
    entry = { spki: copyBytes(spki), key: importSpki(spki), used: 0, hash, next: contentCache.get(hash) };
    contentCache.set(hash, entry);
    contentOrder.add(entry);
    if (contentOrder.size > CONTENT_CACHE_SIZE) evict(contentOrder.values().next().value!);
  } else if (contentUses - entry.used > CONTENT_CACHE_SIZE / 2) {
    // Refresh its place in the LRU order, but only once it has drifted into the older half:
    // a delete and a re-insert on every hit cost more than the lookup itself.
    contentOrder.delete(entry);
    contentOrder.add(entry);
  } else {
    if (remember) viewCache.set(spki, entry.key);
    return entry.key;
  }
  entry.used = ++contentUses;
  if (remember) viewCache.set(spki, entry.key);
  return entry.key;
}

/** FNV-1a over the length and about 32 bytes spread over `b`, from the end (an RSA SPKI's last bytes are its exponent). */
function sampleHash(b: Uint8Array): number {
  let h = 0x811c9dc5 ^ b.length;
  const step = b.length > 32 ? Math.floor(b.length / 32) : 1;
  for (let i = b.length - 1; i >= 0; i -= step) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h;
}

/** Drops an entry from the content cache: from its hash chain and from the LRU order. */
function evict(entry: ContentEntry): void {
  contentOrder.delete(entry);
  const head = contentCache.get(entry.hash);
  if (head === entry) {
    if (entry.next) contentCache.set(entry.hash, entry.next);
    else contentCache.delete(entry.hash);
    return;
  }
  for (let e = head; e; e = e.next) {
    if (e.next === entry) {
      e.next = entry.next;
      return;
    }
  }
}

/**
 * Whether two DER SubjectPublicKeyInfos hold the same public key: byte-equal, or (when not) equal once parsed, since a
 * CA may re-encode the SPKI it copies from a CSR (RSA's absent parameters written as NULL, BER as DER, an EC point
 * uncompressed). Keys of two types (RSA and EC) are different keys. Unparseable
 * input is not the same key. The slow path skips the key cache: it runs only for keys that differ in their bytes.
 */
export function samePublicKey(a: Uint8Array, b: Uint8Array): boolean {
  if (Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)) return true;
  try {
    // KeyObject.equals compares the keys (an EC point compressed or not is one key; re-exported SPKI bytes keep the
    // point's form and would differ), but only on keys of one type: on an RSA and an EC key it leaves "different key
    // types" on OpenSSL's error queue, where the next createPrivateKey finds it.
    const parse = (spki: Uint8Array) => crypto.createPublicKey({ key: Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength), format: "der", type: "spki" });
    const x = parse(a);
    const y = parse(b);
    return x.asymmetricKeyType === y.asymmetricKeyType && x.equals(y);
  } catch {
    return false;
  }
}

// Keyed by the bytes object: a Certificate or CSR keeps one SPKI view for life.
const viewCache = new WeakMap<Uint8Array, KeyObject>();
/** A cached key: its SPKI (compared on a hash hit), and the next entry with the same hash. */
interface ContentEntry {
  readonly spki: Uint8Array;
  readonly key: KeyObject;
  used: number;
  readonly hash: number;
  next: ContentEntry | undefined;
}
// Keyed by a hash of the content, chained on collisions; public keys only, so nothing secret is kept.
const contentCache = new Map<number, ContentEntry>();
// The same entries, (about) least recently used first.
const contentOrder = new Set<ContentEntry>();
const CONTENT_CACHE_SIZE = 256;
// Insertions and refreshes so far; an entry's `used` is the count when it was last placed at the end, so
// `contentUses - used` bounds from above how many entries now sit after it.
let contentUses = 0;

function importSpki(spki: Uint8Array): KeyObject {
  try {
    const [algT, keyT] = der.expect(der.parse(spki), der.Tag.SEQUENCE, "SubjectPublicKeyInfo");
    const [oidT, paramT] = der.children(der.expectTag(algT, der.Tag.SEQUENCE, "algorithm"));
    const alg = der.readOid(oidT);
    const bits = der.content(der.expectTag(keyT, der.Tag.BIT_STRING, "subjectPublicKey"));
    if (bits[0] === 0) {
      const key = bits.subarray(1);
      // Only the canonical form takes the fast path (NULL or absent parameters, nothing after the
      // RSAPublicKey); anything else goes to OpenSSL's own decoder below, which decides.
      const canonicalRsa = (!paramT || paramT.tag === der.Tag.NULL) && der.parse(key).tag === der.Tag.SEQUENCE;
      if (alg === "1.2.840.113549.1.1.1" && canonicalRsa) return crypto.createPublicKey({ key: Buffer.from(key.buffer, key.byteOffset, key.byteLength), format: "der", type: "pkcs1" });
      if (alg === "1.2.840.10045.2.1" && paramT?.tag === der.Tag.OID) {
        const curve = EC_CURVES[der.readOid(paramT)];
        if (curve && key.length === 1 + 2 * curve.size && key[0] === 4) {
          return crypto.createPublicKey({
            key: { kty: "EC", crv: curve.crv, x: toBase64Url(key.subarray(1, 1 + curve.size)), y: toBase64Url(key.subarray(1 + curve.size)) },
            format: "jwk",
          });
        }
      }
    }
  } catch {
    /* fall through to OpenSSL's own decoder, which gives the authoritative answer */
  }
  try {
    return crypto.createPublicKey({ key: Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength), format: "der", type: "spki" });
  } catch (cause) {
    throw new KeyError("unreadable public key", { cause });
  }
}

/** A private key from PEM (PKCS#1, SEC1 or PKCS#8). */
export function privateKeyFromPem(pem: string | Uint8Array, passphrase?: string): KeyObject {
  try {
    return crypto.createPrivateKey(passphrase === undefined ? { key: toBuffer(pem) } : { key: toBuffer(pem), passphrase });
  } catch (cause) {
    throw new KeyError("unreadable private key (expected PEM PKCS#1, SEC1 or PKCS#8)", { cause });
  }
}

/** What {@link privateKeyFromDer} found: a key, or an encrypted PKCS#8 key the passphrase did not open. */
export type DerPrivateKey = { key: KeyObject } | { encrypted: true; cause: unknown };

/**
 * A private key from DER bytes of any of the three forms tools write: PKCS#8
 * `PrivateKeyInfo` (RFC 5958 §2), `EncryptedPrivateKeyInfo` (RFC 5958 §3, opened
 * with `passphrase`), PKCS#1 `RSAPrivateKey` (RFC 8017 §A.1.2) or SEC1
 * `ECPrivateKey` (RFC 5915 §3), tried in that order.
 *
 * @throws KeyError `ERR_KEY` when none of them reads the bytes.
 */
export function privateKeyFromDer(der: Uint8Array, passphrase: string): DerPrivateKey {
  const key = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  try {
    return { key: crypto.createPrivateKey({ key, format: "der", type: "pkcs8" }) };
  } catch (e) {
    if ((e as { code?: string }).code === "ERR_MISSING_PASSPHRASE") {
      try {
        return { key: crypto.createPrivateKey({ key, format: "der", type: "pkcs8", passphrase }) };
      } catch (cause) {
        return { encrypted: true, cause };
      }
    }
  }
  for (const type of ["pkcs1", "sec1"] as const) {
    try {
      return { key: crypto.createPrivateKey({ key, format: "der", type }) };
    } catch {
      /* the next form */
    }
  }
  throw new KeyError("unreadable private key (expected DER PKCS#8, PKCS#1 or SEC1)");
}

/** A Node key from a WebCrypto key (works for non-extractable keys too). */
export function keyFromCryptoKey(key: CryptoKey): KeyObject {
  try {
    return crypto.KeyObject.from(key as unknown as crypto.webcrypto.CryptoKey);
  } catch (cause) {
    throw new KeyError("unusable CryptoKey", { cause });
  }
}

/** The public half of a private key, as SPKI DER. */
export function spkiOf(key: KeyObject): Uint8Array {
  const pub = key.type === "private" ? crypto.createPublicKey(key) : key;
  return pub.export({ format: "der", type: "spki" });
}

/** "rsa", "ec", … */
export function keyType(key: KeyObject): string {
  return key.asymmetricKeyType ?? "unknown";
}

const modulusBits = new WeakMap<KeyObject, number | undefined>();

/** Modulus length in bits of an RSA (or RSA-PSS) key, undefined for any other; cached per key (asymmetricKeyDetails builds a new object each call). */
export function rsaModulusBits(key: KeyObject): number | undefined {
  if (modulusBits.has(key)) return modulusBits.get(key);
  const bits = key.asymmetricKeyDetails?.modulusLength;
  modulusBits.set(key, bits);
  return bits;
}

/** Modulus length in bytes of an RSA key. */
export function rsaModulusBytes(key: KeyObject): number {
  const bits = rsaModulusBits(key);
  if (!bits) throw new KeyError("not an RSA key");
  return Math.ceil(bits / 8);
}

function signOptions(key: KeyObject, alg: SignatureAlgorithm): KeyObject | crypto.SignKeyObjectInput | crypto.VerifyKeyObjectInput {
  if (alg.scheme === "rsa-pkcs1") return key;
  return { key, ...signParams(alg) };
}

/**
 * The `crypto.sign` options of `alg` besides the key (a worker thread adds the
 * key it holds): PSS padding and salt length, DER ECDSA; none for RSA PKCS#1
 * v1.5, OpenSSL's default for an `rsa` key.
 */
export function signParams(alg: SignatureAlgorithm): { padding?: number; saltLength?: number; dsaEncoding?: "der" } {
  if (alg.scheme === "rsa-pss") return { padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: alg.saltLength ?? DIGEST_LENGTH[alg.digest] };
  if (alg.scheme === "rsa-pkcs1") return {};
  return { dsaEncoding: "der" };
}

/** @throws UnsupportedAlgorithmError when `key` cannot make `alg` signatures. */
export function checkKeyFits(key: KeyObject, alg: SignatureAlgorithm): void {
  const t = key.asymmetricKeyType;
  const ok = alg.scheme === "ecdsa" ? t === "ec" : t === "rsa" || (t === "rsa-pss" && alg.scheme === "rsa-pss");
  if (!ok) throw new UnsupportedAlgorithmError(`a ${t ?? "unknown"} key cannot make ${alg.scheme} signatures`);
}

/** Signs `data` (the digest is computed here). */
export function sign(key: KeyObject, alg: SignatureAlgorithm, data: Uint8Array): Uint8Array {
  checkKeyFits(key, alg);
  return crypto.sign(alg.digest, data, signOptions(key, alg) as crypto.SignKeyObjectInput);
}

/**
 * Signs `data` on libuv's thread pool: the event loop stays free and, under
 * concurrent load, signatures run on other cores. Costs a thread hop per call.
 */
export function signInThreadPool(key: KeyObject, alg: SignatureAlgorithm, data: Uint8Array): Promise<Uint8Array> {
  checkKeyFits(key, alg);
  return new Promise((resolve, reject) => {
    crypto.sign(alg.digest, data, signOptions(key, alg) as crypto.SignKeyObjectInput, (err, signature) => (err ? reject(err) : resolve(signature)));
  });
}

/** Verifies a signature over `data`; false on mismatch or a key of the wrong type. */
export function verify(key: KeyObject, alg: SignatureAlgorithm, data: Uint8Array, signature: Uint8Array): boolean {
  checkKeyFits(key, alg);
  try {
    return crypto.verify(alg.digest, data, signOptions(key, alg) as crypto.VerifyKeyObjectInput, signature);
  } catch {
    return false;
  }
}

/**
 * RSAES-PKCS1-v1_5 or RSAES-OAEP encryption of a content key to a public key.
 * @throws KeyError (`ERR_KEY`) for a key that is not RSA or that OpenSSL cannot encrypt to (an even modulus, too small).
 */
export function rsaEncrypt(key: KeyObject, transport: "rsaes-pkcs1-v1_5" | "rsaes-oaep", data: Uint8Array, oaepHash: DigestAlgorithm = "sha1"): Uint8Array {
  if (key.asymmetricKeyType !== "rsa") throw new KeyError(`cannot encrypt a content key to a ${key.asymmetricKeyType ?? "unknown"} key`);
  try {
    if (transport === "rsaes-oaep") {
      return crypto.publicEncrypt({ key, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, data);
    }
    return crypto.publicEncrypt({ key, padding: crypto.constants.RSA_PKCS1_PADDING }, data);
  } catch (cause) {
    // A public key that parses but cannot be used: an even modulus (OpenSSL: "no inverse"), one too small for the
    // padding. A hostile or broken CA certificate must not surface as an untyped OpenSSL error.
    throw new KeyError(`cannot encrypt a content key to this RSA key (${(cause as Error)?.message ?? "OpenSSL refused it"})`, { cause });
  }
}

/** RSAES-OAEP decryption; any failure is a {@link DecryptError}. */
export function rsaDecryptOaep(key: KeyObject, ciphertext: Uint8Array, hash: DigestAlgorithm): Uint8Array {
  try {
    return crypto.privateDecrypt({ key, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, ciphertext);
  } catch (cause) {
    throw new DecryptError("could not decrypt the envelope", { cause });
  }
}

/**
 * RSAES-PKCS1-v1_5 decryption of a key of `expectedLength` bytes with implicit
 * rejection (in the manner of draft-irtf-cfrg-rsa-guidance): never throws for a
 * bad padding or wrong length; returns instead a key derived by HMAC from the
 * ciphertext under `rejectionSecret`, so the caller fails later exactly as for
 * a wrong key. The checks run over every byte without early exit.
 */
export function rsaDecryptPkcs1Implicit(key: KeyObject, ciphertext: Uint8Array, expectedLength: number, rejectionSecret: Uint8Array): Uint8Array {
  const k = rsaModulusBytes(key);
  const synthetic = syntheticKey(rejectionSecret, ciphertext, expectedLength);
  if (ciphertext.length !== k) return synthetic; // public knowledge: no oracle
  return unpadPkcs1Implicit(rsaRawDecrypt(key, ciphertext), k, expectedLength, synthetic);
}

/**
 * {@link rsaDecryptPkcs1Implicit} with the raw RSA operation run by `raw` (a
 * worker thread): the same answers, the same constant-time unpadding here.
 * `raw` resolves `undefined` where {@link rsaRawDecrypt} would.
 */
export async function rsaDecryptPkcs1ImplicitWith(
  key: KeyObject,
  ciphertext: Uint8Array,
  expectedLength: number,
  rejectionSecret: Uint8Array,
  raw: (key: KeyObject, ciphertext: Uint8Array) => Promise<Uint8Array | undefined>,
): Promise<Uint8Array> {
  const k = rsaModulusBytes(key);
  const synthetic = syntheticKey(rejectionSecret, ciphertext, expectedLength);
  if (ciphertext.length !== k) return synthetic; // public knowledge: no oracle
  return unpadPkcs1Implicit(await raw(key, ciphertext), k, expectedLength, synthetic);
}

/**
 * The raw RSA private operation (`RSA_NO_PADDING`: still blinded and
 * CRT-accelerated by OpenSSL) on a ciphertext of the modulus length;
 * `undefined` when OpenSSL refuses it (ciphertext ≥ modulus, public knowledge).
 */
export function rsaRawDecrypt(key: KeyObject, ciphertext: Uint8Array): Uint8Array | undefined {
  try {
    return crypto.privateDecrypt({ key, padding: crypto.constants.RSA_NO_PADDING }, ciphertext);
  } catch {
    return undefined;
  }
}

/**
 * Removes an RSAES-PKCS1-v1_5 type-2 padding (RFC 8017 §7.2.2) from the
 * `k`-byte block `em` in constant time: the message when it is
 * `expectedLength` bytes behind a valid padding, else `synthetic`, chosen by
 * masks over every byte (no branch on secret data, no early exit).
 */
function unpadPkcs1Implicit(em: Uint8Array | undefined, k: number, expectedLength: number, synthetic: Uint8Array): Uint8Array {
  if (em === undefined || em.length !== k) return synthetic; // OpenSSL refused the ciphertext: public knowledge
  // EM = 0x00 || 0x02 || PS (≥ 8 non-zero) || 0x00 || M
  let bad = em[0]! | (em[1]! ^ 0x02);
  let zeroIndex = 0;
  let found = 0;
  for (let i = 2; i < k; i++) {
    const isZero = ((em[i]! - 1) >>> 31) & 1; // 1 when em[i] === 0
    const take = isZero & (found ^ 1);
    zeroIndex |= -take & i;
    found |= isZero;
  }
  bad |= found ^ 1;
  bad |= ((zeroIndex - 10) >>> 31) & 1; // PS shorter than 8 bytes
  const msgLen = k - zeroIndex - 1;
  const lenDiff = msgLen ^ expectedLength;
  bad |= ((lenDiff | -lenDiff) >>> 31) & 1;
  const mask = -((bad | -bad) >>> 31) & 0xff; // 0xff when bad
  const out = new Uint8Array(expectedLength);
  const offset = k - expectedLength;
  for (let i = 0; i < expectedLength; i++) out[i] = (em[offset + i]! & ~mask) | (synthetic[i]! & mask);
  return out;
}

/** HMAC-SHA256 pads of a rejection secret (RFC 2104 §2: K ⊕ ipad, K ⊕ opad, one 64-byte block each). */
interface HmacPads {
  /** K ⊕ ipad. */
  readonly inner: Uint8Array;
  /** K ⊕ opad, then 32 bytes for the inner hash. */
  readonly outer: Uint8Array;
}

const SHA256_BLOCK = 64;
const hmacPads = new WeakMap<Uint8Array, HmacPads>();

function padsOf(secret: Uint8Array): HmacPads {
  let pads = hmacPads.get(secret);
  if (!pads) {
    if (secret.length > SHA256_BLOCK) throw new KeyError("rejection secret longer than one SHA-256 block");
    const inner = new Uint8Array(SHA256_BLOCK).fill(0x36);
    const outer = new Uint8Array(SHA256_BLOCK + 32).fill(0x5c, 0, SHA256_BLOCK);
    for (let i = 0; i < secret.length; i++) {
      inner[i] = 0x36 ^ secret[i]!;
      outer[i] = 0x5c ^ secret[i]!;
    }
    pads = { inner, outer };
    hmacPads.set(secret, pads);
  }
  return pads;
}

/**
 * The implicit-rejection key for `ciphertext`: HMAC-SHA256(secret, counter ‖
 * ciphertext) for counter = 0, 1, … until `length` bytes. HMAC is written out
 * (RFC 2104: H(K ⊕ opad ‖ H(K ⊕ ipad ‖ m))) over the one-shot `crypto.hash`,
 * byte for byte what `createHmac` gives (tested), without the native HMAC
 * object per call that the garbage collector would finalise.
 */
export function syntheticKey(secret: Uint8Array, ciphertext: Uint8Array, length: number): Uint8Array {
  const pads = padsOf(secret);
  const out = new Uint8Array(length);
  // K ⊕ ipad ‖ counter ‖ ciphertext, in the secrets' reused memory: no copy of K ⊕ ipad left behind, nor of the inner
  // hash (in `pads.outer`'s last 32 bytes), whether this returns or throws.
  withSecretBytes(SHA256_BLOCK + 1 + ciphertext.length, (m) => {
    m.set(pads.inner, 0);
    m.set(ciphertext, SHA256_BLOCK + 1);
    try {
      for (let counter = 0, o = 0; o < length; counter++) {
        m[SHA256_BLOCK] = counter;
        putLatin1(crypto.hash("sha256", m, "binary"), pads.outer, SHA256_BLOCK);
        putLatin1(crypto.hash("sha256", pads.outer, "binary"), out, o, length - o);
        o += 32;
      }
    } finally {
      pads.outer.fill(0, SHA256_BLOCK);
    }
  });
  return out;
}

function cipherName(cipher: ContentCipher): string {
  switch (cipher) {
    case "des":
    case "des3":
      return "des-ede3-cbc";
    case "aes128":
      return "aes-128-cbc";
    case "aes192":
      return "aes-192-cbc";
    case "aes256":
      return "aes-256-cbc";
  }
}

/** `use` called with the key OpenSSL's cipher for `cipher` takes, held in {@link withSecretBytes}'s memory. */
function withCipherKey<T>(cipher: ContentCipher, key: Uint8Array, use: (cipherKey: Uint8Array) => T): T {
  // DES-EDE3 with three equal keys is single DES (E_K ∘ D_K ∘ E_K = E_K).
  const copies = cipher === "des" ? 3 : 1;
  return withSecretBytes(key.length * copies, (k) => {
    for (let i = 0; i < copies; i++) k.set(key, i * key.length);
    return use(k);
  });
}

/**
 * CBC encryption with PKCS#7 padding, as the two pieces OpenSSL hands back (the
 * whole blocks, then the padded last one): a DER writer puts them side by side
 * with no joined copy ({@link encryptContent} joins them).
 */
export function encryptContentParts(cipher: ContentCipher, key: Uint8Array, iv: Uint8Array, data: Uint8Array): [Uint8Array, Uint8Array] {
  const c = withCipherKey(cipher, key, (k) => crypto.createCipheriv(cipherName(cipher), k, iv));
  return [c.update(data), c.final()];
}

/** CBC encryption with PKCS#7 padding. */
export function encryptContent(cipher: ContentCipher, key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  return Buffer.concat(encryptContentParts(cipher, key, iv, data));
}

/**
 * CBC decryption with PKCS#7 padding (RFC 5652 §6.3); any failure is a
 * {@link DecryptError}. OpenSSL decrypts every block into one buffer (its own
 * padding off) and the padding is checked here as OpenSSL checks it: the last
 * byte `n` is 1 to the block size and the last `n` bytes all equal `n`. The
 * answer is a view of that buffer: no second buffer, no joined copy.
 */
export function decryptContent(cipher: ContentCipher, key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const block = iv.length; // CBC: the IV is one block
  if (data.length === 0 || data.length % block !== 0) {
    throw new DecryptError("could not decrypt the envelope", { cause: new Error("the encrypted content is not a whole number of cipher blocks") });
  }
  let out: Buffer;
  try {
    const d = withCipherKey(cipher, key, (k) => crypto.createDecipheriv(cipherName(cipher), k, iv));
    d.setAutoPadding(false);
    out = d.update(data);
  } catch (cause) {
    throw new DecryptError("could not decrypt the envelope", { cause });
  }
  if (out.length !== data.length) throw new DecryptError("could not decrypt the envelope", { cause: new Error("OpenSSL decrypted less than it was given") });
  const n = out[out.length - 1]!;
  let bad = (n === 0 ? 1 : 0) | (n > block ? 1 : 0);
  // The whole last block is read whatever n is: how long this takes does not say where the padding went wrong.
  for (let i = 1; i <= block; i++) bad |= (i <= n ? 1 : 0) & (out[out.length - i] !== n ? 1 : 0);
  if (bad) throw new DecryptError("could not decrypt the envelope", { cause: new Error("the decrypted content's PKCS#7 padding does not read (RFC 5652 §6.3)") });
  return out.subarray(0, out.length - n);
}

function toBuffer(v: string | Uint8Array): Buffer | string {
  return typeof v === "string" ? v : Buffer.from(v);
}

/** PKCS#8 DER of a private key (throws for non-extractable keys). */
export function exportPkcs8(key: KeyObject): Uint8Array {
  return key.export({ format: "der", type: "pkcs8" });
}
