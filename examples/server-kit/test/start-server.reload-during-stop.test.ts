/**
 * startServer: a reload that stop() overtakes is refused. The server being stopped keeps the kit it stops with:
 * the reload's new kit is closed, not put in service after the stop (where nothing would ever close it and its
 * timers would keep the process alive), and a reload asked for after stop() builds nothing.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startServer } from "../src/index.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "scep-kit-reload-stop-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

describe("startServer: reload() and stop()", () => {
  it("a reload still loading when stop() is called is refused (reload-failed, the server is stopping) and leaves the kit as it was", async () => {
    const lines: Record<string, unknown>[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      for (const l of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      return true;
    });
    vi.spyOn(process.stderr, "write").mockImplementation(() => true); // the banner
    const server = (await startServer("reload-stop", () => (_req, res) => void res.end(), {
      argv: ["--host", "127.0.0.1", "--port", "0", "--data-dir", join(dir, "data")],
      env: { SCEP_CHALLENGE: "reload-stop-test-challenge" },
    }))!;
    const kit = server.kit;

    const reloading = server.reload(); // loads the configuration and makes a new kit: asynchronous
    const stopped = server.stop();
    expect(await reloading).toBe(false);
    await stopped;
    expect(server.kit).toBe(kit);
    expect(lines.filter((l) => l.type === "reloaded")).toEqual([]);
    const failed = (): unknown[] => lines.filter((l) => l.type === "reload-failed").map(({ trigger, error }) => ({ trigger, error }));
    expect(failed()).toEqual([{ trigger: "api", error: "the server is stopping" }]); // refused when it would apply

    expect(await server.reload()).toBe(false); // after stop(): nothing is built
    expect(server.kit).toBe(kit);
    expect(failed()).toEqual([
      { trigger: "api", error: "the server is stopping" },
      { trigger: "api", error: "the server is stopping" }, // refused before loading
    ]);
  }, 60_000);

  it("the kit a refused reload built is closed: its CRL schedule's timer is cleared (discard), like the stopped kit's", async () => {
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const server = (await startServer("reload-stop", () => (_req, res) => void res.end(), {
      argv: ["--host", "127.0.0.1", "--port", "0", "--data-dir", join(dir, "data-discard")],
      env: { SCEP_CHALLENGE: "reload-stop-test-challenge" },
    }))!;
    // Every interval timer made from now on (the reload's kit makes its CRL schedule's) and every one cleared.
    const made: unknown[] = [];
    const cleared = new Set<unknown>();
    const setInterval = globalThis.setInterval;
    const clearInterval = globalThis.clearInterval;
    vi.spyOn(globalThis, "setInterval").mockImplementation(((...args: Parameters<typeof setInterval>) => {
      const timer = setInterval(...args);
      made.push(timer);
      return timer;
    }) as typeof setInterval);
    vi.spyOn(globalThis, "clearInterval").mockImplementation(((timer: Parameters<typeof clearInterval>[0]) => {
      cleared.add(timer);
      clearInterval(timer);
    }) as typeof clearInterval);

    const reloading = server.reload();
    const stopped = server.stop();
    expect(await reloading).toBe(false);
    await stopped;
    expect(made.length).toBeGreaterThan(0); // the reload did build a kit (refused when it would apply)
    expect(made.filter((t) => !cleared.has(t))).toEqual([]);
  }, 60_000);

  it("stop() closes the shared stores only after the refused kit's first CRL (which reads them) is on disk", async () => {
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const dataDir = join(dir, "data-order");
    const server = (await startServer("reload-stop", () => (_req, res) => void res.end(), {
      argv: ["--host", "127.0.0.1", "--port", "0", "--data-dir", dataDir],
      env: { SCEP_CHALLENGE: "reload-stop-test-challenge" },
    }))!;
    const stores = server.kit.stores;
    const closeStores = vi.spyOn(stores, "close");
    // The next revocation listing (the reload's kit signing its first CRL) waits until the test opens the gate.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let reached!: () => void;
    const atGate = new Promise<void>((resolve) => (reached = resolve));
    const list = stores.revocations.list.bind(stores.revocations);
    vi.spyOn(stores.revocations, "list").mockImplementationOnce(async () => {
      reached();
      await gate;
      return list();
    });

    const reloading = server.reload();
    const stopped = server.stop();
    expect(await reloading).toBe(false);
    await atGate;
    if (server.http.listening) await once(server.http, "close");
    await new Promise((resolve) => setImmediate(resolve));
    expect(closeStores).not.toHaveBeenCalled(); // the refused kit is still signing: the stores stay open
    open();
    await stopped;
    expect(closeStores).toHaveBeenCalledTimes(1);
    expect(existsSync(join(dataDir, "ca.crl"))).toBe(true);
    expect(readdirSync(dataDir).filter((f) => f.endsWith(".tmp"))).toEqual([]); // its write finished before stop() resolved
  }, 60_000);
});
