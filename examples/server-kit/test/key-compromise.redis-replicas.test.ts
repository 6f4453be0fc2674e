/**
 * RFC 5280 §5.3.1 keyCompromise across replicas: two FileCa on one data directory (two workers or replicas) sharing
 * one real redis-server as revocation store. A key revoked as compromised through replica A is refused by replica B's
 * next issue (KEY_COMPROMISED), though B built its set of compromised keys before the revocation (B notices the store's
 * revision moved); a key revoked superseded through A stays usable on B.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateCsr, generateRsaKeyPair } from "@scep/core";
import { RedisRevocationStore, redisClientOptions } from "@scep/redis";
import { isEmbeddedCaError, openFileCa, type FileCa } from "@scep-examples/embedded-ca";
import { startRedisServer, type RedisServer } from "../../../test-support/peers";

const dir = mkdtempSync(join(tmpdir(), "scep-keycomp-redis-"));
let redis: RedisServer;
const clients: Redis[] = [];
let a: FileCa;
let b: FileCa;

beforeAll(async () => {
  redis = await startRedisServer();
  const replica = async (): Promise<FileCa> => {
    const client = new Redis({ ...redisClientOptions, ...redis.connection });
    clients.push(client);
    return openFileCa({ dataDir: join(dir, "data"), revocations: new RedisRevocationStore(client, { keyPrefix: "keycomp:" }) });
  };
  a = await replica();
  b = await replica();
}, 60_000);
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("two replicas on one redis-server: a key revoked as compromised on A is refused on B", () => {
  it("keyCompromise through A: B's next issue for that key is KEY_COMPROMISED; superseded through A: B issues for that key", async () => {
    const [compromisedKeys, retiredKeys] = [await generateRsaKeyPair(), await generateRsaKeyPair()];
    const compromised = await b.issue({ csrDer: await generateCsr({ keys: compromisedKeys, subject: "CN=replica-compromised" }) });
    const retired = await b.issue({ csrDer: await generateCsr({ keys: retiredKeys, subject: "CN=replica-retired" }) });
    await a.revoke(compromised.serialNumber, "keyCompromise");
    await a.revoke(retired.serialNumber, "superseded");

    const error = await b.issue({ csrDer: await generateCsr({ keys: compromisedKeys, subject: "CN=replica-compromised" }) }).catch((e: unknown) => e);
    expect(isEmbeddedCaError(error, "KEY_COMPROMISED")).toBe(true);
    expect((error as Error).message).toBe("this key was revoked as compromised: generate a new key");
    const again = await b.issue({ csrDer: await generateCsr({ keys: retiredKeys, subject: "CN=replica-retired" }) });
    expect(again.serialNumber).not.toBe(retired.serialNumber);
  }, 60_000);
});
