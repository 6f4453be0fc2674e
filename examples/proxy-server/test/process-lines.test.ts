/**
 * The example proxy's JSON lines on stdout, as a child process on loopback: each line leads with its `time`
 * (ISO 8601, UTC) as the servers' lines do, and SIGTERM is followed by `stopping`, then `stopped` and exit 0.
 */
import { describe, expect, it } from "vitest";
import { startProxy } from "./support/harness.js";

describe("proxy process lines", () => {
  it("listening with time and pid; on SIGTERM stopping, then stopped, exit 0", async () => {
    // No upstream is contacted until a device comes: the URL needs nothing listening.
    const proxy = await startProxy([{ name: "corp", type: "custom", url: "http://127.0.0.1:9/scep" }]);
    const exit = await proxy.proc.terminate();
    await proxy.stop();
    expect(exit).toEqual({ code: 0, signal: null });
    const lines = proxy.proc.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.type)).toEqual(["listening", "stopping", "stopped"]);
    for (const l of lines) expect(l.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Object.keys(lines[0]!)[0]).toBe("time");
    expect(lines[0]!.pid).toBe(proxy.proc.child.pid);
    expect(lines.slice(1).map((l) => l.signal)).toEqual(["SIGTERM", "SIGTERM"]);
  }, 120_000);
});
