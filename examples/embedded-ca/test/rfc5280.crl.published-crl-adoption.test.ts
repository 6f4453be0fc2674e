// RFC 5280 §6.3.3 and §5.2.3: a CRL another process published (ca.crl.json) is served by crl(), and copied to ca.crl
// by the open's repair, only once its signature verifies with the CA's key, its issuer is the CA's subject, and the
// number and times ca.crl.json states are the CRL's own (so an old CRL of this CA, which lacks later revocations,
// cannot come back under a higher number). One that is not: the CA keeps the CRL it has, tells
// onPublishedCrlIgnored once, never fails the request, and numbers its next CRL above the file's only where the CA's
// signature vouches for that number (rfc5280.crl.published-crl-number-floor.test.ts).
import { createPublicKey } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Certificate, MemoryRevocationStore } from "@scep/core";
import { openFileCa } from "../src/index.js";
import { readCrlEntries } from "../src/crl-entries.js";
import { checkPublishedCrl } from "../src/published-crl-trust.js";
import { opensslCsr, tempDir } from "./helpers.js";

/** Rewrites `dataDir/ca.crl.json` with `changes` (the DER base64, the stated number as a string). */
function editState(dataDir: string, changes: { der?: Uint8Array; crlNumber?: bigint }): void {
  const path = join(dataDir, "ca.crl.json");
  const state = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  if (changes.der) state.der = Buffer.from(changes.der).toString("base64");
  if (changes.crlNumber !== undefined) state.crlNumber = String(changes.crlNumber);
  writeFileSync(path, `${JSON.stringify(state)}\n`);
}

describe("crl() and the open's repair use a published CRL only once it is checked as the CA's", () => {
  it("an old CRL of the CA stated as number 9, then one with a flipped signature bit as number 10: crl() keeps serving its own, one event each", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const clock = (): Date => new Date("2026-03-01T10:00:00.000Z");
    const store = new MemoryRevocationStore({ now: clock });
    const ignored: { crlNumber?: bigint; reason: string }[] = [];
    const ca = await openFileCa({ dataDir, clock, crlValiditySeconds: 3600, revocations: store, onPublishedCrlIgnored: (e) => ignored.push(e) });
    const issued = await ca.issue({ csrDer: opensslCsr(dir, "a", { subject: "/CN=a" }) });
    const first = await ca.crl();
    await ca.revoke(issued.serialNumber, "keyCompromise");
    const second = await ca.crl();
    expect([first.crlNumber, second.crlNumber, second.revokedCount]).toEqual([1n, 2n, 1]);

    // A replay: the CA's own first CRL (validly signed, without the revocation) under a higher number and the
    // current state's key. Before, crl() adopted it and served the CRL that lacks the revocation.
    editState(dataDir, { der: first.der, crlNumber: 9n });
    const served = await ca.crl();
    expect(Buffer.from(served.der).equals(Buffer.from(second.der))).toBe(true);
    expect(ignored).toEqual([{ crlNumber: 9n, reason: "ca.crl.json says CRL number 9, the CRL it holds is number 1" }]);

    // A damaged signature under a higher number: not served, not copied to ca.crl by the open's repair.
    const damaged = new Uint8Array(second.der);
    damaged[damaged.length - 5]! ^= 0x01; // inside signatureValue, the last field
    editState(dataDir, { der: damaged, crlNumber: 10n });
    expect(Buffer.from((await ca.crl()).der).equals(Buffer.from(second.der))).toBe(true);
    expect(ignored.at(-1)).toEqual({ crlNumber: 10n, reason: "its signature does not verify with the CA's key" });
    expect(ignored).toHaveLength(2);
  });

  it("a restart on a ca.crl.json whose signature does not verify: the repair does not copy it to ca.crl; crl() signs the store's next number (the number the file states is no floor) and replaces it", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const clock = (): Date => new Date("2026-03-01T10:00:00.000Z");
    const store = new MemoryRevocationStore({ now: clock });
    const ca = await openFileCa({ dataDir, clock, crlValiditySeconds: 3600, revocations: store });
    const issued = await ca.issue({ csrDer: opensslCsr(dir, "a", { subject: "/CN=a" }) });
    await ca.revoke(issued.serialNumber, "keyCompromise");
    const second = await ca.crl();
    const damaged = new Uint8Array(second.der);
    damaged[damaged.length - 5]! ^= 0x01;
    editState(dataDir, { der: damaged, crlNumber: 10n });

    const restartedIgnored: { crlNumber?: bigint; reason: string }[] = [];
    const restarted = await openFileCa({ dataDir, clock, crlValiditySeconds: 3600, revocations: store, onPublishedCrlIgnored: (e) => restartedIgnored.push(e) });
    expect(Buffer.from(readFileSync(join(dataDir, "ca.crl"))).equals(Buffer.from(second.der))).toBe(true);
    const next = await restarted.crl();
    expect(next.crlNumber).toBe(2n); // the store's next: the damaged file's stated 10 is not the CA's (RFC 5280 §5.2.3 holds by the store)
    expect(readCrlEntries(next.der).map((e) => [e.serialNumber, e.reason])).toEqual([[issued.serialNumber, "keyCompromise"]]);
    expect(Buffer.from(readFileSync(join(dataDir, "ca.crl"))).equals(Buffer.from(next.der))).toBe(true); // the damaged state replaced
    expect(restartedIgnored).toEqual([{ crlNumber: 10n, reason: "its signature does not verify with the CA's key" }]);
    expect((await ca.crl()).crlNumber).toBe(2n); // the first CA adopts the checked CRL 2
  });
});

describe("checkPublishedCrl: what ca.crl.json states must be what the signed CRL says (RFC 5280 §5.1.2.4–5, §5.2.3)", () => {
  it("number, thisUpdate, nextUpdate and entry count each compared with the CRL's own; the CA's CRL as stated passes", async () => {
    const dir = tempDir();
    const clock = (): Date => new Date("2026-03-01T10:00:00.000Z");
    const ca = await openFileCa({ dataDir: join(dir, "data"), clock, crlValiditySeconds: 3600, revocations: new MemoryRevocationStore({ now: clock }) });
    await ca.revoke((await ca.issue({ csrDer: opensslCsr(dir, "a", { subject: "/CN=a" }) })).serialNumber, "superseded");
    const signed = await ca.crl();
    const certificate = new Certificate(ca.certificateDer);
    const anchor = { subjectDer: certificate.subjectDer, publicKey: createPublicKey({ key: Buffer.from(certificate.spki), format: "der", type: "spki" }) };
    const verdict = checkPublishedCrl(signed, anchor);
    expect("parts" in verdict && [verdict.parts.crlNumber, verdict.parts.count]).toEqual([1n, 1]);
    const later = (d: Date): Date => new Date(d.getTime() + 1000);
    // The CRL is the CA's (issuer, signature): its own number comes with the verdict, a floor for the next CRL.
    expect(checkPublishedCrl({ ...signed, crlNumber: 2n }, anchor)).toEqual({ untrusted: "ca.crl.json says CRL number 2, the CRL it holds is number 1", signedCrlNumber: 1n });
    expect(checkPublishedCrl({ ...signed, thisUpdate: later(signed.thisUpdate) }, anchor)).toEqual({ untrusted: "ca.crl.json's thisUpdate or nextUpdate is not the CRL's", signedCrlNumber: 1n });
    expect(checkPublishedCrl({ ...signed, nextUpdate: later(signed.nextUpdate) }, anchor)).toEqual({ untrusted: "ca.crl.json's thisUpdate or nextUpdate is not the CRL's", signedCrlNumber: 1n });
    expect(checkPublishedCrl({ ...signed, revokedCount: 0 }, anchor)).toEqual({ untrusted: "ca.crl.json says 0 entries, the CRL lists 1", signedCrlNumber: 1n });
    // A CRL that does not verify vouches for no number.
    const damaged = new Uint8Array(signed.der);
    damaged[damaged.length - 5]! ^= 0x01; // inside signatureValue
    expect(checkPublishedCrl({ ...signed, der: damaged }, anchor)).toEqual({ untrusted: "its signature does not verify with the CA's key" });
  });
});
