// The lock files of a data directory (crl-numbers.lock, ca.crl.lock) after a crash: a lock left by a process that
// is gone is taken over, even when its pid now names another running process (a container restarted on a kept
// volume gives its new processes the same small pids), while a lock whose holder still runs is waited for.
// Linux only (/proc/<pid>/stat names a process by pid and start time); a real process (sleep) holds the reused pid.
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CRL_NUMBERS_FILE, FileRevocationStore, openFileCa, processRuns, processStartTime } from "../src/index.js";
import { otherProcess, tempDir, zombieProcess } from "./helpers.js";

const lockLine = (pid: number, started: string): string => `${JSON.stringify({ pid, host: hostname(), nonce: "0123456789abcdef", started })}\n`;

describe.skipIf(!existsSync("/proc/self/stat"))("data-directory lock files: a crashed holder's pid reused by a running process", () => {
  it("processStartTime names this process and a child by their start time, and a pid that runs nothing by undefined; processRuns tells the child from a crashed holder of its pid", async () => {
    const own = processStartTime(process.pid);
    expect(own).toMatch(/^\d+$/);
    const { pid, started } = await otherProcess();
    expect(BigInt(started) >= BigInt(own!)).toBe(true); // the child started after this process
    expect(processStartTime(2 ** 22 + 1)).toBeUndefined(); // above Linux's pid_max
    expect([processRuns(pid, started), processRuns(pid), processRuns(pid, String(BigInt(started) - 1n)), processRuns(2 ** 22 + 1), processRuns(0), processRuns(-1)]).toEqual([true, true, false, false, false, false]);
  });

  it("crl-numbers.lock naming a pid that now runs another process (another start time) is taken over at once, not waited on for 10 s and refused", async () => {
    const dir = tempDir("file-lock-");
    const { pid, started } = await otherProcess();
    writeFileSync(join(dir, `${CRL_NUMBERS_FILE}.lock`), lockLine(pid, String(BigInt(started) - 1n)));
    expect(await new FileRevocationStore(dir).nextCrlNumber()).toBe(1n);
    expect(existsSync(join(dir, `${CRL_NUMBERS_FILE}.lock`))).toBe(false);
  }, 30_000);

  it("a lock naming a zombie (its holder exited, its parent has not reaped it: kill(pid, 0) still succeeds, same start time) is stale, not waited on for 10 s", async () => {
    const { pid, started } = await zombieProcess();
    expect([processStartTime(pid), processRuns(pid, started), processRuns(pid)]).toEqual([started, false, false]);
    const dir = tempDir("file-lock-");
    writeFileSync(join(dir, `${CRL_NUMBERS_FILE}.lock`), lockLine(pid, started));
    expect(await new FileRevocationStore(dir).nextCrlNumber()).toBe(1n);
    expect(existsSync(join(dir, `${CRL_NUMBERS_FILE}.lock`))).toBe(false);
  }, 30_000);

  it("a lock naming pid 0 or -1 (a process group, not a process: kill(0, 0) succeeds) is stale, not waited on", async () => {
    for (const pid of [0, -1]) {
      const dir = tempDir("file-lock-");
      writeFileSync(join(dir, `${CRL_NUMBERS_FILE}.lock`), `${JSON.stringify({ pid, host: hostname(), nonce: "0123456789abcdef" })}\n`);
      expect(await new FileRevocationStore(dir).nextCrlNumber()).toBe(1n);
    }
  }, 30_000);

  it("ca.crl.lock likewise: FileCa.crl() signs and publishes at once", async () => {
    const dataDir = join(tempDir("file-lock-"), "data");
    const ca = await openFileCa({ dataDir });
    const { pid, started } = await otherProcess();
    writeFileSync(join(dataDir, "ca.crl.lock"), lockLine(pid, String(BigInt(started) + 1n)));
    expect((await ca.crl()).crlNumber).toBe(1n);
    expect(existsSync(join(dataDir, "ca.crl"))).toBe(true);
  }, 30_000);

  it("a lock whose holder runs (its pid and start time) is waited for, and taken once released", async () => {
    const dir = tempDir("file-lock-");
    const { pid, started } = await otherProcess();
    const lock = join(dir, `${CRL_NUMBERS_FILE}.lock`);
    writeFileSync(lock, lockLine(pid, started));
    let settled = false;
    const next = new FileRevocationStore(dir).nextCrlNumber().finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 300)); // a takeover would have happened within a few ms
    expect(settled).toBe(false);
    expect(existsSync(join(dir, CRL_NUMBERS_FILE))).toBe(false);
    rmSync(lock);
    expect(await next).toBe(1n);
  }, 30_000);
});
