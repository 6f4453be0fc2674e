/**
 * `<data-dir>/server.lock` names the store of the servers holding it: any number of servers sharing one store (the
 * same Redis URL host, port and db, the same key prefix) may share a data directory; a server with another store, a
 * file-backed one or another Redis, is refused with one line and exit 2 while one of them runs (its revocations would
 * split from theirs: a certificate revoked through one renews through the others, and the shared ca.crl would get two
 * CRL-number sequences). Both ways round, and for a --workers primary too. Real processes and a real redis-server
 * whose password is in the URL and never in the lock file or a line; a lock left by killed replicas is taken over;
 * starts at the same moment with different stores never both win.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freeStablePort, startRedisServer, type RedisServer } from "../../../test-support/peers";
import { TrackedExamples } from "../../server-kit/test/support/example-process.js";

const EXAMPLE_DIR = new URL("..", import.meta.url).pathname;
const KIT_DIR = new URL("../../server-kit/", import.meta.url).pathname;
const PASSWORD = "lock-test-redis-pw-5f1e";
const tmp = mkdtempSync(join(tmpdir(), "scep-data-dir-lock-stores-"));
const examples = new TrackedExamples(EXAMPLE_DIR);
let redis: RedisServer;
let url: string;
let store: string;

beforeAll(async () => {
  redis = await startRedisServer();
  expect(await redis.command(`CONFIG SET requirepass ${PASSWORD}`)).toBe("+OK");
  url = `redis://:${PASSWORD}@127.0.0.1:${redis.port}`;
  store = `redis://127.0.0.1:${redis.port}/0 keys scep:*`;
}, 60_000);
afterAll(async () => {
  await examples.terminateAll();
  await redis?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const env = (dataDir: string, extra: Record<string, string> = {}): Record<string, string> => ({ SCEP_DATA_DIR: dataDir, SCEP_CHALLENGE: "lock-test-challenge", ...extra });
const start = (dataDir: string, extra?: Record<string, string>) => examples.start(env(dataDir, extra));
interface Lock {
  pid: number;
  store: string;
  holders: { pid: number }[];
}
const lockFile = (dataDir: string): string => readFileSync(join(dataDir, "server.lock"), "utf8");
const lock = (dataDir: string): Lock => JSON.parse(lockFile(dataDir)) as Lock;
/** A start on `dataDir` that is expected to exit: its exit and its stderr lines. */
const refused = async (dataDir: string, extra?: Record<string, string>) => {
  const proc = examples.launch(env(dataDir, extra));
  const exit = await proc.exited;
  return { code: exit.code, lines: proc.errLines.filter((l) => l !== ""), out: proc.lines.join("\n") };
};
const since = "since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z";
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

describe("servers share a data directory only when they share a store", () => {
  it("two Redis replicas share it; a file-backed start, a --workers one and one on another Redis are refused naming the replicas' store; no password anywhere", async () => {
    const dataDir = join(tmp, "replicas");
    const a = await start(dataDir, { SCEP_REDIS_URL: url });
    const b = await start(dataDir, { SCEP_REDIS_URL: url });
    expect(lock(dataDir).store).toBe(store);
    expect(lock(dataDir).holders.map((h) => h.pid)).toEqual([a.proc.child.pid, b.proc.child.pid]);
    expect(lockFile(dataDir)).not.toContain(PASSWORD);

    const pids = `(${a.proc.child.pid}|${b.proc.child.pid})`;
    const files = await refused(dataDir);
    expect([files.code, files.lines.length]).toEqual([2, 1]);
    expect(files.lines[0]).toMatch(
      new RegExp(
        `^express-server: the data directory ${esc(dataDir)} is in use by another server \\(pid ${pids}, ${since}, Redis ${esc(store)}; ${esc(join(dataDir, "server.lock"))}\\): ` +
          "stop it or give another --data-dir; servers share a data directory only through the same Redis \\(this one: no --redis-url\\)$",
      ),
    );
    expect(existsSync(join(dataDir, "revocations.jsonl"))).toBe(false); // it never opened a store of its own

    const workers = await refused(dataDir, { SCEP_WORKERS: "2", SCEP_KEY_WORKERS: "0" });
    expect([workers.code, workers.lines.length]).toEqual([2, 1]);
    expect(workers.lines[0]).toContain(`Redis ${store}; `);

    const otherPort = await freeStablePort();
    const other = await refused(dataDir, { SCEP_REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${otherPort}/0?password=${PASSWORD}` });
    expect([other.code, other.lines.length]).toEqual([2, 1]);
    expect(other.lines[0]).toContain(`(this one: Redis redis://127.0.0.1:${otherPort}/0 keys scep:*)`);
    for (const r of [files, workers, other]) expect(r.lines.join("\n") + r.out).not.toContain(PASSWORD);

    // The replicas serve on; the lock follows them out.
    expect((await fetch(`${b.base}/scep?operation=GetCACaps`)).status).toBe(200);
    expect(await a.proc.terminate()).toEqual({ code: 0, signal: null });
    expect(lock(dataDir).holders.map((h) => h.pid)).toEqual([b.proc.child.pid]);
    expect((await refused(dataDir)).code).toBe(2);
    expect(await b.proc.terminate()).toEqual({ code: 0, signal: null });
    expect(existsSync(join(dataDir, "server.lock"))).toBe(false);
    const after = await start(dataDir); // file-backed, now alone
    expect(lock(dataDir)).toMatchObject({ pid: after.proc.child.pid, store: "files" });
    expect(await after.proc.terminate()).toEqual({ code: 0, signal: null });
  }, 180_000);

  it("a Redis-backed start is refused while a file-backed server holds the directory (exit 2, one line naming its pid)", async () => {
    const dataDir = join(tmp, "files-first");
    const plain = await start(dataDir);
    const replica = await refused(dataDir, { SCEP_REDIS_URL: url });
    expect([replica.code, replica.lines.length]).toEqual([2, 1]);
    expect(replica.lines[0]).toMatch(
      new RegExp(
        `^express-server: the data directory ${esc(dataDir)} is in use by another server \\(pid ${plain.proc.child.pid}, ${since}, no --redis-url; ${esc(join(dataDir, "server.lock"))}\\): ` +
          `stop it or give another --data-dir; servers share a data directory only through the same Redis \\(this one: Redis ${esc(store)}\\)$`,
      ),
    );
    expect(replica.lines[0]).not.toContain(PASSWORD);
    expect(lock(dataDir).holders.map((h) => h.pid)).toEqual([plain.proc.child.pid]);
    expect(await plain.proc.terminate()).toEqual({ code: 0, signal: null });
  }, 120_000);

  it("replicas killed with SIGKILL leave a stale lock: a file-backed start takes it over", async () => {
    const dataDir = join(tmp, "killed");
    // Another CA than the first test's: its own key prefix on the one Redis (a prefix belongs to one CA).
    const a = await start(dataDir, { SCEP_REDIS_URL: url, SCEP_REDIS_KEY_PREFIX: "killed:" });
    const b = await start(dataDir, { SCEP_REDIS_URL: url, SCEP_REDIS_KEY_PREFIX: "killed:" });
    for (const r of [a, b]) {
      r.proc.child.kill("SIGKILL");
      expect((await r.proc.exited).signal).toBe("SIGKILL");
    }
    expect(lock(dataDir).holders).toHaveLength(2); // left behind
    const next = await start(dataDir);
    expect(lock(dataDir)).toMatchObject({ pid: next.proc.child.pid, store: "files", holders: [{ pid: next.proc.child.pid }] });
    expect(await next.proc.terminate()).toEqual({ code: 0, signal: null });
  }, 120_000);

  it("starts at the same moment with different stores: the winners all share one store, and a file-backed winner is alone", async () => {
    // Four processes per round take the lock at one instant (each spins until the same wall-clock time), report, and
    // hold it until killed: two file-backed, two of one Redis store (replicas).
    const contenders = ["files", "files", store, store];
    for (let round = 0; round < 4; round += 1) {
      const dataDir = join(tmp, `race-${round}`);
      const at = Date.now() + 4_000;
      const code = `
        import { lockDataDir } from "./src/data-dir-lock.ts";
        const [dir, store, at] = process.argv.slice(-3);
        while (Date.now() < Number(at)) {}
        try { lockDataDir(dir, store); console.log("won"); } catch (e) { console.log("lost " + e.message); }
        setInterval(() => {}, 1000);`;
      const procs = contenders.map((s) => spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code, "--", dataDir, s, String(at)], { cwd: KIT_DIR, stdio: ["ignore", "pipe", "inherit"] }));
      const outcomes = await Promise.all(
        procs.map(
          (p) =>
            new Promise<string>((resolve) => {
              let out = "";
              p.stdout!.setEncoding("utf8").on("data", (c: string) => {
                out += c;
                if (out.includes("\n")) resolve(out.trim());
              });
              p.once("exit", () => resolve(out.trim()));
            }),
        ),
      );
      const held = lock(dataDir);
      for (const p of procs) p.kill("SIGKILL");
      const winners = contenders.filter((_, i) => outcomes[i] === "won");
      expect(outcomes.every((o) => o === "won" || o.startsWith("lost the data directory"))).toBe(true);
      expect(winners.length).toBeGreaterThan(0);
      expect(new Set(winners).size).toBe(1);
      if (winners[0] === "files") expect(winners).toHaveLength(1);
      expect(held.store).toBe(winners[0]);
      expect(held.holders.map((h) => h.pid).sort()).toEqual(procs.filter((_, i) => outcomes[i] === "won").map((p) => p.pid).sort());
    }
  }, 120_000);
});
