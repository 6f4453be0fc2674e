/**
 * `pnpm scep` as users run it, from a directory inside the repository
 * (corepack only runs this workspace's pnpm there): the root script (`pnpm -w
 * scep`, what `pnpm scep` runs from the root or any directory outside a
 * package) and the cli package's own (what `pnpm scep` runs inside
 * examples/cli). pnpm runs each in its package directory; relative paths must
 * still resolve against the user's directory (INIT_CWD), and exit codes must
 * come through pnpm unchanged.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { Certificate } from "@scep/core";
import { freeStablePort } from "../../../test-support/peers";
import { startFakeScepServer } from "./support/fake-scep-server";
import { runCommand } from "../../../test-support/peers";
import { CLI_DIR, REPO_ROOT, runPnpmScep } from "./support/run-cli";

const scratch = mkdtempSync(join(CLI_DIR, "test", ".scratch-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const SCRIPTS = [
  ["root script (pnpm -w scep)", true],
  ["package script", false],
] as const;

it.each(SCRIPTS)("%s writes --out relative to the directory pnpm was run from", async (_, root) => {
  const server = await startFakeScepServer("pending");
  try {
    const r = await runPnpmScep(["getcacert", "--url", server.url, "--out", "ca-from-pnpm.pem"], { cwd: scratch, root });
    expect(r.code, r.stderr).toBe(0);
    // -s keeps pnpm's own banner off stdout
    expect(r.stdout.startsWith("O=scep-sdk tests, CN=Fake SCEP CA (CA, encrypt requests to)\n")).toBe(true);
    expect(r.stdout.endsWith(`wrote 1 certificate to ${join(scratch, "ca-from-pnpm.pem")}\n`)).toBe(true);
    expect(new Uint8Array(Certificate.from(readFileSync(join(scratch, "ca-from-pnpm.pem"), "utf8")).der)).toEqual(new Uint8Array(Certificate.from(server.ca.certPem).der));
    rmSync(join(scratch, "ca-from-pnpm.pem"));
    expect(existsSync(join(REPO_ROOT, "ca-from-pnpm.pem"))).toBe(false);
    expect(existsSync(join(CLI_DIR, "ca-from-pnpm.pem"))).toBe(false);
  } finally {
    await server.close();
  }
});

it.each(SCRIPTS)("%s passes exit codes through pnpm (64 usage, 4 connection refused)", async (_, root) => {
  const usage = await runPnpmScep(["enroll", "--url", "http://127.0.0.1:9/scep"], { cwd: scratch, root });
  expect(usage.code).toBe(64);
  expect(usage.stderr.split("\n")[0]).toBe("scep: enroll: --cn is required");
  const port = await freeStablePort(); // no listen(0) elsewhere can be given it (see freeStablePort)
  const refused = await runPnpmScep(["getcacaps", "--url", `http://127.0.0.1:${port}/scep`], { cwd: scratch, root });
  expect(refused.code).toBe(4);
  expect(refused.stderr).toContain(`scep: GetCACaps: connection refused by 127.0.0.1:${port} (ECONNREFUSED): is the SCEP server running at http://127.0.0.1:${port}/scep?\n`);
});

// The PENDING hint is a command the user can paste where they typed theirs: through pnpm it starts with the pnpm
// command that reaches this script from that directory (the package's own script: `pnpm -s scep`; the root script
// from a package without one: `pnpm -w -s scep`), not with a bare `scep` that a clone has no bin for.
it.each(SCRIPTS)("%s prints a PENDING poll-again command that runs as printed (RFC 8894 §3.3.3)", async (_, root) => {
  const server = await startFakeScepServer("pending");
  try {
    const dir = mkdtempSync(join(scratch, "pending-"));
    const r = await runPnpmScep(["enroll", "--url", server.url, "--challenge", "pw", "--cn", "d", "--out", "c.pem", "--max-poll", "0", "--key-out", "d.key"], { cwd: dir, root });
    expect(r.code, r.stderr).toBe(3);
    const tid = server.requests[0]!.request.transactionId;
    const program = root ? "pnpm -w -s scep" : "pnpm -s scep";
    const command = `${program} enroll --url ${server.url} --challenge <challenge> --cn d --out c.pem --max-poll 0 --key d.key`;
    expect(r.stderr).toBe(`PENDING: transaction ${tid} is still pending\nkey saved to ${join(dir, "d.key")}; poll again with: ${command}\n`);
    // pasted into a shell in the same directory (with the challenge filled in), it polls the same transaction
    const again = await runCommand("sh", ["-c", command.replace("<challenge>", "pw")], { cwd: dir, env: { INIT_CWD: undefined, npm_lifecycle_event: undefined, NODE_OPTIONS: undefined }, timeoutMs: 60_000 });
    expect(again.code, again.stderr).toBe(3);
    expect(again.stderr).toBe(`PENDING: transaction ${tid} is still pending; run the command again with the same key to poll\n`);
    expect(server.requests[1]!.request.transactionId).toBe(tid);
  } finally {
    await server.close();
  }
});
