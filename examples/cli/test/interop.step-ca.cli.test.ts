/**
 * LIVE: the CLI, as a child process, against Smallstep step-ca 0.19 (built
 * from Debian's Go sources, test-support/peers/step-ca.ts) on loopback with a
 * fresh root and intermediate. Issued certificates are checked with
 * `openssl verify` against step-ca's root through its intermediate.
 *
 * step-ca serves SCEP on plain HTTP (`insecureAddress`) and on HTTPS with a
 * TLS certificate from its own private root, which the CLI trusts the way its
 * TLS hint says: NODE_EXTRA_CA_CERTS.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Certificate } from "@scep/core";
import { opensslVerifyChain, randomChallenge, startStepCa, type StepCa } from "../../../test-support/peers";
import { runCli } from "./support/run-cli";

let ca: StepCa;
const challenge = randomChallenge();
const root = mkdtempSync(join(tmpdir(), "scep-cli-step-ca-"));
const workDir = (name: string): string => mkdtempSync(join(root, `${name}-`));

// The first step-ca start of a run builds it from source (about a minute, more on a busy machine).
beforeAll(async () => {
  ca = await startStepCa({ challenge });
}, 600_000);
afterAll(async () => {
  await ca?.stop();
  rmSync(root, { recursive: true, force: true });
});

async function expectIssued(cwd: string, cn: string): Promise<Certificate> {
  const pem = readFileSync(join(cwd, "cert.pem"), "utf8");
  expect(await opensslVerifyChain(pem, ca.rootPem, { untrustedPem: ca.intermediatePem })).toMatch(/: OK\n$/);
  const cert = Certificate.from(pem);
  expect(cert.subject).toBe(`CN=${cn}`);
  expect(cert.issuer).toBe("O=scep-sdk interop, CN=step-ca Interop Intermediate CA");
  return cert;
}

describe("scep enroll against step-ca 0.19 (RFC 8894 §3.3.1 PKCSReq)", () => {
  it("over plain HTTP: getcacaps lists step-ca's capabilities; enroll is issued (exit 0) and chains to step-ca's root", async () => {
    const caps = await runCli(["getcacaps", "--url", ca.url], { cwd: root });
    expect(caps.code, caps.stderr).toBe(0);
    expect(caps.stdout).toBe("Renewal\nSHA-1\nSHA-256\nAES\nDES3\nSCEPStandard\nPOSTPKIOperation\n");
    const cwd = workDir("http");
    const r = await runCli(["enroll", "--url", ca.url, "--challenge", challenge, "--cn", "cli-step-ca", "--out", "cert.pem"], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    await expectIssued(cwd, "cli-step-ca");
  });

  it("over HTTPS with step-ca's root in NODE_EXTRA_CA_CERTS: issued; without it, exit 4 with the TLS hint", async () => {
    const cwd = workDir("https");
    writeFileSync(join(cwd, "root.pem"), ca.rootPem);
    const args = ["enroll", "--url", ca.httpsUrl, "--challenge", challenge, "--cn", "cli-step-ca-tls", "--out", "cert.pem"];
    const refused = await runCli(args, { cwd });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/^scep: .*TLS failed \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|UNABLE_TO_VERIFY_LEAF_SIGNATURE): .*a server certificate from a private CA needs NODE_EXTRA_CA_CERTS/m);
    const r = await runCli(args, { cwd, env: { NODE_EXTRA_CA_CERTS: join(cwd, "root.pem") } });
    expect(r.code, r.stderr).toBe(0);
    await expectIssued(cwd, "cli-step-ca-tls");
  });

  it("a wrong challenge: FAILURE badRequest, exit 2", async () => {
    const cwd = workDir("wrong");
    const r = await runCli(["enroll", "--url", ca.url, "--challenge", `${challenge}-x`, "--cn", "cli-step-ca-wrong", "--out", "cert.pem"], { cwd });
    expect(r.code).toBe(2);
    // step-ca's failInfoText (under id-scep, not id-scep-failInfoText) is quoted, and names the password: the hint follows.
    expect(r.stderr).toMatch(/^FAILURE: badRequest: the CA does not permit or support this request \(the CA said "wrong password provided"\); check --challenge against the CA's challenge /);
    expect(r.stderr.split("\n")).toHaveLength(2);
  });
});
