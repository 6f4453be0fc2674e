/**
 * The example proxy's JSON lines on stdout, as a child process on loopback: each line leads with its `time`
 * (ISO 8601, UTC) as the servers' lines do, and SIGTERM is followed by `stopping`, then `stopped` and exit 0.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ExampleProcess, REPO_ROOT } from "../../server-kit/test/support/example-process.js";
import { ADMIN_TOKEN, PROXY_DIR, startExampleUpstream, startProxy } from "./support/harness.js";

describe("proxy process lines", () => {
  it("listening with time and pid; on SIGTERM stopping, then stopped, exit 0", async () => {
    // The URL needs nothing listening: the start-up check only warns on stderr (no JSON line).
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

  it("an upstream CA that does not answer at start is one warning line naming it and its URL; --ca-url moves it without editing the file", async () => {
    // A loopback port nothing listens on: bound and closed again.
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, "127.0.0.1", ok));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((done) => closed.close(done));
    const upstream = await startExampleUpstream();
    const dir = mkdtempSync(join(tmpdir(), "scep-proxy-upstream-warn-"));
    try {
      // The file points both CAs at the closed port; the flag moves "live" to the running upstream.
      writeFileSync(join(dir, "proxy.json"), JSON.stringify({ cas: [{ name: "live", type: "custom", url: `http://127.0.0.1:${port}/scep` }, { name: "down", type: "custom", url: `http://127.0.0.1:${port}/scep` }] }));
      const proc = new ExampleProcess(PROXY_DIR, { SCEP_PROXY_CONFIG: join(dir, "proxy.json"), PROXY_ADMIN_TOKEN: ADMIN_TOKEN, PORT: "0" }, ["--ca-url", `live=${upstream.url}`]);
      try {
        const warning = await proc.waitForLine((l) => l.startsWith("proxy-server: warning:"), { stderr: true });
        expect(warning).toBe(
          `proxy-server: warning: CA "down" at http://127.0.0.1:${port}/scep: GetCACaps failed (upstream refused the connection); its devices get 502 upstream failed until it answers (another URL: --ca-url down=URL)`,
        );
        // "live" answered: stop the proxy and check it said nothing about it.
        await proc.terminate();
        expect(proc.errLines.filter((l) => l.startsWith("proxy-server: warning:"))).toEqual([warning]);
      } finally {
        await proc.terminate();
      }
    } finally {
      await upstream.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it.each([
    ["from its sources (node --import tsx src/main.ts)", false],
    ["as a new user runs it: pnpm start:proxy (the bundle, node examples/proxy-server/dist/main.mjs)", true],
  ])("no admin token and no configuration file: both problems at once, one line each, exit 2 (%s)", async (_, pnpm) => {
    // pnpm finds the repository's package.json upward from the directory it runs in: one under the git-ignored .tmp/.
    mkdirSync(join(REPO_ROOT, ".tmp"), { recursive: true });
    const dir = mkdtempSync(pnpm ? join(REPO_ROOT, ".tmp", "proxy-nothing-") : join(tmpdir(), "scep-proxy-nothing-"));
    try {
      // A directory without proxy.json, PROXY_ADMIN_TOKEN not exported. pnpm start:proxy looks for proxy.json in the
      // directory it was run from; the process run from the example's directory is told that path.
      const proc = pnpm
        ? new ExampleProcess(PROXY_DIR, { PROXY_ADMIN_TOKEN: "" }, [], { pnpm: { script: "start:proxy", cwd: dir } })
        : new ExampleProcess(PROXY_DIR, { SCEP_PROXY_CONFIG: join(dir, "proxy.json"), PROXY_ADMIN_TOKEN: "" }, [], { sources: true });
      expect(await proc.exited).toEqual({ code: 2, signal: null });
      expect(proc.stderr).toBe(
        [
          `proxy-server: cannot read the configuration file ${join(dir, "proxy.json")}: no such file (ENOENT)`,
          "proxy-server: PROXY_ADMIN_TOKEN must be set to at least 16 characters (the admin API registers devices)",
          "",
        ].join("\n"),
      );
      // No event line (pnpm itself prints the script it runs and its exit status on stdout).
      expect(proc.lines.filter((l) => l.startsWith("{"))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it("a port in use is one line on stderr and exit 2, as for the example servers", async () => {
    const occupier = createServer();
    await new Promise<void>((ok) => occupier.listen(0, "127.0.0.1", ok));
    const port = (occupier.address() as AddressInfo).port;
    const dir = mkdtempSync(join(tmpdir(), "scep-proxy-busy-"));
    try {
      writeFileSync(join(dir, "proxy.json"), JSON.stringify({ cas: [{ name: "corp", type: "custom", url: "http://127.0.0.1:9/scep" }] }));
      const proc = new ExampleProcess(PROXY_DIR, { SCEP_PROXY_CONFIG: join(dir, "proxy.json"), PROXY_ADMIN_TOKEN: ADMIN_TOKEN, PORT: String(port) });
      expect(await proc.exited).toEqual({ code: 2, signal: null });
      expect(proc.stderr).toBe(`proxy-server: cannot listen on 127.0.0.1:${port}: the port is already in use (EADDRINUSE); choose another with --port or PORT\n`);
      expect(proc.lines).toEqual([]);
    } finally {
      await new Promise((done) => occupier.close(done));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it("a host name that does not resolve is one line on stderr and exit 2, not a stack", async () => {
    const dir = mkdtempSync(join(tmpdir(), "scep-proxy-nohost-"));
    try {
      writeFileSync(join(dir, "proxy.json"), JSON.stringify({ cas: [{ name: "corp", type: "custom", url: "http://127.0.0.1:9/scep" }] }));
      const proc = new ExampleProcess(PROXY_DIR, { SCEP_PROXY_CONFIG: join(dir, "proxy.json"), PROXY_ADMIN_TOKEN: ADMIN_TOKEN, PORT: "0", HOST: "nosuch.invalid" });
      expect(await proc.exited).toEqual({ code: 2, signal: null });
      // .invalid never resolves (RFC 6761 §6.4); a machine without a DNS server answers EAI_AGAIN instead of ENOTFOUND
      expect(proc.stderr).toMatch(
        /^proxy-server: cannot listen on nosuch\.invalid:0: (no such host name \(ENOTFOUND\); check --host or HOST: a local IP address or a name that resolves to one, without a port|the host name could not be resolved now \(EAI_AGAIN: the DNS did not answer\); check --host or HOST and the DNS, or give an IP address)\n$/,
      );
      expect(proc.lines).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
