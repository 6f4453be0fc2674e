// RFC 5280 §5.3.1 keyCompromise (CA/B Forum BR 4.9.1.1, 6.1.1.3): once a certificate of this CA is revoked because
// its key is compromised, the CA never certifies that public key again: issue() refuses it with KEY_COMPROMISED
// before a serial is spent, whoever revoked it (this FileCa, another one sharing the store, a published CRL whose
// entries the store lost). Another reason (superseded) leaves the key usable. The store down: StoreUnavailableError.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CertificationRequest, KeyWorkerPool, MemoryRevocationStore, StoreUnavailableError, type RevocationStore } from "@scep/core";
import { KEY_COMPROMISED_TEXT, isEmbeddedCaError, openFileCa } from "../src/index.js";
import { spkiHash } from "../src/compromised-keys.js";
import { openssl, opensslCsr, tempDir, ticker } from "./helpers.js";

/** A further DER PKCS#10 request for the key of `opensslCsr(dir, name, …)`, with another subject. */
function sameKeyCsr(dir: string, name: string, subject: string): Uint8Array {
  const out = `${name}-${Math.random().toString(36).slice(2)}.csr.der`;
  openssl(["req", "-new", "-key", `${name}.key`, "-subj", subject, "-outform", "DER", "-out", out], dir);
  return new Uint8Array(readFileSync(join(dir, out)));
}

async function refused(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isEmbeddedCaError(error, "KEY_COMPROMISED")).toBe(true);
  const { code, message } = error as { code: string; message: string };
  return { code, message };
}

describe("RFC 5280 §5.3.1: a key revoked as compromised is never certified again", () => {
  it("revoked keyCompromise: the same key (new subject too) is KEY_COMPROMISED and no serial is spent; a new key is issued; the key of a certificate revoked superseded stays usable", async () => {
    const dir = tempDir();
    const ca = await openFileCa({ dataDir: join(dir, "data"), revocations: new MemoryRevocationStore() });
    const first = await ca.issue({ csrDer: opensslCsr(dir, "device-1", { subject: "/CN=device-1" }) });
    const ec = await ca.issue({ csrDer: opensslCsr(dir, "device-ec", { subject: "/CN=device-ec", key: "ec" }) });
    expect(await ca.isKeyCompromised(CertificationRequest.from(sameKeyCsr(dir, "device-1", "/CN=device-1")).spki)).toBe(false);

    await ca.revoke(first.serialNumber, "keyCompromise");
    await ca.revoke(ec.serialNumber, "keyCompromise");
    const before = (await ca.list()).length;
    for (const [name, subject] of [["device-1", "/CN=device-1"], ["device-1", "/CN=another-name"], ["device-ec", "/CN=device-ec"]] as const) {
      const csrDer = sameKeyCsr(dir, name, subject);
      expect(await refused(ca.issue({ csrDer }))).toEqual({ code: "KEY_COMPROMISED", message: "this key was revoked as compromised: generate a new key" });
      expect(await ca.isKeyCompromised(CertificationRequest.from(csrDer).spki)).toBe(true);
    }
    expect(KEY_COMPROMISED_TEXT).toBe("this key was revoked as compromised: generate a new key");
    expect((await ca.list()).length).toBe(before);

    const fresh = await ca.issue({ csrDer: opensslCsr(dir, "device-1-new", { subject: "/CN=device-1" }) });
    expect(fresh.serialNumber).toMatch(/^[0-9a-f]+$/);

    const superseded = await ca.issue({ csrDer: opensslCsr(dir, "device-2", { subject: "/CN=device-2" }) });
    await ca.revoke(superseded.serialNumber, "superseded");
    const again = await ca.issue({ csrDer: sameKeyCsr(dir, "device-2", "/CN=device-2") });
    expect(again.serialNumber).not.toBe(superseded.serialNumber);
  }, 60_000);

  it("CA/B BR §4.9.1.1: revoked superseded, the key enrolls anew; upgraded to keyCompromise through one FileCa, the other FileCa on the data directory (another worker, FileRevocationStore) refuses the key and its next CRL says keyCompromise", async () => {
    const dir = tempDir();
    // Another worker's revoke counts in two's issue() once two's snapshot of revocations.jsonl is due (maxStalenessMs).
    const { monotonicNow, pass } = ticker();
    const one = await openFileCa({ dataDir: join(dir, "data"), monotonicNow });
    const two = await openFileCa({ dataDir: join(dir, "data"), monotonicNow });
    const first = await one.issue({ csrDer: opensslCsr(dir, "device-u", { subject: "/CN=device-u" }) });
    const superseded = await one.revoke(first.serialNumber, "superseded");
    expect([superseded.created, superseded.updated]).toEqual([true, false]);
    const crlBefore = await two.crl();
    const anew = await two.issue({ csrDer: sameKeyCsr(dir, "device-u", "/CN=device-u") });
    expect(anew.serialNumber).not.toBe(first.serialNumber);

    const upgraded = await one.revoke(first.serialNumber, "keyCompromise");
    // The certificate the key got anew is revoked with it (CA/B BR §4.9.1.1: every certificate of a compromised key).
    expect(upgraded).toEqual({ created: false, updated: true, subject: "CN=device-u", entry: { ...superseded.entry, reason: "keyCompromise" }, alsoRevoked: [anew.serialNumber] });
    pass();
    expect(await refused(two.issue({ csrDer: sameKeyCsr(dir, "device-u", "/CN=device-u2") }))).toEqual({ code: "KEY_COMPROMISED", message: KEY_COMPROMISED_TEXT });
    const crlAfter = await two.crl();
    expect(crlAfter.crlNumber).toBeGreaterThan(crlBefore.crlNumber);
    writeFileSync(join(dir, "after.crl"), crlAfter.der);
    const text = openssl(["crl", "-inform", "DER", "-in", "after.crl", "-noout", "-text"], dir);
    expect(text).toMatch(new RegExp(`Serial Number: ${first.serialNumber.toUpperCase()}\\s*\\n\\s+Revocation Date: [^\\n]+\\n\\s+CRL entry extensions:\\s*\\n\\s+X509v3 CRL Reason Code:\\s*\\n\\s+Key Compromise\\n`));
  }, 60_000);

  it("CA/B BR §4.9.1.1: a keyCompromise revoke revokes every other unexpired certificate of the key (a held one and a superseded one upgraded, the hold's date kept), reports them, leaves expired ones and other keys alone; one CRL lists them all", async () => {
    const dir = tempDir();
    let now = new Date("2026-03-01T10:00:00Z");
    const ca = await openFileCa({ dataDir: join(dir, "data"), clock: () => now, revocations: new MemoryRevocationStore({ now: () => now }) });
    const first = await ca.issue({ csrDer: opensslCsr(dir, "k", { subject: "/CN=k-1" }) });
    const expired = await ca.issue({ csrDer: sameKeyCsr(dir, "k", "/CN=k-short"), validityDays: 1 / 24 });
    const held = await ca.issue({ csrDer: sameKeyCsr(dir, "k", "/CN=k-held") });
    const superseded = await ca.issue({ csrDer: sameKeyCsr(dir, "k", "/CN=k-superseded") });
    const plain = await ca.issue({ csrDer: sameKeyCsr(dir, "k", "/CN=k-plain") });
    const other = await ca.issue({ csrDer: opensslCsr(dir, "other", { subject: "/CN=k-1" }) });
    const otherEc = await ca.issue({ csrDer: opensslCsr(dir, "other-ec", { subject: "/CN=k-1", key: "ec" }) });
    const heldAt = now;
    expect((await ca.revoke(held.serialNumber, "certificateHold")).created).toBe(true);
    await ca.revoke(superseded.serialNumber, "superseded");
    const before = await ca.crl();
    now = new Date(now.getTime() + 2 * 3600_000); // the 1-hour certificate has expired

    const result = await ca.revoke(first.serialNumber, "keyCompromise");
    expect(result).toMatchObject({ created: true, updated: false, subject: "CN=k-1" });
    expect(result.alsoRevoked).toEqual([held.serialNumber, superseded.serialNumber, plain.serialNumber].sort());
    for (const s of [held, superseded, plain]) expect((await ca.revocation(s.serialNumber))?.reason).toBe("keyCompromise");
    expect(await ca.revocation(held.serialNumber)).toEqual({ serialNumber: held.serialNumber, reason: "keyCompromise", revokedAt: heldAt });
    for (const s of [expired, other, otherEc]) expect(await ca.revocation(s.serialNumber)).toBeUndefined();

    // Once: every certificate of the key is keyCompromise already, nothing more to report.
    expect((await ca.revoke(plain.serialNumber, "keyCompromise")).alsoRevoked).toEqual([]);
    // Another reason revokes that serial only.
    expect((await ca.revoke(other.serialNumber, "superseded")).alsoRevoked).toEqual([]);

    const after = await ca.crl();
    expect(after.crlNumber).toBe(before.crlNumber + 1n);
    writeFileSync(join(dir, "multi.crl"), after.der);
    const text = openssl(["crl", "-inform", "DER", "-in", "multi.crl", "-noout", "-text"], dir);
    for (const s of [first, held, superseded, plain]) {
      expect(text).toMatch(new RegExp(`Serial Number: ${s.serialNumber.toUpperCase()}\\s*\\n\\s+Revocation Date: [^\\n]+\\n\\s+CRL entry extensions:\\s*\\n\\s+X509v3 CRL Reason Code:\\s*\\n\\s+Key Compromise\\n`));
    }
    expect(text).not.toContain(`Serial Number: ${expired.serialNumber.toUpperCase()}`);
  }, 60_000);

  it("CA/B BR §4.9.1.1: a keyCompromise revoke that sweeps the index while an issue of the same key is being signed: the certificate that issue records is revoked keyCompromise too, and the issue is refused KEY_COMPROMISED", async () => {
    const dir = tempDir();
    // The CA's real key worker pool, held at its next signature until the test lets it go: the issue has passed its
    // compromised-key check and spent a serial, but its index line is not written when the sweep reads the index.
    let hold: { entered: () => void; released: Promise<void> } | undefined;
    class HeldPool extends KeyWorkerPool {
      override async sign(...args: Parameters<KeyWorkerPool["sign"]>): Promise<Uint8Array> {
        const h = hold;
        hold = undefined;
        if (h) {
          h.entered();
          await h.released;
        }
        return super.sign(...args);
      }
    }
    const pool = new HeldPool({ size: 1 });
    try {
      const ca = await openFileCa({ dataDir: join(dir, "data"), revocations: new MemoryRevocationStore(), workerPool: pool });
      const first = await ca.issue({ csrDer: opensslCsr(dir, "raced", { subject: "/CN=raced" }) });
      const csrDer = sameKeyCsr(dir, "raced", "/CN=raced-2");
      let release!: () => void;
      const signing = new Promise<void>((entered) => {
        hold = { entered, released: new Promise<void>((r) => (release = r)) };
      });
      const racing = ca.issue({ csrDer }).then(
        (issued) => ({ issued }),
        (error: unknown) => ({ error }),
      );
      await signing;
      const revoked = await ca.revoke(first.serialNumber, "keyCompromise");
      expect(revoked.alsoRevoked).toEqual([]); // the racing certificate is not in the index yet
      release();
      const outcome = await racing;
      expect("error" in outcome && isEmbeddedCaError(outcome.error, "KEY_COMPROMISED")).toBe(true);
      // Whatever the index holds for the key is revoked keyCompromise: no certificate of a compromised key stays valid.
      const all = await ca.list();
      expect(all).toHaveLength(2);
      for (const r of all) expect((await ca.revocation(r.serialNumber))?.reason).toBe("keyCompromise");
    } finally {
      await pool.close();
    }
  }, 60_000);

  it("one key, two DER spellings (RSA AlgorithmIdentifier parameters NULL or absent): one hash", () => {
    const dir = tempDir();
    opensslCsr(dir, "spelled", { subject: "/CN=spelled" });
    openssl(["pkey", "-in", "spelled.key", "-pubout", "-outform", "DER", "-out", "spelled.pub.der"], dir);
    const spki = new Uint8Array(readFileSync(join(dir, "spelled.pub.der")));
    // SEQUENCE { SEQUENCE { OID rsaEncryption, NULL }, BIT STRING } → the same without the NULL (lengths fixed up).
    const withNull = Buffer.from(spki);
    const nullAt = withNull.indexOf(Buffer.from([0x05, 0x00]));
    const algorithm = withNull.subarray(4, nullAt + 2); // 30 0d 06 09 … 05 00 (the outer SEQUENCE has a 2-octet length: 30 82 LL LL)
    const withoutParams = Buffer.concat([Buffer.from([0x30, 0x0b]), algorithm.subarray(2, algorithm.length - 2)]);
    const body = Buffer.concat([withoutParams, withNull.subarray(nullAt + 2)]);
    const absent = Buffer.concat([Buffer.from([0x30, 0x82, body.length >> 8, body.length & 0xff]), body]);
    expect(absent.equals(withNull)).toBe(false);
    expect(spkiHash(absent)).toBe(spkiHash(spki));
  });

  it("another FileCa sharing the store (after it checked once) and one whose store lost the entry (the published CRL counts) refuse it too", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const store = new MemoryRevocationStore();
    const a = await openFileCa({ dataDir, revocations: store });
    const b = await openFileCa({ dataDir, revocations: store });
    const issued = await a.issue({ csrDer: opensslCsr(dir, "shared", { subject: "/CN=shared" }) });
    await b.issue({ csrDer: sameKeyCsr(dir, "shared", "/CN=shared-before") }); // b's set is built for this state
    await a.revoke(issued.serialNumber, "keyCompromise");
    await refused(b.issue({ csrDer: sameKeyCsr(dir, "shared", "/CN=shared") }));
    await a.crl(); // published to ca.crl.json

    // A store that lost everything, and no restore at open: the published CRL's keyCompromise entry still counts.
    const lost = await openFileCa({ dataDir, revocations: new MemoryRevocationStore(), restoreOnOpen: false });
    await refused(lost.issue({ csrDer: sameKeyCsr(dir, "shared", "/CN=shared") }));
  }, 60_000);

  it("the revocation store down: issue rejects with StoreUnavailableError and issues nothing", async () => {
    const dir = tempDir();
    const inner = new MemoryRevocationStore();
    let down = false;
    const guard = <T>(f: () => Promise<T>): Promise<T> => (down ? Promise.reject(new StoreUnavailableError("revocation store down")) : f());
    const store: RevocationStore = {
      revoke: (o) => guard(() => inner.revoke(o)),
      get: (s) => guard(() => inner.get(s)),
      list: () => guard(() => inner.list()),
      nextCrlNumber: () => guard(() => inner.nextCrlNumber()),
      revision: () => guard(() => inner.revision()),
    };
    const ca = await openFileCa({ dataDir: join(dir, "data"), revocations: store });
    await ca.issue({ csrDer: opensslCsr(dir, "up", { subject: "/CN=up" }) });
    down = true;
    const error = await ca.issue({ csrDer: opensslCsr(dir, "down", { subject: "/CN=down" }) }).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe("ERR_STORE_UNAVAILABLE");
    expect((await ca.list()).length).toBe(1);
  }, 60_000);

  it("a key this CA already knows compromised is refused KEY_COMPROMISED while the store is down (the set only grows: no store call needed)", async () => {
    const dir = tempDir();
    const inner = new MemoryRevocationStore();
    let down = false;
    const guard = <T>(f: () => Promise<T>): Promise<T> => (down ? Promise.reject(new StoreUnavailableError("revocation store down")) : f());
    const store: RevocationStore = {
      revoke: (o) => guard(() => inner.revoke(o)),
      get: (s) => guard(() => inner.get(s)),
      list: () => guard(() => inner.list()),
      nextCrlNumber: () => guard(() => inner.nextCrlNumber()),
      revision: () => guard(() => inner.revision()),
    };
    const ca = await openFileCa({ dataDir: join(dir, "data"), revocations: store });
    const first = await ca.issue({ csrDer: opensslCsr(dir, "known", { subject: "/CN=known" }) });
    await ca.revoke(first.serialNumber, "keyCompromise");
    down = true;
    expect(await refused(ca.issue({ csrDer: sameKeyCsr(dir, "known", "/CN=known-2") }))).toEqual({ code: "KEY_COMPROMISED", message: KEY_COMPROMISED_TEXT });
    expect(await ca.isKeyCompromised(CertificationRequest.from(sameKeyCsr(dir, "known", "/CN=known-3")).spki)).toBe(true);
    expect((await ca.list()).length).toBe(1);
  }, 60_000);
});


describe("RFC 5280 §5.3.1: cACompromise on an end-entity certificate is the issuing CA's key, not the subject's", () => {
  it("a certificate revoked cACompromise leaves its key usable; revoked keyCompromise later, the entry is upgraded (date kept), the key refused and its other certificates swept; the same for aACompromise", async () => {
    const dir = tempDir();
    const ca = await openFileCa({ dataDir: join(dir, "data") });
    for (const reason of ["cACompromise", "aACompromise"] as const) {
      const first = await ca.issue({ csrDer: opensslCsr(dir, reason, { subject: `/CN=${reason}` }) });
      const revoked = await ca.revoke(first.serialNumber, reason);
      const csrDer = sameKeyCsr(dir, reason, `/CN=${reason}-2`);
      expect(await ca.isKeyCompromised(CertificationRequest.from(csrDer).spki)).toBe(false);
      const second = await ca.issue({ csrDer });
      const upgraded = await ca.revoke(first.serialNumber, "keyCompromise");
      expect(upgraded).toMatchObject({ created: false, updated: true, entry: { ...revoked.entry, reason: "keyCompromise" }, alsoRevoked: [second.serialNumber] });
      expect(await refused(ca.issue({ csrDer: sameKeyCsr(dir, reason, `/CN=${reason}-3`) }))).toEqual({ code: "KEY_COMPROMISED", message: KEY_COMPROMISED_TEXT });
    }
  }, 60_000);
});
