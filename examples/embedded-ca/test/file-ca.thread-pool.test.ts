// openFileCa's `threadPool` option: where the CA key signs (libuv's pool, the default, or the calling thread).
// Either way the same CA signs certificates and CRLs that OpenSSL accepts (RFC 5280 §6 path validation, §6.3 CRL).
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { KeyWorkerPool } from "@scep/core";
import { openFileCa } from "../src/index.js";
import { openssl, opensslCsr, tempDir, writePem } from "./helpers.js";

let dir: string;
let csrDer: Uint8Array;

beforeAll(() => {
  dir = tempDir();
  csrDer = opensslCsr(dir, "device", { subject: "/O=Acme Devices/CN=thread-0001" });
});

describe("openFileCa({ threadPool })", () => {
  it("threadPool: false signs certificates and CRLs on the calling thread with the same CA key; OpenSSL verifies both", async () => {
    const dataDir = join(dir, "data");
    const pooled = await openFileCa({ dataDir });
    const inThread = await openFileCa({ dataDir, threadPool: false });
    expect(inThread.certificatePem).toBe(pooled.certificatePem);
    // Where each signs: on the calling thread the signature is there within a few microtasks; libuv's pool answers
    // only in a later turn of the event loop, which microtasks never reach.
    const signsBeforeIo = async (ca: typeof pooled): Promise<boolean> => {
      let done = false;
      const signing = ca.signer.sign(new Uint8Array(32), { scheme: "rsa-pkcs1", digest: "sha256" }).then(() => (done = true));
      for (let i = 0; i < 5; i++) await Promise.resolve();
      const early = done;
      await signing;
      return early;
    };
    expect(await signsBeforeIo(inThread)).toBe(true);
    expect(await signsBeforeIo(pooled)).toBe(false);

    const a = await pooled.issue({ csrDer });
    const b = await inThread.issue({ csrDer });
    const caFile = writePem(dir, "ca.pem", inThread.certificatePem);
    for (const [name, issued] of [["a.pem", a], ["b.pem", b]] as const) {
      expect(openssl(["verify", "-CAfile", caFile, writePem(dir, name, issued.certificatePem)], dir)).toContain(": OK");
    }

    await inThread.revoke(a.serialNumber, "superseded"); // not keyCompromise: b is of the same key and would be revoked with it
    const crl = await inThread.crl();
    const out = openssl(["crl", "-in", writePem(dir, "crl.pem", crl.pem), "-CAfile", caFile, "-noout", "-text"], dir);
    expect(out).toContain(`Serial Number: ${a.serialNumber.toUpperCase()}`);
    expect(crl.revokedCount).toBe(1);
  });

  it("workerPool: certificates signed on the pool's thread verify; a CRL too", async () => {
    const pool = new KeyWorkerPool({ size: 1 });
    try {
      const ca = await openFileCa({ dataDir: join(dir, "pooled"), workerPool: pool });
      const issued = await ca.issue({ csrDer });
      const caFile = writePem(dir, "pooled-ca.pem", ca.certificatePem);
      expect(openssl(["verify", "-CAfile", caFile, writePem(dir, "pooled.pem", issued.certificatePem)], dir)).toContain(": OK");
      const crl = await ca.crl();
      expect(openssl(["crl", "-in", writePem(dir, "pooled-crl.pem", crl.pem), "-CAfile", caFile, "-noout"], dir)).toBe("");
      // ca.signer (a SCEP profile's signer in the example servers) is the same key, on the same pool.
      const signing = ca.signer.sign(new Uint8Array(32), { scheme: "rsa-pkcs1", digest: "sha256" });
      expect(pool.pending).toBe(1);
      expect((await signing).length).toBe(256);
      expect(ca.signer.certificate.der).toEqual(ca.certificateDer);
    } finally {
      await pool.close();
    }
  });

  it("a closed workerPool: issue() rejects with ERR_KEY_UNAVAILABLE and the index stays without a record", async () => {
    const pool = new KeyWorkerPool({ size: 1 });
    await pool.close();
    const dataDir = join(dir, "closed");
    const ca = await openFileCa({ dataDir, workerPool: pool });
    await expect(ca.issue({ csrDer })).rejects.toMatchObject({ code: "ERR_KEY_UNAVAILABLE" });
    expect(await ca.list()).toEqual([]);
  });

  it("refuses a threadPool that is not a boolean, a workerPool that is not a KeyWorkerPool (INVALID_OPTIONS)", async () => {
    await expect(openFileCa({ dataDir: join(dir, "bad"), workerPool: {} as unknown as KeyWorkerPool })).rejects.toMatchObject({
      code: "INVALID_OPTIONS",
      message: "workerPool must be a KeyWorkerPool",
    });
    await expect(openFileCa({ dataDir: join(dir, "bad"), threadPool: "no" as unknown as boolean })).rejects.toMatchObject({
      code: "INVALID_OPTIONS",
      message: "threadPool must be true or false",
    });
  });
});
