// The index holds every certificate (base64 DER): getCertificate() reads it
// back from there, with or without the certs/ convenience copies.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { openFileCa, type FileCa } from "../src/index.js";
import { opensslCsr, tempDir } from "./helpers.js";

let dir: string;
let ca: FileCa;
let csrDer: Uint8Array;

beforeAll(async () => {
  dir = tempDir();
  ca = await openFileCa({ dataDir: join(dir, "data") });
  csrDer = opensslCsr(dir, "device", { subject: "/O=Acme Devices/CN=indexed-0001", san: "DNS:indexed-0001.example" });
});

describe("the index holds the certificates", () => {
  it("records each certificate's DER (base64) and getCertificate() returns it", async () => {
    const issued = await ca.issue({ csrDer });
    const line = readFileSync(join(dir, "data", "index.jsonl"), "utf8")
      .split("\n")
      .find((l) => l.includes(issued.serialNumber));
    const record = JSON.parse(line ?? "{}") as Record<string, string>;
    expect(Object.keys(record)).toEqual(["serial", "subject", "notBefore", "notAfter", "issuedAt", "certificate"]);
    expect(Buffer.from(record.certificate ?? "", "base64").equals(Buffer.from(issued.certificateDer))).toBe(true);

    expect(await ca.getCertificate(issued.serialNumber)).toEqual(issued);
    expect(await ca.getCertificate("00")).toBeUndefined();
    await expect(ca.getCertificate("XYZ")).rejects.toMatchObject({ code: "INVALID_OPTIONS" });
  });

  it("reads certificates of index lines written before the index held them from certs/", async () => {
    const dataDir = join(dir, "old");
    const old = await openFileCa({ dataDir });
    const issued = await old.issue({ csrDer });
    const index = join(dataDir, "index.jsonl");
    const record = JSON.parse(readFileSync(index, "utf8")) as Record<string, string>;
    delete record.certificate;
    writeFileSync(index, JSON.stringify(record) + "\n");
    expect((await old.list()).map((r) => r.serialNumber)).toEqual([issued.serialNumber]);
    expect(await old.getCertificate(issued.serialNumber)).toEqual(issued);
  });

  it("with certificateFiles: false writes no certs/ directory; the index serves the certificates", async () => {
    const dataDir = join(dir, "no-files");
    const lean = await openFileCa({ dataDir, certificateFiles: false });
    const issued = await Promise.all([lean.issue({ csrDer }), lean.issue({ csrDer }), lean.issue({ csrDer })]);
    expect(existsSync(join(dataDir, "certs"))).toBe(false);
    for (const i of issued) expect(await lean.getCertificate(i.serialNumber)).toEqual(i);
    await expect(openFileCa({ dataDir, certificateFiles: "no" as unknown as boolean })).rejects.toMatchObject({
      code: "INVALID_OPTIONS",
      message: "certificateFiles must be true or false",
    });
  });
});

describe("a serial is found in any spelling (normalizeSerialNumber's canonical form on both sides)", () => {
  // This CA's own serials start with 0x40–0x7f, so they are canonical as written; an index written elsewhere (or by
  // hand) may spell a serial whose first octet is 0x80 or more without its 00, or with redundant zeros.
  async function caWithIndexSerials(name: string, serials: string[], keepCertificate = true) {
    const dataDir = join(dir, name);
    const c = await openFileCa({ dataDir });
    const issued = await c.issue({ csrDer });
    const index = join(dataDir, "index.jsonl");
    const record = JSON.parse(readFileSync(index, "utf8")) as Record<string, string>;
    if (!keepCertificate) delete record.certificate;
    writeFileSync(index, serials.map((serial) => JSON.stringify({ ...record, serial }) + "\n").join(""));
    if (!keepCertificate) for (const serial of serials) writeFileSync(join(dataDir, "certs", `${serial}.pem`), issued.certificatePem);
    return { c, issued };
  }

  it("an index line 80c0ffee… (first octet ≥ 0x80, no 00) is found by 80c0ffee…, 0080C0FFEE… and 00:00:80:c0…", async () => {
    const { c, issued } = await caWithIndexSerials("high", ["80c0ffee01"]);
    expect((await c.list()).map((r) => r.serialNumber)).toEqual(["0080c0ffee01"]);
    for (const asked of ["80c0ffee01", "0080C0FFEE01", "00:00:80:c0:ff:ee:01"]) {
      expect(await c.getCertificate(asked)).toEqual({ ...issued, serialNumber: "0080c0ffee01" });
    }
    expect(await c.getCertificate("80c0ffee02")).toBeUndefined();
  });

  it("an index line 000012ab (redundant zeros) is found by 12ab; a line without its certificate reads certs/000012ab.pem", async () => {
    const { c, issued } = await caWithIndexSerials("zeros", ["000012ab"], false);
    expect(await c.getCertificate("12ab")).toEqual({ ...issued, serialNumber: "12ab" });
    expect(await c.getCertificate("0012ab")).toEqual({ ...issued, serialNumber: "12ab" });
  });

  it("revoke by 80c0ffee01 and by 0080c0ffee01 revokes the one certificate of index line 80c0ffee01 (RFC 5280 §5.3.1)", async () => {
    const { c } = await caWithIndexSerials("revoke-high", ["80c0ffee01"]);
    const first = await c.revoke("80c0ffee01", "keyCompromise");
    expect(first).toMatchObject({ created: true, entry: { serialNumber: "0080c0ffee01", reason: "keyCompromise" }, subject: "O=Acme Devices, CN=indexed-0001" });
    const again = await c.revoke("0080c0ffee01", "superseded");
    expect(again).toMatchObject({ created: false, entry: { serialNumber: "0080c0ffee01", reason: "keyCompromise" } });
    expect((await c.revocations.list()).map((r) => r.serialNumber)).toEqual(["0080c0ffee01"]);
  });
});
