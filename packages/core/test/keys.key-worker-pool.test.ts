/**
 * KeyWorkerPool: RSA private-key decryptions and signatures on worker threads give exactly
 * the answers of the calling-thread path (RFC 8017 §7.2.2 RSAES-PKCS1-v1_5
 * with implicit rejection, §7.1.2 RSAES-OAEP; the key transport of RFC 8894
 * §3.2.2), under concurrency and with several keys; a thread that crashes
 * fails its pending operations with KeyUnavailableError (ERR_KEY_UNAVAILABLE)
 * and the next operation gets a new thread; the queue is bounded; `close()`
 * stops everything; an idle pool keeps no process alive. The SCEP server
 * answers a key that cannot be used with 503 + Retry-After, never a FAILURE.
 */
import { execFile } from "node:child_process";
import { constants, publicEncrypt, randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CertificationRequest,
  DecryptError,
  KeyUnavailableError,
  KeyWorkerPool,
  LocalKey,
  buildCertPoll,
  buildGetCert,
  buildGetCrl,
  buildPkcsReq,
  createScepServer,
  decodePkiMessage,
  isScepError,
  type ScepEvent,
} from "../src/index.js";
import { crashKeyWorkerForTest, dropKeysInKeyWorkerForTest } from "../src/keys/key-worker-pool.js";
import * as nc from "../src/lib/node-crypto.js";
import { toHex } from "../src/lib/bytes.js";
import { oracleMessage, signedPkcsReq } from "./support/oracle-messages.js";
import { NOW, createTestPki, type TestPki } from "./support/pki.js";

const K = 256; // RSA-2048 modulus bytes
let pki: TestPki;
let caKey: nc.KeyObject;
let pool: KeyWorkerPool;
let pooled: LocalKey;
const pools: KeyWorkerPool[] = [];

/** A pool closed after the file's tests (no thread outlives them). */
function newPool(options?: ConstructorParameters<typeof KeyWorkerPool>[0]): KeyWorkerPool {
  const p = new KeyWorkerPool(options);
  pools.push(p);
  return p;
}

beforeAll(async () => {
  pki = await createTestPki();
  caKey = nc.keyFromCryptoKey(pki.caKeys.privateKey);
  pool = newPool({ size: 2 });
  pooled = LocalKey.from(pki.ca.certificate, pki.caKeys.privateKey, { workerPool: pool });
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

const caPublic = () => nc.publicKeyFromSpki(pki.ca.certificate.spki);
const rawRsa = (em: Uint8Array) => publicEncrypt({ key: caPublic(), padding: constants.RSA_NO_PADDING }, em);
const pkcs1 = (m: Uint8Array) => publicEncrypt({ key: caPublic(), padding: constants.RSA_PKCS1_PADDING }, m);
const oaep = (m: Uint8Array, oaepHash = "sha1") => publicEncrypt({ key: caPublic(), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, m);

/** A type-2 block: `00 02 PS 00 M`, with PS `psLength` non-zero bytes. */
function block(message: Uint8Array, options: { type?: number; psLength?: number; separator?: boolean; lead?: number } = {}): Uint8Array {
  const em = new Uint8Array(K);
  em[0] = options.lead ?? 0;
  em[1] = options.type ?? 2;
  const ps = options.psLength ?? K - 3 - message.length;
  for (let i = 0; i < ps; i++) em[2 + i] = 1 + (randomBytes(1)[0]! % 255);
  let o = 2 + ps;
  if (options.separator ?? true) em[o++] = 0;
  em.set(message.subarray(0, K - o), o);
  for (o += message.length; o < K; o++) em[o] = 1 + (randomBytes(1)[0]! % 255);
  return em;
}

const cek = new Uint8Array(32).fill(0x5a);
const VARIANTS: Record<string, () => Uint8Array> = {
  "valid padding, right length": () => pkcs1(cek),
  "valid padding, wrong content key": () => pkcs1(randomBytes(32)),
  "valid padding, content key of the wrong length": () => pkcs1(cek.subarray(0, 16)),
  "block type 1": () => rawRsa(block(cek, { type: 1 })),
  "no zero separator": () => rawRsa(block(new Uint8Array(), { separator: false, psLength: K - 2 })),
  "padding string shorter than 8 bytes": () => rawRsa(block(new Uint8Array(K - 7).fill(0xab), { psLength: 4 })),
  "leading byte not zero": () => rawRsa(block(cek, { lead: 1 })),
  "one byte short": () => pkcs1(cek).subarray(1),
  "one byte long": () => new Uint8Array([...pkcs1(cek), 0]),
  "not below the modulus": () => new Uint8Array(K).fill(0xff),
  empty: () => new Uint8Array(),
};

describe("RFC 8017 §7.2.2 on the pool: the same answers as the calling thread (implicit rejection kept)", () => {
  const secret = randomBytes(32);
  const onPool = (ct: Uint8Array, len: number) => nc.rsaDecryptPkcs1ImplicitWith(caKey, ct, len, secret, (key, c) => pool.rsaRawDecrypt(key, c));

  it.each(Object.keys(VARIANTS))("%s: byte for byte what rsaDecryptPkcs1Implicit returns", async (name) => {
    const ct = VARIANTS[name]!();
    const expected = nc.rsaDecryptPkcs1Implicit(caKey, ct, 32, secret);
    expect(toHex(await onPool(ct, 32))).toBe(toHex(expected));
    if (name === "valid padding, right length") expect(toHex(expected)).toBe(toHex(cek));
    else expect(toHex(expected)).not.toBe(toHex(cek));
  });

  it("any 256-byte block below the modulus, any key length: equal answers", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: K - 1, maxLength: K - 1 }), fc.constantFrom(8, 16, 24, 32), async (tail, len) => {
        const ct = rawRsa(new Uint8Array([0, ...tail]));
        expect(toHex(await onPool(ct, len))).toBe(toHex(nc.rsaDecryptPkcs1Implicit(caKey, ct, len, secret)));
      }),
      { numRuns: 100 },
    );
  });

  it("the raw operation: the block OpenSSL computes, undefined where it refuses (≥ modulus)", async () => {
    const ct = pkcs1(cek);
    expect(toHex((await pool.rsaRawDecrypt(caKey, ct))!)).toBe(toHex(nc.rsaRawDecrypt(caKey, ct)!));
    expect(await pool.rsaRawDecrypt(caKey, new Uint8Array(K).fill(0xff))).toBeUndefined();
    expect(nc.rsaRawDecrypt(caKey, new Uint8Array(K).fill(0xff))).toBeUndefined();
  });
});

describe("LocalKey with a workerPool", () => {
  it("RSAES-PKCS1-v1_5: the content key; a bad padding gives pseudo-random bytes, the same for the same ciphertext", async () => {
    const params = { transport: "rsaes-pkcs1-v1_5" as const, keyLength: 32 };
    expect(toHex(await pooled.decrypt(pkcs1(cek), params))).toBe(toHex(cek));
    const bad = rawRsa(block(cek, { type: 1 }));
    const a = await pooled.decrypt(bad, params);
    expect(a).toHaveLength(32);
    expect(toHex(await pooled.decrypt(bad.slice(), params))).toBe(toHex(a));
    expect(toHex(a)).not.toBe(toHex(cek));
  });

  it.each(["sha1", "sha256"] as const)("RFC 8017 §7.1.2 RSAES-OAEP (%s): the content key", async (oaepHash) => {
    expect(toHex(await pooled.decrypt(oaep(cek, oaepHash), { transport: "rsaes-oaep", keyLength: 32, oaepHash }))).toBe(toHex(cek));
  });

  it("RSAES-OAEP failures (bad ciphertext, wrong hash, wrong key length) are the same DecryptError as on the calling thread", async () => {
    const cases: [Uint8Array, "sha1" | "sha256", number][] = [
      [rawRsa(block(cek)), "sha1", 32],
      [oaep(cek, "sha256"), "sha1", 32],
      [oaep(cek), "sha1", 16],
      [new Uint8Array(K).fill(0xff), "sha1", 32],
      [new Uint8Array(3), "sha1", 32],
    ];
    for (const [ct, oaepHash, keyLength] of cases) {
      const params = { transport: "rsaes-oaep" as const, keyLength, oaepHash };
      const [a, b] = await Promise.all([pooled.decrypt(ct, params).catch((e: unknown) => e), pki.ca.decrypt(ct, params).catch((e: unknown) => e)]);
      for (const e of [a, b]) {
        expect(e).toBeInstanceOf(DecryptError);
        expect({ code: (e as DecryptError).code, failInfo: (e as DecryptError).failInfo, message: (e as DecryptError).message }).toEqual({
          code: "ERR_DECRYPT_FAILED",
          failInfo: "badMessageCheck",
          message: "could not decrypt the envelope",
        });
      }
    }
  });

  it("decodePkiMessage with the pooled key reads the PKCSReq the in-thread key reads", async () => {
    const key = randomBytes(32);
    const iv = randomBytes(16);
    const message = await signedPkcsReq(pki.ca, pki.requesters.rsa, {
      cipher: "aes256",
      iv,
      encrypted: nc.encryptContent("aes256", key, iv, pki.requesters.rsa.csr),
      encryptedKey: pkcs1(key),
      transactionId: "POOL-1",
      senderNonce: new Uint8Array(16).fill(3),
      now: NOW,
    });
    const [a, b] = await Promise.all([decodePkiMessage(message, { decrypters: pooled }), decodePkiMessage(message, { decrypters: pki.ca })]);
    expect(toHex(a.csr!.der)).toBe(toHex(pki.requesters.rsa.csr));
    expect(toHex(b.csr!.der)).toBe(toHex(pki.requesters.rsa.csr));
    expect(a.recipient).toBe(pooled);
  });

  it("workerPool: true uses the process-wide shared pool", async () => {
    const shared = KeyWorkerPool.shared();
    expect(KeyWorkerPool.shared()).toBe(shared);
    const key = LocalKey.from(pki.ca.certificate, pki.caKeys.privateKey, { workerPool: true });
    const done = key.decrypt(pkcs1(cek), { transport: "rsaes-pkcs1-v1_5", keyLength: 32 });
    expect(shared.pending).toBe(1);
    expect(toHex(await done)).toBe(toHex(cek));
    expect(shared.pending).toBe(0);
  });
});

describe("signatures on the pool (LocalKey.sign, RFC 8017 §8.2 and §8.1, FIPS 186 ECDSA): the calling thread's signatures", () => {
  const data = new Uint8Array(randomBytes(600));

  it("RSASSA-PKCS1-v1_5 is deterministic: the pool's signature equals the calling thread's byte for byte (SHA-1, SHA-256, SHA-512)", async () => {
    for (const digest of ["sha1", "sha256", "sha512"] as const) {
      const alg = { scheme: "rsa-pkcs1", digest } as const;
      const signing = pooled.sign(data, alg);
      expect(pool.pending).toBe(1); // on a thread of the pool, not here
      expect(toHex(await signing)).toBe(toHex(await pki.ca.sign(data, alg)));
      expect(pool.pending).toBe(0);
    }
  });

  it("RSASSA-PSS and ECDSA (randomised) verify with the signer's public key; a changed byte does not", async () => {
    const pss = { scheme: "rsa-pss", digest: "sha256" } as const;
    const rsaSig = await pooled.sign(data, pss);
    expect(nc.verify(nc.publicKeyFromSpki(pki.ca.certificate.spki), pss, data, rsaSig)).toBe(true);
    const ec = pki.requesters.p256;
    const ecPooled = LocalKey.from(ec.signer.certificate, ec.keys.privateKey, { workerPool: pool });
    const ecdsa = { scheme: "ecdsa", digest: "sha256" } as const;
    const ecSig = await ecPooled.sign(data, ecdsa);
    const ecKey = nc.publicKeyFromSpki(ec.signer.certificate.spki);
    expect(nc.verify(ecKey, ecdsa, data, ecSig)).toBe(true);
    const changed = data.slice();
    changed[0]! ^= 1;
    expect(nc.verify(ecKey, ecdsa, changed, ecSig)).toBe(false);
  });

  it("a key that cannot make the signature is refused before any thread: ERR_UNSUPPORTED_ALGORITHM, as on the calling thread", async () => {
    const ecPooled = LocalKey.from(pki.requesters.p256.signer.certificate, pki.requesters.p256.keys.privateKey, { workerPool: pool });
    const before = pool.pending;
    await expect(ecPooled.sign(data, { scheme: "rsa-pkcs1", digest: "sha256" })).rejects.toMatchObject({ code: "ERR_UNSUPPORTED_ALGORITHM" });
    await expect(pooled.sign(data, { scheme: "ecdsa", digest: "sha256" })).rejects.toMatchObject({ code: "ERR_UNSUPPORTED_ALGORITHM" });
    expect(pool.pending).toBe(before);
  });

  it("64 concurrent signatures and decryptions over 2 threads: each its own answer", async () => {
    const alg = { scheme: "rsa-pkcs1", digest: "sha256" } as const;
    const inputs = Array.from({ length: 32 }, (_, i) => new Uint8Array(randomBytes(40 + i)));
    const expected = await Promise.all(inputs.map((d) => pki.ca.sign(d, alg)));
    const cek = new Uint8Array(randomBytes(16));
    const [sigs, keys] = await Promise.all([
      Promise.all(inputs.map((d) => pooled.sign(d, alg))),
      Promise.all(inputs.map(() => pooled.decrypt(pkcs1(cek), { transport: "rsaes-pkcs1-v1_5", keyLength: 16 }))),
    ]);
    expect(sigs.map(toHex)).toEqual(expected.map(toHex));
    expect(new Set(keys.map(toHex))).toEqual(new Set([toHex(cek)]));
  });

  it("a closed pool rejects a signature with KeyUnavailableError (ERR_KEY_UNAVAILABLE): the server answers 503, not a 500", async () => {
    const closed = newPool({ size: 1 });
    await closed.close();
    const key = LocalKey.from(pki.ca.certificate, pki.caKeys.privateKey, { workerPool: closed });
    const err = await key.sign(data, { scheme: "rsa-pkcs1", digest: "sha256" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyUnavailableError);
    expect(isScepError(err) && err.code).toBe("ERR_KEY_UNAVAILABLE");
  });
});

describe("KeyWorkerPool: concurrency, bounded queue, crashes, close", () => {
  it("64 concurrent decryptions with two keys over 2 threads: each its own answer", async () => {
    const other = pki.requesters.rsa; // a second RSA-2048 key and its certificate
    const raPooled = LocalKey.from(other.signer.certificate, other.keys.privateKey, { workerPool: pool });
    const raPublic = nc.publicKeyFromSpki(other.signer.certificate.spki);
    const jobs = Array.from({ length: 64 }, (_, i) => {
      const m = new Uint8Array(16).fill(i);
      const toRa = i % 2 === 1;
      const ct = toRa ? publicEncrypt({ key: raPublic, padding: constants.RSA_PKCS1_PADDING }, m) : pkcs1(m);
      return (toRa ? raPooled : pooled).decrypt(ct, { transport: "rsaes-pkcs1-v1_5", keyLength: 16 }).then(toHex);
    });
    expect(pool.pending).toBe(64);
    expect(await Promise.all(jobs)).toEqual(Array.from({ length: 64 }, (_, i) => toHex(new Uint8Array(16).fill(i))));
    expect(pool.pending).toBe(0);
  });

  it("past maxQueue an operation rejects at once with KeyUnavailableError; the queued ones complete", async () => {
    const small = newPool({ size: 1, maxQueue: 4 });
    const key = LocalKey.from(pki.ca.certificate, pki.caKeys.privateKey, { workerPool: small });
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => key.decrypt(pkcs1(cek), { transport: "rsaes-pkcs1-v1_5", keyLength: 32 })));
    expect(results.slice(0, 4).map((r) => r.status === "fulfilled" && toHex(r.value))).toEqual(Array(4).fill(toHex(cek)));
    for (const r of results.slice(4)) {
      expect(r.status).toBe("rejected");
      const e = (r as PromiseRejectedResult).reason as KeyUnavailableError;
      expect(e).toBeInstanceOf(KeyUnavailableError);
      expect([e.name, e.code, e.message, e.retryAfterSeconds, isScepError(e)]).toEqual(["KeyUnavailableError", "ERR_KEY_UNAVAILABLE", "the key worker queue is full (4 operations)", 1, true]);
    }
  });

  it("a thread that crashes fails its pending operations with KeyUnavailableError; the next operation gets a new thread", async () => {
    const p = newPool({ size: 1 });
    const key = LocalKey.from(pki.ca.certificate, pki.caKeys.privateKey, { workerPool: p });
    const params = { transport: "rsaes-pkcs1-v1_5" as const, keyLength: 32 };
    expect(toHex(await key.decrypt(pkcs1(cek), params))).toBe(toHex(cek)); // the thread runs and holds the key
    const exited = crashKeyWorkerForTest(p);
    const pending = [key.decrypt(pkcs1(cek), params), key.decrypt(pkcs1(cek), params), key.decrypt(pkcs1(cek), { transport: "rsaes-oaep", keyLength: 32 })];
    expect(p.pending).toBe(3);
    const settled = await Promise.allSettled(pending);
    expect(await exited).toBe(1);
    for (const r of settled) {
      const e = (r as PromiseRejectedResult).reason as KeyUnavailableError;
      expect([r.status, e.code, e.message]).toEqual(["rejected", "ERR_KEY_UNAVAILABLE", "the key worker thread exited (code 1)"]);
    }
    expect(p.pending).toBe(0);
    // A new thread, sent the key again.
    expect(toHex(await key.decrypt(pkcs1(cek), params))).toBe(toHex(cek));
    expect(toHex(await key.decrypt(oaep(cek), { transport: "rsaes-oaep", keyLength: 32 }))).toBe(toHex(cek));
  });

  it("a thread that lost the key fails the operation with KeyUnavailableError instead of answering a bad padding (a synthetic key); the next operation gets a new thread", async () => {
    const p = newPool({ size: 1 });
    const key = LocalKey.from(pki.ca.certificate, pki.caKeys.privateKey, { workerPool: p });
    const params = { transport: "rsaes-pkcs1-v1_5" as const, keyLength: 32 };
    expect(toHex(await key.decrypt(pkcs1(cek), params))).toBe(toHex(cek));
    dropKeysInKeyWorkerForTest(p);
    await expect(key.decrypt(pkcs1(cek), params)).rejects.toMatchObject({ code: "ERR_KEY_UNAVAILABLE", message: "the key worker thread exited (code 1)" });
    expect(p.pending).toBe(0);
    expect(toHex(await key.decrypt(pkcs1(cek), params))).toBe(toHex(cek));
  });

  it("close() rejects operations in flight and later ones with KeyUnavailableError; closing twice is fine", async () => {
    const p = newPool({ size: 2 });
    const key = LocalKey.from(pki.ca.certificate, pki.caKeys.privateKey, { workerPool: p });
    const params = { transport: "rsaes-pkcs1-v1_5" as const, keyLength: 32 };
    const inFlight = Promise.allSettled([key.decrypt(pkcs1(cek), params), key.decrypt(pkcs1(cek), params)]);
    await p.close();
    for (const r of await inFlight) {
      // An answer that arrived before close() resolves; none may hang or reject otherwise.
      if (r.status === "fulfilled") expect(toHex(r.value)).toBe(toHex(cek));
      else expect([(r.reason as KeyUnavailableError).code, (r.reason as Error).message]).toEqual(["ERR_KEY_UNAVAILABLE", "the key worker pool is closed"]);
    }
    await expect(key.decrypt(pkcs1(cek), params)).rejects.toMatchObject({ name: "KeyUnavailableError", code: "ERR_KEY_UNAVAILABLE", message: "the key worker pool is closed" });
    expect(p.pending).toBe(0);
    await p.close();
  });

  it("sizes: default min(2, availableParallelism()); out of range is ERR_INVALID_ARGUMENT", () => {
    expect(new KeyWorkerPool().size).toBe(Math.min(2, availableParallelism()));
    if (availableParallelism() >= 2) expect(new KeyWorkerPool().size).toBe(2);
    expect(new KeyWorkerPool().maxQueue).toBe(1024);
    for (const size of [0, 65, 1.5, Number.NaN]) expect(() => new KeyWorkerPool({ size })).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }));
    expect(() => new KeyWorkerPool({ maxQueue: 0 })).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }));
  });

  it("an idle pool keeps no process alive, and a busy one keeps it until the answer (under node --import tsx)", async () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const script = join(here, "support", "key-worker-pool-child.ts");
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", script], { timeout: 60_000, cwd: join(here, "..") });
    // The script decrypts, does not close its pool, and ends by itself.
    expect(stdout.trim()).toBe(`decrypted ${toHex(new Uint8Array(16).fill(0x42))}`);
  });
});

describe("RFC 8894 §3.2.2 server with a pooled CA key", () => {
  const post = (server: ReturnType<typeof createScepServer>, body: Uint8Array) =>
    server.fetch(new Request("http://scep.test/scep?operation=PKIOperation", { method: "POST", body: body as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/x-pki-message" } }));

  function serverWith(signer: LocalKey, events: ScepEvent[]) {
    return createScepServer({
      profiles: [{ name: "p", path: "/scep", caCertificate: pki.ca.certificate, signer, challenge: { type: "static", password: "oracle" }, issue: async () => ({ status: "FAILURE" }) }],
      onEvent: (e) => void events.push(e),
      now: () => NOW,
    });
  }

  it("bad padding and a wrong content key: both FAILURE badMessageCheck decrypt_failed, as in-thread", async () => {
    const events: ScepEvent[] = [];
    const server = serverWith(pooled, events);
    for (const kind of ["bad-padding", "wrong-key"] as const) {
      const res = await post(server, await oracleMessage(pki.ca, pki.requesters.rsa, kind, { cipher: "aes256", transactionId: "POOL-ORACLE" }));
      expect(res.status).toBe(200);
      const { latencyMs: _l, time, ...event } = events.at(-1)!;
    expect(time).toEqual(NOW);
      expect(event).toEqual({ operation: "PKCSReq", outcome: "failure", reason: "decrypt_failed", failInfo: "badMessageCheck", status: 200, profile: "p", transactionId: "POOL-ORACLE" });
    }
  });

  it("a key whose pool cannot run it: HTTP 503 with Retry-After 1 (reason key_unavailable), not a FAILURE CertRep", async () => {
    const closed = newPool({ size: 1 });
    await closed.close();
    const events: ScepEvent[] = [];
    const server = serverWith(LocalKey.from(pki.ca.certificate, pki.caKeys.privateKey, { workerPool: closed }), events);
    const res = await post(server, await oracleMessage(pki.ca, pki.requesters.rsa, "wrong-key", { cipher: "aes256", transactionId: "POOL-503" }));
    expect([res.status, res.headers.get("retry-after"), await res.text()]).toEqual([503, "1", "key unavailable, retry later\n"]);
    const { latencyMs: _l, time, ...event } = events.at(-1)!;
    expect(time).toEqual(NOW);
    expect(event).toEqual({ operation: "PKIOperation", outcome: "error", reason: "key_unavailable", status: 503, profile: "p" });
  });

  it("every request the server decrypts (RFC 8894 §3.3: PKCSReq, RenewalReq, CertPoll, GetCert, GetCRL) gets that 503 from a key that cannot be used", async () => {
    const closed = newPool({ size: 1 });
    await closed.close();
    const events: ScepEvent[] = [];
    const server = serverWith(LocalKey.from(pki.ca.certificate, pki.caKeys.privateKey, { workerPool: closed }), events);
    const r = pki.requesters.rsa;
    const common = { signer: r.signer, recipient: pki.ca.certificate, now: NOW };
    const ids = { issuer: pki.ca.certificate.subjectDer, serialNumber: new Uint8Array([0x01, 0x23]) };
    const messages = {
      PKCSReq: () => buildPkcsReq({ ...common, csr: r.csr }),
      RenewalReq: () => buildPkcsReq({ ...common, csr: r.csr, renewal: true }),
      CertPoll: () => buildCertPoll({ ...common, issuer: pki.ca.certificate, subject: CertificationRequest.from(r.csr).subjectDer, transactionId: "POOL-POLL" }),
      GetCert: () => buildGetCert({ ...common, ...ids }),
      GetCRL: () => buildGetCrl({ ...common, ...ids }),
    };
    for (const [name, build] of Object.entries(messages)) {
      const res = await post(server, (await build()).der);
      expect([name, res.status, res.headers.get("retry-after"), await res.text()]).toEqual([name, 503, "1", "key unavailable, retry later\n"]);
      expect(events.at(-1)).toMatchObject({ outcome: "error", reason: "key_unavailable", status: 503 });
    }
    expect(events).toHaveLength(5);
  });
});

