/**
 * Exit codes and stderr lines for what micromdm never does, against a
 * loopback server built from @scep/core: PENDING (exit 3), PENDING then
 * SUCCESS after one CertPoll, HTTP 500 and a CA that never answers (exit 4),
 * and a refused connection (exit 4). The CLI runs as a child process.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { Certificate, CertificationRequest } from "@scep/core";
import { freePort, opensslVerifyChain } from "../../../test-support/peers";
import { startFakeScepServer, type FakeScepServer } from "./support/fake-scep-server";
import { runCli } from "./support/run-cli";

const root = mkdtempSync(join(tmpdir(), "scep-cli-exit-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let server: FakeScepServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});
/** Buffer and Uint8Array views compare equal only as the same type. */
const bytes = (b: Uint8Array): Uint8Array => new Uint8Array(b);
const workDir = (name: string): string => mkdtempSync(join(root, `${name}-`));

describe("PENDING", () => {
  it("exits 3 when the CA still answers PENDING and --max-poll is 0, keeping the generated key", async () => {
    server = await startFakeScepServer("pending");
    const cwd = workDir("pending");
    const r = await runCli(["enroll", "--url", server.url, "--challenge", "pw", "--cn", "dev-pending", "--out", "cert.pem", "--max-poll", "0"], { cwd });
    expect(r.code).toBe(3);
    const tid = server.requests[0]!.request.transactionId;
    expect(r.stderr).toBe(`PENDING: transaction ${tid} is still pending; run the command again with the same key to poll\n`);
    expect(r.stdout).toBe("");
    expect(server.requests.map((q) => [q.method, q.request.messageTypeName])).toEqual([["POST", "PKCSReq"]]);
    expect(existsSync(join(cwd, "cert.pem"))).toBe(false);
    // the key was written before the request, so the same command with --key polls the same transaction
    expect(readFileSync(join(cwd, "cert.key"), "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const again = await runCli(["enroll", "--url", server.url, "--challenge", "pw", "--cn", "dev-pending", "--out", "cert.pem", "--max-poll", "0", "--key", "cert.key"], { cwd });
    expect(again.code).toBe(3);
    expect(server.requests[1]!.request.transactionId).toBe(tid);
  });

  it.each([
    ["post", "POST"],
    ["get", "GET"],
  ])("polls with CertPoll until SUCCESS (--%s)", async (flag, method) => {
    server = await startFakeScepServer("pending-then-success");
    const cwd = workDir(`poll-${flag}`);
    const r = await runCli(
      ["enroll", "--url", server.url, "--challenge", "pw", "--cn", "dev-poll", "--out", "cert.pem", "--key-out", "k.pem", "--poll-interval", "0", "--max-poll", "60", `--${flag}`],
      { cwd },
    );
    expect(r.code, r.stderr).toBe(0);
    const [req, poll] = server.requests;
    expect(server.requests.map((q) => [q.method, q.request.messageTypeName])).toEqual([
      [method, "PKCSReq"],
      [method, "CertPoll"],
    ]);
    expect(poll!.request.transactionId).toBe(req!.request.transactionId);
    expect(bytes(poll!.request.issuerAndSubject!.subject)).toEqual(bytes(CertificationRequest.from(req!.request.csr!.der).subjectDer));
    expect(r.stderr).toBe(`PENDING: transaction ${req!.request.transactionId}; polling again in 0 s\n`);
    const pem = readFileSync(join(cwd, "cert.pem"), "utf8");
    const cert = Certificate.from(pem);
    expect(cert.subject).toBe("CN=dev-poll");
    expect(bytes(cert.spki)).toEqual(bytes(req!.request.csr!.spki));
    await opensslVerifyChain(pem, server.ca.certPem);
    expect(r.stdout).toBe(
      [
        "subject:     CN=dev-poll",
        "issuer:      O=scep-sdk tests, CN=Fake SCEP CA",
        `serial:      ${cert.serialNumberHex}`,
        `not after:   ${cert.notAfter.toISOString()}`,
        `certificate: ${join(cwd, "cert.pem")}`,
        `key:         ${join(cwd, "k.pem")}`,
        "",
      ].join("\n"),
    );
  });
});

describe("transport failures exit 4", () => {
  it("an HTTP error status, with the server's text", async () => {
    server = await startFakeScepServer("http-500");
    const r = await runCli(["enroll", "--url", server.url, "--cn", "d", "--out", "c.pem"], { cwd: workDir("500") });
    expect(r.code).toBe(4);
    expect(r.stderr).toBe("scep: PKIOperation: HTTP 500 (CA database unavailable)\n");
  });

  it("a CA that never answers, after --timeout", async () => {
    server = await startFakeScepServer("hang");
    const r = await runCli(["enroll", "--url", server.url, "--cn", "d", "--out", "c.pem", "--timeout", "500"], { cwd: workDir("hang") });
    expect(r.code).toBe(4);
    expect(r.stderr).toBe("scep: PKIOperation: timed out after 500 ms\n");
  });

  it("a refused connection", async () => {
    const port = await freePort();
    const r = await runCli(["getcacaps", "--url", `http://127.0.0.1:${port}/scep`], { cwd: root });
    expect(r.code).toBe(4);
    expect(r.stderr).toBe(`scep: GetCACaps: connection refused (connect ECONNREFUSED 127.0.0.1:${port})\n`);
    const e = await runCli(["enroll", "--url", `http://127.0.0.1:${port}/scep`, "--cn", "d", "--out", "c.pem", "--key-out", "refused.key"], { cwd: root });
    expect(e.code).toBe(4);
    expect(e.stderr).toBe(`scep: GetCACaps: connection refused (connect ECONNREFUSED 127.0.0.1:${port})\n`);
  });
});

it("resolves relative paths against its cwd even with a stale INIT_CWD from an outer pnpm script", async () => {
  server = await startFakeScepServer("pending");
  const cwd = workDir("cwd");
  const elsewhere = workDir("elsewhere");
  const r = await runCli(["getcacert", "--url", server.url, "--out", "ca.pem"], { cwd, env: { INIT_CWD: elsewhere, npm_lifecycle_event: "test" } });
  expect(r.code, r.stderr).toBe(0);
  expect(bytes(Certificate.from(readFileSync(join(cwd, "ca.pem"), "utf8")).der)).toEqual(bytes(Certificate.from(server.ca.certPem).der));
  expect(existsSync(join(elsewhere, "ca.pem"))).toBe(false);
});
