/**
 * The BUILT package (`dist/index.js` for `import`, `dist/index.cjs` for
 * `require`) does what the sources do: same public surface, a full
 * enrollment round trip through each format, a captured strongSwan request
 * decoded with the captured CA, and typed errors a `src` guard recognises.
 *
 * Needs `pnpm build` first (the root `pnpm test` builds before vitest).
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import * as src from "../src/index.js";

type Core = typeof import("../dist/index.js");

const here = dirname(fileURLToPath(import.meta.url));
const distEsm = join(here, "../dist/index.js");
const distCjs = join(here, "../dist/index.cjs");
const captured = join(here, "vectors/captured");
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(captured, name)));
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

const builds: Record<"esm" | "cjs", Core> = {} as Record<"esm" | "cjs", Core>;

beforeAll(async () => {
  if (!existsSync(distEsm) || !existsSync(distCjs)) {
    throw new Error(`packages/core/dist is missing: run \`pnpm build\` before this test (looked for ${distEsm} and ${distCjs})`);
  }
  builds.esm = (await import("../dist/index.js")) as Core;
  builds.cjs = createRequire(import.meta.url)("../dist/index.cjs") as Core;
});

const NOW = new Date("2026-11-23T12:00:00Z");
const NONCE = new Uint8Array(16).fill(7);

describe("dist: public surface", () => {
  it("the ESM and CJS builds export exactly what src/index.ts exports", () => {
    const expected = Object.keys(src).sort();
    expect(expected).toEqual(expect.arrayContaining(["LocalKey", "decodePkiMessage", "buildCertRep", "buildPkcsReq", "readCertRep", "ScepError", "isScepError"]));
    expect(Object.keys(builds.esm).sort()).toEqual(expected);
    expect(Object.keys(builds.cjs).filter((k) => k !== "default" && k !== "module.exports").sort()).toEqual(expected);
  });

  it("the two builds are distinct module instances (a dual-package consumer gets two copies)", () => {
    expect(builds.esm.ScepError).not.toBe(builds.cjs.ScepError);
  });
});

describe.each(["esm", "cjs"] as const)("dist (%s): KeyWorkerPool (its worker is inline, so the bundle needs no extra file)", (format) => {
  it("a LocalKey on a pool decodes the PKCSReq the in-thread key decodes; close() ends the threads", async () => {
    const m = builds[format];
    const caKeys = await m.generateRsaKeyPair(2048);
    const caSelfSigned = await m.createSelfSignedSigner({ keys: caKeys, subject: "CN=dist pool CA", now: NOW, days: 365 });
    const pool = new m.KeyWorkerPool({ size: 1 });
    const ca = m.LocalKey.from(caSelfSigned.certificate.der, caKeys.privateKey, { workerPool: pool });
    const keys = await m.generateRsaKeyPair(2048);
    const csr = await m.generateCsr({ keys, subject: "CN=dist-pool-device", challengePassword: "secret" });
    const device = await m.createSelfSignedSigner({ keys, subject: "CN=dist-pool-device", now: NOW });
    for (const keyTransport of ["rsaes-pkcs1-v1_5", "rsaes-oaep"] as const) {
      const built = await m.buildPkcsReq({ csr, signer: device, recipient: ca.certificate, cipher: "aes256", keyTransport, senderNonce: NONCE, now: NOW });
      const req = await m.decodePkiMessage(built.der, { decrypters: [ca] });
      expect([req.keyTransport, req.csr?.subject, hex(req.csr!.der)]).toEqual([keyTransport, "CN=dist-pool-device", hex(csr)]);
    }
    await pool.close();
    await expect(ca.decrypt(new Uint8Array(256), { transport: "rsaes-pkcs1-v1_5", keyLength: 32 })).rejects.toMatchObject({ code: "ERR_KEY_UNAVAILABLE" });
  });
});

describe.each(["esm", "cjs"] as const)("dist (%s): enrollment round trip", (format) => {
  it("generate key, CSR and self-signed signer → buildPkcsReq → decodePkiMessage → buildCertRep → readCertRep", async () => {
    const m = builds[format];
    const caKeys = await m.generateRsaKeyPair(2048);
    const caSelfSigned = await m.createSelfSignedSigner({ keys: caKeys, subject: "CN=dist test CA,O=scep-sdk", now: NOW, days: 365 });
    const ca = m.LocalKey.fromPem(caSelfSigned.certificate.toPem(), await m.exportPrivateKeyPem(caKeys.privateKey));
    expect(ca.keyType).toBe("rsa");

    const keys = await m.generateRsaKeyPair(2048);
    const csr = await m.generateCsr({ keys, subject: "CN=dist-device", challengePassword: "secret", san: { dns: ["dist-device.example"] } });
    const device = await m.createSelfSignedSigner({ keys, subject: "CN=dist-device", now: NOW });
    const built = await m.buildPkcsReq({ csr, signer: device, recipient: ca.certificate, cipher: "aes128", digest: "sha384", senderNonce: NONCE, now: NOW });
    expect(built.messageType).toBe(m.MessageType.PKCSReq);
    expect(built.transactionId).toMatch(/^[0-9A-F]{64}$/);

    const req = await m.decodePkiMessage(built.der, { decrypters: [ca] });
    expect(req.messageTypeName).toBe("PKCSReq");
    expect(req.transactionId).toBe(built.transactionId);
    expect(hex(req.senderNonce)).toBe(hex(NONCE));
    expect(req.signingTime).toEqual(NOW);
    expect(req.contentCipher).toBe("aes128");
    expect(req.digestAlgorithm).toBe("sha384");
    expect(req.keyTransport).toBe("rsaes-pkcs1-v1_5");
    expect(req.recipient).toBe(ca);
    expect(hex(req.signerCertificate.der)).toBe(hex(device.certificate.der));
    expect(req.csr?.subject).toBe("CN=dist-device");
    expect(req.csr?.challengePassword).toBe("secret");
    expect(req.csr?.subjectAltNames.dns).toEqual(["dist-device.example"]);
    expect(req.csr?.verify()).toBe(true);

    const reply = await m.buildCertRep({ request: req, signer: ca, status: "SUCCESS", certificates: [device.certificate, ca.certificate], now: NOW });
    const rep = await m.readCertRep(reply, { decrypter: device, caCertificates: [ca.certificate], request: built });
    expect(rep.status).toBe("SUCCESS");
    expect(rep.transactionId).toBe(built.transactionId);
    expect(hex(rep.recipientNonce ?? new Uint8Array())).toBe(hex(NONCE));
    expect(rep.senderNonce).toHaveLength(16);
    expect(rep.digestAlgorithm).toBe("sha384");
    expect(rep.contentCipher).toBe("aes128");
    expect(rep.keyTransport).toBe("rsaes-pkcs1-v1_5");
    expect(rep.signerCertificate.subject).toBe("CN=dist test CA, O=scep-sdk");
    expect(rep.certificates.map((c) => hex(c.der))).toEqual([hex(device.certificate.der), hex(ca.certificate.der)]);

    const failure = await m.buildCertRep({ request: req, signer: ca, status: "FAILURE", failInfo: "badRequest", failInfoText: "bad challenge", now: NOW });
    const failed = await m.readCertRep(failure, { request: built });
    expect([failed.status, failed.failInfo, failed.failInfoText]).toEqual(["FAILURE", "badRequest", "bad challenge"]);
  });

  it("decodes a captured strongSwan PKCSReq with the captured CA key (PEM encrypted with an empty passphrase)", async () => {
    const m = builds[format];
    const ca = m.LocalKey.fromPem(readFileSync(join(captured, "ca.pem"), "utf8"), readFileSync(join(captured, "ca.key"), "utf8"), { passphrase: "" });
    const req = await m.decodePkiMessage(fixture("pkcsreq.strongswan.des3-sha256.der"), { decrypters: ca });
    expect(req.messageTypeName).toBe("PKCSReq");
    expect(req.transactionId).toBe("877AF6E65AE7441CFCFD27A6087B9904B7F65E2E");
    expect(req.csr?.subject).toBe("CN=fixture-ss-des3-sha256-pkcs1");
    expect(req.csr?.challengePassword).toBe("secret");
    expect([req.contentCipher, req.digestAlgorithm, req.keyTransport]).toEqual(["des3", "sha256", "rsaes-pkcs1-v1_5"]);
    expect(req.signatureAlgorithm).toEqual({ scheme: "rsa-pkcs1", digest: "sha256", rsaOid: "withDigest" });
  });

  it("throws typed errors that the src type guard recognises across copies", async () => {
    const m = builds[format];
    const ca = m.LocalKey.fromPem(readFileSync(join(captured, "ca.pem"), "utf8"), readFileSync(join(captured, "ca.key"), "utf8"), { passphrase: "" });
    const error: unknown = await m.decodePkiMessage(new Uint8Array([1, 2, 3]), { decrypters: [ca] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(m.Asn1Error);
    expect(error).not.toBeInstanceOf(src.ScepError);
    expect(src.isScepError(error)).toBe(true);
    expect(error).toMatchObject({ name: "Asn1Error", code: "ERR_ASN1", failInfo: "badRequest" });
  });
});
