/**
 * Two @scep/proxy replicas on one real redis-server (loopback, two connections), sharing RedisChallengeStore and
 * RedisProfileStore. Replica A's CA answers 503 to a PKIOperation, so A gives the device's one-time challenge back;
 * meanwhile the device (or anyone holding its URL) sends the same PKIOperation to replica B, whose CA issues, ten
 * times at once. Whatever the interleaving, the CA issues at most once per challenge; a retry sent after A's
 * refund is forwarded, once.
 */
import type Redis from "ioredis";
import { describe, expect, it } from "vitest";
import { MemoryCaRegistry, UpstreamError, buildProxyUrl, createScepProxy, type Upstream } from "@scep/proxy";
import { usePrivateRedis } from "./support/private-redis.js";
import { RedisChallengeStore, RedisProfileStore } from "../src/index.js";

const redis = usePrivateRedis({}, { second: true });

const caps = { status: 200, contentType: "text/plain", body: new TextEncoder().encode("POSTPKIOperation\n") };
const busy: Upstream = {
  getCACaps: async () => caps,
  getCACert: async () => caps,
  pkiOperation: async () => {
    throw new UpstreamError("http", "upstream answered HTTP 503", { status: 503 });
  },
};

describe("a proxy replica's challenge refund racing the same URL on another replica", () => {
  it("a retry on B after A's refund is forwarded once; over 100 raced devices the CA behind B issues at most once per challenge", async () => {
    let issued = 0;
    const issuing: Upstream = {
      ...busy,
      pkiOperation: async () => (issued++, { status: 200, contentType: "application/x-pki-message", body: new Uint8Array([0x30, 0x00]) }),
    };
    const replica = (client: Redis, upstream: Upstream) =>
      createScepProxy({
        profiles: new RedisProfileStore(client, { keyPrefix: "refund:" }),
        challenges: new RedisChallengeStore(client, { keyPrefix: "refund:" }),
        cas: new MemoryCaRegistry([{ name: "corp", type: "custom", url: "http://ca.invalid/scep" }]),
        upstream,
        logger: { error: () => undefined },
      });
    const a = replica(redis.client, busy);
    const b = replica(redis.second, issuing);
    const profiles = new RedisProfileStore(redis.client, { keyPrefix: "refund:" });
    const challenges = new RedisChallengeStore(redis.client, { keyPrefix: "refund:" });
    const device = async (n: number) => {
      const key = { hostId: `host-${n}`, profileId: "wifi", caName: "corp" };
      await profiles.put({ ...key, status: "pending", updatedAt: Date.now() });
      const url = buildProxyUrl("http://proxy.test/scep", { ...key, challenge: await challenges.issue({ profile: "corp" }) });
      return (p: typeof a) => p.fetch(new Request(`${url}?operation=PKIOperation`, { method: "POST", body: new Uint8Array([0x30, 0x00]) }));
    };

    // In order: A's 502 gave the challenge back, so the device's retry on B is forwarded, once.
    const send = await device(-1);
    expect((await send(a)).status).toBe(502);
    expect((await send(b)).status).toBe(200);
    expect((await send(b)).status).toBe(400);
    expect(issued).toBe(1);

    // At once: A's consume and refund against ten sends on B, whatever comes first.
    let retried = 0;
    for (let n = 0; n < 100; n++) {
      const sendN = await device(n);
      const before = issued;
      const statuses = (await Promise.all([sendN(a), ...Array.from({ length: 10 }, () => sendN(b))])).map((r) => r.status);
      expect(issued - before).toBeLessThanOrEqual(1);
      expect(statuses.filter((s) => s === 200)).toHaveLength(issued - before);
      if (statuses[0] === 502 && issued - before === 1) retried++; // A consumed first, then one of B's sends passed
    }
  }, 60_000);
});
