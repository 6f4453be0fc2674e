// Serial numbers and the index under concurrency: many issue() calls in one
// process, several CA instances on one dataDir, and reopening.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { openFileCa } from "../src/index.js";
import { parseIndexLine } from "../src/issuance-index.js";
import { decodeSerial } from "../src/serial-allocator.js";
import { x509 } from "../src/lib/x509.js";
import { opensslCsr, spawnCaChild, tempDir, issuedSerials } from "./helpers.js";

let dir: string;
let csrDer: Uint8Array;

beforeAll(() => {
  dir = tempDir();
  csrDer = opensslCsr(dir, "device", { subject: "/CN=load-test", san: "DNS:load.example" });
});

function rawIndexLines(dataDir: string): string[] {
  const text = readFileSync(join(dataDir, "index.jsonl"), "utf8");
  expect(text === "" || text.endsWith("\n")).toBe(true);
  return text.split("\n").slice(0, -1);
}

describe("serial numbers", () => {
  it("200 concurrent issues get 200 distinct serials and 200 index entries", async () => {
    const dataDir = join(dir, "concurrent");
    const ca = await openFileCa({ dataDir });
    const issued = await Promise.all(Array.from({ length: 200 }, () => ca.issue({ csrDer })));

    const serials = issued.map((i) => i.serialNumber);
    expect(new Set(serials).size).toBe(200);
    // Each returned serial is the one in the certificate.
    for (const i of issued) expect(new x509.X509Certificate(i.certificateDer).serialNumber).toBe(i.serialNumber);

    const lines = rawIndexLines(dataDir);
    expect(lines).toHaveLength(200);
    for (const line of lines) expect(parseIndexLine(line)).toEqual(JSON.parse(line));
    const listed = await ca.list();
    expect(listed.map((r) => r.serialNumber).sort()).toEqual([...serials].sort());
    expect(readdirSync(join(dataDir, "certs")).filter((f) => f !== ".tmp").sort()).toEqual(serials.map((s) => `${s}.pem`).sort());

    // One epoch, sequences 1..200 each used once.
    const decoded = serials.map((s) => decodeSerial(s));
    expect(new Set(decoded.map((d) => d?.epoch))).toEqual(new Set([1]));
    expect(decoded.map((d) => d?.sequence).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
  });

  it("serials are 17 positive DER octets: 70 random bits, the epoch, the sequence", async () => {
    const ca = await openFileCa({ dataDir: join(dir, "format") });
    const a = await ca.issue({ csrDer });
    const b = await ca.issue({ csrDer });
    expect(a.serialNumber).toMatch(/^[4-7][0-9a-f]{33}$/);
    expect(decodeSerial(a.serialNumber)).toEqual({ epoch: 1, sequence: 1 });
    expect(decodeSerial(b.serialNumber)).toEqual({ epoch: 1, sequence: 2 });
    expect(a.serialNumber.slice(0, 18)).not.toBe(b.serialNumber.slice(0, 18));
  });

  it("never repeats a serial across reopenings or between instances sharing a dataDir", async () => {
    const dataDir = join(dir, "shared");
    const first = await openFileCa({ dataDir });
    const [second, third] = await Promise.all([openFileCa({ dataDir }), openFileCa({ dataDir })]);
    const batches = await Promise.all(
      [first, second, third].map((ca) => Promise.all(Array.from({ length: 40 }, () => ca.issue({ csrDer })))),
    );
    const serials = batches.flat().map((i) => i.serialNumber);
    expect(new Set(serials).size).toBe(120);
    const epochs = batches.map((batch) => new Set(batch.map((i) => decodeSerial(i.serialNumber)?.epoch)));
    expect(epochs.map((e) => e.size)).toEqual([1, 1, 1]);
    expect(new Set(epochs.map((e) => [...e][0])).size).toBe(3);
    expect(readdirSync(join(dataDir, "epochs")).sort()).toEqual(["0000000001", "0000000002", "0000000003"]);

    const reopened = await openFileCa({ dataDir });
    const later = await reopened.issue({ csrDer });
    expect(decodeSerial(later.serialNumber)?.epoch).toBe(4);
    expect(rawIndexLines(dataDir)).toHaveLength(121);
    expect(new Set((await reopened.list()).map((r) => r.serialNumber)).size).toBe(121);
  });

  it("two processes issuing concurrently into one dataDir never share a serial or tear the index", async () => {
    const dataDir = join(dir, "two-processes");
    await openFileCa({ dataDir }); // create the CA up front
    const csrPath = join(dir, "device.csr.der");
    const children = [0, 1].map(() => spawnCaChild([dataDir, "issue", csrPath, "100", "8"]));
    const results = await Promise.all(children.map((c) => c.exited));
    expect(results.map((r) => r.code), children.map((c) => c.stderr()).join("\n")).toEqual([0, 0]);

    const serials = children.flatMap((c) => issuedSerials(c.lines));
    expect(serials).toHaveLength(200);
    expect(new Set(serials).size).toBe(200);
    const lines = rawIndexLines(dataDir);
    expect(lines).toHaveLength(200);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    const ca = await openFileCa({ dataDir });
    expect((await ca.list()).map((r) => r.serialNumber).sort()).toEqual([...serials].sort());
  }, 120_000);
});
