// A waiter for a data-directory lock (src/file-lock.ts) prepares its directory `<lock>.<nonce>.tmp` before it waits.
// One killed while waiting (kill -9, an OOM kill, a container stopped) left that directory for good: every such death
// added one to the data directory. Now a process's first take of a lock removes the ones whose holder is gone, and
// never one of a waiter that still runs (its rename would then fail and its CRL publication with it).
import { spawn } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { withFileLock } from "../src/file-lock.js";
import { packageDir, tempDir } from "./helpers.js";

function taker(lock: string): { kill(): void; waiting: Promise<void>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ["--import", "tsx", join(packageDir, "test", "fixtures", "lock-taker.ts"), lock], { cwd: packageDir, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let onWaiting: () => void = () => undefined;
  const waiting = new Promise<void>((resolve) => (onWaiting = resolve));
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
    if (out.includes("WAITING\n")) onWaiting();
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const exited = new Promise<number | null>((resolve) =>
    child.on("close", (code) => {
      if (code !== 0 && code !== null) process.stderr.write(`lock-taker: ${err}`);
      resolve(code);
    }),
  );
  return { kill: () => void child.kill("SIGKILL"), waiting: Promise.race([waiting, exited.then(() => Promise.reject(new Error(`lock-taker exited before waiting: ${err}`)))]), exited };
}

const prepared = (dir: string): string[] => readdirSync(dir).filter((n) => /^x\.lock\.[0-9a-f]{16}\.tmp$/.test(n)).sort();

describe("data-directory locks: prepared directories of waiters that died", () => {
  it("a waiter killed while waiting leaves its prepared directory; the next process's first take removes it, and not a live waiter's", async () => {
    const dir = tempDir("file-lock-leftover-");
    const lock = join(dir, "x.lock");
    const waiters: ReturnType<typeof taker>[] = [];
    await withFileLock(lock, async () => {
      // Killed while it waits for this holder: its prepared directory stays.
      const killed = taker(lock);
      await killed.waiting;
      const left = prepared(dir);
      expect(left).toHaveLength(1);
      killed.kill();
      expect(await killed.exited).toBeNull();
      // A live waiter, then a new process whose first take sweeps before it waits: the dead waiter's directory goes,
      // the live waiter's stays.
      waiters.push(taker(lock));
      await waiters[0]!.waiting;
      waiters.push(taker(lock));
      await waiters[1]!.waiting;
      const now = prepared(dir);
      expect(now).toHaveLength(2);
      expect(now).not.toContain(left[0]);
    });
    // Released: both take the lock in turn (the live waiter's rename still finds its directory).
    expect(await Promise.all(waiters.map((w) => w.exited))).toEqual([0, 0]);
    expect(prepared(dir)).toEqual([]);
  }, 60_000);

  it("a temporary lock file an earlier version left (x.lock.<nonce>.tmp, its holder gone) is removed by the first take; one of a live holder stays", async () => {
    const dir = tempDir("file-lock-leftover-");
    const gone = "x.lock.00000000000000aa.tmp";
    const running = "x.lock.00000000000000bb.tmp";
    writeFileSync(join(dir, gone), `${JSON.stringify({ pid: 0, host: hostname(), nonce: "00000000000000aa" })}\n`);
    writeFileSync(join(dir, running), `${JSON.stringify({ pid: process.ppid, host: hostname(), nonce: "00000000000000bb" })}\n`);
    await withFileLock(join(dir, "x.lock"), async () => undefined);
    expect(prepared(dir)).toEqual([running]);
  });
});
