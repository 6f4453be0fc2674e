// issue(): certificates for CSRs made by `openssl req`, checked with
// `openssl verify` and `openssl x509 -text` as the reference implementation.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { openFileCa, type FileCa } from "../src/index.js";
import { openssl, opensslCsr, tempDir, writePem } from "./helpers.js";

let dir: string;
let ca: FileCa;
let rsaCsr: Uint8Array;

beforeAll(async () => {
  dir = tempDir();
  ca = await openFileCa({ dataDir: join(dir, "data") });
  rsaCsr = opensslCsr(dir, "device", {
    subject: "/C=US/O=Acme Devices/OU=Fleet/CN=device-0042",
    san: "DNS:device-0042.example.com,DNS:alt.example.com,IP:10.1.2.3,email:ops@example.com,URI:urn:uuid:0b5f6c1e-6d0a-4e8e-9d1b-3a3d0b4c2f11",
  });
});

function text(certFile: string): string {
  return openssl(["x509", "-in", certFile, "-noout", "-text"], dir);
}

describe("issuing from an openssl CSR", () => {
  it("issues a certificate that openssl verifies against ca.pem, with the CSR's subject and SANs", async () => {
    const issued = await ca.issue({ csrDer: rsaCsr });
    writePem(dir, "device.pem", issued.certificatePem);

    expect(openssl(["verify", "-CAfile", "data/ca.pem", "device.pem"], dir).trim()).toBe("device.pem: OK");
    expect(openssl(["verify", "-purpose", "sslclient", "-CAfile", "data/ca.pem", "device.pem"], dir).trim()).toBe("device.pem: OK");

    const t = text("device.pem");
    expect(t).toContain("Subject: C = US, O = Acme Devices, OU = Fleet, CN = device-0042");
    expect(t).toContain("Issuer: CN = SCEP Example CA, O = scep-sdk");
    expect(t).toContain("Signature Algorithm: sha256WithRSAEncryption");
    expect(t).toMatch(
      /X509v3 Subject Alternative Name:\s*\n\s+DNS:device-0042\.example\.com, DNS:alt\.example\.com, IP Address:10\.1\.2\.3, email:ops@example\.com, URI:urn:uuid:0b5f6c1e-6d0a-4e8e-9d1b-3a3d0b4c2f11\n/,
    );
    expect(t).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE\n/);
    expect(t).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment\n/);
    expect(t).toMatch(/X509v3 Extended Key Usage:\s*\n\s+TLS Web Client Authentication\n/);

    // SKI = SHA-1 of the device key (what openssl computes for the CSR key), AKI = CA's SKI.
    const ski = /Subject Key Identifier:\s+(\S+)/.exec(t)?.[1];
    const aki = /Authority Key Identifier:\s+(?:keyid:)?(\S+)/.exec(t)?.[1];
    const caSki = /Subject Key Identifier:\s+(\S+)/.exec(text("data/ca.pem"))?.[1];
    expect(aki).toBe(caSki);
    const expectedSki = /Subject Key Identifier:\s+(\S+)/.exec(
      openssl(["req", "-in", "device.csr.der", "-inform", "DER", "-x509", "-key", "device.key", "-noout", "-text", "-addext", "subjectKeyIdentifier=hash"], dir),
    )?.[1];
    expect(ski).toBe(expectedSki);

    // serialNumber is the certificate's serial, and the same DER as the PEM.
    const serial = openssl(["x509", "-in", "device.pem", "-noout", "-serial"], dir).trim();
    expect(serial).toBe(`serial=${issued.serialNumber.toUpperCase()}`);
    expect(issued.serialNumber).toMatch(/^[4-7][0-9a-f]{33}$/);
    const der = openssl(["x509", "-in", "device.pem", "-outform", "DER", "-out", "device.der"], dir);
    expect(der).toBe("");
    expect(Buffer.from(issued.certificateDer).equals(readFileSync(join(dir, "device.der")))).toBe(true);

    // Stored copy and index record.
    expect(readFileSync(join(dir, "data", "certs", `${issued.serialNumber}.pem`), "utf8")).toBe(issued.certificatePem);
    const record = (await ca.list()).find((r) => r.serialNumber === issued.serialNumber);
    expect(record).toMatchObject({ subject: "C=US, O=Acme Devices, OU=Fleet, CN=device-0042" });
  });

  it("sets keyUsage digitalSignature only for an EC device key", async () => {
    const csrDer = opensslCsr(dir, "ec-device", { subject: "/CN=ec-device", key: "ec", san: "DNS:ec-device.example" });
    writePem(dir, "ec-device.pem", (await ca.issue({ csrDer })).certificatePem);
    expect(openssl(["verify", "-CAfile", "data/ca.pem", "ec-device.pem"], dir).trim()).toBe("ec-device.pem: OK");
    const t = text("ec-device.pem");
    expect(t).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(t).toContain("Public Key Algorithm: id-ecPublicKey");
  });

  it("honours validityDays and notBefore, and never outlives the CA", async () => {
    const notBefore = new Date("2030-02-03T04:05:06.000Z");
    const issued = await ca.issue({ csrDer: rsaCsr, notBefore, validityDays: 30 });
    writePem(dir, "validity.pem", issued.certificatePem);
    expect(openssl(["x509", "-in", "validity.pem", "-noout", "-startdate", "-enddate"], dir)).toBe(
      "notBefore=Feb  3 04:05:06 2030 GMT\nnotAfter=Mar  5 04:05:06 2030 GMT\n",
    );

    const long = await ca.issue({ csrDer: rsaCsr, validityDays: 100 * 365 });
    const record = (await ca.list()).find((r) => r.serialNumber === long.serialNumber);
    expect(record?.notAfter.getTime()).toBe(ca.notAfter.getTime());

    await expect(ca.issue({ csrDer: rsaCsr, notBefore: new Date(ca.notAfter.getTime() + 1000) })).rejects.toMatchObject({
      code: "INVALID_OPTIONS",
    });
  });

  it("uses the default validity of 365 days from the injected clock", async () => {
    const clock = (): Date => new Date("2031-06-01T12:00:00.000Z");
    const clocked = await openFileCa({ dataDir: join(dir, "data"), clock });
    const issued = await clocked.issue({ csrDer: rsaCsr });
    const record = (await clocked.list()).find((r) => r.serialNumber === issued.serialNumber);
    expect(record).toEqual({
      serialNumber: issued.serialNumber,
      subject: "C=US, O=Acme Devices, OU=Fleet, CN=device-0042",
      notBefore: new Date("2031-06-01T12:00:00.000Z"),
      notAfter: new Date("2032-05-31T12:00:00.000Z"),
      issuedAt: new Date("2031-06-01T12:00:00.000Z"),
    });
  });

  it("applies subjectOverride and extra extensions (replacing a default by OID)", async () => {
    const issued = await ca.issue({
      csrDer: rsaCsr,
      subjectOverride: "CN=overridden,O=Acme Devices",
      extensions: [
        // extendedKeyUsage serverAuth + clientAuth replaces the default clientAuth-only EKU
        { oid: "2.5.29.37", value: Uint8Array.from(Buffer.from("301406082b0601050507030106082b06010505070302", "hex")) },
        // certificatePolicies { anyPolicy }, added
        { oid: "2.5.29.32", critical: false, value: Uint8Array.from(Buffer.from("300830060604551d2000", "hex")) },
      ],
    });
    writePem(dir, "override.pem", issued.certificatePem);
    const t = text("override.pem");
    expect(t).toContain("Subject: CN = overridden, O = Acme Devices");
    expect(t).toMatch(/X509v3 Extended Key Usage:\s*\n\s+TLS Web Server Authentication, TLS Web Client Authentication\n/);
    expect(t.match(/Extended Key Usage/g)).toHaveLength(1);
    expect(t).toMatch(/X509v3 Certificate Policies:\s*\n\s+Policy: X509v3 Any Policy\n/);
    expect(t).toContain("DNS:device-0042.example.com"); // SAN still from the CSR
    expect(openssl(["verify", "-CAfile", "data/ca.pem", "override.pem"], dir).trim()).toBe("override.pem: OK");
  });

  it("marks the copied subjectAltName critical when the subject is empty", async () => {
    const csrDer = opensslCsr(dir, "no-subject", { subject: "/", san: "DNS:only-san.example" });
    writePem(dir, "no-subject.pem", (await ca.issue({ csrDer })).certificatePem);
    const t = text("no-subject.pem");
    expect(t).toMatch(/X509v3 Subject Alternative Name: critical\s*\n\s+DNS:only-san\.example\n/);
    expect(openssl(["verify", "-CAfile", "data/ca.pem", "no-subject.pem"], dir).trim()).toBe("no-subject.pem: OK");
  });
});

describe("rejecting bad requests", () => {
  it("CSR_INVALID for bytes that are not a PKCS#10 request", async () => {
    await expect(ca.issue({ csrDer: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]) })).rejects.toMatchObject({
      name: "EmbeddedCaError",
      code: "CSR_INVALID",
      message: "the PKCS#10 request cannot be decoded",
    });
    await expect(ca.issue({ csrDer: new Uint8Array(0) })).rejects.toMatchObject({
      code: "CSR_INVALID",
      message: "csrDer must be a non-empty Uint8Array with a DER PKCS#10 request",
    });
  });

  it("CSR_INVALID for a request whose signature does not verify", async () => {
    const tampered = rsaCsr.slice();
    const cn = Buffer.from(tampered).indexOf("device-0042");
    tampered[cn] = "D".charCodeAt(0); // change the subject; the signature no longer matches
    await expect(ca.issue({ csrDer: tampered })).rejects.toMatchObject({
      code: "CSR_INVALID",
      message: "the PKCS#10 request's signature does not verify",
    });
  });

  it("CSR_INVALID for a request with neither subject nor subjectAltName", async () => {
    const csrDer = opensslCsr(dir, "nobody", { subject: "/" });
    await expect(ca.issue({ csrDer })).rejects.toMatchObject({
      code: "CSR_INVALID",
      message: "the PKCS#10 request has neither a subject nor a subjectAltName",
    });
  });

  it("INVALID_OPTIONS for bad validityDays, notBefore, subjectOverride or extensions", async () => {
    const before = (await ca.list()).length;
    await expect(ca.issue({ csrDer: rsaCsr, validityDays: 0 })).rejects.toMatchObject({
      code: "INVALID_OPTIONS",
      message: "validityDays must be a positive number, got 0",
    });
    await expect(ca.issue({ csrDer: rsaCsr, notBefore: new Date(Number.NaN) })).rejects.toMatchObject({
      code: "INVALID_OPTIONS",
      message: "notBefore must be a valid Date",
    });
    await expect(ca.issue({ csrDer: rsaCsr, subjectOverride: "nonsense" })).rejects.toMatchObject({
      code: "INVALID_OPTIONS",
    });
    await expect(ca.issue({ csrDer: rsaCsr, extensions: [{ oid: "eku", value: new Uint8Array(2) }] })).rejects.toMatchObject({
      code: "INVALID_OPTIONS",
      message: "extension oid must be a dotted OID, got eku",
    });
    // Nothing was recorded for rejected requests.
    expect((await ca.list()).length).toBe(before);
  });
});
