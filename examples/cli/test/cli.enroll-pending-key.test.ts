/**
 * `scep enroll` keeps its generated key from the CA's first PENDING answer on (RFC 8894 §3.3.3: the transaction is
 * the key's, and only a request for that key polls it): whatever ends the polling (an HTTP 503 while Redis hangs, a
 * SIGINT) leaves the key file, mode 0600, and stderr names it with the command that polls again; that command,
 * run once an operator approved the request, gets the certificate. Against the real Express example server with
 * `SCEP_PENDING=true`, its transactions in a real redis-server that the test pauses (SIGSTOP) for the 503.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Certificate, importKeyPairPem } from "@scep/core";
import { startRedisServer, type RedisServer } from "../../../test-support/peers";
import { ExampleProcess, TrackedExamples } from "../../server-kit/test/support/example-process.js";
import { CLI_DIR, runCli } from "./support/run-cli";

const EXPRESS_DIR = fileURLToPath(new URL("../../express-server", import.meta.url));
const CHALLENGE = "pending-key-challenge-0123";
const ADMIN_TOKEN = "pending-key-admin-token-0123456789";

const tmp = mkdtempSync(join(tmpdir(), "scep-cli-pending-key-"));
const examples = new TrackedExamples(EXPRESS_DIR);
let redis: RedisServer;
let url: string;
let admin: string;
/** The CLI processes started, stopped in afterAll if a failed test left one polling. */
const clis: ExampleProcess[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  const started = await examples.start({ SCEP_DATA_DIR: join(tmp, "data"), SCEP_CHALLENGE: CHALLENGE, SCEP_PENDING: "true", SCEP_ADMIN_TOKEN: ADMIN_TOKEN, SCEP_REDIS_URL: redis.url });
  url = `${started.base}/scep`;
  admin = `${started.base}/admin/scep`;
}, 120_000);
afterAll(async () => {
  await Promise.all(clis.map((p) => p.terminate()));
  await examples.terminateAll();
  await redis?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** `scep enroll` as a child process (node + tsx, like the installed bin), polling every second for up to an hour. */
function startEnroll(dir: string, cn: string): { proc: ExampleProcess; args: string[] } {
  const args = ["enroll", "--url", url, "--challenge", CHALLENGE, "--cn", cn, "--out", join(dir, "cert.pem"), "--poll-interval", "1", "--max-poll", "3600"];
  const proc = new ExampleProcess(CLI_DIR, {}, args);
  clis.push(proc);
  return { proc, args };
}

/**
 * The line the CLI prints at the first PENDING (the transactionID, the key path and the poll command), looked for once
 * the first "polling again" line is there: the key is saved before the first wait.
 */
async function firstPending(proc: ExampleProcess): Promise<{ transactionId: string; keyPath: string; command: string }> {
  await proc.waitForLine((l) => /^PENDING: transaction \S+; polling again in 1 s$/.test(l), { stderr: true });
  const line = proc.errLines.find((l) => l.includes(": key saved to ")) ?? "";
  const m = /^PENDING: transaction (\S+): key saved to (\S+); if polling stops before the certificate comes, poll again with: (.*)$/.exec(line);
  expect(m, proc.stderr).not.toBeNull();
  expect(existsSync(m![2]!)).toBe(true);
  return { transactionId: m![1]!, keyPath: m![2]!, command: m![3]! };
}

/** What `scep enroll … --key KEY` printed as the command to poll again: the same options, --key instead of a new key. */
function expectedPollCommand(args: readonly string[], keyPath: string): string {
  return ["scep", ...args.map((a) => (a === CHALLENGE ? "<challenge>" : a)), "--key", keyPath].join(" ");
}

async function approve(transactionId: string): Promise<void> {
  const res = await fetch(`${admin}/approve`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ transactionId }) });
  expect(res.status, await res.clone().text()).toBe(200);
}

/** Runs the printed poll command (its `<challenge>` put back) and expects the certificate for the saved key. */
async function pollAgain(command: string, keyPath: string, dir: string): Promise<void> {
  const argv = command.split(" ").slice(1).map((a) => (a === "<challenge>" ? CHALLENGE : a));
  const r = await runCli(argv, { cwd: dir });
  expect(r.code, r.stderr).toBe(0);
  const cert = Certificate.fromPem(readFileSync(join(dir, "cert.pem"), "utf8"))[0]!;
  const keys = await importKeyPairPem(readFileSync(keyPath, "utf8"));
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  expect(Buffer.from(cert.spki).equals(Buffer.from(spki))).toBe(true);
}

describe("scep enroll against a PENDING CA: the key is saved before polling", () => {
  it("a 503 while polling (Redis hangs) leaves the key file, and the message names it; the printed command then gets the certificate once approved", async () => {
    const dir = mkdtempSync(join(tmp, "503-"));
    const { proc, args } = startEnroll(dir, "pending-503");
    const first = await firstPending(proc);
    expect(first.keyPath).toBe(join(dir, "cert.key"));
    expect(first.command).toBe(expectedPollCommand(args, join(dir, "cert.key")));
    expect(statSync(first.keyPath).mode & 0o777).toBe(0o600);

    await redis.pause();
    let exit;
    try {
      exit = await proc.exited;
    } finally {
      redis.resume();
    }
    expect(exit.code, proc.stderr).toBe(4);
    const last = proc.stderr.trimEnd().split("\n").slice(-2);
    expect(last[0]).toMatch(/^scep: PKIOperation: HTTP 503 \(/);
    // The first line does not tell to run the same command again (a new key, a new request): the poll command below.
    expect(last[0]).toMatch(/: poll again (later|in \d+ s) with the command below$/);
    expect(last[1]).toBe(`key saved to ${first.keyPath}: transaction ${first.transactionId} is pending for it; to poll again, run this instead of the same command (which would make a new key, a new request): ${first.command}`);
    expect(existsSync(first.keyPath)).toBe(true);
    expect(statSync(first.keyPath).mode & 0o777).toBe(0o600);
    expect(existsSync(join(dir, "cert.pem"))).toBe(false);

    await approve(first.transactionId);
    await pollAgain(first.command, first.keyPath, dir);
  }, 120_000);

  it("SIGINT while polling leaves the key file and says how to poll again; the printed command gets the certificate once approved", async () => {
    const dir = mkdtempSync(join(tmp, "sigint-"));
    const { proc } = startEnroll(dir, "pending-sigint");
    const first = await firstPending(proc);
    proc.child.kill("SIGINT");
    const exit = await proc.exited;
    expect(exit.signal, proc.stderr).toBe("SIGINT");
    expect(proc.stderr.trimEnd().split("\n").at(-1)).toBe(
      `scep: interrupted (SIGINT): key saved to ${first.keyPath}: transaction ${first.transactionId} is pending for it; to poll again, run this instead of the same command (which would make a new key, a new request): ${first.command}`,
    );
    expect(statSync(first.keyPath).mode & 0o777).toBe(0o600);

    await approve(first.transactionId);
    await pollAgain(first.command, first.keyPath, dir);
  }, 120_000);
});
