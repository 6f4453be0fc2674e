/**
 * buildCertificate / endEntityExtensions against RFC 5280 §4.1, with OpenSSL
 * (`openssl verify`, `openssl x509 -text`, `openssl asn1parse`) and
 * @peculiar/x509 as referees: certificates issued by an RSA CA made with
 * `openssl req -x509` and by an EC P-384 CA made with @peculiar/x509 (which,
 * unlike the OpenSSL one, has no subjectKeyIdentifier).
 */
import { X509Certificate, createHash, createPublicKey } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { x509 } from "../src/lib/x509.js";
import {
  Certificate,
  CertificationRequest,
  LocalKey,
  buildCertificate,
  endEntityExtensions,
  exportPrivateKeyPem,
  type BuildCertificateOptions,
  type Extension,
} from "../src/index.js";
import { openssl } from "./support/openssl.js";
import * as der from "../src/lib/der.js";

const NOT_BEFORE = new Date("2026-01-15T12:00:00Z");
const NOT_AFTER = new Date("2027-01-15T12:00:00Z");
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const colon = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0").toUpperCase()).join(":");

let dir: string;
let rsaCa: LocalKey;
let ecCa: LocalKey;
let rsaCsr: CertificationRequest;
let ecCsr: CertificationRequest;
let emptySubjectCsr: CertificationRequest;

const run = async (...args: string[]): Promise<string> => (await openssl(args, dir)).stdout;
const file = (name: string): string => readFileSync(join(dir, name), "utf8");

async function csr(name: string, key: "rsa" | "ec", subject: string, san?: string): Promise<CertificationRequest> {
  if (key === "rsa") await run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", `${name}.key`);
  else await run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${name}.key`);
  const args = ["req", "-new", "-key", `${name}.key`, "-subj", subject, "-outform", "DER", "-out", `${name}.csr.der`];
  if (san) args.push("-addext", `subjectAltName=${san}`);
  await run(...args);
  return new CertificationRequest(new Uint8Array(readFileSync(join(dir, `${name}.csr.der`))));
}

/** Writes the certificate as `name` and returns `openssl x509 -text` of it. */
async function text(cert: Certificate, name: string): Promise<string> {
  writeFileSync(join(dir, name), cert.toPem());
  return run("x509", "-in", name, "-noout", "-text");
}

function options(over: Partial<BuildCertificateOptions> = {}): BuildCertificateOptions {
  return {
    issuer: rsaCa,
    subject: rsaCsr.subjectDer,
    publicKey: rsaCsr.spki,
    serialNumber: Uint8Array.from([0x42, 0x01, 0x02, 0x03]),
    notBefore: NOT_BEFORE,
    notAfter: NOT_AFTER,
    ...over,
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-core-certbuilder-"));
  await run(
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa-ca.key", "-out", "rsa-ca.pem",
    "-subj", "/C=DE/O=Builder Tests/CN=Builder RSA CA", "-days", "3650", "-set_serial", "1",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  );
  rsaCa = LocalKey.fromPem(file("rsa-ca.pem"), file("rsa-ca.key"));

  const ecKeys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const ecCaCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "02",
    name: "CN=Builder EC CA, O=Builder Tests",
    notBefore: new Date("2025-01-01T00:00:00Z"),
    notAfter: new Date("2035-01-01T00:00:00Z"),
    keys: ecKeys,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-384" },
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
  });
  writeFileSync(join(dir, "ec-ca.pem"), ecCaCert.toString("pem"));
  ecCa = LocalKey.fromPem(file("ec-ca.pem"), await exportPrivateKeyPem(ecKeys.privateKey));

  rsaCsr = await csr("rsa-leaf", "rsa", "/O=Example Corp/CN=device-0042", "DNS:device-0042.example,IP:10.0.0.42,email:ops@example.com,URI:urn:uuid:5d6c1e1c-0000-4000-8000-000000000042");
  ecCsr = await csr("ec-leaf", "ec", "/CN=ec-device");
  emptySubjectCsr = await csr("nobody", "rsa", "/", "DNS:nobody.example");
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("buildCertificate: RSA CA (made by OpenSSL)", () => {
  it("issues a certificate openssl verifies, with subject, SANs, extensions and validity exactly as asked", async () => {
    const cert = await buildCertificate(options({ extensions: endEntityExtensions({ csr: rsaCsr, issuer: rsaCa }) }));
    const t = await text(cert, "rsa-leaf.pem");
    expect((await run("verify", "-CAfile", "rsa-ca.pem", "rsa-leaf.pem")).trim()).toBe("rsa-leaf.pem: OK");
    expect((await run("verify", "-purpose", "sslclient", "-CAfile", "rsa-ca.pem", "rsa-leaf.pem")).trim()).toBe("rsa-leaf.pem: OK");

    // The subject key identifier OpenSSL computes for the same key (RFC 5280 method 1).
    await run("req", "-in", "rsa-leaf.csr.der", "-inform", "DER", "-key", "rsa-leaf.key", "-x509", "-out", "rsa-leaf-self.pem");
    const opensslSki = /Subject Key Identifier:\s+(\S+)/.exec(await run("x509", "-in", "rsa-leaf-self.pem", "-noout", "-text"))?.[1];
    const caSki = /Subject Key Identifier:\s+(\S+)/.exec(await run("x509", "-in", "rsa-ca.pem", "-noout", "-text"))?.[1];
    expect(opensslSki).toMatch(/^[0-9A-F]{2}(:[0-9A-F]{2}){19}$/);
    expect(caSki).toBe(colon(rsaCa.certificate.subjectKeyIdentifier!));

    expect(t).toContain("        Version: 3 (0x2)\n        Serial Number: 1107362307 (0x42010203)\n        Signature Algorithm: sha256WithRSAEncryption\n");
    expect(t).toContain("        Issuer: C = DE, O = Builder Tests, CN = Builder RSA CA\n");
    expect(t).toContain("            Not Before: Jan 15 12:00:00 2026 GMT\n            Not After : Jan 15 12:00:00 2027 GMT\n");
    expect(t).toContain("        Subject: O = Example Corp, CN = device-0042\n");
    expect(t).toContain("                Public-Key: (2048 bit)\n");
    const extensions = t.slice(t.indexOf("        X509v3 extensions:\n"), t.indexOf("    Signature Algorithm:", t.indexOf("X509v3 extensions:")));
    expect(extensions).toBe(
      [
        "        X509v3 extensions:",
        "            X509v3 Basic Constraints: critical",
        "                CA:FALSE",
        "            X509v3 Key Usage: critical",
        "                Digital Signature, Key Encipherment",
        "            X509v3 Extended Key Usage: ",
        "                TLS Web Client Authentication",
        "            X509v3 Subject Key Identifier: ",
        `                ${opensslSki}`,
        "            X509v3 Authority Key Identifier: ",
        `                ${caSki}`,
        "            X509v3 Subject Alternative Name: ",
        "                DNS:device-0042.example, IP Address:10.0.0.42, email:ops@example.com, URI:urn:uuid:5d6c1e1c-0000-4000-8000-000000000042",
        "",
      ].join("\n"),
    );
    // The SAN extension is the CSR's, byte for byte.
    const san = cert.extensions.find((e) => e.oid === "2.5.29.17")!;
    expect(hex(san.value)).toBe(hex(rsaCsr.extensions.find((e) => e.oid === "2.5.29.17")!.value));
  });

  it("writes exactly the fields it was given, read back by @peculiar/x509 and by Certificate", async () => {
    const cert = await buildCertificate(options({ extensions: endEntityExtensions({ csr: rsaCsr, issuer: rsaCa }) }));
    const p = new x509.X509Certificate(new Uint8Array(cert.der));
    expect(p.subject).toBe("O=Example Corp, CN=device-0042");
    expect(p.issuer).toBe("C=DE, O=Builder Tests, CN=Builder RSA CA");
    expect(p.serialNumber).toBe("42010203");
    expect(p.notBefore.toISOString()).toBe("2026-01-15T12:00:00.000Z");
    expect(p.notAfter.toISOString()).toBe("2027-01-15T12:00:00.000Z");
    expect(p.signatureAlgorithm).toMatchObject({ name: "RSASSA-PKCS1-v1_5", hash: { name: "SHA-256" } });
    expect(p.extensions.map((e) => [e.type, e.critical])).toEqual([
      ["2.5.29.19", true],
      ["2.5.29.15", true],
      ["2.5.29.37", false],
      ["2.5.29.14", false],
      ["2.5.29.35", false],
      ["2.5.29.17", false],
    ]);
    expect(p.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    expect(p.getExtension(x509.KeyUsagesExtension)?.usages).toBe(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment);
    expect(p.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual(["1.3.6.1.5.5.7.3.2"]);
    expect(p.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(hex(rsaCa.certificate.subjectKeyIdentifier!));
    expect(p.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId).toBe(Buffer.from(await p.publicKey.getKeyIdentifier()).toString("hex"));
    expect(new Uint8Array(p.publicKey.rawData)).toEqual(rsaCsr.spki);
    expect(await p.verify({ publicKey: new x509.X509Certificate(new Uint8Array(rsaCa.certificate.der)).publicKey, signatureOnly: true })).toBe(true);

    expect(cert.subjectDer).toEqual(rsaCsr.subjectDer);
    expect(cert.issuerDer).toEqual(rsaCa.certificate.subjectDer);
    expect(cert.signatureAlgorithmOid).toBe("1.2.840.113549.1.1.11");
    // The TBSCertificate's signature field equals the outer AlgorithmIdentifier (with NULL parameters).
    expect(hex(cert.signatureAlgorithmDer)).toBe("300d06092a864886f70d01010b0500");
    expect(hex(cert.tbs)).toContain(`a003020102020442010203${hex(cert.signatureAlgorithmDer)}`);
  });

  it("names sha*WithRSAEncryption even when asked for the rsaEncryption OID, and signs RSASSA-PSS on request", async () => {
    const plain = await buildCertificate(options({ signatureAlgorithm: { scheme: "rsa-pkcs1", digest: "sha384", rsaOid: "rsaEncryption" } }));
    expect(plain.signatureAlgorithmOid).toBe("1.2.840.113549.1.1.12");
    expect(await text(plain, "sha384.pem")).toContain("Signature Algorithm: sha384WithRSAEncryption\n");

    const pss = await buildCertificate(options({ signatureAlgorithm: { scheme: "rsa-pss", digest: "sha256", saltLength: 32 } }));
    const t = await text(pss, "pss.pem");
    // OpenSSL pads the algorithm line with spaces and indents the salt line by one more.
    expect(t).toMatch(/\n {8}Signature Algorithm: rsassaPss *\n {8}Hash Algorithm: sha256\n {8}Mask Algorithm: mgf1 with sha256\n {9}Salt Length: 0x20\n/);
    expect((await run("verify", "-CAfile", "rsa-ca.pem", "pss.pem")).trim()).toBe("pss.pem: OK");
  });

  it("Certificate.isIssuedBy checks name chaining and the signature, for PKCS#1, PSS and ECDSA issuers", async () => {
    const pkcs1 = await buildCertificate(options({}));
    const pss = await buildCertificate(options({ signatureAlgorithm: { scheme: "rsa-pss", digest: "sha256", saltLength: 32 } }));
    const ec = await buildCertificate(options({ issuer: ecCa }));
    expect(pss.signatureAlgorithm).toEqual({ scheme: "rsa-pss", digest: "sha256", saltLength: 32 });
    expect([pkcs1.isIssuedBy(rsaCa.certificate), pss.isIssuedBy(rsaCa.certificate), ec.isIssuedBy(ecCa.certificate)]).toEqual([true, true, true]);
    // Wrong issuer: the names do not chain, or (for a forged name) the signature does not verify.
    expect([pkcs1.isIssuedBy(ecCa.certificate), ec.isIssuedBy(rsaCa.certificate)]).toEqual([false, false]);
    const tampered = new Certificate(Uint8Array.from(pkcs1.der));
    tampered.signature[tampered.signature.length - 1]! ^= 1;
    expect(tampered.isIssuedBy(rsaCa.certificate)).toBe(false);
  });

  it("makes the copied subjectAltName critical when the subject is empty (RFC 5280 §4.2.1.6)", async () => {
    expect(hex(emptySubjectCsr.subjectDer)).toBe("3000");
    expect(emptySubjectCsr.extensions.find((e) => e.oid === "2.5.29.17")?.critical).toBe(false);
    const cert = await buildCertificate(
      options({ subject: emptySubjectCsr.subjectDer, publicKey: emptySubjectCsr.spki, extensions: endEntityExtensions({ csr: emptySubjectCsr, issuer: rsaCa }) }),
    );
    const t = await text(cert, "nobody.pem");
    expect(t).toContain("        Subject: \n");
    expect(t).toContain("            X509v3 Subject Alternative Name: critical\n                DNS:nobody.example\n");
    expect((await run("verify", "-CAfile", "rsa-ca.pem", "nobody.pem")).trim()).toBe("nobody.pem: OK");
  });
});

describe("buildCertificate: EC CA (made by @peculiar/x509, no subjectKeyIdentifier)", () => {
  it("signs with ECDSA-SHA256 by default (AlgorithmIdentifier without parameters); openssl verifies", async () => {
    const cert = await buildCertificate({
      issuer: ecCa,
      subject: ecCsr.subjectDer,
      publicKey: ecCsr.spki,
      serialNumber: Uint8Array.from([0x07]),
      notBefore: NOT_BEFORE,
      notAfter: NOT_AFTER,
      extensions: endEntityExtensions({ csr: ecCsr, issuer: ecCa }),
    });
    expect(hex(cert.signatureAlgorithmDer)).toBe("300a06082a8648ce3d040302");
    const t = await text(cert, "ec-leaf.pem");
    expect((await run("verify", "-CAfile", "ec-ca.pem", "ec-leaf.pem")).trim()).toBe("ec-leaf.pem: OK");
    expect(t).toContain("        Serial Number: 7 (0x7)\n        Signature Algorithm: ecdsa-with-SHA256\n        Issuer: CN = Builder EC CA, O = Builder Tests\n");
    expect(t).toContain("        Subject: CN = ec-device\n");
    expect(t).toContain("            X509v3 Key Usage: critical\n                Digital Signature\n");
    expect(t).not.toContain("Subject Alternative Name");
    // The issuer has no SKI: the AKI is computed from its key (RFC 5280 §4.2.1.2 method 1).
    const jwk = createPublicKey({ key: Buffer.from(ecCa.certificate.spki), format: "der", type: "spki" }).export({ format: "jwk" });
    const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url")]);
    expect(ecCa.certificate.subjectKeyIdentifier).toBeUndefined();
    expect(t).toContain(`            X509v3 Authority Key Identifier: \n                ${colon(createHash("sha1").update(point).digest())}\n`);
    const p = new x509.X509Certificate(new Uint8Array(cert.der));
    expect(p.signatureAlgorithm).toMatchObject({ name: "ECDSA", hash: { name: "SHA-256" } });
    expect(await p.verify({ publicKey: new x509.X509Certificate(new Uint8Array(ecCa.certificate.der)).publicKey, signatureOnly: true })).toBe(true);
  });

  it("signs with ECDSA-SHA384 on request, for an RSA subject key too", async () => {
    const cert = await buildCertificate(options({ issuer: ecCa, signatureAlgorithm: { scheme: "ecdsa", digest: "sha384" }, extensions: endEntityExtensions({ csr: rsaCsr, issuer: ecCa }) }));
    expect(cert.signatureAlgorithmOid).toBe("1.2.840.10045.4.3.3");
    const t = await text(cert, "ec384.pem");
    expect(t).toContain("Signature Algorithm: ecdsa-with-SHA384\n");
    expect((await run("verify", "-CAfile", "ec-ca.pem", "ec384.pem")).trim()).toBe("ec384.pem: OK");
  });
});

describe("buildCertificate: serial numbers and validity encodings", () => {
  it("encodes a serial with the high bit set with a leading 0, and drops redundant leading zeros", async () => {
    const high = await buildCertificate(options({ serialNumber: Uint8Array.from([0x80, 0x01, 0x02]) }));
    expect(hex(high.serialNumber)).toBe("00800102");
    expect(high.serialNumberHex).toBe("800102");
    expect(await text(high, "high.pem")).toContain("        Serial Number: 8388866 (0x800102)\n");
    expect(hex((await buildCertificate(options({ serialNumber: Uint8Array.from([0, 0, 0x05]) }))).serialNumber)).toBe("05");
    expect(hex((await buildCertificate(options({ serialNumber: Uint8Array.from([0, 0xff]) }))).serialNumber)).toBe("00ff");
    const twenty = Uint8Array.from({ length: 20 }, (_, i) => 0x7f - i);
    const max = await buildCertificate(options({ serialNumber: twenty }));
    expect(max.serialNumber).toEqual(twenty);
    expect(new x509.X509Certificate(new Uint8Array(max.der)).serialNumber).toBe(hex(twenty));
  });

  it("writes UTCTime through 2049 and GeneralizedTime from 2050 (RFC 5280 §4.1.2.5), to the second", async () => {
    const cert = await buildCertificate(options({ notBefore: new Date("2049-12-31T23:59:59.999Z"), notAfter: new Date("2050-01-01T00:00:00Z") }));
    const t = await text(cert, "times.pem");
    expect(t).toContain("            Not Before: Dec 31 23:59:59 2049 GMT\n            Not After : Jan  1 00:00:00 2050 GMT\n");
    // 17 0d "491231235959Z", then 18 0f "20500101000000Z".
    expect(hex(cert.tbs)).toContain("170d3439313233313233353935395a180f32303530303130313030303030305a");
    expect(cert.notBefore.toISOString()).toBe("2049-12-31T23:59:59.000Z");
    const asn1 = await run("asn1parse", "-in", "times.pem");
    expect(asn1).toMatch(/prim:\s+UTCTIME\s+:491231235959Z/);
    expect(asn1).toMatch(/prim:\s+GENERALIZEDTIME\s+:20500101000000Z/);
  });

  it("accepts notAfter equal to notBefore (a one-second certificate) and no extensions", async () => {
    const cert = await buildCertificate(options({ notAfter: NOT_BEFORE }));
    expect(cert.extensions).toEqual([]);
    expect(cert.notAfter).toEqual(NOT_BEFORE);
    expect(await text(cert, "plain.pem")).toContain("        Version: 3 (0x2)\n");
  });
});

describe("buildCertificate: back-dated notBefore for slow device clocks (RFC 5280 §4.1.2.5)", () => {
  const NOW = new Date("2026-01-15T12:00:00Z");
  const ec = (over: Partial<BuildCertificateOptions>): BuildCertificateOptions => {
    const { notBefore: _omit, ...rest } = options({ issuer: ecCa, subject: ecCsr.subjectDer, publicKey: ecCsr.spki, extensions: endEntityExtensions({ csr: ecCsr, issuer: ecCa }) });
    return { ...rest, ...over };
  };

  it("without notBefore: now minus 5 minutes; a device 2 minutes slow verifies it (openssl verify -attime)", async () => {
    const cert = await buildCertificate(ec({ now: NOW }));
    expect(cert.notBefore.toISOString()).toBe("2026-01-15T11:55:00.000Z");
    expect(cert.notAfter).toEqual(NOT_AFTER);
    writeFileSync(join(dir, "backdated.pem"), cert.toPem());
    const slow = String(NOW.getTime() / 1000 - 120);
    expect((await run("verify", "-attime", slow, "-CAfile", "ec-ca.pem", "backdated.pem")).trim()).toBe("backdated.pem: OK");
    // what an un-back-dated certificate (notBefore = now) gives the same device
    const exact = await buildCertificate(ec({ notBefore: NOW }));
    writeFileSync(join(dir, "exact.pem"), exact.toPem());
    await expect(openssl(["verify", "-attime", slow, "-CAfile", "ec-ca.pem", "exact.pem"], dir)).rejects.toThrow("certificate is not yet valid");
  });

  it("backdateMs chooses the margin: 0 starts at now, one hour starts an hour back", async () => {
    expect((await buildCertificate(ec({ now: NOW, backdateMs: 0 }))).notBefore.toISOString()).toBe("2026-01-15T12:00:00.000Z");
    expect((await buildCertificate(ec({ now: NOW, backdateMs: 3_600_000 }))).notBefore.toISOString()).toBe("2026-01-15T11:00:00.000Z");
  });

  it("never before the issuer's own notBefore", async () => {
    expect(ecCa.certificate.notBefore.toISOString()).toBe("2025-01-01T00:00:00.000Z");
    const cert = await buildCertificate(ec({ now: new Date("2025-01-01T00:02:00Z") }));
    expect(cert.notBefore.toISOString()).toBe("2025-01-01T00:00:00.000Z");
  });

  it("notBefore and backdateMs together, or a negative backdateMs, are ERR_INVALID_ARGUMENT", async () => {
    await expect(buildCertificate(ec({ notBefore: NOW, backdateMs: 1000 }))).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT", message: "give notBefore or backdateMs, not both (backdateMs applies to the default notBefore)" });
    await expect(buildCertificate(ec({ now: NOW, backdateMs: -1 }))).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT", message: "backdateMs must be an integer number of milliseconds from 0 to 31536000000 (got -1)" });
  });
});

describe("buildCertificate / endEntityExtensions: invalid input is ERR_INVALID_ARGUMENT", () => {
  const bad = (over: Partial<BuildCertificateOptions>): Promise<unknown> => buildCertificate(options(over)).catch((e: unknown) => e);

  it("rejects empty, zero and too long serial numbers", async () => {
    expect(await bad({ serialNumber: new Uint8Array() })).toMatchObject({ code: "ERR_INVALID_ARGUMENT", message: "serialNumber must be a non-empty Uint8Array" });
    expect(await bad({ serialNumber: new Uint8Array(3) })).toMatchObject({ code: "ERR_INVALID_ARGUMENT", message: "serialNumber must be positive (RFC 5280 §4.1.2.2), got zero" });
    expect(await bad({ serialNumber: new Uint8Array(20).fill(0x80) })).toMatchObject({
      code: "ERR_INVALID_ARGUMENT",
      message: "serialNumber is 21 octets encoded; RFC 5280 §4.1.2.2 allows at most 20",
    });
  });

  it("rejects notAfter before notBefore and invalid dates", async () => {
    expect(await bad({ notAfter: new Date(NOT_BEFORE.getTime() - 1000) })).toMatchObject({
      code: "ERR_INVALID_ARGUMENT",
      message: "notAfter 2026-01-15T11:59:59.000Z is before notBefore 2026-01-15T12:00:00.000Z",
    });
    expect(await bad({ notBefore: new Date(Number.NaN) })).toMatchObject({ code: "ERR_INVALID_ARGUMENT", message: "notBefore must be a valid Date" });
    expect(await bad({ notAfter: new Date("+010000-01-01T00:00:00Z") })).toMatchObject({ code: "ERR_INVALID_ARGUMENT", message: "notAfter must lie in the years 0000–9999, got 10000" });
  });

  it("rejects a subject or public key that is not DER, duplicate extensions and an empty subject without a critical SAN", async () => {
    expect(await bad({ subject: Uint8Array.from([0x30, 0x05, 0x00]) })).toMatchObject({ code: "ERR_INVALID_ARGUMENT", message: "subject is not a DER element" });
    expect(await bad({ publicKey: Uint8Array.from([0x04, 0x00]) })).toMatchObject({ code: "ERR_INVALID_ARGUMENT", message: "publicKey must be a SEQUENCE" });
    expect(await bad({ publicKey: Uint8Array.from([0x30, 0x00]) })).toMatchObject({ code: "ERR_INVALID_ARGUMENT", message: "publicKey is not a SubjectPublicKeyInfo" });
    const ext: Extension = { oid: "2.5.29.19", critical: true, value: Uint8Array.from([0x30, 0x00]) };
    expect(await bad({ extensions: [ext, ext] })).toMatchObject({ code: "ERR_INVALID_ARGUMENT", message: "extension 2.5.29.19 appears twice (RFC 5280 §4.2)" });
    expect(await bad({ extensions: [{ oid: "eku", critical: false, value: new Uint8Array(2) }] })).toMatchObject({
      code: "ERR_INVALID_ARGUMENT",
      message: "extension oid must be a dotted OID, got eku",
    });
    expect(await bad({ extensions: [{ oid: "2.5.29.32", critical: false, value: Uint8Array.from([0x30, 0x03, 0x02]) }] })).toMatchObject({
      code: "ERR_INVALID_ARGUMENT",
      message: "extension 2.5.29.32: value is not one DER element",
    });
    expect(await bad({ subject: Uint8Array.from([0x30, 0x00]) })).toMatchObject({
      code: "ERR_INVALID_ARGUMENT",
      message: "a certificate with an empty subject needs a critical subjectAltName (RFC 5280 §4.1.2.6)",
    });
    expect(() => endEntityExtensions({ csr: { ...ecCsr, subjectDer: ecCsr.subjectDer, spki: ecCsr.spki, extensions: [] }, issuer: rsaCa, subject: Uint8Array.from([0x30, 0x00]) })).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: "the subject is empty and the request has no subjectAltName (RFC 5280 §4.1.2.6)" }),
    );
    expect(() => endEntityExtensions({ csr: rsaCsr, issuer: rsaCa, keyUsage: [] })).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }));
  });

  it("lets the caller choose keyUsage and extendedKeyUsage", async () => {
    const extensions = endEntityExtensions({ csr: ecCsr, issuer: ecCa.certificate, keyUsage: ["digitalSignature", "keyAgreement", "decipherOnly"], extendedKeyUsage: ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"] });
    expect(extensions.map((e) => e.oid)).toEqual(["2.5.29.19", "2.5.29.15", "2.5.29.37", "2.5.29.14", "2.5.29.35"]);
    // BIT STRING, 7 unused bits: 1000 1000 | 1000 0000.
    expect(hex(extensions[1]!.value)).toBe("0303078880");
    const cert = await buildCertificate({ issuer: ecCa, subject: ecCsr.subjectDer, publicKey: ecCsr.spki, serialNumber: Uint8Array.from([9]), notBefore: NOT_BEFORE, notAfter: NOT_AFTER, extensions });
    const t = await text(cert, "custom.pem");
    expect(t).toContain("            X509v3 Key Usage: critical\n                Digital Signature, Key Agreement, Decipher Only\n");
    expect(t).toContain("            X509v3 Extended Key Usage: \n                TLS Web Server Authentication, TLS Web Client Authentication\n");
    expect(endEntityExtensions({ csr: ecCsr, issuer: ecCa, extendedKeyUsage: [] }).map((e) => e.oid)).toEqual(["2.5.29.19", "2.5.29.15", "2.5.29.14", "2.5.29.35"]);
  });
});

describe("buildCertificate / endEntityExtensions: only names and subjectAltNames a client can parse (RFC 5280 §4.1.2.4, §4.2.1.6)", () => {
  const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "latin1"));
  const cn = (value: der.Der): Uint8Array => der.encode(der.seq(der.setOf([der.seq(der.oid("2.5.4.3"), value)])));
  /** OpenSSL's verdict on a certificate carrying `subject` (its parser, through node:crypto; the signature is not checked). */
  const opensslParses = (subject: Uint8Array): boolean => {
    const alg = der.algId("1.2.840.113549.1.1.11", der.NULL);
    const tbs = der.seq(der.ctx(0, der.int(2)), der.int(5), alg, subject, der.seq(der.time(NOT_BEFORE), der.time(NOT_AFTER)), subject, rsaCsr.spki);
    try {
      return new X509Certificate(der.encode(der.seq(tbs, alg, der.tlv(0x03, Uint8Array.from([0, 1]))))).subject !== undefined;
    } catch {
      return false;
    }
  };
  // A CSR subject is copied into the certificate: a value OpenSSL (and Go) cannot parse makes a certificate the client cannot read.
  const subjects: [string, der.Der, boolean][] = [
    ["PrintableString", der.tlv(0x13, bytes("device-1")), true],
    ["PrintableString with '@' and '_' (common in the field)", der.tlv(0x13, bytes("ops_1@example.com")), true],
    ["UTF8String", der.tlv(0x0c, bytes("Z\xc3\xbcrich")), true],
    ["BMPString", der.tlv(0x1e, bytes("\x00d\x00e")), true],
    ["TeletexString with Latin-1", der.tlv(0x14, bytes("Z\xfcrich")), true],
    ["UniversalString", der.tlv(0x1c, bytes("\x00\x00\x00d")), true],
    ["IA5String", der.tlv(0x16, bytes("device")), true],
    ["UTF8String that is not UTF-8", der.tlv(0x0c, bytes("\xff\xfe")), false],
    ["BMPString of odd length", der.tlv(0x1e, bytes("abc")), false],
    ["BMPString with a surrogate", der.tlv(0x1e, bytes("\xd8\x00")), false],
    ["UniversalString of 3 octets", der.tlv(0x1c, bytes("abc")), false],
    ["UniversalString above U+10FFFF", der.tlv(0x1c, bytes("\x7f\x00\x00\x00")), false],
    ["VisibleString", der.tlv(0x1a, bytes("device")), false],
    ["OCTET STRING", der.tlv(0x04, bytes("device")), false],
    ["INTEGER", der.tlv(0x02, bytes("\x01")), false],
    ["NULL", der.tlv(0x05, new Uint8Array()), false],
  ];
  it.each(subjects)("a CN that is a %s: built when OpenSSL parses it, else ERR_INVALID_ARGUMENT", async (what, value, parses) => {
    const subject = cn(value);
    expect(opensslParses(subject)).toBe(parses);
    if (parses) {
      const cert = await buildCertificate(options({ subject }));
      // A PrintableString outside X.680 §41.4's set is written as a UTF8String with the same text (Go refuses it otherwise).
      const written = what.startsWith("PrintableString with") ? cn(der.tlv(0x0c, bytes("ops_1@example.com"))) : subject;
      expect(hex(cert.subjectDer)).toBe(hex(written));
      expect(new X509Certificate(cert.der).subject).toContain("CN=");
    } else {
      const refused = await buildCertificate(options({ subject })).catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: "ERR_INVALID_ARGUMENT", message: expect.stringMatching(/^the subject is not a Name a certificate can carry \(RFC 5280 §4\.1\.2\.6\): CN: |^the subject is not a Name a certificate can carry \(RFC 5280 §4\.1\.2\.6\): the value of CN is not a string/) });
      expect(() => endEntityExtensions({ csr: { subjectDer: subject, spki: rsaCsr.spki, extensions: [] }, issuer: rsaCa })).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }));
    }
  });

  /** buildCertificate's refusal of a subject whose CN is `value`, with the reason `why`. */
  const refusesSubject = async (value: der.Der, why: string): Promise<void> => {
    expect(await buildCertificate(options({ subject: cn(value) })).catch((e: unknown) => e)).toMatchObject({
      code: "ERR_INVALID_ARGUMENT",
      message: `the subject is not a Name a certificate can carry (RFC 5280 §4.1.2.6): ${why}`,
    });
  };

  it.each([
    // A control character in any string type (the null-prefix attack: CN=bank.example\0.evil.example).
    ["a NUL in a UTF8String", der.tlv(0x0c, bytes("bank.example\x00.evil.example")), "CN: a UTF8String holds a control character (U+0000)"],
    ["a newline in an IA5String", der.tlv(0x16, bytes("a\nb")), "CN: an IA5String holds a control character (U+000A)"],
    ["DEL in a BMPString", der.tlv(0x1e, bytes("\x00a\x00\x7f")), "CN: a BMPString holds a control character (U+007F)"],
    ["ESC in a UniversalString", der.tlv(0x1c, bytes("\x00\x00\x00a\x00\x00\x00\x1b")), "CN: a UniversalString holds a control character (U+001B)"],
    ["a NUL in a TeletexString", der.tlv(0x14, bytes("Z\xfc\x00")), "CN: a TeletexString holds a control character (U+0000)"],
    // Bytes outside the type's character set.
    ["a byte above 0x7F in a PrintableString", der.tlv(0x13, bytes("caf\xe9")), "CN: a PrintableString holds a control or non-ASCII character"],
    ["a byte above 0x7F in an IA5String", der.tlv(0x16, bytes("caf\xe9")), "CN: an IA5String holds a non-ASCII byte"],
    ["a letter in a NumericString", der.tlv(0x12, bytes("12a")), "CN: a NumericString holds a character other than digits and space"],
  ])("refuses a subject with %s", async (_, value, why) => refusesSubject(value, why));

  it("builds text from U+0080 on, which is not a control character: a BMPString \"Ā\" (01 00), a UTF8String \"é\"", async () => {
    await expect(buildCertificate(options({ subject: cn(der.tlv(0x1e, bytes("\x01\x00"))) }))).resolves.toBeDefined();
    await expect(buildCertificate(options({ subject: cn(der.tlv(0x0c, bytes("caf\xc3\xa9"))) }))).resolves.toBeDefined();
  });

  const san = (...names: der.Der[]): Extension => ({ oid: "2.5.29.17", critical: false, value: der.encode(der.seq(...names)) });
  it.each([
    ["an iPAddress of 5 octets", san(der.tlv(0x87, new Uint8Array(5))), "an iPAddress of 5 octets (4 or 16)"],
    ["a dNSName with a non-ASCII byte", san(der.tlv(0x82, bytes("d\xe9vice.example"))), "a dNSName holds a non-ASCII byte"],
    ["a URI without a scheme", san(der.tlv(0x86, bytes("//host/path"))), "a uniformResourceIdentifier has no scheme (RFC 5280 §4.2.1.6)"],
    // Go's net/url refuses both ("invalid control character in URL", "invalid URL escape"), so Go's x509.ParseCertificate does.
    ["a URI with a control character", san(der.tlv(0x86, bytes("https://host/a\nb"))), "a uniformResourceIdentifier holds a control character (RFC 3986 §2)"],
    ["a URI with a malformed percent escape", san(der.tlv(0x86, bytes("https://host/100%zz"))), "a uniformResourceIdentifier holds a '%' not followed by two hex digits (RFC 3986 §2.1)"],
    ["a tag GeneralName does not define", san(der.tlv(0x89, bytes("x"))), "a GeneralName with tag 0x89, which GeneralName does not define"],
    ["no name at all", san(), "GeneralNames is empty (SIZE (1..MAX))"],
    ["a directoryName with an OCTET STRING value", san(der.ctx(4, cn(der.tlv(0x04, bytes("x"))))), "a directoryName: the value of CN is not a string of a type a certificate name may hold (tag 0x4)"],
  ])("refuses a subjectAltName with %s, copied from a request or given", async (_, extension, why) => {
    expect(await buildCertificate(options({ extensions: [extension] })).catch((e: unknown) => e)).toMatchObject({
      code: "ERR_INVALID_ARGUMENT",
      message: `the subjectAltName is not one a certificate can carry (RFC 5280 §4.2.1.6): ${why}`,
    });
    expect(() => endEntityExtensions({ csr: { subjectDer: rsaCsr.subjectDer, spki: rsaCsr.spki, extensions: [extension] }, issuer: rsaCa })).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: `the subjectAltName is not one a certificate can carry (RFC 5280 §4.2.1.6): ${why}` }),
    );
  });

  it("copies every well-formed GeneralName: IPv4, IPv6, e-mail, URIs (one percent-encoded), UPN otherName, directoryName, registeredID", async () => {
    const extension = san(
      der.tlv(0x87, Uint8Array.from([10, 0, 0, 1])),
      der.tlv(0x87, new Uint8Array(16).fill(1)),
      der.tlv(0x81, bytes("ops@example.com")),
      der.tlv(0x86, bytes("urn:uuid:5d6c1e1c-0000-4000-8000-000000000042")),
      der.tlv(0x86, bytes("https://host/a%2Fb")),
      der.tlv(0xa0, der.oid("1.3.6.1.4.1.311.20.2.3"), der.ctx(0, der.utf8("user@corp.example"))),
      der.ctx(4, cn(der.tlv(0x0c, bytes("dir")))),
      der.tlv(0x88, der.contentOf(der.oid("1.2.3.4"))),
    );
    const cert = await buildCertificate(options({ extensions: [extension] }));
    expect(new X509Certificate(cert.der).subjectAltName).toBe(
      "IP Address:10.0.0.1, IP Address:101:101:101:101:101:101:101:101, email:ops@example.com, URI:urn:uuid:5d6c1e1c-0000-4000-8000-000000000042, URI:https://host/a%2Fb, othername:UPN:user@corp.example, DirName:CN=dir, Registered ID:1.2.3.4",
    );
  });

  it("writes a directoryName as it writes the subject: a PrintableString holding '@', '_', '*' becomes a UTF8String, the other names keep their bytes", async () => {
    const dns = der.tlv(0x82, bytes("device.example"));
    const upn = der.tlv(0xa0, der.oid("1.3.6.1.4.1.311.20.2.3"), der.ctx(0, der.utf8("user@corp.example")));
    const dirName = (value: der.Der): der.Der =>
      der.ctx(4, der.seq(der.setOf([der.seq(der.oid("2.5.4.10"), der.tlv(0x13, bytes("Acme")))]), der.setOf([der.seq(der.oid("2.5.4.3"), value)])));
    const requested = san(dns, dirName(der.tlv(0x13, bytes("ops@example_1*"))), upn);
    const cert = await buildCertificate(options({ extensions: [requested] }));
    const written = cert.extensions.find((e) => e.oid === "2.5.29.17")!;
    expect(hex(written.value)).toBe(hex(der.encode(der.seq(dns, dirName(der.tlv(0x0c, bytes("ops@example_1*"))), upn))));
    // OpenSSL (through node:crypto) reads it, printing the Name last RDN first.
    expect(new X509Certificate(cert.der).subjectAltName).toBe('DNS:device.example, DirName:"CN=ops@example_1*\\u002cO=Acme", othername:UPN:user@corp.example');
    // Through endEntityExtensions (the request's subjectAltName copied as it came), the same certificate.
    const fromCsr = await buildCertificate(options({ extensions: endEntityExtensions({ csr: { subjectDer: rsaCsr.subjectDer, spki: rsaCsr.spki, extensions: [requested] }, issuer: rsaCa }) }));
    expect(hex(fromCsr.extensions.find((e) => e.oid === "2.5.29.17")!.value)).toBe(hex(written.value));
    // A subjectAltName that needs no change is written with the bytes it came with.
    const plain = san(dns, dirName(der.tlv(0x13, bytes("ops-example"))));
    expect(hex((await buildCertificate(options({ extensions: [plain] }))).extensions.find((e) => e.oid === "2.5.29.17")!.value)).toBe(hex(plain.value));
  });
});
