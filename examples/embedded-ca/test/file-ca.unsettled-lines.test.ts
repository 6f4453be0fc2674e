// unsettled.jsonl (certificates an issue refused KEY_COMPROMISED but could not revoke) is settled before every CRL:
// one line that cannot be settled must not hold up the others, nor the CRL. A line whose certificate is unknowable
// (an index line written before the index held certificates, its certs/<serial>.pem gone) is told to onError and
// dropped; one whose certificate cannot be read now (EISDIR here) is told once and tried again by every later pass;
// the store being down still stops the pass (503), as before. And the errors the CA handles itself go to onError
// (open, the settling after a keyCompromise revoke, an unknowable key met by the compromised-key check), never the
// store being down, and an async onError that rejects is no unhandled rejection.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MemoryRevocationStore, StoreUnavailableError, type RevocationStore } from "@scep/core";
import { isEmbeddedCaError, openFileCa } from "../src/index.js";
import { makeLegacy, opensslCsr, sameKeyCsr, tempDir } from "./helpers.js";

/** A store over `inner` that rejects every call with StoreUnavailableError while `down.all` says so. */
function flakyStore(inner: RevocationStore): { store: RevocationStore; down: { all: boolean } } {
  const down = { all: false };
  const guard = <T>(f: () => Promise<T>): Promise<T> => (down.all ? Promise.reject(new StoreUnavailableError("revocation store down")) : f());
  const store: RevocationStore = {
    revoke: (o) => guard(() => inner.revoke(o)),
    get: (s) => guard(() => inner.get(s)),
    list: () => guard(() => inner.list()),
    nextCrlNumber: () => guard(() => inner.nextCrlNumber()),
    revision: (o) => guard(() => inner.revision!(o)),
  };
  return { store, down };
}

const codeAndMessage = (e: unknown): string => `${(e as { code?: string }).code}: ${(e as Error).message}`;

/**
 * A data directory with three certificates: `legacy` (its index line without its certificate), `a` and `a2` (one key,
 * `a` revoked keyCompromise straight in the store, as another worker's revoke whose sweep this CA did not see).
 */
async function setUp(): Promise<{ dir: string; dataDir: string; store: MemoryRevocationStore; legacy: string; a: string; a2: string }> {
  const dir = tempDir();
  const dataDir = join(dir, "data");
  const store = new MemoryRevocationStore();
  const ca = await openFileCa({ dataDir, revocations: store });
  const legacy = (await ca.issue({ csrDer: opensslCsr(dir, "legacy", { subject: "/CN=legacy" }) })).serialNumber;
  const a = (await ca.issue({ csrDer: opensslCsr(dir, "a", { subject: "/CN=a" }) })).serialNumber;
  const a2 = (await ca.issue({ csrDer: sameKeyCsr(dir, "a", "/CN=a-2") })).serialNumber;
  await store.revoke({ serialNumber: a, reason: "keyCompromise" });
  makeLegacy(dataDir, legacy);
  return { dir, dataDir, store, legacy, a, a2 };
}

describe("unsettled.jsonl: one line that cannot be settled does not block the CRL or the other lines", () => {
  it("a line for a legacy serial whose certs/<serial>.pem is gone: crl() still signs, the line after it is revoked keyCompromise, onError hears it once and the line is dropped", async () => {
    const { dataDir, store, legacy, a, a2 } = await setUp();
    rmSync(join(dataDir, "certs", `${legacy}.pem`));
    writeFileSync(join(dataDir, "unsettled.jsonl"), `{"serial":"${legacy}"}\n{"serial":"${a2}"}\n`);
    const errors: unknown[] = [];
    const ca = await openFileCa({ dataDir, revocations: store, restoreOnOpen: false, onError: (e) => errors.push(e) });
    const crl = await ca.crl();
    expect(crl.revokedCount).toBe(2);
    expect((await ca.revocation(a2))?.reason).toBe("keyCompromise");
    expect((await ca.revocation(a))?.reason).toBe("keyCompromise");
    expect(await ca.revocation(legacy)).toBeUndefined();
    expect(errors.map(codeAndMessage)).toEqual([
      `STORAGE_FAILED: the key of certificate ${legacy} cannot be known: cannot read ${join(dataDir, "certs", `${legacy}.pem`)}: ENOENT: no such file or directory, open '${join(dataDir, "certs", `${legacy}.pem`)}'`,
    ]);
    // Dropped: the next passes do not try it again (nothing more is told), and CRLs go on.
    await store.revoke({ serialNumber: legacy, reason: "superseded" });
    expect((await ca.crl()).revokedCount).toBe(3);
    expect(errors).toHaveLength(1);
  }, 120_000);

  it("a line whose certificate file cannot be read now (a directory: EISDIR) is told once, kept, and settled by a later pass once the file reads; the lines after it settle at once", async () => {
    const { dir, dataDir, store, legacy, a2 } = await setUp();
    const certFile = join(dataDir, "certs", `${legacy}.pem`);
    const pem = readFileSync(certFile, "utf8");
    rmSync(certFile);
    mkdirSync(certFile);
    // The legacy certificate's key compromised too (another worker's revoke of a further certificate of its key).
    const ca0 = await openFileCa({ dataDir, revocations: store, restoreOnOpen: false });
    const legacyTwin = (await ca0.issue({ csrDer: sameKeyCsr(dir, "legacy", "/CN=legacy-2") })).serialNumber;
    await store.revoke({ serialNumber: legacyTwin, reason: "keyCompromise" });
    writeFileSync(join(dataDir, "unsettled.jsonl"), `{"serial":"${legacy}"}\n{"serial":"${a2}"}\n`);
    const errors: unknown[] = [];
    const ca = await openFileCa({ dataDir, revocations: store, restoreOnOpen: false, onError: (e) => errors.push(e) });
    expect((await ca.crl()).revokedCount).toBe(3); // a, a2, legacyTwin
    expect((await ca.revocation(a2))?.reason).toBe("keyCompromise");
    expect(await ca.revocation(legacy)).toBeUndefined();
    expect(errors).toHaveLength(1);
    expect(isEmbeddedCaError(errors[0], "STORAGE_FAILED")).toBe(true);
    expect((errors[0] as Error).message).toMatch(new RegExp(`^unsettled\\.jsonl: certificate ${legacy} not settled, tried again at each settling: cannot read .*EISDIR`));
    await ca.crl(); // tried again, still failing: not told again
    expect(errors).toHaveLength(1);
    rmSync(certFile, { recursive: true });
    writeFileSync(certFile, pem);
    expect((await ca.crl()).revokedCount).toBe(4);
    expect((await ca.revocation(legacy))?.reason).toBe("keyCompromise");
    expect(errors).toHaveLength(1);
  }, 120_000);

  it("a line that is not a serial number this CA could have issued (over 20 octets, hand-written) is told and dropped; the CRL is signed", async () => {
    const { dataDir, store, a2 } = await setUp();
    const long = "7".repeat(60);
    writeFileSync(join(dataDir, "unsettled.jsonl"), `{"serial":"${long}"}\n{"serial":"${a2}"}\n`);
    const errors: unknown[] = [];
    const ca = await openFileCa({ dataDir, revocations: store, restoreOnOpen: false, onError: (e) => errors.push(e) });
    expect((await ca.crl()).revokedCount).toBe(2);
    expect(errors.map(codeAndMessage)).toEqual([expect.stringMatching(new RegExp(`^STORAGE_FAILED: unsettled\\.jsonl: ${long} is not a serial number, skipped and removed from the file: `))]);
  }, 120_000);

  it("the store down still stops the pass (crl() rejects ERR_STORE_UNAVAILABLE, onError hears nothing); back up, the next crl() settles the line", async () => {
    const { dataDir, store: inner, a2 } = await setUp();
    const { store, down } = flakyStore(inner);
    writeFileSync(join(dataDir, "unsettled.jsonl"), `{"serial":"${a2}"}\n`);
    const errors: unknown[] = [];
    down.all = true;
    const ca = await openFileCa({ dataDir, revocations: store, onError: (e) => errors.push(e) }); // settles at open: down
    await expect(ca.crl()).rejects.toBeInstanceOf(StoreUnavailableError);
    down.all = false;
    expect((await ca.crl()).revokedCount).toBe(2);
    expect((await ca.revocation(a2))?.reason).toBe("keyCompromise");
    expect(errors).toEqual([]);
  }, 120_000);
});

describe("onError: the errors the CA handles without failing a call", () => {
  it("at open: unsettled.jsonl unreadable (a directory) is told as STORAGE_FAILED and the CA opens; crl() then rejects STORAGE_FAILED", async () => {
    const { dataDir, store } = await setUp();
    mkdirSync(join(dataDir, "unsettled.jsonl"));
    const errors: unknown[] = [];
    const ca = await openFileCa({ dataDir, revocations: store, onError: (e) => errors.push(e) });
    expect(errors.map(codeAndMessage)).toEqual([expect.stringMatching(/^STORAGE_FAILED: cannot read unsettled\.jsonl: .*EISDIR/)]);
    await expect(ca.crl()).rejects.toMatchObject({ code: "STORAGE_FAILED" });
  }, 120_000);

  it("after a keyCompromise revoke: a settling that fails (unsettled.jsonl a directory) is told, the revoke still answers; with the store down at open nothing is told", async () => {
    const { dir, dataDir, store: inner, a2 } = await setUp();
    const { store, down } = flakyStore(inner);
    writeFileSync(join(dataDir, "unsettled.jsonl"), `{"serial":"${a2}"}\n`);
    down.all = true;
    const errors: unknown[] = [];
    const ca = await openFileCa({ dataDir, revocations: store, onError: (e) => errors.push(e) });
    expect(errors).toEqual([]); // the settling at open met the store down: the next crl() answers it
    down.all = false;
    const b = (await ca.issue({ csrDer: opensslCsr(dir, "b", { subject: "/CN=b" }) })).serialNumber;
    rmSync(join(dataDir, "unsettled.jsonl"));
    mkdirSync(join(dataDir, "unsettled.jsonl"));
    const result = await ca.revoke(b, "keyCompromise");
    expect(result.created).toBe(true);
    expect(errors.map(codeAndMessage)).toEqual([expect.stringMatching(/^STORAGE_FAILED: cannot read unsettled\.jsonl: .*EISDIR/)]);
  }, 120_000);

  it("a keyCompromise revoke of a legacy certificate whose certs/ file is gone: revoked, no sweep, onError hears that its key cannot be known; the compromised-key check then issues other keys (told once)", async () => {
    const { dir, dataDir, store, legacy } = await setUp();
    rmSync(join(dataDir, "certs", `${legacy}.pem`));
    const errors: unknown[] = [];
    const ca = await openFileCa({ dataDir, revocations: store, onError: (e) => errors.push(e) });
    const result = await ca.revoke(legacy, "keyCompromise");
    expect(result).toMatchObject({ created: true, alsoRevoked: [] });
    expect(errors.map(codeAndMessage)).toEqual([expect.stringMatching(new RegExp(`^STORAGE_FAILED: the key of certificate ${legacy} cannot be known: cannot read .*ENOENT`))]);
    // The compromised-key set meets the same serial: issues go on (before, every issue rejected STORAGE_FAILED).
    const other = await openFileCa({ dataDir, revocations: store, onError: (e) => errors.push(e) });
    await other.issue({ csrDer: opensslCsr(dir, "c", { subject: "/CN=c" }) });
    await other.issue({ csrDer: opensslCsr(dir, "d", { subject: "/CN=d" }) });
    expect(errors).toHaveLength(2);
  }, 120_000);

  it("a keyCompromise revoke whose certificate file cannot be read now (EISDIR) rejects STORAGE_FAILED; revoking again once it reads finishes the sweep", async () => {
    const { dir, dataDir, store, legacy } = await setUp();
    const ca = await openFileCa({ dataDir, revocations: store });
    const twin = (await ca.issue({ csrDer: sameKeyCsr(dir, "legacy", "/CN=legacy-twin") })).serialNumber;
    const certFile = join(dataDir, "certs", `${legacy}.pem`);
    const pem = readFileSync(certFile, "utf8");
    rmSync(certFile);
    mkdirSync(certFile);
    await expect(ca.revoke(legacy, "keyCompromise")).rejects.toMatchObject({ code: "STORAGE_FAILED" });
    rmSync(certFile, { recursive: true });
    writeFileSync(certFile, pem);
    expect(await ca.revoke(legacy, "keyCompromise")).toMatchObject({ created: false, alsoRevoked: [twin] });
  }, 120_000);

  it("an async onError that rejects, and one that throws, fail nothing and leave no unhandled rejection", async () => {
    const { dataDir, store, legacy, a2 } = await setUp();
    rmSync(join(dataDir, "certs", `${legacy}.pem`));
    writeFileSync(join(dataDir, "unsettled.jsonl"), `{"serial":"${legacy}"}\n{"serial":"${a2}"}\n`);
    const unhandled: unknown[] = [];
    const listener = (reason: unknown): void => void unhandled.push(reason);
    process.on("unhandledRejection", listener);
    try {
      let calls = 0;
      const rejecting = await openFileCa({ dataDir, revocations: store, restoreOnOpen: false, onError: async () => { calls += 1; throw new Error("log sink down"); } });
      expect((await rejecting.crl()).revokedCount).toBe(2);
      // That settling removed both lines from the file (compaction): written again for the next CA to meet.
      writeFileSync(join(dataDir, "unsettled.jsonl"), `{"serial":"${legacy}"}\n{"serial":"${a2}"}\n`);
      const throwing = await openFileCa({ dataDir, revocations: store, restoreOnOpen: false, onError: () => { calls += 1; throw new Error("log sink down"); } });
      expect((await throwing.crl()).revokedCount).toBe(2);
      expect(calls).toBe(2);
      await new Promise((resolve) => setTimeout(resolve, 50)); // unhandledRejection fires after the microtask queue drains
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", listener);
    }
    await expect(openFileCa({ dataDir, onError: "log" as unknown as () => void })).rejects.toMatchObject({ code: "INVALID_OPTIONS", message: "onError must be a function" });
  }, 120_000);
});
