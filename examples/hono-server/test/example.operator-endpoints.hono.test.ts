/**
 * The Hono example answers the operator endpoints and SIGHUP like the Express
 * one (both come from server-kit's startServer; the Express tests hold them to
 * the details): /healthz, /readyz, /metrics over real HTTP, and a reload by
 * `process.kill(pid, "SIGHUP")` on the child process.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExampleProcess, startExample } from "../../server-kit/test/support/example-process.js";

const EXAMPLE_DIR = fileURLToPath(new URL("..", import.meta.url));
let dir: string;
let proc: ExampleProcess;
let base: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-hono-operator-"));
  ({ proc, base } = await startExample(EXAMPLE_DIR, { SCEP_DATA_DIR: join(dir, "data"), SCEP_CHALLENGE: "hono-operator-challenge" }));
}, 60_000);
afterAll(async () => {
  await proc?.terminate();
  rmSync(dir, { recursive: true, force: true });
});

describe("hono example: operator endpoints", () => {
  it("healthz, readyz and metrics", async () => {
    const health = await fetch(`${base}/healthz`);
    expect([health.status, await health.text()]).toEqual([200, "ok\n"]);
    const ready = await fetch(`${base}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([200, { status: "ready", checks: { ca: "ok" } }]);
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^scep_certificate_time_to_expiry\{scep_profile="\/scep",scep_certificate_role="ca",/m);
  });

  it("SIGHUP reloads in place", async () => {
    process.kill(proc.child.pid!, "SIGHUP");
    expect(await proc.waitForJson("reloaded")).toMatchObject({ trigger: "SIGHUP", nextCa: false });
    expect((await fetch(`${base}/scep?operation=GetCACaps`)).status).toBe(200);
  });
});
