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
