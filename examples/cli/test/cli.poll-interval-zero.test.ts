/**
 * `--poll-interval 0` against a CA that stays PENDING (a request awaiting an operator's approval, RFC 8894 §3.3.3).
 * The polling budget (`--max-poll`) counts intervals, so with an interval of 0 it never ran out: the CLI sent CertPolls
 * back to back without end and never exited, `--max-poll` notwithstanding. Now `--poll-interval` must be above 0 (at
 * least 1 ms), a usage error before anything is sent; a small interval still polls and stops at `--max-poll`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect } from "vitest";
import { startFakeScepServer } from "./support/fake-scep-server";
import { runCli } from "./support/run-cli";
import { it } from "./support/test-owned";

const root = mkdtempSync(join(tmpdir(), "scep-cli-poll-interval-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("--poll-interval 0 against a CA that stays PENDING", () => {
  it("is a usage error (exit 64) before anything is sent, not CertPolls without end", async ({ owned }) => {
    const server = await owned(startFakeScepServer("pending"));
    const cwd = mkdtempSync(join(root, "zero-"));
    const r = await runCli(["enroll", "--url", server.url, "--challenge", "pw", "--cn", "d", "--out", "c.pem", "--poll-interval", "0", "--max-poll", "1"], { cwd, timeoutMs: 15_000 });
    expect([r.code, r.stderr]).toEqual([64, 'scep: enroll: --poll-interval must be a number from 0.001 to 2147483, got "0"\nTry "scep enroll --help".\n']);
    expect(server.requests).toEqual([]);
  });

  it("a 1 ms interval polls and gives up at --max-poll: exit 3", async ({ owned }) => {
    const server = await owned(startFakeScepServer("pending"));
    const cwd = mkdtempSync(join(root, "small-"));
    const r = await runCli(["enroll", "--url", server.url, "--challenge", "pw", "--cn", "d", "--out", "c.pem", "--key-out", "d.key", "--poll-interval", "0.001", "--max-poll", "0.003"], { cwd, timeoutMs: 15_000 });
    expect(r.code, r.stderr).toBe(3);
    expect(server.requests.map((q) => q.request.messageTypeName)).toEqual(["PKCSReq", "CertPoll", "CertPoll", "CertPoll"]);
  });
});
