// openFileCa() without caCertPath/caKeyPath: the CA created in dataDir on first
// start, reused afterwards, and never created twice.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EmbeddedCaError, openFileCa } from "../src/index.js";
import { openssl, spawnCaChild, tempDir } from "./helpers.js";

const fixedClock = (): Date => new Date("2025-01-01T00:00:00.000Z");

describe("default CA creation", () => {
  it("creates an RSA-2048 self-signed CA on first start and reuses it afterwards", async () => {
    const dataDir = join(tempDir(), "data");
    const first = await openFileCa({ dataDir, clock: fixedClock });
    const again = await openFileCa({ dataDir, clock: () => new Date("2030-01-01T00:00:00Z") });

    expect(again.fingerprintSha256).toBe(first.fingerprintSha256);
    expect(again.certificatePem).toBe(first.certificatePem);
    expect(again.privateKeyPem).toBe(first.privateKeyPem);
    expect(first.fingerprintSha256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(first.subject).toBe("CN=SCEP Example CA, O=scep-sdk");
    expect(first.keyAlgorithm).toBe("RSA");
    expect(first.notBefore.toISOString()).toBe("2025-01-01T00:00:00.000Z");
    expect(first.notAfter.toISOString()).toBe("2035-01-01T00:00:00.000Z");
    expect(first.privateKeyPem.startsWith("-----BEGIN PRIVATE KEY-----\n")).toBe(true);
    expect(first.privateKey.asymmetricKeyType).toBe("rsa");
    expect(first.privateKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(first.signingKey.usages).toEqual(["sign"]);
    expect(first.signingKey.extractable).toBe(true); // KeyObject.from on a non-extractable key is deprecated (Node 24, DEP0204)
    expect(first.dataDir).toBe(dataDir);

    expect(readFileSync(join(dataDir, "ca.pem"), "utf8")).toBe(first.certificatePem);
    expect(readFileSync(join(dataDir, "ca.key"), "utf8")).toBe(first.privateKeyPem);
    expect(statSync(join(dataDir, "ca.key")).mode & 0o777).toBe(0o600);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    // No temp files left behind by a clean creation.
    expect(readdirSync(dataDir).sort()).toEqual(["ca.key", "ca.pem", "certs", "epochs", "index.jsonl"]);

    // The key PEM does not leak through logging the CA object.
    expect(JSON.stringify(first)).not.toContain("PRIVATE KEY");
    const { inspect } = await import("node:util");
    expect(inspect(first)).not.toContain("PRIVATE KEY");

    // certificateDer is a copy of the DER behind certificatePem.
    const der = first.certificateDer;
    der[0] = 0;
    expect(first.certificateDer[0]).toBe(0x30);
  });

  it("produces the CA certificate openssl expects (extensions, fingerprint, key)", async () => {
    const dir = tempDir();
    const ca = await openFileCa({ dataDir: join(dir, "data") });
    const text = openssl(["x509", "-in", "data/ca.pem", "-noout", "-text"], dir);
    expect(text).toContain("Issuer: CN = SCEP Example CA, O = scep-sdk");
    expect(text).toContain("Subject: CN = SCEP Example CA, O = scep-sdk");
    expect(text).toContain("Public-Key: (2048 bit)");
    expect(text).toContain("Signature Algorithm: sha256WithRSAEncryption");
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE\n/);
    expect(text).toMatch(
      /X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment, Certificate Sign, CRL Sign\n/,
    );
    expect(text).toMatch(/X509v3 Subject Key Identifier:\s+([0-9A-F]{2}:){19}[0-9A-F]{2}\n/);

    const fingerprint = openssl(["x509", "-in", "data/ca.pem", "-noout", "-fingerprint", "-sha256"], dir);
    expect(fingerprint.trim()).toBe(`sha256 Fingerprint=${ca.fingerprintSha256}`);
    // The key file is the certificate's key.
    const certModulus = openssl(["x509", "-in", "data/ca.pem", "-noout", "-modulus"], dir);
    const keyModulus = openssl(["rsa", "-in", "data/ca.key", "-noout", "-modulus"], dir);
    expect(keyModulus).toBe(certModulus);
    // Self-signed: verifies against itself.
    expect(openssl(["verify", "-CAfile", "data/ca.pem", "data/ca.pem"], dir).trim()).toBe("data/ca.pem: OK");
  });

  it("uses the subject option for a new CA and ignores it for an existing one", async () => {
    const dataDir = join(tempDir(), "data");
    const ca = await openFileCa({ dataDir, subject: "CN=Lab CA,O=Example Corp,C=DE" });
    expect(ca.subject).toBe("CN=Lab CA, O=Example Corp, C=DE");
    const reopened = await openFileCa({ dataDir, subject: "CN=Something Else" });
    expect(reopened.fingerprintSha256).toBe(ca.fingerprintSha256);
  });

  it("rejects a subject that is not a distinguished name", async () => {
    const dataDir = join(tempDir(), "data");
    await expect(openFileCa({ dataDir, subject: "not a dn" })).rejects.toMatchObject({
      name: "EmbeddedCaError",
      code: "INVALID_OPTIONS",
      message: 'subject is not a distinguished name like "CN=Example,O=Org": "not a dn"',
    });
    expect(existsSync(join(dataDir, "ca.pem"))).toBe(false);
  });

  it("creates exactly one CA when many opens race in one process", async () => {
    const dataDir = join(tempDir(), "data");
    const cas = await Promise.all(Array.from({ length: 6 }, () => openFileCa({ dataDir })));
    const fingerprints = new Set(cas.map((ca) => ca.fingerprintSha256));
    expect(fingerprints.size).toBe(1);
    expect(readdirSync(dataDir).filter((name) => name.includes(".tmp-"))).toEqual([]);
  });

  it("creates exactly one CA when several processes start at the same moment", async () => {
    const dataDir = join(tempDir(), "data");
    const children = Array.from({ length: 4 }, () => spawnCaChild([dataDir, "open", "--wait-go"]));
    // Release all children together once each has loaded its modules.
    await Promise.all(children.map((c) => c.waitFor((l) => l.includes("READY"), "READY")));
    for (const c of children) c.process.stdin.write("GO\n");
    const results = await Promise.all(children.map((c) => c.exited));
    expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0]);

    const printed = children.map((c) => c.lines.find((l) => l.startsWith("CA "))?.slice(3));
    const mine = await openFileCa({ dataDir });
    expect(printed).toEqual(Array(4).fill(mine.fingerprintSha256));
    expect(readdirSync(dataDir).filter((name) => name.includes(".tmp-"))).toEqual([]);
  }, 120_000);

  it("finishes a creation that crashed between publishing ca.key and ca.pem", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    // State after a crash: the key is published, the certificate is not, and a
    // temp file of the crashed process is lying around.
    openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "leftover.key"], dir);
    const { mkdirSync } = await import("node:fs");
    mkdirSync(dataDir);
    const keyPem = readFileSync(join(dir, "leftover.key"), "utf8");
    writeFileSync(join(dataDir, "ca.key"), keyPem, { mode: 0o600 });
    writeFileSync(join(dataDir, ".ca.pem.tmp-99999-abcdef"), "-----BEGIN CERTIF");

    const ca = await openFileCa({ dataDir });
    expect(ca.privateKeyPem).toBe(keyPem);
    const certModulus = openssl(["x509", "-in", "data/ca.pem", "-noout", "-modulus"], dir);
    const keyModulus = openssl(["rsa", "-in", "leftover.key", "-noout", "-modulus"], dir);
    expect(certModulus).toBe(keyModulus);
  });

  it("refuses a dataDir whose ca.pem lost its ca.key instead of minting a new key", async () => {
    const dataDir = join(tempDir(), "data");
    await openFileCa({ dataDir });
    const { unlinkSync } = await import("node:fs");
    unlinkSync(join(dataDir, "ca.key"));
    const error = await openFileCa({ dataDir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmbeddedCaError);
    expect(error).toMatchObject({
      code: "CA_LOAD_FAILED",
      message: `cannot read ${join(dataDir, "ca.key")}: no such file (ENOENT)`,
    });
    expect(existsSync(join(dataDir, "ca.key"))).toBe(false);
  });
});
