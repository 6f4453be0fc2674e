/**
 * INTUNE.md "Trust anchors": a PEM bundle is loaded whole or refused whole
 * (empty, unparsable, expired, or a key that cannot verify RS256/ES256);
 * reload swaps atomically, and a failed reload keeps the old pool and reports
 * the error. Each anchor's expiry is exposed.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignedTokenValidator, TrustAnchorPool, isIntuneError } from "../src/index.js";
import { NOW, anchor, csrWith, goodClaims, mint, type Anchor } from "./support/tokens.js";

let rsa: Anchor;
let ec: Anchor;
let ec2: Anchor;
let expired: Anchor;
let dir: string;
const now = (): Date => NOW;

beforeAll(async () => {
  [rsa, ec, ec2] = await Promise.all([anchor("rsa2048", "CN=rsa anchor, O=tests"), anchor("p256", "CN=ec anchor"), anchor("p256", "CN=ec anchor 2")]);
  // valid from NOW − 40 days for 10 days: expired 30 days before NOW
  expired = await anchor("p256", "CN=expired anchor", new Date(NOW.getTime() - 40 * 86_400_000), 10);
  dir = mkdtempSync(join(tmpdir(), "intune-anchors-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const refusedWith = (message: RegExp) => expect.objectContaining({ name: "TrustAnchorError", code: "ERR_TRUST_ANCHORS", message: expect.stringMatching(message) });

describe("loading a bundle", () => {
  it("exposes each anchor's subject, key type and expiry in bundle order; comments and other blocks are ignored", () => {
    const pool = TrustAnchorPool.fromPem(`# connector anchors\n${rsa.pem}\n-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n${ec.pem}`, { now });
    expect(pool.anchors.map((a) => [a.subject, a.keyType, a.modulusBits, a.notAfter.toISOString()])).toEqual([
      ["CN=rsa anchor, O=tests", "rsa", 2048, new Date(NOW.getTime() + 30 * 86_400_000).toISOString().replace(/\.\d+Z/, ".000Z")],
      ["CN=ec anchor", "ec", undefined, new Date(NOW.getTime() + 30 * 86_400_000).toISOString().replace(/\.\d+Z/, ".000Z")],
    ]);
    expect(pool.anchors[0]!.fingerprintSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(pool.expiresAt).toEqual(pool.anchors[0]!.notAfter);
  });

  it.each([
    ["an empty bundle", "", /the bundle holds no certificate/],
    ["text without a certificate", "hello\n-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", /the bundle holds no certificate/],
    ["a certificate that is not base64", "-----BEGIN CERTIFICATE-----\nnot*base64\n-----END CERTIFICATE-----\n", /certificate 1 is not valid base64/],
    ["a certificate that is not DER", "-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n", /certificate 1 cannot be parsed/],
    ["a BEGIN CERTIFICATE closed by another label", "-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END PUBLIC KEY-----\n", /certificate 1 has no matching END CERTIFICATE line/],
  ])("%s is refused", (_name, pem, message) => {
    expect(() => TrustAnchorPool.fromPem(pem, { now })).toThrow(refusedWith(message));
  });

  it("one expired certificate refuses the whole bundle, naming it", () => {
    expect(() => TrustAnchorPool.fromPem(ec.pem + expired.pem, { now })).toThrow(refusedWith(/certificate 2 \(CN=expired anchor\) expired at /));
  });

  it("one unparsable certificate after good ones refuses the whole bundle", () => {
    expect(() => TrustAnchorPool.fromPem(`${rsa.pem}${ec.pem}-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n`, { now })).toThrow(refusedWith(/certificate 3 cannot be parsed/));
  });

  it("an RSA-1024 anchor is refused (RS256 needs 2048 bits), a P-384 anchor too (ES256 is P-256)", async () => {
    const [small, p384] = await Promise.all([anchor("rsa1024", "CN=small"), anchor("p384", "CN=p384")]);
    expect(() => TrustAnchorPool.fromPem(small.pem, { now })).toThrow(refusedWith(/certificate 1 \(CN=small\) has a 1024-bit RSA key; RS256 needs 2048 bits or more/));
    expect(() => TrustAnchorPool.fromPem(p384.pem, { now })).toThrow(refusedWith(/certificate 1 \(CN=p384\) has an EC key on secp384r1; ES256 needs P-256/));
  });

  it("expiry is decided by the injected clock", () => {
    const later = new Date(NOW.getTime() + 31 * 86_400_000);
    expect(() => TrustAnchorPool.fromPem(ec.pem, { now: () => later })).toThrow(refusedWith(/expired at/));
  });

  it("errors are typed (isIntuneError) and fromFile names an unreadable path", async () => {
    const e = await TrustAnchorPool.fromFile(join(dir, "missing.pem")).catch((x: unknown) => x);
    expect(isIntuneError(e)).toBe(true);
    expect(e).toMatchObject({ code: "ERR_TRUST_ANCHORS", message: `${join(dir, "missing.pem")}: cannot be read (ENOENT)` });
  });
});

describe("reload: atomic swap; a bad file keeps the old pool and reports the error", () => {
  it("a good reload swaps the keys in use; a bad one keeps them and sets lastReloadError until the next good one", async () => {
    const file = join(dir, "anchors.pem");
    writeFileSync(file, ec.pem);
    const pool = await TrustAnchorPool.fromFile(file, { now });
    const v = new SignedTokenValidator({ trustAnchors: pool, rateLimit: false, now });
    const csr = await csrWith(undefined);
    const check = (key: Anchor) => v.validate({ challenge: mint(key.privateKey, goodClaims()), csr, request: { transactionId: "T" } });

    expect(await check(ec)).toMatchObject({ ok: true });
    expect(await check(ec2)).toMatchObject({ ok: false, reason: "signature_invalid" });

    writeFileSync(file, ec2.pem);
    expect((await pool.reload()).map((a) => a.subject)).toEqual(["CN=ec anchor 2"]);
    expect(await check(ec2)).toMatchObject({ ok: true });
    expect(await check(ec)).toMatchObject({ ok: false, reason: "signature_invalid" });

    for (const [bad, message] of [
      ["", /holds no certificate/],
      [ec.pem + expired.pem, /expired at/],
      ["-----BEGIN CERTIFICATE-----\ntruncated", /holds no certificate/],
    ] as const) {
      writeFileSync(file, bad);
      await expect(pool.reload()).rejects.toThrow(refusedWith(message));
      expect(pool.lastReloadError).toMatchObject({ code: "ERR_TRUST_ANCHORS" });
      expect(pool.anchors.map((a) => a.subject)).toEqual(["CN=ec anchor 2"]);
      expect(await check(ec2)).toMatchObject({ ok: true });
    }
    rmSync(file);
    await expect(pool.reload()).rejects.toThrow(refusedWith(/cannot be read \(ENOENT\)/));
    expect(await check(ec2)).toMatchObject({ ok: true });

    expect((await pool.reload(rsa.pem + ec.pem)).map((a) => a.subject)).toEqual(["CN=rsa anchor, O=tests", "CN=ec anchor"]);
    expect(pool.lastReloadError).toBeUndefined();
  });

  it("reloads take effect in call order: a file reload still reading does not overwrite a reload called after it", async () => {
    const file = join(dir, "anchors-order.pem");
    writeFileSync(file, ec.pem);
    const pool = await TrustAnchorPool.fromFile(file, { now });
    const fromFile = pool.reload(); // reads the file (ec): I/O under way
    const fromText = pool.reload(ec2.pem); // called later: the operator's newer bundle
    expect((await fromFile).map((a) => a.subject)).toEqual(["CN=ec anchor"]);
    expect((await fromText).map((a) => a.subject)).toEqual(["CN=ec anchor 2"]);
    expect(pool.anchors.map((a) => a.subject)).toEqual(["CN=ec anchor 2"]); // the last call decides

    writeFileSync(file, ""); // an earlier reload that fails does not leave its error after a later good one
    const bad = pool.reload();
    const good = pool.reload(rsa.pem);
    await expect(bad).rejects.toThrow(refusedWith(/holds no certificate/));
    await good;
    expect(pool.anchors.map((a) => a.subject)).toEqual(["CN=rsa anchor, O=tests"]);
    expect(pool.lastReloadError).toBeUndefined();
    // With no reload under way, a text reload swaps before it returns, as before.
    void pool.reload(ec.pem);
    expect(pool.anchors.map((a) => a.subject)).toEqual(["CN=ec anchor"]);
    // Also right after an awaited one (the usual sequence): nothing is queued behind a reload already finished.
    await pool.reload(ec2.pem);
    void pool.reload(rsa.pem);
    expect(pool.anchors.map((a) => a.subject)).toEqual(["CN=rsa anchor, O=tests"]);
  });

  it("a pool from PEM text reloads from text only", async () => {
    const pool = TrustAnchorPool.fromPem(ec.pem, { now });
    await expect(pool.reload()).rejects.toThrow(refusedWith(/reload\(\) needs PEM text/));
    expect(pool.anchors).toHaveLength(1);
  });
});
