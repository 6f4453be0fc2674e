/**
 * The embedded CA's CRL cache across replicas sharing one Redis (RFC 5280 §5, RFC 8894 §3.3.5 GetCRL): each crl()
 * asks Redis one O(1) GET (RevocationStore.revision: the revision counter, SET NX only while it is missing), not HGETALL of every
 * revocation; a revocation made through one replica shows in the other's next CRL; a Redis flushed and refilled to
 * the same count is a change too, and a Redis flushed or restarted without persistence gets back the revocations the
 * last published CRL listed (RFC 5280 §3.3: they stay on every later CRL) while the CRL number still only grows. The work is counted by Redis itself (INFO commandstats), against a real
 * redis-server on loopback; two FileCa on one data directory stand in for two workers or replicas.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateCsr, generateRsaKeyPair } from "@scep/core";
import { RedisRevocationStore, redisClientOptions } from "@scep/redis";
import { openFileCa, type FileCa } from "@scep-examples/embedded-ca";
import { startRedisServer, type RedisServer } from "../../../test-support/peers";

const dir = mkdtempSync(join(tmpdir(), "scep-crl-redis-"));
let redis: RedisServer;
const clients: Redis[] = [];
let a: FileCa;
let b: FileCa;

/** How often Redis ran `command` so far (INFO commandstats: `cmdstat_evalsha:calls=3,…`). */
async function calls(command: string): Promise<number> {
  const m = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(await redis.command("INFO commandstats"));
  return m ? Number(m[1]) : 0;
}

beforeAll(async () => {
  redis = await startRedisServer();
  const replica = async (): Promise<FileCa> => {
    const client = new Redis({ ...redisClientOptions, ...redis.connection });
    clients.push(client);
    return openFileCa({ dataDir: join(dir, "data"), crlValiditySeconds: 3600, revocations: new RedisRevocationStore(client, { keyPrefix: "crl-test:" }) });
  };
  a = await replica();
  b = await replica();
}, 60_000);
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("CRL cache keyed by the revision counter in Redis, shared by replicas", () => {
  it("unchanged: 10 more crl() calls reuse the CRL with one O(1) GET each, no script and no HGETALL; a revoke through replica a shows in b's next CRL", async () => {
    const issued = await a.issue({ csrDer: await generateCsr({ keys: await generateRsaKeyPair(), subject: "CN=crl-redis" }) });
    const first = await b.crl();
    const [get, evalsha, hgetall, incr] = [await calls("get"), await calls("evalsha"), await calls("hgetall"), await calls("incr")];
    for (let i = 0; i < 10; i++) expect(await b.crl()).toBe(first);
    expect([(await calls("get")) - get, (await calls("evalsha")) - evalsha, (await calls("hgetall")) - hgetall, (await calls("incr")) - incr]).toEqual([10, 0, 0, 0]);

    await a.revoke(issued.serialNumber, "keyCompromise");
    const next = await b.crl();
    expect([next.revokedCount, next.crlNumber > first.crlNumber]).toEqual([1, true]);
    expect((await a.crl()).revokedCount).toBe(1);
    // One listing for the one new CRL: replica a serves the CRL b signed and published in the data directory.
    expect((await calls("hgetall")) - hgetall).toBe(1);
  }, 60_000);

  it("a Redis flushed and refilled to the same count is a change: the next CRL lists the new serial and, put back, the published one (RFC 5280 §3.3)", async () => {
    // Two keys: a keyCompromise revoke revokes the other certificates of its key too (CA/B BR §4.9.1.1).
    const [one, two] = [await a.issue({ csrDer: await generateCsr({ keys: await generateRsaKeyPair(), subject: "CN=before-flush" }) }), await a.issue({ csrDer: await generateCsr({ keys: await generateRsaKeyPair(), subject: "CN=after-flush" }) })];
    await a.revoke(one.serialNumber, "keyCompromise");
    const before = await b.crl();
    await redis.command("FLUSHALL");
    await a.revoke(two.serialNumber, "keyCompromise");
    expect((await a.revocations.list()).length).toBe(1);
    for (const replica of [a, b]) {
      const after = await replica.crl();
      expect(after).not.toBe(before);
      expect(revokedSerials(after.der)).toEqual(expect.arrayContaining([one.serialNumber, two.serialNumber])); // and the first test's
      // The flushed CRL counter starts again at 1: the CA numbers above its last CRL (RFC 5280 §5.2.3).
      expect(after.crlNumber > before.crlNumber).toBe(true);
    }
  }, 60_000);

  it("a redis-server restarted without persistence: the published revocations go back into Redis and stay on the CRL (RFC 5280 §3.3), the CRL number still only grows, also for a CA opened after", async () => {
    const issued = await a.issue({ csrDer: await generateCsr({ keys: await generateRsaKeyPair(), subject: "CN=before-restart" }) });
    await a.revoke(issued.serialNumber, "keyCompromise");
    const before = await b.crl();
    expect(revokedSerials(before.der)).toContain(issued.serialNumber);
    await redis.kill();
    await redis.restart(); // startRedisServer's default: no RDB, no AOF
    const fresh = new Redis({ ...redisClientOptions, ...redis.connection });
    clients.push(fresh);
    for (const c of clients) while (c.status !== "ready") await new Promise((r) => setTimeout(r, 20));
    const c = await openFileCa({ dataDir: join(dir, "data"), crlValiditySeconds: 3600, revocations: new RedisRevocationStore(fresh, { keyPrefix: "crl-test:" }) });
    for (const replica of [a, b, c]) {
      const after = await replica.crl();
      expect(revokedSerials(after.der)).toContain(issued.serialNumber);
      expect(after.crlNumber > before.crlNumber).toBe(true);
    }
  }, 60_000);
});

/** The serials a DER CRL lists, as `openssl crl -text` prints them (upper-case hex), lower-cased. */
function revokedSerials(der: Uint8Array): string[] {
  const text = execFileSync("openssl", ["crl", "-inform", "DER", "-noout", "-text"], { input: der, encoding: "utf8" });
  return [...text.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1]!.toLowerCase());
}
