/**
 * LocalKey.from with private-key bytes in DER, as OpenSSL writes them with
 * `-outform DER`: PKCS#8 `PrivateKeyInfo` and `EncryptedPrivateKeyInfo`
 * (RFC 5958 §2, §3), PKCS#1 `RSAPrivateKey` (RFC 8017 §A.1.2) and SEC1
 * `ECPrivateKey` (RFC 5915 §3). Each opens and signs a message the
 * certificate's key verifies; an encrypted one without its passphrase is
 * ERR_KEY_PASSPHRASE, bytes of no key form are ERR_KEY.
 */
import { execFileSync } from "node:child_process";
import { verify } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalKey, isScepError } from "../src/index.js";
import { thrown } from "./support/thrown.js";

const dir = mkdtempSync(join(tmpdir(), "scep-der-key-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const openssl = (...args: string[]): void => void execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
const bytes = (name: string): Uint8Array => new Uint8Array(readFileSync(join(dir, name)));

beforeAll(() => {
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa.pem", "-subj", "/CN=DER RSA", "-out", "rsa.crt", "-days", "1");
  openssl("pkey", "-in", "rsa.pem", "-outform", "DER", "-out", "rsa-pkcs8.der");
  openssl("rsa", "-in", "rsa.pem", "-traditional", "-outform", "DER", "-out", "rsa-pkcs1.der");
  openssl("pkcs8", "-topk8", "-in", "rsa.pem", "-v2", "aes-256-cbc", "-passout", "pass:s3cret", "-outform", "DER", "-out", "rsa-pkcs8-enc.der");
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ec.pem", "-subj", "/CN=DER EC", "-out", "ec.crt", "-days", "1");
  openssl("ec", "-in", "ec.pem", "-outform", "DER", "-out", "ec-sec1.der");
  openssl("pkey", "-in", "ec.pem", "-outform", "DER", "-out", "ec-pkcs8.der");
});

describe("LocalKey.from: DER private keys (RFC 5958, RFC 8017 §A.1.2, RFC 5915)", () => {
  it.each([
    ["RSA PKCS#8", "rsa.crt", "rsa-pkcs8.der", "rsa"],
    ["RSA PKCS#1", "rsa.crt", "rsa-pkcs1.der", "rsa"],
    ["EC PKCS#8", "ec.crt", "ec-pkcs8.der", "ec"],
    ["EC SEC1", "ec.crt", "ec-sec1.der", "ec"],
  ])("opens %s DER and signs with it", async (_, cert, key, type) => {
    const local = LocalKey.from(readFileSync(join(dir, cert)), bytes(key));
    expect(local.keyType).toBe(type);
    const data = new TextEncoder().encode("signed by a DER key");
    const alg = type === "rsa" ? ({ scheme: "rsa-pkcs1", digest: "sha256" } as const) : ({ scheme: "ecdsa", digest: "sha256" } as const);
    const signature = await local.sign(data, alg);
    expect(verify("sha256", data, { key: local.certificate.toPem(), dsaEncoding: "der" }, signature)).toBe(true);
  });

  it("opens an encrypted PKCS#8 DER key with its passphrase; missing or wrong: ERR_KEY_PASSPHRASE", () => {
    const cert = readFileSync(join(dir, "rsa.crt"));
    expect(LocalKey.from(cert, bytes("rsa-pkcs8-enc.der"), { passphrase: "s3cret" }).certificate.subject).toBe("CN=DER RSA");
    const missing = thrown(() => LocalKey.from(cert, bytes("rsa-pkcs8-enc.der")));
    expect(isScepError(missing) && [missing.code, missing.message]).toEqual([
      "ERR_KEY_PASSPHRASE",
      "the private key is encrypted and no passphrase was given (the empty passphrase does not open it)",
    ]);
    const wrong = thrown(() => LocalKey.from(cert, bytes("rsa-pkcs8-enc.der"), { passphrase: "not-it" }));
    expect(isScepError(wrong) && [wrong.code, wrong.message]).toEqual(["ERR_KEY_PASSPHRASE", "the passphrase does not open the encrypted private key (wrong passphrase, or a damaged key)"]);
  });

  it("DER of no private-key form is ERR_KEY; the certificate itself is named as such", () => {
    const e = thrown(() => LocalKey.from(readFileSync(join(dir, "rsa.crt")), new Uint8Array([0x30, 0x03, 0x04, 0x01, 0x00])));
    expect(isScepError(e) && [e.code, e.message]).toEqual(["ERR_KEY", "unreadable private key (expected DER PKCS#8, PKCS#1 or SEC1)"]);
    const cert = thrown(() => LocalKey.from(readFileSync(join(dir, "rsa.crt")), LocalKey.from(readFileSync(join(dir, "rsa.crt")), bytes("rsa-pkcs1.der")).certificate.der));
    expect(isScepError(cert) && [cert.code, cert.message]).toEqual([
      "ERR_KEY",
      "the private key argument holds a DER certificate, not a private key: LocalKey.from takes the certificate first, then the private key",
    ]);
  });

  it("a DER key of another certificate is ERR_KEY", () => {
    const e = thrown(() => LocalKey.from(readFileSync(join(dir, "rsa.crt")), bytes("ec-sec1.der")));
    expect(isScepError(e) && [e.code, e.message]).toEqual(["ERR_KEY", "the private key does not match the certificate"]);
  });
});
