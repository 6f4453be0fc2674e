/**
 * Two starts of the example server on one data directory (two processes, not --workers) without --redis-url: the
 * second is refused with one line naming the first one's pid, before it creates anything (each would keep its own
 * revocations and CRL numbers in memory and write <data-dir>/ca.crl over the other's). The lock is released on
 * SIGTERM, taken over from a process killed with SIGKILL, and held by a --workers primary for its workers. Replicas
 * of one Redis share it, and a server of another store is refused: example.data-dir-lock.stores.test.ts.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TrackedExamples } from "../../server-kit/test/support/example-process.js";

const EXAMPLE_DIR = new URL("..", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "scep-data-dir-lock-"));
const examples = new TrackedExamples(EXAMPLE_DIR);
afterAll(async () => {
  await examples.terminateAll();
  rmSync(tmp, { recursive: true, force: true });
});

const env = (dataDir: string, extra: Record<string, string> = {}): Record<string, string> => ({ SCEP_DATA_DIR: dataDir, SCEP_CHALLENGE: "lock-test-challenge", ...extra });
const start = (dataDir: string, extra?: Record<string, string>) => examples.start(env(dataDir, extra));
const holder = (dataDir: string): { pid: number } => JSON.parse(readFileSync(join(dataDir, "server.lock"), "utf8")) as { pid: number };
/** A second start on `dataDir`: its exit and its stderr lines. */
const refused = async (dataDir: string, extra?: Record<string, string>) => {
  const proc = examples.launch(env(dataDir, extra));
  const exit = await proc.exited;
  return { code: exit.code, lines: proc.errLines.filter((l) => l !== "") };
};
const message = (dataDir: string, pid: number): RegExp =>
  new RegExp(
    `^express-server: the data directory ${dataDir} is in use by another server \\(pid ${pid}, since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z; ${join(dataDir, "server.lock")}\\): ` +
      "stop it or give another --data-dir; servers share a data directory only through --redis-url \\(or run one with --workers N\\)$",
  );

describe("one server per data directory (without --redis-url)", () => {
  it("a second start is refused with one line naming the running one's pid, and creates nothing; after SIGTERM the next start gets it", async () => {
    const dataDir = join(tmp, "one");
    const first = await start(dataDir);
    expect(holder(dataDir).pid).toBe(first.proc.child.pid);
    const epochs = readdirSync(join(dataDir, "epochs"));

    const second = await refused(dataDir);
    expect(second.code).toBe(2);
    expect(second.lines).toHaveLength(1);
    expect(second.lines[0]).toMatch(message(dataDir, first.proc.child.pid!));
    expect(readdirSync(join(dataDir, "epochs"))).toEqual(epochs); // no serial epoch claimed: the CA was not opened
    expect((await fetch(`${first.base}/scep?operation=GetCACaps`)).status).toBe(200); // the first one serves on

    expect(await first.proc.terminate()).toEqual({ code: 0, signal: null });
    expect(existsSync(join(dataDir, "server.lock"))).toBe(false);
    const third = await start(dataDir);
    expect(holder(dataDir).pid).toBe(third.proc.child.pid);
    expect(await third.proc.terminate()).toEqual({ code: 0, signal: null });
  }, 120_000);

  it("the lock of a server killed with SIGKILL is stale: the next start takes it over", async () => {
    const dataDir = join(tmp, "killed");
    const killed = await start(dataDir);
    killed.proc.child.kill("SIGKILL");
    expect((await killed.proc.exited).signal).toBe("SIGKILL");
    expect(holder(dataDir).pid).toBe(killed.proc.child.pid); // left behind

    const next = await start(dataDir);
    expect(holder(dataDir).pid).toBe(next.proc.child.pid);
    expect(await next.proc.terminate()).toEqual({ code: 0, signal: null });
  }, 120_000);

  it("--workers 2: the primary holds it for its workers (both start and serve); another start is refused naming the primary", async () => {
    const dataDir = join(tmp, "workers");
    const cluster = await start(dataDir, { SCEP_WORKERS: "2", SCEP_KEY_WORKERS: "0" });
    expect((cluster.listening as unknown as { workers: unknown[] }).workers).toHaveLength(2);
    expect(holder(dataDir).pid).toBe(cluster.proc.child.pid);
    expect((await fetch(`${cluster.base}/scep?operation=GetCACaps`)).status).toBe(200);

    const second = await refused(dataDir);
    expect([second.code, second.lines.length]).toEqual([2, 1]);
    expect(second.lines[0]).toMatch(message(dataDir, cluster.proc.child.pid!));

    expect(await cluster.proc.terminate()).toEqual({ code: 0, signal: null });
    expect(existsSync(join(dataDir, "server.lock"))).toBe(false);
  }, 120_000);
});
