/**
 * Probes of a private redis-server for the tests that pause it: pause until it
 * is really stopped, count the commands it has run (INFO commandstats, on a
 * connection of its own), and poll without a fixed sleep.
 */
import type { RedisServer } from "../../../../test-support/peers";

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `server.pause()`: SIGSTOP, resolved once the redis-server is really stopped (see test-support's RedisServer.pause). */
export async function pause(server: RedisServer): Promise<void> {
  await server.pause();
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
