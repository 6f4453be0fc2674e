/**
 * createKit and the Intune revocation sync (intune.revocationSyncSeconds): a kit runs no round (no download from
 * Intune, no revocation, no upload) until it is put in service with startRevocationSync(), so a start or reload that
 * fails after making its kit (a --workers worker whose listen fails, a reload that is refused) never acts on Intune's
 * requests; once started, a round runs at once, and close() stops it. And with --redis-url, where another replica
 * (its own data directory, the same CA) may have issued the certificate Intune names, a serial missing from this
 * replica's index is revoked, not answered with the final 4004 that would leave the other replica's certificate
 * unrevoked. Loopback fake of Intune and Entra ID, a real redis-server.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLIENT_ID, CLIENT_SECRET, TENANT, startFakeIntune, type FakeIntune } from "../../../packages/intune/test/support/fake-intune.js";
import { startRedisServer } from "../../../test-support/peers";
import { parseConfig, type ServerConfig } from "../src/config.js";
import { createKit } from "../src/start-server.js";

const dir = mkdtempSync(join(tmpdir(), "scep-sync-start-"));
const env = { INTUNE_CLIENT_SECRET: CLIENT_SECRET };
let fake: FakeIntune;
let config: ServerConfig;
let file: string;

beforeAll(async () => {
  fake = await startFakeIntune();
  file = join(dir, "scep-config.json");
  const intune = { mode: "api", tenantId: TENANT, clientId: CLIENT_ID, clientSecretEnv: "INTUNE_CLIENT_SECRET", loginBaseUrl: fake.base, graphBaseUrl: fake.base, timeoutMs: 5_000, retries: 0, revocationSyncSeconds: 3600 };
  writeFileSync(file, JSON.stringify({ profiles: [{ path: "/intune", intune }] }));
  config = parseConfig(["--config", file, "--data-dir", join(dir, "data")], {}) as ServerConfig;
});
afterAll(async () => {
  await fake?.close();
  rmSync(dir, { recursive: true, force: true });
});

const downloads = (): number => fake.of("downloadRevocationRequests").length;
/** Every call a round makes (its first is the Entra ID token): none means no round began. */
const calls = (): number => (["token", "discovery", "downloadRevocationRequests", "uploadRevocationResults"] as const).reduce((n, k) => n + fake.of(k).length, 0);

describe("createKit: the Intune revocation sync runs only once the kit is in service", () => {
  it("a kit never put in service downloads nothing, also after the timers' first turn; close() then starts nothing", async () => {
    const kit = await createKit(config, undefined, env);
    await new Promise((r) => setTimeout(r, 200)); // past the first round's setTimeout(0), had the kit started it
    expect(calls()).toBe(0);
    await kit.close();
    kit.startRevocationSync(); // after close: nothing
    await new Promise((r) => setTimeout(r, 200));
    expect(calls()).toBe(0);
    await kit.stores.close();
  }, 60_000);

  it("startRevocationSync() runs a round at once (a download), once however often it is called; close() waits for it", async () => {
    const kit = await createKit(config, undefined, env);
    kit.startRevocationSync();
    kit.startRevocationSync();
    const deadline = Date.now() + 30_000;
    while (downloads() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await kit.close();
    expect(downloads()).toBe(1);
    await kit.stores.close();
  }, 60_000);
});

describe("createKit with --redis-url: the revocation sync of one replica among several", () => {
  it("a serial this replica's index lacks (another replica issued it) is revoked in the shared store and answered 0, not the final 4004", async () => {
    const redis = await startRedisServer();
    try {
      const replica = parseConfig(["--config", file, "--data-dir", join(dir, "replica"), "--redis-url", redis.url], {}) as ServerConfig;
      const kit = await createKit(replica, undefined, env);
      const issuer = kit.ca.subject;
      const before = fake.of("uploadRevocationResults").length;
      fake.pendingRevocations = [{ requestContext: "ctx-other-replica", serialNumber: "7E57AB1E01", issuerName: issuer, caConfiguration: null }];
      kit.startRevocationSync();
      const deadline = Date.now() + 30_000;
      while (fake.of("uploadRevocationResults").length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await kit.close();
      expect(JSON.parse(fake.of("uploadRevocationResults").at(-1)!.body)).toEqual({
        results: [{ requestContext: "ctx-other-replica", succeeded: true, errorCode: 0, errorMessage: null }],
      });
      expect((await kit.ca.revocations.list()).map((r) => [r.serialNumber, r.reason])).toEqual([["7e57ab1e01", "unspecified"]]);
      await kit.stores.close();
    } finally {
      await redis.stop();
    }
  }, 60_000);
});
