/**
 * privateKeyToPkcs8: every key file form LocalKey.from reads (PEM and DER; PKCS#8 RFC 5958, PKCS#1 RFC 8017 §A.1.2,
 * SEC1 RFC 5915, encrypted PKCS#8 and legacy PEM) comes back as the same unencrypted PKCS#8 DER, with
 * LocalKey.from's errors.
 */
import { execFileSync } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { isScepError, privateKeyToPkcs8 } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "scep-pkcs8-"));
const openssl = (...args: string[]): void => void execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
const file = (name: string): Buffer => readFileSync(join(dir, name));
let pkcs8: Buffer;

beforeAll(() => {
  openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.key");
  openssl("pkey", "-in", "rsa.key", "-outform", "DER", "-out", "rsa-pkcs8.der");
  openssl("rsa", "-in", "rsa.key", "-traditional", "-out", "rsa-pkcs1.pem");
  openssl("rsa", "-in", "rsa.key", "-traditional", "-outform", "DER", "-out", "rsa-pkcs1.der");
  openssl("pkcs8", "-topk8", "-in", "rsa.key", "-v2", "aes-256-cbc", "-passout", "pass:s3cret", "-out", "rsa-enc.pem");
  openssl("pkcs8", "-topk8", "-in", "rsa.key", "-v2", "aes-256-cbc", "-passout", "pass:s3cret", "-outform", "DER", "-out", "rsa-enc.der");
  openssl("rsa", "-in", "rsa.key", "-traditional", "-des3", "-passout", "pass:s3cret", "-out", "rsa-legacy.pem");
  // Node's own export as the reference (OpenSSL's `pkey -outform DER` writes the same key in other bytes).
  pkcs8 = createPrivateKey(file("rsa.key")).export({ format: "der", type: "pkcs8" });
});

const errorOf = (f: () => unknown): [string, string] | undefined => {
  try {
    f();
  } catch (e) {
    return isScepError(e) ? [e.code, e.message] : ["not a ScepError", String(e)];
  }
  return undefined;
};

describe("privateKeyToPkcs8", () => {
  it.each([
    ["PKCS#8 PEM text", () => file("rsa.key").toString("utf8"), undefined],
    ["PKCS#8 PEM bytes", () => file("rsa.key"), undefined],
    ["PKCS#8 DER", () => file("rsa-pkcs8.der"), undefined],
    ["PKCS#1 PEM", () => file("rsa-pkcs1.pem"), undefined],
    ["PKCS#1 DER", () => file("rsa-pkcs1.der"), undefined],
    ["encrypted PKCS#8 PEM", () => file("rsa-enc.pem"), "s3cret"],
    ["encrypted PKCS#8 DER", () => file("rsa-enc.der"), "s3cret"],
    ["legacy Proc-Type: 4,ENCRYPTED PEM", () => file("rsa-legacy.pem"), "s3cret"],
  ])("%s → the same PKCS#8 DER", (_, input, passphrase) => {
    expect(Buffer.from(privateKeyToPkcs8(input(), { passphrase })).equals(pkcs8)).toBe(true);
  });

  it("an encrypted key without or with a wrong passphrase → ERR_KEY_PASSPHRASE, as LocalKey.from says it", () => {
    expect(errorOf(() => privateKeyToPkcs8(file("rsa-enc.der")))).toEqual(["ERR_KEY_PASSPHRASE", "the private key is encrypted and no passphrase was given (the empty passphrase does not open it)"]);
    expect(errorOf(() => privateKeyToPkcs8(file("rsa-enc.pem"), { passphrase: "nope" }))).toEqual(["ERR_KEY_PASSPHRASE", "the passphrase does not open the encrypted private key (wrong passphrase, or a damaged key)"]);
  });

  it("a certificate given in place of the key (PEM or DER) → ERR_KEY naming it", () => {
    openssl("req", "-x509", "-key", "rsa.key", "-subj", "/CN=cert as key", "-days", "1", "-out", "cert.pem");
    openssl("x509", "-in", "cert.pem", "-outform", "DER", "-out", "cert.der");
    const hint = "not a private key: privateKeyToPkcs8 reads the key file, not the certificate file";
    expect(errorOf(() => privateKeyToPkcs8(file("cert.pem").toString("utf8")))).toEqual(["ERR_KEY", `the private key argument holds a PEM "CERTIFICATE" block, ${hint}`]);
    expect(errorOf(() => privateKeyToPkcs8(file("cert.der")))).toEqual(["ERR_KEY", `the private key argument holds a DER certificate, ${hint}`]);
  });

  it("bytes that are no key → ERR_KEY; something else than text or bytes → ERR_INVALID_ARGUMENT", () => {
    expect(errorOf(() => privateKeyToPkcs8(Uint8Array.from([0x30, 0x03, 0x02, 0x01, 0x01])))).toEqual(["ERR_KEY", "unreadable private key (expected DER PKCS#8, PKCS#1 or SEC1)"]);
    expect(errorOf(() => privateKeyToPkcs8("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))).toEqual(["ERR_KEY", "unreadable private key (expected PEM PKCS#1, SEC1 or PKCS#8)"]);
    expect(errorOf(() => privateKeyToPkcs8(42 as unknown as string))).toEqual(["ERR_INVALID_ARGUMENT", "privateKey must be PEM text or the bytes of a key file"]);
  });
});
