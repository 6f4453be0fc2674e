// The embedded CA's CRL cache is keyed by the revocation store's revision (one O(1) read per crl(), not a list of
// every revocation), and a negative serial (RFC 5280 §4.1.2.2: DER content 80 01, which old CAs issued) is its own
// certificate, revocation and CRL entry, never 0x8001's (00 80 01). openssl is the reference.
import { appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Certificate, MemoryRevocationStore, type RevocationStore } from "@scep/core";
import { isEmbeddedCaError, openFileCa, type FileCa } from "../src/index.js";
import { openssl, opensslCsr, tempDir } from "./helpers.js";

let nowMs = Date.parse("2026-03-01T10:00:00.000Z");
const clock = (): Date => new Date(nowMs);

/**
 * A store that counts the calls made to it (the work a crl() does), with or without `revision`. `reset()` zeroes the
 * counts: issue() reads the store too (its compromised-key check), and only crl()'s reads are counted here.
 */
function counting(withRevision: boolean): { store: RevocationStore; calls: Record<string, number>; reset: () => void } {
  const inner = new MemoryRevocationStore({ now: clock });
  const calls: Record<string, number> = { list: 0, revision: 0, nextCrlNumber: 0 };
  const store: RevocationStore = {
    revoke: (o) => inner.revoke(o),
    get: (s) => inner.get(s),
    list: () => (calls.list!++, inner.list()),
    nextCrlNumber: () => (calls.nextCrlNumber!++, inner.nextCrlNumber()),
    ...(withRevision ? { revision: () => (calls.revision!++, inner.revision()) } : {}),
  };
  const reset = (): void => {
    for (const k of Object.keys(calls)) calls[k] = 0;
  };
  return { store, calls, reset };
}

describe("crl(): an unchanged store reuses the cached CRL after one O(1) revision read; a revocation shows in the next CRL", () => {
  it("20 crl() calls with nothing revoked: one list and one signing; after a revoke the next crl() lists it", async () => {
    const dir = tempDir();
    const { store, calls, reset } = counting(true);
    const ca = await openFileCa({ dataDir: join(dir, "data"), clock, crlValiditySeconds: 3600, revocations: store });
    const issued = await ca.issue({ csrDer: opensslCsr(dir, "a", { subject: "/CN=a" }) });
    reset();
    const first = await ca.crl();
    for (let i = 0; i < 20; i++) expect(await ca.crl()).toBe(first);
    expect(calls).toEqual({ list: 1, revision: 21, nextCrlNumber: 1 });
    await ca.revoke(issued.serialNumber, "keyCompromise");
    const next = await ca.crl();
    expect([next.crlNumber, next.revokedCount]).toEqual([first.crlNumber + 1n, 1]);
    expect(calls).toEqual({ list: 2, revision: 22, nextCrlNumber: 2 });
  });

  it("two CAs on one data directory and one store (two workers, or replicas on one Redis): a revoke through one shows in the other's next CRL", async () => {
    const dir = tempDir();
    const { store } = counting(true);
    const a = await openFileCa({ dataDir: join(dir, "data"), clock, revocations: store });
    const b = await openFileCa({ dataDir: join(dir, "data"), clock, revocations: store });
    const issued = await a.issue({ csrDer: opensslCsr(dir, "b", { subject: "/CN=b" }) });
    const before = await b.crl();
    expect(before.revokedCount).toBe(0);
    await a.revoke(issued.serialNumber, "superseded");
    expect((await b.crl()).revokedCount).toBe(1);
  });

  it("a store without revision is listed per call, and a revoke still shows", async () => {
    const dir = tempDir();
    const { store, calls, reset } = counting(false);
    const ca = await openFileCa({ dataDir: join(dir, "data"), clock, revocations: store });
    const issued = await ca.issue({ csrDer: opensslCsr(dir, "c", { subject: "/CN=c" }) });
    reset();
    const first = await ca.crl();
    expect(await ca.crl()).toBe(first);
    await ca.revoke(issued.serialNumber, "superseded");
    expect((await ca.crl()).revokedCount).toBe(1);
    expect(calls).toEqual({ list: 3, revision: 0, nextCrlNumber: 2 });
  });

  it("a caller that revoked while a CRL was being signed gets a CRL that lists the revocation, not the one being signed", async () => {
    const dir = tempDir();
    const { store } = counting(true);
    const ca = await openFileCa({ dataDir: join(dir, "data"), clock, revocations: store });
    const issued = await ca.issue({ csrDer: opensslCsr(dir, "d", { subject: "/CN=d" }) });
    const signing = ca.crl(); // reads revision 0 and starts signing
    await ca.revoke(issued.serialNumber, "superseded");
    const after = await ca.crl();
    // The first signing may list the revocation or not (it lists the store as it finds it, keyed by the revision it
    // read before); the caller who revoked gets a CRL that lists it either way.
    expect([0, 1]).toContain((await signing).revokedCount);
    expect(after.revokedCount).toBe(1);
  });
});

describe("RFC 5280 §4.1.2.2: a negative serial (content 80 01, openssl -set_serial -32767) in the index beside 0x8001", () => {
  let dir: string;
  let ca: FileCa;
  let negative: Certificate;
  let positive: Certificate;
  beforeAll(async () => {
    dir = tempDir();
    ca = await openFileCa({ dataDir: join(dir, "data"), clock, revocations: new MemoryRevocationStore({ now: clock }) });
    const line = (serial: string, c: Certificate): string =>
      JSON.stringify({ serial, subject: c.subject, notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString(), issuedAt: clock().toISOString(), certificate: Buffer.from(c.der).toString("base64") }) + "\n";
    const made: Certificate[] = [];
    for (const [name, serial] of [["neg", "-32767"], ["pos", "0x8001"], ["neg2", "-32766"]] as const) {
      opensslCsr(dir, name, { subject: `/CN=${name}` });
      openssl(["x509", "-req", "-inform", "DER", "-in", `${name}.csr.der`, "-CA", join(dir, "data", "ca.pem"), "-CAkey", join(dir, "data", "ca.key"), "-set_serial", serial, "-days", "5", "-out", `${name}.pem`], dir);
      made.push(Certificate.from(readFileSync(join(dir, `${name}.pem`), "utf8")));
    }
    [negative, positive] = made as [Certificate, Certificate];
    // Imported from an old CA: two lines in the CA's spelling, and one that spells −32766 (80 02) as @peculiar/x509 prints it ("8002": 0x8002's text).
    appendFileSync(join(dir, "data", "index.jsonl"), line("-7fff", negative) + line("008001", positive) + line("8002", made[2]!));
  });

  it("getCertificate: -7FFF (openssl's serial=-7FFF) is the negative serial's certificate, 80:01 is 0x8001's", async () => {
    expect([Buffer.from(negative.serialNumber).toString("hex"), Buffer.from(positive.serialNumber).toString("hex")]).toEqual(["8001", "008001"]);
    expect((await ca.getCertificate("-7FFF"))?.certificatePem).toBe(negative.toPem());
    expect((await ca.getCertificate("-7fff"))?.serialNumber).toBe("-7fff");
    expect((await ca.getCertificate("80:01"))?.certificatePem).toBe(positive.toPem());
  });

  it("the index's text is its key: a line spelling −32766 (content 80 02) as 8002 is found by 8002 (0x8002's spelling), not by -7ffe", async () => {
    // (The example servers' GetCert checks the certificate's own serial before answering: get-cert-suite.ts.)
    expect((await ca.getCertificate("8002"))?.serialNumber).toBe("008002");
    expect(await ca.getCertificate("-7ffe")).toBeUndefined();
  });

  it("revoke -7FFF: the CRL lists the INTEGER 80 01 (openssl prints -7FFF) and not 0x8001", async () => {
    const { entry } = await ca.revoke("-7FFF", "keyCompromise");
    expect(entry.serialNumber).toBe("-7fff");
    const crl = await ca.crl();
    const file = join(dir, "neg.crl");
    appendFileSync(file, crl.pem);
    const text = openssl(["crl", "-in", "neg.crl", "-noout", "-text"], dir);
    expect(text.match(/Serial Number: (\S+)/g)).toEqual(["Serial Number: -7FFF"]);
  });

  it("UNKNOWN_SERIAL says the serial as the caller wrote it, and the CA's spelling only when it differs", async () => {
    const said = async (serial: string): Promise<string> => {
      const e = await ca.revoke(serial, "superseded").catch((error: unknown) => error);
      expect(isEmbeddedCaError(e, "UNKNOWN_SERIAL")).toBe(true);
      return (e as Error).message;
    };
    expect(await said("DEADBEEF")).toBe("this CA issued no certificate with serial DEADBEEF (00deadbeef)");
    expect(await said("7E:AD:BE:EF")).toBe("this CA issued no certificate with serial 7E:AD:BE:EF");
    expect(await said("-7ffd")).toBe("this CA issued no certificate with serial -7ffd");
  });
});
