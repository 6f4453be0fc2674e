/**
 * The key-transport ledger (server/key-transport-ledger.ts; RFC 5652 §6.3, a CBC padding oracle on a captured
 * request): a key transport is unwrapped again only for the envelope it came in, known by the digest the request's
 * signature vouches for. The end-to-end case (probes as GetCerts on a device's key transport) is in
 * server.padding-oracle.test.ts.
 */
import { constants, publicEncrypt, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DecryptError } from "../src/index.js";
import * as nc from "../src/lib/node-crypto.js";
import { KeyTransportLedger } from "../src/server/key-transport-ledger.js";
import { createTestPki } from "./support/pki.js";

const key = () => new Uint8Array(randomBytes(256));
const digest = (n = 32) => new Uint8Array(randomBytes(n));

describe("RFC 5652 §6.3: one key transport, one envelope", () => {
  it("passes a new key transport and its exact re-send; refuses it with another envelope, or the same digest bytes under another algorithm", () => {
    const ledger = new KeyTransportLedger();
    const ek = key();
    const d = digest();
    expect(ledger.check(ek, d, "sha256")).toBe(true);
    expect(ledger.check(ek.slice(), d.slice(), "sha256")).toBe(true);
    expect(ledger.check(ek, digest(), "sha256")).toBe(false);
    expect(ledger.check(ek, d, "sha512")).toBe(false);
    const ek2 = ek.slice();
    ek2[255]! ^= 1;
    expect(ledger.check(ek2, digest(), "sha256")).toBe(true); // another key transport
  });

  it("keeps the `max` most recently seen: the least recently seen is forgotten first, a re-send counts as seen", () => {
    const ledger = new KeyTransportLedger(3);
    const [a, b, c, d] = [key(), key(), key(), key()];
    const [da, db, dc, dd] = [digest(), digest(), digest(), digest()];
    expect(ledger.check(a, da, "sha256")).toBe(true);
    expect(ledger.check(b, db, "sha256")).toBe(true);
    expect(ledger.check(c, dc, "sha256")).toBe(true);
    expect(ledger.check(a, da, "sha256")).toBe(true); // a re-send: a is now the most recent
    expect(ledger.check(d, dd, "sha256")).toBe(true); // b, the least recent, is forgotten
    expect(ledger.check(a, digest(), "sha256")).toBe(false);
    expect(ledger.check(c, digest(), "sha256")).toBe(false);
    expect(ledger.check(d, digest(), "sha256")).toBe(false);
    expect(ledger.check(b, digest(), "sha256")).toBe(true); // forgotten: new again (the documented bound)
  });

  it("evicts in order over many more key transports than it keeps", () => {
    const ledger = new KeyTransportLedger(100);
    const kept = Array.from({ length: 1000 }, () => [key(), digest()] as const);
    for (const [ek, d] of kept) expect(ledger.check(ek, d, "sha256")).toBe(true);
    for (const [ek] of kept.slice(-100)) expect(ledger.check(ek, digest(), "sha256")).toBe(false);
    for (const [ek] of kept.slice(0, 5)) expect(ledger.check(ek, digest(), "sha256")).toBe(true);
  });

  it("one key transport has one spelling: an RSAES-OAEP encryptedKey without its leading zero octet (which OpenSSL decrypts to the same content key) is refused (RFC 8017 §7.1.2 step 1b)", async () => {
    const { ca } = await createTestPki();
    const contentKey = new Uint8Array(randomBytes(32));
    const params = { transport: "rsaes-oaep", keyLength: 32, oaepHash: "sha256" } as const;
    let c: Uint8Array;
    do {
      // About one in 200 ciphertexts of an RSA-2048 key starts with a zero octet.
      c = publicEncrypt({ key: nc.publicKeyFromSpki(ca.certificate.spki), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, contentKey);
    } while (c[0] !== 0);
    expect(new Uint8Array(await ca.decrypt(c, params))).toEqual(contentKey);
    const shorter = await ca.decrypt(c.subarray(1), params).catch((e: unknown) => e);
    expect(shorter).toBeInstanceOf(DecryptError);
    expect((shorter as DecryptError).code).toBe("ERR_DECRYPT_FAILED");
  });
});
