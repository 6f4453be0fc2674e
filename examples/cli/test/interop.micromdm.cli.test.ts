/**
 * LIVE: the CLI, as a child process, against micromdm's `scepserver` 2.1.0 on
 * loopback with a fresh depot. Every issued certificate is checked with
 * `openssl verify -CAfile <depot>/ca.pem`.
 *
 * What micromdm does, as measured here: it advertises Renewal, SHA-1,
 * SHA-256, AES, DES3, SCEPStandard, POSTPKIOperation; it accepts DES, 3DES,
 * AES-128 and AES-256 content, SHA-1, SHA-256 and (unadvertised) SHA-512
 * digests, and refuses AES-192 with HTTP 500. It checks the challenge on
 * EVERY request: a renewal signed by the old certificate still needs it.
 */
import { createPublicKey } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Certificate } from "@scep/core";
import { opensslVerifyChain, opensslX509Text, randomChallenge, startMicromdmServer, type MicromdmServer } from "../../../test-support/peers";
import { runCli } from "./support/run-cli";

let server: MicromdmServer;
let challenge: string;
const root = mkdtempSync(join(tmpdir(), "scep-cli-micromdm-"));
const workDir = (name: string): string => mkdtempSync(join(root, `${name}-`));

beforeAll(async () => {
  challenge = randomChallenge();
  server = await startMicromdmServer({ challenge });
});
afterAll(async () => {
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
});

const bytes = (b: Uint8Array): Uint8Array => new Uint8Array(b);

async function enroll(cwd: string, cn: string, ...extra: string[]) {
  return runCli(["enroll", "--url", server.url, "--challenge", challenge, "--cn", cn, "--out", "cert.pem", ...extra], { cwd });
}

async function expectIssued(cwd: string, cn: string): Promise<Certificate> {
  const pem = readFileSync(join(cwd, "cert.pem"), "utf8");
  expect(await opensslVerifyChain(pem, server.caCertPem)).toMatch(/: OK\n$/);
  const cert = Certificate.from(pem);
  expect(cert.subject).toBe(`CN=${cn}`);
  return cert;
}

describe("getcacaps and getcacert", () => {
  it("getcacaps prints micromdm's capabilities one per line", async () => {
    const r = await runCli(["getcacaps", "--url", server.url], { cwd: root });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("Renewal\nSHA-1\nSHA-256\nAES\nDES3\nSCEPStandard\nPOSTPKIOperation\n");
  });

  it("getcacert prints subject and fingerprint and writes the depot's ca.pem with --out", async () => {
    const cwd = workDir("cacert");
    const r = await runCli(["getcacert", "--url", server.url, "--out", "ca.pem"], { cwd });
    expect(r.code, r.stderr).toBe(0);
    const fp = (await opensslX509Text(server.caCertPem, ["-noout", "-fingerprint", "-sha256"])).trim().split("=")[1];
    expect(r.stdout).toBe(`C=US, O=scep-ca, OU=SCEP CA (CA, encrypt requests to)\n  SHA-256 ${fp}\nwrote 1 certificate to ${join(cwd, "ca.pem")}\n`);
    expect(bytes(Certificate.from(readFileSync(join(cwd, "ca.pem"), "utf8")).der)).toEqual(bytes(Certificate.from(server.caCertPem).der));
  });
});

describe("enroll", () => {
  // every combination micromdm advertises (AES, DES3; SHA-1, SHA-256) plus DES-CBC, its own client's default, and
  // AES-256, which it decrypts though its AES promises AES-128 only
  const AES256_WARNING = "warning: the CA advertises AES, which RFC 8894 §3.5.2 defines as AES-128; sending aes256 anyway\n";
  const DES_WARNING = "warning: no capability promises single DES, the fallback for a CA that advertises none; sending des anyway\n";
  const matrix = ["aes128", "aes256", "des3", "des"].flatMap((cipher) => ["sha1", "sha256"].map((digest) => [cipher, digest] as const));

  it.each(matrix)("--cipher %s --digest %s: issued, chains to the depot CA", async (cipher, digest) => {
    const cwd = workDir(`${cipher}-${digest}`);
    const cn = `cli-${cipher}-${digest}`;
    const r = await enroll(cwd, cn, "--cipher", cipher, "--digest", digest);
    expect(r.code, r.stderr).toBe(0);
    // RFC 8894 §3.5.2: micromdm's AES promises AES-128 only; it decrypts AES-256 too, but the CLI cannot know that.
    // No capability promises single DES (micromdm advertises DES3 and AES): decrypted too, after a warning.
    expect(r.stderr).toBe(cipher === "aes256" ? AES256_WARNING : cipher === "des" ? DES_WARNING : "");
    const cert = await expectIssued(cwd, cn);
    expect(cert.issuer).toBe("C=US, O=scep-ca, OU=SCEP CA");
    expect(r.stdout).toContain(`\nserial:      ${cert.serialNumberHex}\n`);
    expect(r.stdout).toContain(`\nkey:         ${join(cwd, "cert.key")}\n`);
    expect(server.readIndex().find((e) => e.serialHex.toLowerCase().replace(/^0+/, "") === cert.serialNumberHex.replace(/^0+/, ""))?.dn).toContain(`CN=${cn}`);
  });

  it("defaults to aes128 + sha256 + POST from the capabilities (RFC 8894 §3.5.2: AES is AES128-CBC)", async () => {
    const cwd = workDir("defaults");
    const r = await enroll(cwd, "cli-defaults");
    expect(r.code, r.stderr).toBe(0);
    await expectIssued(cwd, "cli-defaults");
  });

  it("SHA-512 is not advertised but accepted; the CLI warns", async () => {
    const cwd = workDir("sha512");
    const r = await enroll(cwd, "cli-sha512", "--digest", "sha512");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("warning: the CA does not advertise SHA-512; sending sha512 anyway\n");
    await expectIssued(cwd, "cli-sha512");
  });

  it("AES-192 is refused by micromdm with HTTP 500 (after the CLI's warning: AES is AES-128): exit 4; a 5xx may follow an issuance, so the key is kept for a re-send", async () => {
    const cwd = workDir("aes192");
    const r = await enroll(cwd, "cli-aes192", "--cipher", "aes192");
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^warning: the CA advertises AES, which RFC 8894 §3\.5\.2 defines as AES-128; sending aes192 anyway\nscep: PKIOperation: HTTP 500 \(pkcs7: cannot decrypt data: only RSA, DES, DES-EDE3, AES-256-CBC and AES-128-GCM supported\); the CA may have processed the request; key saved to .*cert\.key: run the same command with --key/);
    expect(existsSync(join(cwd, "cert.key"))).toBe(true);
    expect(existsSync(join(cwd, "cert.pem"))).toBe(false);
  });

  it("--get (micromdm serves PKIOperation by GET too); SANs and an escaped CN come through; --key reuses a key", async () => {
    const cwd = workDir("get-san");
    const first = await enroll(cwd, "first", "--key-out", "device.key");
    expect(first.code, first.stderr).toBe(0);
    const firstCert = Certificate.from(readFileSync(join(cwd, "cert.pem"), "utf8"));
    const cn = "lab, rack+3";
    const r = await runCli(
      ["enroll", "--url", server.url, "--challenge", challenge, "--cn", cn, "--get", "--key", "device.key", "--out", "cert.pem",
        "--san", "dns:dev.example", "--san", "ip:10.1.2.3", "--san", "email:ops@example.com", "--san", "uri:https://dev.example/id?x=1"],
      { cwd },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain("key:");
    const cert = await expectIssued(cwd, "lab\\, rack\\+3");
    expect(cert.subjectAltNames).toMatchObject({ dns: ["dev.example"], ip: ["10.1.2.3"], email: ["ops@example.com"], uri: ["https://dev.example/id?x=1"] });
    expect(bytes(firstCert.spki)).toEqual(bytes(cert.spki));
    expect(firstCert.serialNumberHex).not.toBe(cert.serialNumberHex);
  });

  it("--ca-fingerprint with the depot CA's fingerprint enrolls; another fingerprint exits 5 before any PKIOperation", async () => {
    const fp = (await opensslX509Text(server.caCertPem, ["-noout", "-fingerprint", "-sha256"])).trim().split("=")[1]!;
    const cwd = workDir("pinned");
    const ok = await enroll(cwd, "cli-pinned", "--ca-fingerprint", `sha256:${fp}`);
    expect(ok.code, ok.stderr).toBe(0);
    await expectIssued(cwd, "cli-pinned");
    const before = server.readIndex().length;
    const bad = await enroll(workDir("pinned-bad"), "cli-pinned-bad", "--ca-fingerprint", "00".repeat(32));
    expect(bad.code).toBe(5);
    expect(bad.stderr).toMatch(/^scep: GetCACert: no CA certificate matches the pinned CA sha256:0{64}; the CA sent sha256:[0-9a-f]{64} \(C=US, O=scep-ca, OU=SCEP CA, CA\); nothing was sent\n$/);
    expect(server.readIndex().length).toBe(before);
  });

  it("a wrong challenge: FAILURE badRequest, exit 2", async () => {
    const cwd = workDir("wrong");
    const r = await runCli(["enroll", "--url", server.url, "--challenge", "not-the-secret", "--cn", "cli-wrong", "--out", "cert.pem"], { cwd });
    expect(r.code).toBe(2);
    // micromdm sends no failInfoText: the hint says what usually causes it.
    expect(r.stderr).toBe(
      "FAILURE: badRequest: the CA does not permit or support this request; a wrong --challenge is the usual reason: check it against the CA's challenge (the example servers: SCEP_CHALLENGE or --challenge if set, else the file <data-dir>/challenge; a one-time challenge works once)\n",
    );
    expect(r.stdout).toBe("");
    expect(server.logs()).toContain('msg="failed to sign CSR" err="invalid challenge"');
  });
});

// RFC 2985 §5.4.1: challengePassword is a DirectoryString. Go's encoding/asn1
// refuses a PrintableString holding `_`, `@`, `#` or `!` (micromdm answered
// HTTP 500, the CLI exited 4); such a challenge goes out as a UTF8String.
describe.each(["enroll_2026-secret", "p@ss#word!"])("a challenge with characters outside PrintableString: %j", (special) => {
  let strict: MicromdmServer;
  beforeAll(async () => {
    strict = await startMicromdmServer({ challenge: special });
  });
  afterAll(async () => {
    await strict?.stop();
  });

  it("enroll succeeds against micromdm scepserver and the certificate chains to its CA", async () => {
    const cwd = workDir("special-challenge");
    const r = await runCli(["enroll", "--url", strict.url, "--challenge", special, "--cn", "cli-special", "--out", "cert.pem"], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    const pem = readFileSync(join(cwd, "cert.pem"), "utf8");
    expect(await opensslVerifyChain(pem, strict.caCertPem)).toMatch(/: OK\n$/);
    expect(Certificate.from(pem).subject).toBe("CN=cli-special");
  });

  it("renew with the same challenge succeeds (the old subject is sent back byte for byte)", async () => {
    const cwd = workDir("special-renew");
    const first = await runCli(["enroll", "--url", strict.url, "--challenge", special, "--cn", "cli_special renew", "--out", "cert.pem"], { cwd });
    expect(first.code, first.stderr).toBe(0);
    const r = await runCli(["renew", "--url", strict.url, "--cert", "cert.pem", "--key", "cert.key", "--challenge", special, "--out", "new.pem"], { cwd });
    expect(r.code, r.stderr).toBe(0);
    const renewed = Certificate.from(readFileSync(join(cwd, "new.pem"), "utf8"));
    expect(renewed.subject).toBe("CN=cli_special renew");
    expect(await opensslVerifyChain(readFileSync(join(cwd, "new.pem"), "utf8"), strict.caCertPem)).toMatch(/: OK\n$/);
  });
});

describe("renew", () => {
  let cwd: string;
  let old: Certificate;
  beforeAll(async () => {
    cwd = workDir("renew");
    const r = await enroll(cwd, "cli-renew", "--san", "dns:renew.example");
    expect(r.code, r.stderr).toBe(0);
    old = await expectIssued(cwd, "cli-renew");
  });

  const invalidChallenges = (): number => server.logs().split('err="invalid challenge"').length - 1;

  const NO_CHALLENGE_FAILURE = "FAILURE: badRequest: no challenge password was sent (no --challenge), the likely reason\n";

  it("micromdm refuses a PKCSReq signed by the old certificate without the challenge (FAILURE badRequest, exit 2)", async () => {
    const before = invalidChallenges();
    const r = await runCli(["renew", "--url", server.url, "--cert", "cert.pem", "--key", "cert.key", "--out", "new.pem"], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(NO_CHALLENGE_FAILURE);
    expect(invalidChallenges()).toBe(before + 1);
  });

  it("and a RenewalReq the same way", async () => {
    const before = invalidChallenges();
    const r = await runCli(["renew", "--url", server.url, "--cert", "cert.pem", "--key", "cert.key", "--out", "new.pem", "--renewal-req"], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(NO_CHALLENGE_FAILURE);
    expect(invalidChallenges()).toBe(before + 1);
  });

  it.each([[[]], [["--renewal-req"]]])("with --challenge %j it renews: same subject, SANs and key, old serial revoked", async (extra) => {
    const current = Certificate.from(readFileSync(join(cwd, "cert.pem"), "utf8"));
    const r = await runCli(["renew", "--url", server.url, "--cert", "cert.pem", "--key", "cert.key", "--challenge", challenge, ...extra], { cwd });
    expect(r.code, r.stderr).toBe(0);
    // without --out the new certificate goes to stdout
    expect(r.stdout).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
    expect(await opensslVerifyChain(r.stdout, server.caCertPem)).toMatch(/: OK\n$/);
    const renewed = Certificate.from(r.stdout);
    expect(renewed.subject).toBe(old.subject);
    expect(renewed.subjectAltNames.dns).toEqual(["renew.example"]);
    expect(bytes(renewed.spki)).toEqual(bytes(old.spki));
    expect(renewed.serialNumberHex).not.toBe(current.serialNumberHex);
    const index = server.readIndex();
    const bySerial = (hex: string) => index.find((e) => e.serialHex.toLowerCase().replace(/^0+/, "") === hex.replace(/^0+/, ""));
    expect(bySerial(current.serialNumberHex)?.status).toBe("R");
    expect(bySerial(renewed.serialNumberHex)?.status).toBe("V");
    // keep renewing the newest certificate
    writeFileSync(join(cwd, "cert.pem"), r.stdout);
  });

  it("--new-key renews onto a fresh key written next to --out", async () => {
    const r = await runCli(["renew", "--url", server.url, "--cert", "cert.pem", "--key", "cert.key", "--challenge", challenge, "--new-key", "--out", "fresh.pem"], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`\nkey:         ${join(cwd, "fresh.key")}\n`);
    const pem = readFileSync(join(cwd, "fresh.pem"), "utf8");
    expect(await opensslVerifyChain(pem, server.caCertPem)).toMatch(/: OK\n$/);
    const renewed = Certificate.from(pem);
    expect(renewed.subject).toBe("CN=cli-renew");
    expect(bytes(renewed.spki)).not.toEqual(bytes(old.spki));
    const keySpki = await opensslX509Text(pem, ["-noout", "-pubkey"]);
    const fromKey = createPublicKey(readFileSync(join(cwd, "fresh.key"), "utf8")).export({ type: "spki", format: "pem" });
    expect(keySpki).toBe(fromKey);
  });
});
