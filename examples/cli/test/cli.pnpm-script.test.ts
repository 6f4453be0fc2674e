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
import { freePort } from "../../../test-support/peers";
import { startFakeScepServer } from "./support/fake-scep-server";
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
  const port = await freePort();
  const refused = await runPnpmScep(["getcacaps", "--url", `http://127.0.0.1:${port}/scep`], { cwd: scratch, root });
  expect(refused.code).toBe(4);
  expect(refused.stderr).toContain(`scep: GetCACaps: connection refused (connect ECONNREFUSED 127.0.0.1:${port})\n`);
});
