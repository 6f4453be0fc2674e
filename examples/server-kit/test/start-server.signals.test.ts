/**
 * startServer's process signal handlers belong to one started server: a SIGHUP that arrives while one server starts
 * is served by that server only (a later startServer in the same process does not reload for it), and a server
 * stopped by its caller leaves no SIGINT/SIGTERM/SIGHUP handler behind.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startServer, type RunningServer } from "../src/index.js";

let dir: string;
let lines: Record<string, unknown>[];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "scep-kit-signals-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

/** Starts a kit in this process on a free loopback port, its JSON lines collected in `lines`. */
function start(): Promise<RunningServer | undefined> {
  return startServer("signals", () => (_req, res) => void res.end(), {
    argv: ["--host", "127.0.0.1", "--port", "0", "--data-dir", join(dir, "data")],
    env: { SCEP_CHALLENGE: "signals-test-challenge" },
  });
}

const counts = (): number[] => ["SIGINT", "SIGTERM", "SIGHUP"].map((s) => process.listenerCount(s));

describe("startServer: signal handlers per server", () => {
  it("a SIGHUP while the first starts reloads it once; the second does not reload for it; stop() removes the handlers", async () => {
    lines = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      for (const l of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      return true;
    });
    vi.spyOn(process.stderr, "write").mockImplementation(() => true); // the banner
    const before = counts();

    const starting = start();
    process.emit("SIGHUP", "SIGHUP"); // the kit is still being created (its CA is being generated)
    const first = (await starting)!;
    expect(await first.reload()).toBe(true); // runs after the SIGHUP's reload (one reload at a time)
    expect(lines.filter((l) => l.type === "reloaded").map((l) => l.trigger)).toEqual(["SIGHUP", "api"]);
    await first.stop();
    expect(counts()).toEqual(before);

    lines = [];
    const second = (await start())!;
    expect(await second.reload()).toBe(true);
    expect(lines.filter((l) => l.type === "reloaded").map((l) => l.trigger)).toEqual(["api"]);
    await second.stop();
    expect(counts()).toEqual(before);
  }, 60_000);
});
