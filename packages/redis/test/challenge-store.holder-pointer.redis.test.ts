/**
 * RedisChallengeStore's holder pointer (`<prefix>challenge-holder:<sha256>`, naming the holder's current challenge key)
 * edited by hand or written by another program, on a real redis-server: `issue` deletes the challenge it supersedes
 * by the key the pointer names, and used to DEL whatever key that was (here a transaction record). It now deletes only
 * a challenge key of its own prefix; the pointer is replaced all the same.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { usePrivateRedis } from "./support/private-redis.js";
import { RedisChallengeStore } from "../src/index.js";

const redis = usePrivateRedis();

describe("RedisChallengeStore: a holder pointer it did not write", () => {
  it("a pointer naming another key: issue leaves that key alone, replaces the pointer, and the next issue supersedes as before", async () => {
    const store = new RedisChallengeStore(redis.client, { keyPrefix: "ptr:" });
    const pointer = `ptr:challenge-holder:${createHash("sha256").update(JSON.stringify(["corp", "device-1"]), "utf8").digest("hex")}`;
    await redis.client.hset("ptr:tx:{corp}:id:precious", "status", "PENDING");
    await redis.client.set(pointer, "ptr:tx:{corp}:id:precious");
    const first = await store.issue({ profile: "corp", holder: "device-1" });
    expect(await redis.client.hgetall("ptr:tx:{corp}:id:precious")).toEqual({ status: "PENDING" });
    expect(await redis.client.get(pointer)).toMatch(/^ptr:challenge:[0-9a-f]{64}$/);
    const second = await store.issue({ profile: "corp", holder: "device-1" });
    expect(await store.consume(first, { profile: "corp" })).toBe(false); // superseded
    expect(await store.consume(second, { profile: "corp" })).toBe(true);
  });
});
