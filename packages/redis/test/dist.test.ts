/**
 * The built package (run `pnpm build` first; the root `pnpm test` does): ESM
 * and CJS entry points export the same names and import no @scep package but
 * @scep/core at run time, and the ESM build stores and consumes a challenge on
 * a real redis-server.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import Redis from "ioredis";
import { describe, expect, it } from "vitest";
import { startRedisServer } from "../../../test-support/peers";

const EXPORTS = ["RedisChallengeStore", "RedisCounterStore", "RedisProfileStore", "RedisRateLimiter", "RedisReplayCache", "RedisRevocationStore", "RedisTransactionStore", "keyPrefixProblem", "redisClientOptions"];

describe("@scep/redis dist", () => {
  it("loads with only @scep/core installed: @scep/intune and @scep/proxy (optional peers) are imported for their types alone", () => {
    for (const file of ["index.js", "index.cjs"]) {
      const text = readFileSync(new URL(`../dist/${file}`, import.meta.url), "utf8");
      const imported = new Set([...text.matchAll(/(?:from |require\()"(@scep\/[^"/]+)/g)].map((m) => m[1]));
      expect([...imported], file).toEqual(["@scep/core"]);
    }
  });

  it("exports the stores from dist/index.js and dist/index.cjs, and the ESM build works against redis-server", async () => {
    const esm = (await import("../dist/index.js")) as unknown as typeof import("../src/index.js");
    const cjs = createRequire(import.meta.url)("../dist/index.cjs") as typeof import("../src/index.js");
    expect(Object.keys(esm).sort()).toEqual(EXPORTS);
    expect(Object.keys(cjs).sort()).toEqual(EXPORTS);
    const server = await startRedisServer({ unixSocket: true });
    const client = new Redis({ ...server.connection, ...esm.redisClientOptions, lazyConnect: true });
    try {
      await client.connect();
      const store = new esm.RedisChallengeStore(client);
      const challenge = await store.issue({ profile: "corp" });
      expect(await store.consume(challenge, { profile: "corp" })).toBe(true);
      expect(await store.consume(challenge, { profile: "corp" })).toBe(false);
    } finally {
      client.disconnect();
      await server.stop();
    }
  });
});
