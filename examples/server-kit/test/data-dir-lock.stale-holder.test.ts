// <data-dir>/server.lock left by a server killed with SIGKILL, whose pid now names another running process (a
// container restarted on a kept volume gives its new processes the same small pids): stale, taken over, not "in use
// by another server" for as long as that pid runs. A lock naming a process that still runs (pid and start time) is
// refused as before. Linux only (/proc/<pid>/stat); a real process (sleep) holds the pid.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { processStartTime } from "@scep-examples/embedded-ca";
import { LOCK_FILE, lockDataDir } from "../src/data-dir-lock.js";
import { otherProcess } from "../../embedded-ca/test/helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "scep-server-lock-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const lockLine = (pid: number, started: string): string => `${JSON.stringify({ pid, host: hostname(), startedAt: "2026-11-30T22:00:00.000Z", started })}\n`;

describe.skipIf(!existsSync("/proc/self/stat"))("server.lock naming a pid that another process now has", () => {
  it("a killed server's lock whose pid now runs a process started at another time is taken over", async () => {
    const dataDir = join(tmp, "reused");
    const { pid, started } = await otherProcess();
    lockDataDir(dataDir).release(); // creates the directory
    writeFileSync(join(dataDir, LOCK_FILE), lockLine(pid, String(BigInt(started) - 1n)));
    const lock = lockDataDir(dataDir);
    const holder = JSON.parse(readFileSync(lock.path, "utf8")) as { pid: number; started?: string };
    expect([holder.pid, holder.started]).toEqual([process.pid, processStartTime(process.pid)]);
    lock.release();
    expect(existsSync(lock.path)).toBe(false);
  });

  it("a lock whose process runs (same pid, same start time) is refused, naming that pid", async () => {
    const dataDir = join(tmp, "live");
    const { pid, started } = await otherProcess();
    lockDataDir(dataDir).release();
    writeFileSync(join(dataDir, LOCK_FILE), lockLine(pid, started));
    expect(() => lockDataDir(dataDir)).toThrow(new RegExp(`is in use by another server \\(pid ${pid}, since 2026-11-30T22:00:00.000Z;`));
    expect(JSON.parse(readFileSync(join(dataDir, LOCK_FILE), "utf8"))).toMatchObject({ pid, started });
  });
});
