/**
 * RFC 7468 PEM read from a file without an encoding (`readFileSync(path)`
 * gives bytes): Certificate.from, CertificationRequest.from and LocalKey.from
 * take those bytes as PEM, the same as the string, since DER always starts
 * with a SEQUENCE (0x30). A fresh user ran the LocalKey.from TSDoc example
 * (`readFileSync("ca.pem")`) and got "ASN.1 trailing data" before.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Certificate, CertificationRequest, LocalKey, isScepError } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "scep-pem-bytes-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const openssl = (...args: string[]): string => execFileSync("openssl", args, { cwd: dir, encoding: "utf8" });

beforeAll(() => {
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-subj", "/CN=PEM Bytes CA", "-out", "ca.pem", "-days", "1");
  openssl("x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der");
  openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "device.key", "-subj", "/CN=pem-bytes-device", "-out", "device.csr");
  openssl("req", "-in", "device.csr", "-outform", "DER", "-out", "device.csr.der");
});

describe("RFC 7468 PEM given as bytes", () => {
  it("Certificate.from: PEM bytes, PEM text and DER give the same certificate; so do openssl's 'Bag Attributes' preambles", () => {
    const der = new Uint8Array(readFileSync(join(dir, "ca.der")));
    const fromBytes = Certificate.from(readFileSync(join(dir, "ca.pem")));
    expect(Buffer.from(fromBytes.der).equals(Buffer.from(der))).toBe(true);
    expect(Buffer.from(Certificate.from(readFileSync(join(dir, "ca.pem"), "utf8")).der).equals(Buffer.from(der))).toBe(true);
    expect(Buffer.from(Certificate.from(der).der).equals(Buffer.from(der))).toBe(true);
    const withPreamble = Buffer.concat([Buffer.from("Bag Attributes\n    friendlyName: ca\nsubject=CN = PEM Bytes CA\n"), readFileSync(join(dir, "ca.pem"))]);
    expect(Certificate.from(withPreamble).subject).toBe("CN=PEM Bytes CA");
  });

  it("Certificate.from: bytes that are neither DER nor PEM are ERR_INVALID_ARGUMENT, not a crash", () => {
    const e = (() => {
      try {
        Certificate.from(new TextEncoder().encode("not a certificate"));
      } catch (err) {
        return err;
      }
    })();
    expect(isScepError(e) && e.code).toBe("ERR_INVALID_ARGUMENT");
  });

  it("CertificationRequest.from: PEM bytes and DER give the same request", () => {
    const der = new Uint8Array(readFileSync(join(dir, "device.csr.der")));
    const csr = CertificationRequest.from(readFileSync(join(dir, "device.csr")));
    expect(Buffer.from(csr.der).equals(Buffer.from(der))).toBe(true);
    expect(csr.subject).toBe("CN=pem-bytes-device");
  });

  it("LocalKey.from(readFileSync('ca.pem'), readFileSync('ca.key', 'utf8')) as its TSDoc example shows: signs with the certificate's key", async () => {
    const ca = LocalKey.from(readFileSync(join(dir, "ca.pem")), readFileSync(join(dir, "ca.key"), "utf8"));
    expect(ca.certificate.subject).toBe("CN=PEM Bytes CA");
    const data = new TextEncoder().encode("signed by the PEM-bytes CA");
    const signature = await ca.sign(data, { scheme: "rsa-pkcs1", digest: "sha256" });
    const { createPublicKey, verify } = await import("node:crypto");
    expect(verify("sha256", data, createPublicKey(readFileSync(join(dir, "ca.pem"))), signature)).toBe(true);
  });
});
