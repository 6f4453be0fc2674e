/**
 * LocalKey.from with a PEM bundle (RFC 7468: several CERTIFICATE blocks, as
 * `readFileSync("bundle.pem")` reads them) and with its two arguments swapped.
 * Before, a bundle meant its first certificate (a root-first bundle failed with
 * "the private key does not match the certificate"), and a key given as the
 * certificate failed with `ERR_ASN1 TBSCertificate: expected tag 0x30, got 0x2`.
 * Keys and certificates are made by OpenSSL.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalKey, isScepError } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "scep-key-bundle-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const openssl = (...args: string[]): void => void execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
const file = (name: string): Buffer => readFileSync(join(dir, name));
const text = (name: string): string => readFileSync(join(dir, name), "utf8");

function thrown(f: () => unknown): [string, string] {
  try {
    f();
  } catch (e) {
    if (isScepError(e)) return [e.code, e.message];
    throw e;
  }
  throw new Error("did not throw");
}

beforeAll(() => {
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "root.key", "-subj", "/CN=Bundle Root", "-out", "root.pem", "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE");
  openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "issuing.key", "-subj", "/CN=Bundle Issuing", "-out", "issuing.csr");
  openssl("x509", "-req", "-in", "issuing.csr", "-CA", "root.pem", "-CAkey", "root.key", "-set_serial", "2", "-days", "1", "-out", "issuing.pem");
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "other.key", "-subj", "/CN=Other", "-out", "other.pem", "-days", "1");
  openssl("pkey", "-in", "issuing.key", "-outform", "DER", "-out", "issuing-pkcs8.der");
  openssl("rsa", "-in", "issuing.key", "-traditional", "-out", "issuing-pkcs1.pem");
  openssl("rsa", "-in", "issuing.key", "-traditional", "-outform", "DER", "-out", "issuing-pkcs1.der");
  openssl("ec", "-in", "other.key", "-outform", "DER", "-out", "other-sec1.der");
  openssl("pkcs8", "-topk8", "-in", "issuing.key", "-v2", "aes-256-cbc", "-passout", "pass:s3cret", "-outform", "DER", "-out", "issuing-enc.der");
  openssl("x509", "-in", "issuing.pem", "-outform", "DER", "-out", "issuing.der");
});

const bundle = (...names: string[]): Buffer => Buffer.concat(names.map(file));

describe("LocalKey.from: a PEM bundle (RFC 7468) gives the certificate of the private key", () => {
  it.each([
    ["issuing CA first", ["issuing.pem", "root.pem"]],
    ["root first", ["root.pem", "issuing.pem"]],
    ["a certificate of neither between them", ["root.pem", "other.pem", "issuing.pem"]],
  ])("%s: bytes and text pick CN=Bundle Issuing for its key", (_, names) => {
    expect(LocalKey.from(bundle(...names), file("issuing.key")).certificate.subject).toBe("CN=Bundle Issuing");
    expect(LocalKey.from(bundle(...names).toString("utf8"), text("issuing.key")).certificate.subject).toBe("CN=Bundle Issuing");
    expect(LocalKey.from(bundle(...names), file("root.key")).certificate.subject).toBe("CN=Bundle Root");
  });

  it("a key of no certificate in the bundle: ERR_KEY, saying how many were tried", () => {
    expect(thrown(() => LocalKey.from(bundle("root.pem", "issuing.pem"), file("other.key")))).toEqual([
      "ERR_KEY",
      "the private key does not match the certificate (tried all 2 certificates of the PEM bundle)",
    ]);
    expect(thrown(() => LocalKey.from(file("issuing.pem"), file("other.key")))).toEqual(["ERR_KEY", "the private key does not match the certificate"]);
  });
});

describe("LocalKey.from: swapped arguments are named as such", () => {
  it.each([
    ["PKCS#8 PEM", "issuing.key", 'a PEM "PRIVATE KEY" block'],
    ["PKCS#1 PEM", "issuing-pkcs1.pem", 'a PEM "RSA PRIVATE KEY" block'],
    ["PKCS#8 DER", "issuing-pkcs8.der", "DER shaped as a private key"],
    ["PKCS#1 DER", "issuing-pkcs1.der", "DER shaped as a private key"],
    ["SEC1 DER", "other-sec1.der", "DER shaped as a private key"],
    ["encrypted PKCS#8 DER", "issuing-enc.der", "DER shaped as a private key"],
  ])("the certificate argument holding a %s key: ERR_INVALID_ARGUMENT", (_, key, what) => {
    expect(thrown(() => LocalKey.from(file(key), file("issuing.pem")))).toEqual([
      "ERR_INVALID_ARGUMENT",
      `the certificate argument holds ${what}, not a certificate: LocalKey.from takes the certificate first, then the private key`,
    ]);
  });

  it.each([
    ["PEM", "issuing.pem", 'a PEM "CERTIFICATE" block'],
    ["DER", "issuing.der", "a DER certificate"],
  ])("the private-key argument holding a %s certificate: ERR_KEY", (_, cert, what) => {
    expect(thrown(() => LocalKey.from(file("issuing.pem"), file(cert)))).toEqual([
      "ERR_KEY",
      `the private key argument holds ${what}, not a private key: LocalKey.from takes the certificate first, then the private key`,
    ]);
  });

  it("DER that is neither still gets its parse error (ERR_ASN1), and a PEM without any certificate ERR_INVALID_ARGUMENT", () => {
    expect(thrown(() => LocalKey.from(new Uint8Array([0x30, 0x03, 0x04, 0x01, 0x00]), file("issuing.key")))[0]).toBe("ERR_ASN1");
    expect(thrown(() => LocalKey.from("-----BEGIN X509 CRL-----\nAA==\n-----END X509 CRL-----\n", file("issuing.key")))).toEqual(["ERR_INVALID_ARGUMENT", "no CERTIFICATE block in the PEM text"]);
  });
});
