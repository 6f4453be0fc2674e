// openFileCa() with a certificate bundle (an intermediate CA and the root above
// it, in either order: RFC 5280 §6.1 chains by name, not by file order), and
// backdateSeconds: notBefore back-dated for slow client clocks, never before
// the CA's own notBefore (RFC 5280 §4.1.2.5), the lifetime still counted from now.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { isEmbeddedCaError, openFileCa } from "../src/index.js";
import { openssl, opensslCsr, tempDir } from "./helpers.js";

let dir: string;
let csrDer: Uint8Array;
const p = (name: string): string => join(dir, name);
const der = (file: string): Uint8Array => new Uint8Array(Buffer.from(readFileSync(p(file), "utf8").replace(/-----[^-]+-----|\s/g, ""), "base64"));

beforeAll(() => {
  dir = tempDir();
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "root.key", "-subj", "/CN=Bundle Root", "-days", "30",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "root.pem"], dir);
  openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "issuing.key", "-subj", "/CN=Bundle Issuing", "-out", "issuing.csr"], dir);
  writeFileSync(p("ext.cnf"), "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature,keyEncipherment\n");
  openssl(["x509", "-req", "-in", "issuing.csr", "-CA", "root.pem", "-CAkey", "root.key", "-CAcreateserial", "-days", "20", "-extfile", "ext.cnf", "-out", "issuing.pem"], dir);
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-subj", "/CN=Unrelated Root", "-days", "2",
    "-addext", "basicConstraints=critical,CA:TRUE", "-out", "other.pem"], dir);
  csrDer = opensslCsr(dir, "device", { subject: "/CN=bundle-device" });
});

describe("a CA certificate bundle", () => {
  it.each([
    ["issuing CA, then root", ["issuing.pem", "root.pem"]],
    ["root, then issuing CA", ["root.pem", "issuing.pem"]],
  ])("picks the CA by its key and orders the chain by issuer (%s)", async (_, files) => {
    writeFileSync(p("bundle.pem"), files.map((f) => readFileSync(p(f), "utf8")).join(""));
    const ca = await openFileCa({ dataDir: p(`data-${files[0]}`), caCertPath: p("bundle.pem"), caKeyPath: p("issuing.key") });
    expect(ca.subject).toBe("CN=Bundle Issuing");
    expect(ca.chainDer).toEqual([der("root.pem")]);
    const issued = await ca.issue({ csrDer });
    writeFileSync(p("device.pem"), issued.certificatePem);
    expect(openssl(["verify", "-untrusted", "issuing.pem", "-CAfile", "root.pem", "device.pem"], dir).trim()).toBe("device.pem: OK");
  });

  it("refuses a certificate that is not above the CA (CA_LOAD_FAILED), and a key of none of them (CA_KEY_MISMATCH)", async () => {
    writeFileSync(p("mixed.pem"), readFileSync(p("issuing.pem"), "utf8") + readFileSync(p("other.pem"), "utf8"));
    const mixed = await openFileCa({ dataDir: p("data-mixed"), caCertPath: p("mixed.pem"), caKeyPath: p("issuing.key") }).catch((e: unknown) => e);
    expect(isEmbeddedCaError(mixed, "CA_LOAD_FAILED") && mixed.message).toBe(
      `${p("mixed.pem")}: CN=Unrelated Root is not an issuer of CN=Bundle Issuing (the file should hold the CA and the certificates above it)`,
    );
    writeFileSync(p("pair.pem"), readFileSync(p("issuing.pem"), "utf8") + readFileSync(p("root.pem"), "utf8"));
    const none = await openFileCa({ dataDir: p("data-none"), caCertPath: p("pair.pem"), caKeyPath: p("other.key") }).catch((e: unknown) => e);
    expect(isEmbeddedCaError(none, "CA_KEY_MISMATCH") && none.message).toBe(`${p("other.key")} is not the private key of any of the 2 certificates in ${p("pair.pem")}`);
  });
});

describe("backdateSeconds", () => {
  const T = Date.parse("2030-06-01T12:00:00.000Z");

  it("back-dates a CA created on first start and the certificates it issues; notAfter counts from now", async () => {
    let now = T;
    const ca = await openFileCa({ dataDir: p("data-backdate"), clock: () => new Date(now), backdateSeconds: 300 });
    expect(ca.notBefore.toISOString()).toBe("2030-06-01T11:55:00.000Z");
    now = T + 100_000;
    const issued = await ca.issue({ csrDer, validityDays: 1 });
    const record = (await ca.list()).find((r) => r.serialNumber === issued.serialNumber)!;
    expect([record.notBefore.toISOString(), record.notAfter.toISOString()]).toEqual(["2030-06-01T11:56:40.000Z", "2030-06-02T12:01:40.000Z"]);
  });

  it("never starts a certificate before the CA's own notBefore", async () => {
    let now = T;
    await openFileCa({ dataDir: p("data-clamp"), clock: () => new Date(now) }); // CA from T, not back-dated
    now = T + 100_000;
    const ca = await openFileCa({ dataDir: p("data-clamp"), clock: () => new Date(now), backdateSeconds: 300 });
    expect(ca.notBefore.toISOString()).toBe("2030-06-01T12:00:00.000Z");
    const issued = await ca.issue({ csrDer, validityDays: 1 });
    const record = (await ca.list()).find((r) => r.serialNumber === issued.serialNumber)!;
    expect([record.notBefore.toISOString(), record.notAfter.toISOString()]).toEqual(["2030-06-01T12:00:00.000Z", "2030-06-02T12:01:40.000Z"]);
  });

  it("rejects a negative or non-finite backdateSeconds (INVALID_OPTIONS)", async () => {
    await expect(openFileCa({ dataDir: p("data-bad"), backdateSeconds: -1 })).rejects.toMatchObject({ code: "INVALID_OPTIONS", message: "backdateSeconds must be a number of seconds >= 0, got -1" });
  });
});
