// Mutual exclusion of the data directory's locks (src/file-lock.ts: ca.crl.lock, crl-numbers.lock, and server-kit's
// server.lock.guard through withFileLockSync) when several processes find one stale lock at once: at most one of them
// takes it over. Real processes race (test/fixtures/lock-racer.ts): each takes the lock many times, checks nobody
// else holds it, and leaves a stale lock behind, so most rounds are takeovers with several takers. Before a takeover
// removed only the stale holder's own file, a taker could move a fresh holder's lock aside and a third process take
// the lock beside it (tens of overlaps in 1000 rounds).
import { spawn } from "node:child_process";
import { linkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { withFileLock } from "../src/file-lock.js";
import { packageDir, tempDir } from "./helpers.js";

interface Raced {
  overlaps: number;
  planted: number;
}

function racer(dir: string, rounds: number, mode: "async" | "sync"): Promise<Raced> {
  const args = ["--import", "tsx", join(packageDir, "test", "fixtures", "lock-racer.ts"), join(dir, "x.lock"), join(dir, "holding"), String(rounds), mode];
  const child = spawn(process.execPath, args, { cwd: packageDir, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  return new Promise((resolve, reject) => child.on("close", (code) => (code === 0 ? resolve(JSON.parse(out) as Raced) : reject(new Error(`racer exited ${code}: ${err}`)))));
}

describe("lock files: several processes taking over one stale lock", () => {
  for (const mode of ["async", "sync"] as const) {
    it(`${mode === "async" ? "withFileLock" : "withFileLockSync"}: at most one of five processes holds the lock at a time, over hundreds of takeovers`, async () => {
      const dir = tempDir("file-lock-race-");
      const results = await Promise.all(Array.from({ length: 5 }, () => racer(dir, 200, mode)));
      expect(results.map((r) => r.overlaps)).toEqual([0, 0, 0, 0, 0]);
      // Most of the 1000 takes found a stale lock to take over (the others found it released, or live and waited).
      expect(results.reduce((sum, r) => sum + r.planted, 0)).toBeGreaterThan(300);
    }, 120_000);
  }

  it("withFileLock: at most one of eight callers in one process holds the lock at a time (a fresh lock of this process is live from the moment it stands at its path)", async () => {
    const dir = tempDir("file-lock-race-");
    const lock = join(dir, "x.lock");
    writeFileSync(join(dir, "stale"), `${JSON.stringify({ pid: 0, host: hostname(), nonce: "0000000000000000" })}\n`);
    let holding = 0;
    let overlaps = 0;
    const caller = async (): Promise<void> => {
      for (let round = 0; round < 50; round++) {
        await withFileLock(lock, async () => {
          holding += 1;
          if (holding > 1) overlaps += 1;
          await new Promise((resolve) => setTimeout(resolve, 1));
          holding -= 1;
        });
        try {
          linkSync(join(dir, "stale"), lock);
        } catch {
          /* taken meanwhile */
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, caller));
    expect(overlaps).toBe(0);
  }, 60_000);
});
