/**
 * RedisCounterStore under ever new reason labels (a validator or webhook naming a new reason per device): the
 * profile's hash in Redis holds at most `maxLabels` fields plus `other`, as @scep/core's MemoryCounterStore bounds its
 * labels; every request is still counted.
 */
import { describe, expect, it } from "vitest";
import { usePrivateRedis } from "./support/private-redis.js";
import { RedisCounterStore } from "../src/index.js";

const redis = usePrivateRedis();

describe("RedisCounterStore label bound", () => {
  it("counts labels new to a full hash under other, over many flushes, and counts every request", async () => {
    const store = new RedisCounterStore(redis.client, { keyPrefix: "labels1:", maxLabels: 4 });
    try {
      for (let day = 0; day < 5; day++) {
        for (let i = 0; i < 20; i++) store.increment("corp", "failure", `denied_device_${day}_${i}`);
        store.increment("corp", "success", "issued");
        await store.flush();
      }
      const fields = await redis.client.hkeys("labels1:stats:{corp}");
      expect(fields.length).toBeLessThanOrEqual(4 + 2); // maxLabels, the second outcome (outcomes are never redirected), reason:other
      const read = await store.read("corp");
      expect(read.outcomes).toEqual({ failure: 100, success: 5 });
      expect(Object.values(read.reasons).reduce((a, b) => a + b, 0)).toBe(105);
      expect(read.reasons.other).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });

  it("refuses a maxLabels out of range", () => {
    expect(() => new RedisCounterStore(redis.client, { maxLabels: 0 })).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }));
  });
});
