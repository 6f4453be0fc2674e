// openFileCa() with caCertPath/caKeyPath: bring-your-own CA made with openssl,
// in every PEM key flavour, and the errors for pairs that do not belong together.
import { createPrivateKey } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { isEmbeddedCaError, openFileCa } from "../src/index.js";
import { openssl, opensslCsr, tempDir, writePem } from "./helpers.js";

let dir: string;

/** A CA certificate for `keyFile`, made by `openssl req -x509`. */
function selfSignedCa(keyFile: string, certFile: string, subject: string, extra: string[] = []): void {
  openssl(
    [
      "req", "-x509", "-new", "-key", keyFile, "-subj", subject, "-days", "365", "-sha256",
      "-addext", "basicConstraints=critical,CA:TRUE",
      "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
      ...extra, "-out", certFile,
    ],
    dir,
  );
}

beforeAll(() => {
  dir = tempDir();
  // PKCS#1 ("BEGIN RSA PRIVATE KEY") and PKCS#8 ("BEGIN PRIVATE KEY") of one RSA key.
  openssl(["genrsa", "-traditional", "-out", "rsa-pkcs1.key", "2048"], dir);
  openssl(["pkcs8", "-topk8", "-nocrypt", "-in", "rsa-pkcs1.key", "-out", "rsa-pkcs8.key"], dir);
  selfSignedCa("rsa-pkcs1.key", "rsa-ca.pem", "/C=DE/O=BYO Corp/CN=BYO RSA CA");
  // SEC1 ("BEGIN EC PRIVATE KEY", preceded by EC PARAMETERS) and PKCS#8 of one P-384 key.
  openssl(["ecparam", "-name", "secp384r1", "-genkey", "-out", "ec-sec1.key"], dir);
  openssl(["pkcs8", "-topk8", "-nocrypt", "-in", "ec-sec1.key", "-out", "ec-pkcs8.key"], dir);
  selfSignedCa("ec-sec1.key", "ec-ca.pem", "/O=BYO Corp/CN=BYO EC CA");
  // An unrelated key, and a certificate that is not a CA.
  openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "other.key"], dir);
  openssl(
    ["req", "-x509", "-new", "-key", "other.key", "-subj", "/CN=leaf", "-days", "1",
     "-addext", "basicConstraints=critical,CA:FALSE", "-out", "leaf.pem"],
    dir,
  );
});

const p = (name: string): string => join(dir, name);

describe("loading an existing CA", () => {
  it("loads an RSA CA whose key is PKCS#1 PEM (BEGIN RSA PRIVATE KEY)", async () => {
    expect(readFileSync(p("rsa-pkcs1.key"), "utf8")).toContain("-----BEGIN RSA PRIVATE KEY-----");
    const ca = await openFileCa({ dataDir: p("data-pkcs1"), caCertPath: p("rsa-ca.pem"), caKeyPath: p("rsa-pkcs1.key") });
    expect(ca.keyAlgorithm).toBe("RSA");
    expect(ca.subject).toBe("C=DE, O=BYO Corp, CN=BYO RSA CA");
    const fingerprint = openssl(["x509", "-in", "rsa-ca.pem", "-noout", "-fingerprint", "-sha256"], dir);
    expect(fingerprint.trim()).toBe(`sha256 Fingerprint=${ca.fingerprintSha256}`);
    // privateKeyPem is always PKCS#8, and is the same key.
    expect(ca.privateKeyPem).toBe(readFileSync(p("rsa-pkcs8.key"), "utf8"));
  });

  it("loads the same RSA CA from a PKCS#8 PEM key (BEGIN PRIVATE KEY)", async () => {
    expect(readFileSync(p("rsa-pkcs8.key"), "utf8")).toContain("-----BEGIN PRIVATE KEY-----");
    const a = await openFileCa({ dataDir: p("data-pkcs8"), caCertPath: p("rsa-ca.pem"), caKeyPath: p("rsa-pkcs8.key") });
    const b = await openFileCa({ dataDir: p("data-pkcs8"), caCertPath: p("rsa-ca.pem"), caKeyPath: p("rsa-pkcs1.key") });
    expect(a.fingerprintSha256).toBe(b.fingerprintSha256);
    expect(a.privateKeyPem).toBe(b.privateKeyPem);
    // Loading does not write a CA into dataDir.
    expect(() => readFileSync(p("data-pkcs8/ca.pem"))).toThrow(/ENOENT/);
  });

  it("loads an EC CA from SEC1 (BEGIN EC PRIVATE KEY) and PKCS#8 PEM keys and signs with ECDSA", async () => {
    expect(readFileSync(p("ec-sec1.key"), "utf8")).toMatch(
      /-----BEGIN EC PARAMETERS-----[\s\S]+-----BEGIN EC PRIVATE KEY-----/,
    );
    const sec1 = await openFileCa({ dataDir: p("data-ec"), caCertPath: p("ec-ca.pem"), caKeyPath: p("ec-sec1.key") });
    const pkcs8 = await openFileCa({ dataDir: p("data-ec"), caCertPath: p("ec-ca.pem"), caKeyPath: p("ec-pkcs8.key") });
    expect(sec1.keyAlgorithm).toBe("EC");
    expect(sec1.privateKeyPem).toBe(pkcs8.privateKeyPem);
    expect(sec1.signingKey.algorithm).toEqual({ name: "ECDSA", namedCurve: "P-384" });

    const csrDer = opensslCsr(dir, "ec-leaf", { subject: "/CN=ec-device", san: "DNS:ec.example" });
    const issued = await sec1.issue({ csrDer });
    writePem(dir, "ec-leaf.pem", issued.certificatePem);
    expect(openssl(["verify", "-CAfile", "ec-ca.pem", "ec-leaf.pem"], dir).trim()).toBe("ec-leaf.pem: OK");
    const text = openssl(["x509", "-in", "ec-leaf.pem", "-noout", "-text"], dir);
    expect(text).toContain("Signature Algorithm: ecdsa-with-SHA384");
    expect(text).toContain("Issuer: O = BYO Corp, CN = BYO EC CA");
  });

  it("issues certificates that chain to a bring-your-own RSA CA", async () => {
    const ca = await openFileCa({ dataDir: p("data-byo"), caCertPath: p("rsa-ca.pem"), caKeyPath: p("rsa-pkcs1.key") });
    const csrDer = opensslCsr(dir, "byo-leaf", { subject: "/CN=byo-device" });
    writePem(dir, "byo-leaf.pem", (await ca.issue({ csrDer })).certificatePem);
    expect(openssl(["verify", "-CAfile", "rsa-ca.pem", "byo-leaf.pem"], dir).trim()).toBe("byo-leaf.pem: OK");
    // The CA has a subjectKeyIdentifier (openssl adds one); the leaf's AKI repeats it.
    const caSki = /Subject Key Identifier:\s+(\S+)/.exec(openssl(["x509", "-in", "rsa-ca.pem", "-noout", "-text"], dir))?.[1];
    const leafAki = /Authority Key Identifier:\s+(?:keyid:)?(\S+)/.exec(openssl(["x509", "-in", "byo-leaf.pem", "-noout", "-text"], dir))?.[1];
    expect(caSki).toMatch(/^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
    expect(leafAki).toBe(caSki);
  });

  it("fails with CA_KEY_MISMATCH when the key is not the certificate's", async () => {
    const error = await openFileCa({ dataDir: p("data-mismatch"), caCertPath: p("rsa-ca.pem"), caKeyPath: p("other.key") }).catch((e: unknown) => e);
    expect(isEmbeddedCaError(error, "CA_KEY_MISMATCH")).toBe(true);
    expect((error as Error).message).toBe(`${p("other.key")} is not the private key of the certificate in ${p("rsa-ca.pem")}`);
    // An EC key against an RSA certificate is a mismatch too.
    await expect(
      openFileCa({ dataDir: p("data-mismatch"), caCertPath: p("rsa-ca.pem"), caKeyPath: p("ec-pkcs8.key") }),
    ).rejects.toMatchObject({ code: "CA_KEY_MISMATCH" });
  });

  it("fails with CA_LOAD_FAILED for a certificate that is not a CA", async () => {
    await expect(
      openFileCa({ dataDir: p("data-leaf"), caCertPath: p("leaf.pem"), caKeyPath: p("other.key") }),
    ).rejects.toMatchObject({
      code: "CA_LOAD_FAILED",
      message: `${p("leaf.pem")}: the certificate is not a CA (basicConstraints cA is not true)`,
    });
  });

  it("fails with CA_LOAD_FAILED for unreadable or malformed files", async () => {
    writeFileSync(p("garbage.pem"), "hello\n");
    writeFileSync(p("garbage.key"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    writeFileSync(p("bad-der.pem"), "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n");

    await expect(openFileCa({ dataDir: p("d"), caCertPath: p("garbage.pem"), caKeyPath: p("rsa-pkcs1.key") }))
      .rejects.toMatchObject({ code: "CA_LOAD_FAILED", message: `${p("garbage.pem")}: no PEM CERTIFICATE block found` });
    await expect(openFileCa({ dataDir: p("d"), caCertPath: p("bad-der.pem"), caKeyPath: p("rsa-pkcs1.key") }))
      .rejects.toMatchObject({ code: "CA_LOAD_FAILED", message: `${p("bad-der.pem")}: the certificate cannot be decoded` });
    await expect(openFileCa({ dataDir: p("d"), caCertPath: p("rsa-ca.pem"), caKeyPath: p("garbage.key") }))
      .rejects.toMatchObject({ code: "CA_LOAD_FAILED", message: expect.stringMatching(new RegExp(`^${p("garbage.key")}: the private key cannot be parsed \\(`)) });
    await expect(openFileCa({ dataDir: p("d"), caCertPath: p("missing.pem"), caKeyPath: p("rsa-pkcs1.key") }))
      .rejects.toMatchObject({ code: "CA_LOAD_FAILED", message: `cannot read ${p("missing.pem")}: no such file (ENOENT)` });
    await expect(openFileCa({ dataDir: p("d"), caCertPath: p("rsa-ca.pem"), caKeyPath: dir }))
      .rejects.toMatchObject({ code: "CA_LOAD_FAILED", message: `cannot read ${dir}: it is a directory, not a file (EISDIR)` });
  });

  it.each([
    ["PKCS#8", "rsa-pkcs8.key", ["pkcs8", "-topk8", "-nocrypt", "-outform", "DER"]],
    ["PKCS#1", "rsa-pkcs1.key", ["rsa", "-traditional", "-outform", "DER"]],
  ])("loads the RSA CA from a DER %s key (told from PEM by its bytes)", async (what, pem, args) => {
    const der = `rsa-${what.replace(/\W/g, "")}.der`;
    openssl([...args, "-in", pem, "-out", der], dir);
    expect(readFileSync(p(der))[0]).toBe(0x30);
    const ca = await openFileCa({ dataDir: p(`data-${der}`), caCertPath: p("rsa-ca.pem"), caKeyPath: p(der) });
    expect(ca.keyAlgorithm).toBe("RSA");
    expect(ca.privateKeyPem).toBe(readFileSync(p("rsa-pkcs8.key"), "utf8"));
  });

  it("loads an EC CA from a SEC1 DER key (RFC 5915 §3)", async () => {
    openssl(["ec", "-in", "ec-sec1.key", "-outform", "DER", "-out", "ec-sec1.der"], dir);
    const ca = await openFileCa({ dataDir: p("data-ec-der"), caCertPath: p("ec-ca.pem"), caKeyPath: p("ec-sec1.der") });
    expect(ca.keyAlgorithm).toBe("EC");
    expect(ca.privateKeyPem).toBe(readFileSync(p("ec-pkcs8.key"), "utf8"));
  });

  it("a DER key that is no key, and a DER certificate, are CA_LOAD_FAILED saying what was expected", async () => {
    writeFileSync(p("garbage.der"), Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]));
    await expect(openFileCa({ dataDir: p("d"), caCertPath: p("rsa-ca.pem"), caKeyPath: p("garbage.der") })).rejects.toMatchObject({
      code: "CA_LOAD_FAILED",
      message: `${p("garbage.der")}: the private key cannot be parsed (DER, but not PKCS#8, encrypted PKCS#8, PKCS#1 or SEC1)`,
    });
    openssl(["x509", "-in", "rsa-ca.pem", "-outform", "DER", "-out", "rsa-ca.der"], dir);
    await expect(openFileCa({ dataDir: p("d"), caCertPath: p("rsa-ca.der"), caKeyPath: p("rsa-pkcs1.key") })).rejects.toMatchObject({
      code: "CA_LOAD_FAILED",
      message: `${p("rsa-ca.der")}: expected PEM, this is a DER certificate (convert it: openssl x509 -inform der -in ${p("rsa-ca.der")} -out ca.pem)`,
    });
  });

  it("requires caCertPath and caKeyPath together", async () => {
    await expect(openFileCa({ dataDir: p("d"), caCertPath: p("rsa-ca.pem") })).rejects.toMatchObject({
      code: "INVALID_OPTIONS",
      message: "caCertPath and caKeyPath must be given together",
    });
    await expect(openFileCa({ dataDir: "" })).rejects.toMatchObject({
      code: "INVALID_OPTIONS",
      message: "dataDir must be a non-empty path",
    });
  });
});

describe("loading a CA whose key is encrypted", () => {
  beforeAll(() => {
    openssl(["pkcs8", "-topk8", "-in", "rsa-pkcs1.key", "-v2", "aes-256-cbc", "-passout", "pass:pw-123", "-out", "rsa-enc-pkcs8.key"], dir);
    openssl(["rsa", "-in", "rsa-pkcs1.key", "-traditional", "-des3", "-passout", "pass:pw-123", "-out", "rsa-enc-legacy.key"], dir);
    openssl(["pkcs8", "-topk8", "-in", "rsa-pkcs1.key", "-v2", "aes-256-cbc", "-passout", "pass:pw-123", "-outform", "DER", "-out", "rsa-enc-pkcs8.der"], dir);
    // What micromdm's `scepserver ca -init` writes (openssl refuses an empty -passout).
    const empty = createPrivateKey(readFileSync(p("rsa-pkcs1.key"), "utf8")).export({ type: "pkcs1", format: "pem", cipher: "des-ede3-cbc", passphrase: "" });
    writeFileSync(p("rsa-enc-empty.key"), empty);
  });

  it.each([
    ["PKCS#8 (BEGIN ENCRYPTED PRIVATE KEY)", "rsa-enc-pkcs8.key"],
    ["legacy PEM (Proc-Type: 4,ENCRYPTED)", "rsa-enc-legacy.key"],
    ["PKCS#8 in DER (RFC 5958 §3 EncryptedPrivateKeyInfo)", "rsa-enc-pkcs8.der"],
  ])("opens an encrypted %s with caKeyPassphrase; missing or wrong is CA_KEY_PASSPHRASE", async (_, key) => {
    const ca = await openFileCa({ dataDir: p(`data-${key}`), caCertPath: p("rsa-ca.pem"), caKeyPath: p(key), caKeyPassphrase: "pw-123" });
    expect(ca.privateKeyPem).toBe(readFileSync(p("rsa-pkcs8.key"), "utf8"));
    const missing = await openFileCa({ dataDir: p(`data-${key}`), caCertPath: p("rsa-ca.pem"), caKeyPath: p(key) }).catch((e: unknown) => e);
    expect(isEmbeddedCaError(missing, "CA_KEY_PASSPHRASE") && missing.message).toBe(`${p(key)}: the private key is encrypted and no passphrase was given (the empty passphrase does not open it)`);
    const wrong = await openFileCa({ dataDir: p(`data-${key}`), caCertPath: p("rsa-ca.pem"), caKeyPath: p(key), caKeyPassphrase: "nope" }).catch((e: unknown) => e);
    expect(isEmbeddedCaError(wrong, "CA_KEY_PASSPHRASE") && wrong.message).toBe(`${p(key)}: the passphrase does not open the encrypted private key (wrong passphrase, or a damaged key)`);
  });

  it("opens a key encrypted with the empty passphrase (micromdm's depot ca.key) without one", async () => {
    expect(readFileSync(p("rsa-enc-empty.key"), "utf8")).toMatch(/^Proc-Type: 4,ENCRYPTED$/m);
    const ca = await openFileCa({ dataDir: p("data-empty-pass"), caCertPath: p("rsa-ca.pem"), caKeyPath: p("rsa-enc-empty.key") });
    expect(ca.privateKeyPem).toBe(readFileSync(p("rsa-pkcs8.key"), "utf8"));
  });
});
