/**
 * Probes of a private redis-server for the tests that pause it: pause until it
 * is really stopped, count the commands it has run (INFO commandstats, on a
 * connection of its own), and poll without a fixed sleep.
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import type { RedisServer } from "../../../../test-support/peers";

const run = promisify(execFile);
const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The one-letter process state of `pid` ("T" once stopped): /proc on Linux, else `ps`. */
async function state(pid: number): Promise<string> {
  if (process.platform === "linux") return /^\d+ \(.*\) (\S) /.exec(await readFile(`/proc/${pid}/stat`, "utf8"))?.[1] ?? "";
  return (await run("ps", ["-o", "state=", "-p", String(pid)])).stdout.trim().charAt(0);
}

/**
 * SIGSTOP, and resolves once the redis-server is really stopped (state T), so
 * that whatever is sent next waits in its socket: SIGSTOP alone returns before
 * the process stops, and a command sent at once may still run. Rejects after
 * 30 s.
 */
export async function pause(server: RedisServer): Promise<void> {
  server.pause();
  const deadline = Date.now() + 30_000;
  while ((await state(server.pid())) !== "T") {
    if (Date.now() > deadline) throw new Error(`redis-server ${server.pid()} did not stop within 30 s of SIGSTOP`);
    await tick(5);
  }
}

/** The commandstats line of `command` ("evalsha", "set", …): calls, and failed_calls (error replies: NOSCRIPT among them). */
async function stats(server: RedisServer, command: string): Promise<{ calls: number; failed: number }> {
  const line = new RegExp(`cmdstat_${command}:([^\\r\\n]*)`).exec(await server.command("INFO commandstats"))?.[1] ?? "";
  const field = (name: string): number => Number(new RegExp(`(?:^|,)${name}=(\\d+)`).exec(line)?.[1] ?? 0);
  return { calls: field("calls"), failed: field("failed_calls") };
}

/** Calls of `command` Redis has run so far, error replies included. */
export async function calls(server: RedisServer, command: string): Promise<number> {
  return (await stats(server, command)).calls;
}

/** Scripts Redis has run to the end so far: EVALSHA and EVAL calls without an error reply (an EVALSHA answered NOSCRIPT ran nothing). */
export async function scriptRuns(server: RedisServer): Promise<number> {
  const [evalsha, evl] = await Promise.all([stats(server, "evalsha"), stats(server, "eval")]);
  return evalsha.calls - evalsha.failed + evl.calls - evl.failed;
}

/** Polls (no fixed sleep) until `done` holds or 30 s have passed; resolves whether it held. */
export async function until(done: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (await done()) return true;
    if (Date.now() > deadline) return false;
    await tick(20);
  }
}
