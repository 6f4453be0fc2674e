/**
 * LocalKey.fromPem with encrypted PEM keys, made by the real tools users
 * migrate from: micromdm `scepserver ca -init` (legacy `Proc-Type: 4,ENCRYPTED`
 * PKCS#1 under DES-EDE3-CBC with the EMPTY passphrase), and OpenSSL's
 * encrypted PKCS#8 (RFC 5958 §3, PBES2) and legacy PEM (RFC 1421 §4.6.1.1).
 * A missing or wrong passphrase is ERR_KEY_PASSPHRASE, never "unreadable".
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyError, KeyPassphraseError, LocalKey, isScepError } from "../src/index.js";
import { thrown } from "./support/thrown.js";

const dir = mkdtempSync(join(tmpdir(), "scep-encrypted-key-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const openssl = (...args: string[]): string => execFileSync("openssl", args, { cwd: dir, encoding: "utf8" });
const read = (name: string): string => readFileSync(join(dir, name), "utf8");

describe("LocalKey.fromPem: encrypted private keys", () => {
  beforeAll(() => {
    execFileSync("scepserver", ["ca", "-init", "-depot", "depot", "-keySize", "2048"], { cwd: dir });
    openssl("req", "-x509", "-newkey", "rsa:2048", "-keyout", "pkcs8.key", "-passout", "pass:s3cret", "-subj", "/CN=Encrypted PKCS8", "-out", "pkcs8.pem", "-days", "1");
    openssl("rsa", "-in", "pkcs8.key", "-passin", "pass:s3cret", "-traditional", "-aes128", "-passout", "pass:s3cret", "-out", "legacy.key");
  });

  it("opens micromdm's depot ca.key (legacy DES-EDE3-CBC, empty passphrase) without a passphrase", () => {
    const key = read("depot/ca.key");
    expect(key.split("\n").slice(0, 3)).toEqual(["-----BEGIN RSA PRIVATE KEY-----", "Proc-Type: 4,ENCRYPTED", expect.stringMatching(/^DEK-Info: DES-EDE3-CBC,/)]);
    const ca = LocalKey.fromPem(read("depot/ca.pem"), key);
    expect([ca.keyType, ca.certificate.subject]).toEqual(["rsa", "C=US, O=scep-ca, OU=SCEP CA"]);
    expect(LocalKey.fromPem(read("depot/ca.pem"), key, { passphrase: "" }).keyType).toBe("rsa");
  });

  it.each([
    ["PKCS#8 (ENCRYPTED PRIVATE KEY)", "pkcs8.key", "-----BEGIN ENCRYPTED PRIVATE KEY-----"],
    ["legacy PEM (Proc-Type: 4,ENCRYPTED)", "legacy.key", "-----BEGIN RSA PRIVATE KEY-----"],
  ])("opens an OpenSSL %s with its passphrase; missing or wrong: ERR_KEY_PASSPHRASE", (_, file, header) => {
    const key = read(file);
    expect(key.startsWith(header)).toBe(true);
    expect(LocalKey.fromPem(read("pkcs8.pem"), key, { passphrase: "s3cret" }).certificate.subject).toBe("CN=Encrypted PKCS8");

    const missing = thrown(() => LocalKey.fromPem(read("pkcs8.pem"), key));
    expect(missing).toBeInstanceOf(KeyPassphraseError);
    expect(missing).toBeInstanceOf(KeyError);
    expect(isScepError(missing) && [missing.code, missing.name, missing.message]).toEqual([
      "ERR_KEY_PASSPHRASE",
      "KeyPassphraseError",
      "the private key is encrypted and no passphrase was given (the empty passphrase does not open it)",
    ]);
    const wrong = thrown(() => LocalKey.fromPem(read("pkcs8.pem"), key, { passphrase: "not-it" }));
    expect(isScepError(wrong) && [wrong.code, wrong.message]).toEqual(["ERR_KEY_PASSPHRASE", "the passphrase does not open the encrypted private key (wrong passphrase, or a damaged key)"]);
    expect(String((wrong as Error).message)).not.toContain("not-it");
  });

  it("ignores a passphrase for an unencrypted key; a mismatched key is still ERR_KEY", () => {
    openssl("pkey", "-in", "pkcs8.key", "-passin", "pass:s3cret", "-out", "plain.key");
    expect(LocalKey.fromPem(read("pkcs8.pem"), read("plain.key"), { passphrase: "anything" }).keyType).toBe("rsa");
    const e = thrown(() => LocalKey.fromPem(read("depot/ca.pem"), read("plain.key")));
    expect(isScepError(e) && [e.code, e.message]).toEqual(["ERR_KEY", "the private key does not match the certificate"]);
  });
});
