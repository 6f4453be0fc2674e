// RFC 5280 §5.2.3: CRL numbers only grow, so the next CRL is numbered above the last one this CA published, which
// ca.crl.json (on disk, writable by whoever can write the data directory) records. Only a number the CA's own
// signature vouches for raises that floor: a ca.crl.json whose CRL does not verify under the CA's key (damaged, or
// forged with another key of the same name) is ignored (onPublishedCrlIgnored says why) and its number counts for
// nothing, so a file claiming 2^159 - 1 does not lock the CA out of new CRLs; one that holds the CA's own CRL under
// a number it does not hold counts with the CRL's own number. A ca.crl.json that does not parse is told too (without a
// number), and then the ca.crl copy's number is the floor when that CRL verifies under the CA's key. A CA really at
// 2^159 - 1 still stops (rfc5280.crl.crl-number-range.test.ts).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { MAX_CRL_NUMBER, MemoryRevocationStore } from "@scep/core";
import { openFileCa } from "../src/index.js";
import { opensslCsr, tempDir } from "./helpers.js";

const clock = (): Date => new Date("2026-03-01T10:00:00.000Z");
const SUBJECT = "CN=Floor CA,O=scep-sdk tests";

/** Rewrites `dataDir/ca.crl.json` with another CRL (DER) and the number it states. */
function editState(dataDir: string, changes: { der: Uint8Array; crlNumber: bigint }): void {
  const path = join(dataDir, "ca.crl.json");
  const state = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  state.der = Buffer.from(changes.der).toString("base64");
  state.crlNumber = String(changes.crlNumber);
  writeFileSync(path, `${JSON.stringify(state)}\n`);
}

it("a ca.crl.json holding a CRL of another key with the CA's name, numbered 2^159 - 1: ignored and told once, no floor; the next CRL is the store's next number and replaces it", async () => {
  const dir = tempDir();
  const dataDir = join(dir, "data");
  const ignored: { crlNumber?: bigint; reason: string }[] = [];
  const ca = await openFileCa({ dataDir, subject: SUBJECT, clock, crlValiditySeconds: 3600, revocations: new MemoryRevocationStore({ now: clock }), onPublishedCrlIgnored: (e) => ignored.push(e) });
  const one = await ca.issue({ csrDer: opensslCsr(dir, "one", { subject: "/CN=one" }) });
  await ca.revoke(one.serialNumber, "superseded");
  expect((await ca.crl()).crlNumber).toBe(1n);

  // The forgery: a CRL signed by another key under the same name, at the largest number (its own, signed into it).
  const otherStore = new MemoryRevocationStore({ now: clock });
  await otherStore.nextCrlNumber({ atLeast: MAX_CRL_NUMBER - 1n });
  const forged = await (await openFileCa({ dataDir: join(dir, "other"), subject: SUBJECT, clock, crlValiditySeconds: 3600, revocations: otherStore })).crl();
  expect(forged.crlNumber).toBe(MAX_CRL_NUMBER);
  editState(dataDir, { der: forged.der, crlNumber: MAX_CRL_NUMBER });

  // A revocation calls for a new CRL: numbered 2, not refused as past 2^159 - 1.
  const two = await ca.issue({ csrDer: opensslCsr(dir, "two", { subject: "/CN=two" }) });
  await ca.revoke(two.serialNumber, "keyCompromise");
  const next = await ca.crl();
  expect([next.crlNumber, next.revokedCount]).toEqual([2n, 2]);
  expect(ignored).toEqual([{ crlNumber: MAX_CRL_NUMBER, reason: "its signature does not verify with the CA's key" }]);
  expect(JSON.parse(readFileSync(join(dataDir, "ca.crl.json"), "utf8")).crlNumber).toBe("2");
  expect(new Uint8Array(readFileSync(join(dataDir, "ca.crl")))).toEqual(next.der);
});

it("a restart with a reset store on a ca.crl.json that holds the CA's own CRL 2 but states 2^159 - 1: the CRL's own number is the floor, so the next CRL is 3", async () => {
  const dir = tempDir();
  const dataDir = join(dir, "data");
  const ca = await openFileCa({ dataDir, subject: SUBJECT, clock, crlValiditySeconds: 3600, revocations: new MemoryRevocationStore({ now: clock }) });
  const one = await ca.issue({ csrDer: opensslCsr(dir, "one", { subject: "/CN=one" }) });
  expect((await ca.crl()).crlNumber).toBe(1n);
  await ca.revoke(one.serialNumber, "keyCompromise");
  const second = await ca.crl();
  expect(second.crlNumber).toBe(2n);
  editState(dataDir, { der: second.der, crlNumber: MAX_CRL_NUMBER });

  const ignored: { crlNumber?: bigint; reason: string }[] = [];
  // A new memory store: it starts at 1, and only the published CRL's number keeps the sequence going up.
  const restarted = await openFileCa({ dataDir, subject: SUBJECT, clock, crlValiditySeconds: 3600, revocations: new MemoryRevocationStore({ now: clock }), onPublishedCrlIgnored: (e) => ignored.push(e) });
  const next = await restarted.crl();
  expect(next.crlNumber).toBe(3n);
  expect(ignored).toEqual([{ crlNumber: MAX_CRL_NUMBER, reason: `ca.crl.json says CRL number ${MAX_CRL_NUMBER}, the CRL it holds is number 2` }]);
});

it("a restart with a reset store on a ca.crl.json cut short: told once without a number, and ca.crl's own CRL 2 is the floor, so the next CRL is 3", async () => {
  const dir = tempDir();
  const dataDir = join(dir, "data");
  const ca = await openFileCa({ dataDir, subject: SUBJECT, clock, crlValiditySeconds: 3600, revocations: new MemoryRevocationStore({ now: clock }) });
  const one = await ca.issue({ csrDer: opensslCsr(dir, "one", { subject: "/CN=one" }) });
  expect((await ca.crl()).crlNumber).toBe(1n);
  await ca.revoke(one.serialNumber, "keyCompromise");
  expect((await ca.crl()).crlNumber).toBe(2n);
  const statePath = join(dataDir, "ca.crl.json");
  writeFileSync(statePath, readFileSync(statePath, "utf8").slice(0, 40)); // a crash or a full disk cut it short

  const ignored: { crlNumber?: bigint; reason: string }[] = [];
  const restarted = await openFileCa({ dataDir, subject: SUBJECT, clock, crlValiditySeconds: 3600, revocations: new MemoryRevocationStore({ now: clock }), onPublishedCrlIgnored: (e) => ignored.push(e) });
  const next = await restarted.crl();
  expect(next.crlNumber).toBe(3n);
  expect(ignored).toEqual([{ reason: "ca.crl.json is not JSON (damaged or cut short)" }]);
  expect(JSON.parse(readFileSync(statePath, "utf8")).crlNumber).toBe("3");
});

it.each([
  ["a JSON value that is not an object", "42\n", "ca.crl.json is not a JSON object"],
  ["JSON null (the open threw a TypeError, read as the file system failing: ERR_STORE_UNAVAILABLE)", "null\n", "ca.crl.json is not a JSON object"],
  ["an object without the CA's fingerprint (it read as another CA's file, silently)", "{}\n", "ca.crl.json lacks its fingerprintSha256"],
  ["a JSON array", "[]\n", "ca.crl.json lacks its fingerprintSha256"],
  ["the CA's fingerprint but no der", null, "ca.crl.json lacks its key, der or crlNumber (or one is malformed)"],
])("a ca.crl.json that is %s: told once, and a ca.crl of another key (the CA's name) is no floor", async (_what, content, reason) => {
  const dir = tempDir();
  const dataDir = join(dir, "data");
  const ca = await openFileCa({ dataDir, subject: SUBJECT, clock, crlValiditySeconds: 3600, revocations: new MemoryRevocationStore({ now: clock }) });
  expect((await ca.crl()).crlNumber).toBe(1n);
  const statePath = join(dataDir, "ca.crl.json");
  const state = JSON.parse(readFileSync(statePath, "utf8")) as Record<string, unknown>;
  delete state.der;
  writeFileSync(statePath, content ?? `${JSON.stringify(state)}\n`);
  // ca.crl: a CRL of another key under the CA's name, numbered 2^159 - 1. It does not verify: no floor.
  const otherStore = new MemoryRevocationStore({ now: clock });
  await otherStore.nextCrlNumber({ atLeast: MAX_CRL_NUMBER - 1n });
  const forged = await (await openFileCa({ dataDir: join(dir, "other"), subject: SUBJECT, clock, crlValiditySeconds: 3600, revocations: otherStore })).crl();
  writeFileSync(join(dataDir, "ca.crl"), forged.der);

  const ignored: { crlNumber?: bigint; reason: string }[] = [];
  const restarted = await openFileCa({ dataDir, subject: SUBJECT, clock, crlValiditySeconds: 3600, revocations: new MemoryRevocationStore({ now: clock }), onPublishedCrlIgnored: (e) => ignored.push(e) });
  expect((await restarted.crl()).crlNumber).toBe(1n);
  expect(ignored).toEqual([{ reason }]);
});

it("a restart with a reset store on a ca.crl.json restored from a backup (the CA's CRL 1) while ca.crl holds its CRL 2: the higher verified number is the floor, so the next CRL is 3", async () => {
  const dir = tempDir();
  const dataDir = join(dir, "data");
  const ca = await openFileCa({ dataDir, subject: SUBJECT, clock, crlValiditySeconds: 3600, revocations: new MemoryRevocationStore({ now: clock }) });
  const one = await ca.issue({ csrDer: opensslCsr(dir, "one", { subject: "/CN=one" }) });
  expect((await ca.crl()).crlNumber).toBe(1n);
  const statePath = join(dataDir, "ca.crl.json");
  const backup = readFileSync(statePath, "utf8");
  await ca.revoke(one.serialNumber, "keyCompromise");
  expect((await ca.crl()).crlNumber).toBe(2n);
  writeFileSync(statePath, backup); // the CA's own CRL 1, as stated: used, and told nothing

  const ignored: { crlNumber?: bigint; reason: string }[] = [];
  const restarted = await openFileCa({ dataDir, subject: SUBJECT, clock, crlValiditySeconds: 3600, revocations: new MemoryRevocationStore({ now: clock }), onPublishedCrlIgnored: (e) => ignored.push(e) });
  const two = await restarted.issue({ csrDer: opensslCsr(dir, "two", { subject: "/CN=two" }) });
  await restarted.revoke(two.serialNumber, "superseded"); // the state moved: a new CRL is due
  expect((await restarted.crl()).crlNumber).toBe(3n);
  expect(ignored).toEqual([]);
});
