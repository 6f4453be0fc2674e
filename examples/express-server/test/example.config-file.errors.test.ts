/**
 * The example server refuses a configuration file it cannot serve with one
 * line on stderr naming the file and the field, and exit 2, before it serves: a field the
 * schema refuses, a client secret whose variable is not set (the line names
 * the variable, never a value), a trust-anchor bundle that cannot be read.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ExampleProcess, startExample } from "../../server-kit/test/support/example-process.js";
import { EXAMPLE_DIR } from "./support/intune-example.js";

const tmp = mkdtempSync(join(tmpdir(), "scep-config-errors-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Starts the example with `profiles` in a config file; its exit and stderr. */
async function start(name: string, profiles: unknown[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string; file: string }> {
  const file = join(tmp, `${name}.json`);
  writeFileSync(file, JSON.stringify({ profiles }));
  const proc = new ExampleProcess(EXAMPLE_DIR, { SCEP_DATA_DIR: join(tmp, name), SCEP_CONFIG: file, ...env });
  const { code } = await proc.exited;
  return { code, stderr: proc.stderr, file };
}

describe("a configuration file the server cannot serve: one line naming the file and the field, exit 2", () => {
  it("a field the schema refuses", async () => {
    const r = await start("schema", [{ path: "/scep" }, { path: "/intune", intune: { mode: "api", clientId: "c", clientSecretEnv: "INTUNE_CLIENT_SECRET" } }]);
    expect([r.code, r.stderr]).toEqual([2, `express-server: ${r.file}: profiles[1].intune.tenantId: required\n`]);
  });

  it("a client secret whose variable is not set (named, no value anywhere)", async () => {
    const r = await start("secret", [{ path: "/intune", intune: { mode: "api", tenantId: "t", clientId: "c", clientSecretEnv: "INTUNE_SECRET_NOT_SET" } }], { INTUNE_SECRET_NOT_SET: "" });
    expect([r.code, r.stderr]).toEqual([2, `express-server: ${r.file}: profiles[0].intune.clientSecretEnv: the environment variable INTUNE_SECRET_NOT_SET is not set\n`]);
  });

  it("a trust-anchor bundle that cannot be read", async () => {
    const r = await start("anchors", [{ path: "/mdm", intune: { mode: "signed-token", trustAnchors: "missing-anchors.pem" } }]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^express-server: ${r.file.replaceAll("/", "\\/")}: profiles\\[0\\]\\.intune\\.trustAnchors: .*${join(tmp, "missing-anchors.pem").replaceAll("/", "\\/")}.*\\n$`));
    expect(r.stderr.split("\n")).toHaveLength(2);
  });

  it("a start that fails after generating the challenge leaves no challenge file (so the next start generates one and shows it)", async () => {
    const r = await start("late", [{ path: "/scep" }, { path: "/lab", challengePasswordEnv: "LAB_CHALLENGE_NOT_SET" }], { LAB_CHALLENGE_NOT_SET: "" });
    expect([r.code, r.stderr]).toEqual([2, `express-server: ${r.file}: profiles[1].challengePasswordEnv: the environment variable LAB_CHALLENGE_NOT_SET is not set\n`]);
    expect(existsSync(join(tmp, "late", "challenge"))).toBe(false);
  });

  it("with --workers 2, workers that refuse the file: one line, exit 2, and no challenge file the primary generated", async () => {
    const r = await start("late-workers", [{ path: "/scep" }, { path: "/lab", challengePasswordEnv: "LAB_CHALLENGE_NOT_SET" }], { LAB_CHALLENGE_NOT_SET: "", SCEP_WORKERS: "2" });
    expect([r.code, r.stderr]).toEqual([2, `express-server: ${r.file}: profiles[1].challengePasswordEnv: the environment variable LAB_CHALLENGE_NOT_SET is not set\n`]);
    expect(existsSync(join(tmp, "late-workers", "challenge"))).toBe(false);
  });
});

describe("--workers 2, running, then the file is edited badly and a worker crashes", () => {
  it("the restarted worker that refuses the file is a crash (restarted with backoff): the cluster keeps serving and keeps its challenge", async () => {
    const file = join(tmp, "running.json");
    const challengeFile = join(tmp, "running", "challenge");
    const good = [{ path: "/scep" }];
    writeFileSync(file, JSON.stringify({ profiles: good }));
    const { proc, base } = await startExample(EXAMPLE_DIR, { SCEP_DATA_DIR: join(tmp, "running"), SCEP_CONFIG: file, SCEP_WORKERS: "2", LAB_CHALLENGE_NOT_SET: "" });
    try {
      const challenge = readFileSync(challengeFile, "utf8").trim();
      expect(proc.banner("profile /scep")).toContain(challenge);
      const worker1 = await proc.waitForJson("worker-listening", (e) => e.worker === 1);
      writeFileSync(file, JSON.stringify({ profiles: [...good, { path: "/lab", challengePasswordEnv: "LAB_CHALLENGE_NOT_SET" }] }));
      process.kill(worker1.pid as number, "SIGKILL");
      const failed = await proc.waitForJson("worker-start-failed", (e) => e.worker === 1);
      expect(failed.message).toBe(`${file}: profiles[1].challengePasswordEnv: the environment variable LAB_CHALLENGE_NOT_SET is not set`);
      const exit = await proc.waitForJson("worker-exit", (e) => e.worker === 1 && e.pid === failed.pid);
      expect([exit.code, typeof exit.restartInMs]).toEqual([2, "number"]);
      // The primary and worker 2 keep serving, with the challenge every device was configured with.
      expect(proc.child.exitCode).toBeNull();
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect(readFileSync(challengeFile, "utf8").trim()).toBe(challenge);
      expect(proc.stderr).not.toContain("LAB_CHALLENGE_NOT_SET");
      // The file mended: the next restart listens again.
      writeFileSync(file, JSON.stringify({ profiles: good }));
      const back = await proc.waitForJson("worker-listening", (e) => e.worker === 1 && e.pid !== worker1.pid && e.pid !== failed.pid);
      expect(typeof back.pid).toBe("number");
      expect(readFileSync(challengeFile, "utf8").trim()).toBe(challenge);
      expect((await proc.terminate()).code).toBe(0);
    } finally {
      await proc.terminate();
    }
  }, 120_000);
});
