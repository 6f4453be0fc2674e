// CA/B BR §4.9.1.1 (all certificates of a compromised key are revoked) against an issue of the same key in flight
// when a keyCompromise revoke sweeps the index: the issue re-checks the key after its index line is durable, against
// the store's latest state (not the snapshot of up to maxStalenessMs its first check used), so a revoke through
// another FileCa on the data directory (another worker: its own FileRevocationStore over the same files) is seen; and
// when the revoke of that certificate, or the re-check itself, fails (the store down), the certificate is recorded in
// unsettled.jsonl and revoked by the next settling pass (the next CRL, the next open) instead of staying valid. Real
// processes (test/fixtures/ca-child.ts) for the cross-process case too: before the re-check, every certificate the
// child issued between the sweep and its next look at revocations.jsonl (up to 1 s: some 400 here) stayed valid.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CertificationRequest, KeyWorkerPool, MemoryRevocationStore, StoreUnavailableError, type RevocationStore } from "@scep/core";
import { isEmbeddedCaError, openFileCa, type FileCa } from "../src/index.js";
import { issuedSerials, openssl, opensslCsr, spawnCaChild, tempDir } from "./helpers.js";

/** A further DER PKCS#10 request for the key of `opensslCsr(dir, name, …)`, with another subject. */
function sameKeyCsr(dir: string, name: string, subject: string): Uint8Array {
  const out = `${name}-${Math.random().toString(36).slice(2)}.csr.der`;
  openssl(["req", "-new", "-key", `${name}.key`, "-subj", subject, "-outform", "DER", "-out", out], dir);
  return new Uint8Array(readFileSync(join(dir, out)));
}

/** The CA's real key worker pool, held at its next signature until released: the issue has passed its first check. */
class HeldPool extends KeyWorkerPool {
  #hold: { entered: () => void; released: Promise<void> } | undefined;
  holdNext(): { signing: Promise<void>; release: () => void } {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const signing = new Promise<void>((entered) => (this.#hold = { entered, released }));
    return { signing, release };
  }
  override async sign(...args: Parameters<KeyWorkerPool["sign"]>): Promise<Uint8Array> {
    const h = this.#hold;
    this.#hold = undefined;
    if (h) {
      h.entered();
      await h.released;
    }
    return super.sign(...args);
  }
}

/** A store over `inner` that rejects every call with StoreUnavailableError while `down.revoke` / `down.all` says so. */
function flakyStore(inner: RevocationStore): { store: RevocationStore; down: { revoke: boolean; all: boolean } } {
  const down = { revoke: false, all: false };
  const guard = <T>(f: () => Promise<T>, op = ""): Promise<T> => (down.all || (op === "revoke" && down.revoke) ? Promise.reject(new StoreUnavailableError("revocation store down")) : f());
  const store: RevocationStore = {
    revoke: (o) => guard(() => inner.revoke(o), "revoke"),
    get: (s) => guard(() => inner.get(s)),
    list: () => guard(() => inner.list()),
    nextCrlNumber: () => guard(() => inner.nextCrlNumber()),
    revision: (o) => guard(() => inner.revision!(o)),
  };
  return { store, down };
}

async function settled<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

/** Every certificate of the index, with the reason `ca` gives for it (undefined: not revoked). */
async function reasons(ca: FileCa): Promise<(string | undefined)[]> {
  const out: (string | undefined)[] = [];
  for (const r of await ca.list()) out.push((await ca.revocation(r.serialNumber))?.reason);
  return out;
}

describe("CA/B BR §4.9.1.1: an issue in flight during a keyCompromise revoke never leaves a valid certificate of the key", () => {
  it("another FileCa on the data directory (another worker, FileRevocationStore) revokes the key while this one signs, its snapshot not due for maxStalenessMs: the issue's re-check after its index line sees the revoke, revokes its certificate and rejects KEY_COMPROMISED", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const monotonicNow = (): number => 0; // no snapshot ever falls due: only a `latest` read sees the other's revoke
    const pool = new HeldPool({ size: 1 });
    try {
      const one = await openFileCa({ dataDir, monotonicNow });
      const two = await openFileCa({ dataDir, monotonicNow, workerPool: pool });
      const first = await one.issue({ csrDer: opensslCsr(dir, "w", { subject: "/CN=w" }) });
      await two.issue({ csrDer: opensslCsr(dir, "other", { subject: "/CN=other" }) }); // two's snapshots are taken now
      const { signing, release } = pool.holdNext();
      const racing = settled(two.issue({ csrDer: sameKeyCsr(dir, "w", "/CN=w-2") }));
      await signing;
      expect((await one.revoke(first.serialNumber, "keyCompromise")).alsoRevoked).toEqual([]); // not indexed yet
      release();
      const outcome = await racing;
      expect(isEmbeddedCaError(outcome.error, "KEY_COMPROMISED")).toBe(true);
      // Read back through a third FileCa (fresh snapshots): both certificates of the key are revoked keyCompromise.
      const reader = await openFileCa({ dataDir });
      expect(await reasons(reader)).toEqual(["keyCompromise", undefined, "keyCompromise"]);
    } finally {
      await pool.close();
    }
  }, 120_000);

  it("real processes: a child process issues the key in a loop (its snapshot of revocations.jsonl up to 1 s old) while this one revokes it keyCompromise: every certificate of the key in the index ends revoked keyCompromise, and the child's issues are refused KEY_COMPROMISED", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const ca = await openFileCa({ dataDir });
    const first = await ca.issue({ csrDer: opensslCsr(dir, "p", { subject: "/CN=p" }) });
    writeFileSync(join(dir, "p-2.csr.der"), sameKeyCsr(dir, "p", "/CN=p-2"));
    const child = spawnCaChild([dataDir, "issue-until-refused", join(dir, "p-2.csr.der"), "20", "2"]);
    await child.waitFor((lines) => issuedSerials(lines).length >= 10, "10 issues by the child");
    await ca.revoke(first.serialNumber, "keyCompromise");
    await child.waitFor((lines) => lines.includes("DONE"), "the child's 20 refusals");
    expect((await child.exited).code).toBe(0);
    expect(new Set(child.lines.filter((l) => l.startsWith("REFUSED ")))).toEqual(new Set(["REFUSED KEY_COMPROMISED"]));
    const reader = await openFileCa({ dataDir });
    const all = await reasons(reader);
    expect(all.length).toBeGreaterThan(10);
    expect(all.filter((r) => r !== "keyCompromise")).toEqual([]);
  }, 120_000);

  it("the revoke of the raced certificate fails (the store down): the issue still rejects KEY_COMPROMISED, unsettled.jsonl records the serial, and the next CRL (store back) lists it keyCompromise", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const { store, down } = flakyStore(new MemoryRevocationStore());
    const pool = new HeldPool({ size: 1 });
    try {
      const ca = await openFileCa({ dataDir, revocations: store, workerPool: pool });
      const first = await ca.issue({ csrDer: opensslCsr(dir, "r", { subject: "/CN=r" }) });
      const { signing, release } = pool.holdNext();
      const racing = settled(ca.issue({ csrDer: sameKeyCsr(dir, "r", "/CN=r-2") }));
      await signing;
      await ca.revoke(first.serialNumber, "keyCompromise");
      down.revoke = true; // the revoke that follows the raced certificate's index line fails
      release();
      const outcome = await racing;
      expect(isEmbeddedCaError(outcome.error, "KEY_COMPROMISED")).toBe(true);
      const all = await ca.list();
      expect(all).toHaveLength(2);
      const raced = all[1]!.serialNumber;
      expect(readFileSync(join(dataDir, "unsettled.jsonl"), "utf8")).toBe(`{"serial":"${raced}"}\n`);
      expect(await ca.revocation(raced)).toBeUndefined(); // not yet: the store refused it
      // A CRL while the store is still down is refused (503), not signed without the certificate.
      expect((await settled(ca.crl())).error).toBeInstanceOf(StoreUnavailableError);
      down.revoke = false;
      const crl = await ca.crl();
      expect(crl.revokedCount).toBe(2);
      expect((await ca.revocation(raced))?.reason).toBe("keyCompromise");
      writeFileSync(join(dir, "after.crl"), crl.der);
      expect(openssl(["crl", "-inform", "DER", "-in", "after.crl", "-noout", "-text"], dir)).toMatch(new RegExp(`Serial Number: ${raced.toUpperCase()}\\s*\\n\\s+Revocation Date: [^\\n]+\\n\\s+CRL entry extensions:\\s*\\n\\s+X509v3 CRL Reason Code:\\s*\\n\\s+Key Compromise\\n`));
    } finally {
      await pool.close();
    }
  }, 120_000);

  it("the store down at the re-check itself (another FileCa revoked the key meanwhile): the issue rejects ERR_STORE_UNAVAILABLE (503), hands nothing out, and the CA opened next on the data directory revokes the certificate keyCompromise at open", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const inner = new MemoryRevocationStore();
    const { store, down } = flakyStore(inner);
    const pool = new HeldPool({ size: 1 });
    try {
      const one = await openFileCa({ dataDir, revocations: inner });
      const two = await openFileCa({ dataDir, revocations: store, workerPool: pool });
      const first = await one.issue({ csrDer: opensslCsr(dir, "d", { subject: "/CN=d" }) });
      const { signing, release } = pool.holdNext();
      const racing = settled(two.issue({ csrDer: sameKeyCsr(dir, "d", "/CN=d-2") }));
      await signing;
      await one.revoke(first.serialNumber, "keyCompromise");
      down.all = true;
      release();
      const outcome = await racing;
      expect((outcome.error as { code?: string }).code).toBe("ERR_STORE_UNAVAILABLE");
      const raced = (await one.list())[1]!.serialNumber;
      expect(await one.revocation(raced)).toBeUndefined();
      // A restart (the store back): settled at open.
      const restarted = await openFileCa({ dataDir, revocations: inner });
      expect((await restarted.revocation(raced))?.reason).toBe("keyCompromise");
      expect(await restarted.isKeyCompromised(CertificationRequest.from(sameKeyCsr(dir, "d", "/CN=d-3")).spki)).toBe(true);
    } finally {
      await pool.close();
    }
  }, 120_000);

  it("a record of unsettled.jsonl appended onto a torn line (a crash mid-write, then the next issue's record) is settled too: the next CRL lists it keyCompromise", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const store = new MemoryRevocationStore();
    const ca = await openFileCa({ dataDir, revocations: store });
    const first = await ca.issue({ csrDer: opensslCsr(dir, "t", { subject: "/CN=t" }) });
    const second = await ca.issue({ csrDer: sameKeyCsr(dir, "t", "/CN=t-2") });
    // The key revoked keyCompromise in the store (as another worker's revoke would), its sweep not run here.
    await store.revoke({ serialNumber: first.serialNumber, reason: "keyCompromise" });
    writeFileSync(join(dataDir, "unsettled.jsonl"), `{"seri{"serial":"${second.serialNumber.toLowerCase()}"}\n`);
    const crl = await ca.crl();
    expect(crl.revokedCount).toBe(2);
    expect((await ca.revocation(second.serialNumber))?.reason).toBe("keyCompromise");
  }, 120_000);

  it("a certificate recorded as unsettled whose key is not compromised (the re-check failed, nothing was revoked) is left valid by the settling pass", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const inner = new MemoryRevocationStore();
    const { store, down } = flakyStore(inner);
    const pool = new HeldPool({ size: 1 });
    try {
      const ca = await openFileCa({ dataDir, revocations: store, workerPool: pool });
      const { signing, release } = pool.holdNext();
      const racing = settled(ca.issue({ csrDer: opensslCsr(dir, "fine", { subject: "/CN=fine" }) }));
      await signing;
      down.all = true;
      release();
      expect(((await racing).error as { code?: string }).code).toBe("ERR_STORE_UNAVAILABLE");
      down.all = false;
      const crl = await ca.crl();
      expect(crl.revokedCount).toBe(0);
      expect(await reasons(ca)).toEqual([undefined]);
    } finally {
      await pool.close();
    }
  }, 120_000);
});
