/**
 * A one-time device URL of a SCEP proxy (@scep/proxy, Fleet's kind) that is used up or no longer valid: the CLI says
 * so and says to get a new one from the MDM, not that the path in --url is wrong. Against the example proxy in front
 * of the example server (child processes on loopback); the expected bodies come from the proxy's own source, so the
 * test breaks when its words change and the CLI no longer recognises them.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TransportError } from "@scep/core";
import { notPending, REPLY_TEXT } from "../../../packages/proxy/src/handler/replies.js";
import { startExampleUpstream, startProxy, type RunningProxy, type Upstream } from "../../proxy-server/test/support/harness.js";
import { CHECK_PATH, CHECK_PROXY_IDENTIFIER, CHECK_PROXY_SUPERSEDED, CHECK_PROXY_UPSTREAM, CHECK_PROXY_URL, describeError, ExitCode } from "../src/lib/exit.js";
import { runCli } from "./support/run-cli";

const root = mkdtempSync(join(tmpdir(), "scep-cli-proxy-url-"));
let upstream: Upstream;
let proxy: RunningProxy;

/** A loopback port nothing listens on (bound, then closed): a CA that is down. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  upstream = await startExampleUpstream();
  proxy = await startProxy([
    { name: "corp", type: "custom", url: upstream.url, challenge: upstream.challenge },
    { name: "ndes", type: "ndes", url: upstream.url },
    { name: "down", type: "custom", url: `http://127.0.0.1:${await closedPort()}/scep`, challenge: upstream.challenge },
  ]);
}, 120_000);

afterAll(async () => {
  await proxy?.stop();
  await upstream?.stop();
  rmSync(root, { recursive: true, force: true });
});

const scep = (args: string[]) => runCli(args, { cwd: mkdtempSync(join(root, "run-")) });
const spent = (line: string): string => `scep: ${line}: ${CHECK_PROXY_URL}\n`;

describe("a spent or unknown one-time proxy URL", () => {
  it("custom CA: enrolls once; then enroll (challenge failed), getcacaps (requeued: status none) and, once forgotten, unknown identifier all say to get a new URL", async () => {
    const reg = await proxy.register({ hostId: "laptop-7", profileId: "wifi", caName: "corp" });
    const enroll = ["enroll", "--url", reg.url, "--challenge", upstream.challenge, "--cn", "laptop-7", "--out", "laptop-7.pem"];
    const first = await scep(enroll);
    expect([first.code, first.stderr]).toEqual([0, expect.any(String)]);

    const again = await scep(enroll);
    expect([again.code, again.stdout, again.stderr]).toEqual([ExitCode.TRANSPORT, "", spent(`PKIOperation: HTTP 400 (${REPLY_TEXT.challenge_failed})`)]);

    const caps = await scep(["getcacaps", "--url", reg.url]);
    expect([caps.code, caps.stdout, caps.stderr]).toEqual([ExitCode.TRANSPORT, "", spent(`GetCACaps: HTTP 400 (${notPending("none").body})`)]);

    expect((await proxy.admin("DELETE", "/admin/profiles", { hostId: "laptop-7", profileId: "wifi", caName: "corp" })).status).toBeLessThan(300);
    const gone = await scep(["getcacert", "--url", reg.url]);
    expect([gone.code, gone.stdout, gone.stderr]).toEqual([ExitCode.TRANSPORT, "", spent(`GetCACert: HTTP 400 (${REPLY_TEXT.unknown_identifier})`)]);
  }, 120_000);

  it("NDES CA: a challenge fetched too long ago (58 min, window 57) says to get a new URL", async () => {
    const reg = await proxy.register({ hostId: "laptop-8", profileId: "wifi", caName: "ndes", challengeRetrievedAt: Date.now() - 58 * 60_000 });
    const r = await scep(["enroll", "--url", reg.url, "--challenge", upstream.challenge, "--cn", "laptop-8", "--out", "laptop-8.pem"]);
    expect([r.code, r.stdout, r.stderr]).toEqual([ExitCode.TRANSPORT, "", spent(`PKIOperation: HTTP 400 (${REPLY_TEXT.challenge_expired})`)]);
  }, 120_000);
});

describe("a proxy URL that is superseded or unreadable, and a proxy whose CA is down (example proxy, real processes)", () => {
  it("a profile registered again: the earlier URL says to use the latest one (challenge superseded); the latest enrolls", async () => {
    const first = await proxy.register({ hostId: "laptop-9", profileId: "wifi", caName: "corp" });
    const latest = await proxy.register({ hostId: "laptop-9", profileId: "wifi", caName: "corp" });
    const enroll = (url: string) => scep(["enroll", "--url", url, "--challenge", upstream.challenge, "--cn", "laptop-9", "--out", "laptop-9.pem"]);
    const old = await enroll(first.url);
    expect([old.code, old.stdout, old.stderr]).toEqual([ExitCode.TRANSPORT, "", `scep: PKIOperation: HTTP 400 (${REPLY_TEXT.challenge_superseded}): ${CHECK_PROXY_SUPERSEDED}\n`]);
    expect((await enroll(latest.url)).code).toBe(0);
  }, 120_000);

  it("a URL whose identifier the proxy cannot read (cut short: one field) says to use the whole URL from the MDM, not to check the path", async () => {
    const reg = await proxy.register({ hostId: "laptop-10", profileId: "wifi", caName: "corp" });
    const cut = reg.url.slice(0, reg.url.indexOf(",wifi"));
    const r = await scep(["getcacaps", "--url", cut]);
    expect([r.code, r.stdout, r.stderr]).toEqual([ExitCode.TRANSPORT, "", `scep: GetCACaps: HTTP 400 (${REPLY_TEXT.invalid_identifier}): ${CHECK_PROXY_IDENTIFIER}\n`]);
  }, 120_000);

  it("the proxy's CA is down (502 upstream failed): says the proxy could not reach its CA, to retry later or tell the operator, not to check the path", async () => {
    const reg = await proxy.register({ hostId: "laptop-11", profileId: "wifi", caName: "down" });
    const r = await scep(["getcacaps", "--url", reg.url]);
    expect([r.code, r.stdout, r.stderr]).toEqual([ExitCode.TRANSPORT, "", `scep: GetCACaps: HTTP 502 (${REPLY_TEXT.upstream_failed}): ${CHECK_PROXY_UPSTREAM}\n`]);
  }, 120_000);
});

describe("which bodies of the proxy get which hint", () => {
  // Every fixed body the proxy answers 400 with: those about the identifier, profile or challenge get the new-URL
  // hint (a superseded URL and an unreadable identifier their own); the rest keep the hint they had (the path, for
  // the first GETs; none for PKIOperation).
  const spentReasons = new Set(["unknown_identifier", "challenge_failed", "challenge_expired"]);
  const own: Record<string, string> = { challenge_superseded: CHECK_PROXY_SUPERSEDED, invalid_identifier: CHECK_PROXY_IDENTIFIER };
  it.each(Object.entries(REPLY_TEXT))("%s", (reason, text) => {
    for (const operation of ["GetCACaps", "PKIOperation"]) {
      const error = new TransportError(`${operation}: HTTP 400 (${text})`);
      Object.assign(error, { status: 400, operation }); // as ScepClient sets them
      const hint = spentReasons.has(reason) ? `: ${CHECK_PROXY_URL}` : own[reason] ? `: ${own[reason]}` : operation === "GetCACaps" ? `: ${CHECK_PATH}` : "";
      expect(describeError(error)).toEqual({ message: `${operation}: HTTP 400 (${text})${hint}`, exitCode: ExitCode.TRANSPORT });
    }
  });

  it("502 upstream failed and 504 upstream timed out: the proxy could not reach its CA, for any operation (after a PKIOperation: the URL may be spent); another 502 or 504 body keeps the server hint", () => {
    for (const [status, text] of [[502, REPLY_TEXT.upstream_failed], [504, REPLY_TEXT.upstream_timeout]] as const) {
      for (const operation of ["GetCACaps", "GetCACert", "PKIOperation"]) {
        const error = new TransportError(`${operation}: HTTP ${status} (${text})`);
        Object.assign(error, { status, operation });
        const spentToo = operation === "PKIOperation" ? '; if the retry gets "challenge failed", get a new URL from your MDM' : "";
        expect(describeError(error).message).toBe(`${operation}: HTTP ${status} (${text}): ${CHECK_PROXY_UPSTREAM}${spentToo}`);
      }
      const other = new TransportError(`GetCACaps: HTTP ${status} (Bad Gateway)`);
      Object.assign(other, { status, operation: "GetCACaps" });
      expect(describeError(other).message).toMatch(/: the server at --url is there but cannot answer now/);
    }
  });
  it("profile status is not pending, for every status", () => {
    for (const status of ["none", "verifying", "verified", "failed", "unknown"]) {
      const error = new TransportError(`GetCACert: HTTP 400 (${notPending(status).body})`);
      Object.assign(error, { status: 400, operation: "GetCACert" });
      expect(describeError(error).message).toBe(`GetCACert: HTTP 400 (profile status is not pending: ${status === "unknown" ? "unknown" : status}): ${CHECK_PROXY_URL}`);
    }
  });
});
