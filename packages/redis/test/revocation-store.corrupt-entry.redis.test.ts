/**
 * RedisRevocationStore over data it did not write, on a real redis-server:
 * - an entry that is not `<ms>:<reason>`: `get` used to answer undefined (the certificate read as not revoked) and
 *   `list` left it out (a CRL without it un-revokes the certificate); both now reject with StoreUnavailableError naming
 *   the serial, so a CRL is not published without it;
 * - a revision counter that is not a number: `revision` answered NaN; `revoke` wrote the entry, then failed on INCR,
 *   so the revocation never moved the revision on (a CA kept its cached CRL) and the retry answered "unchanged". Now
 *   both reject (CORRUPT) and `revoke` writes nothing.
 */
import { describe, expect, it } from "vitest";
import { usePrivateRedis } from "./support/private-redis.js";
import { RedisRevocationStore } from "../src/index.js";

const redis = usePrivateRedis();

describe("RedisRevocationStore: data it did not write", () => {
  it("an entry that is not <ms>:<reason>: get and list reject with ERR_STORE_UNAVAILABLE naming the serial, never 'not revoked'", async () => {
    const store = new RedisRevocationStore(redis.client, { keyPrefix: "junk-entry:", retryAfterSeconds: 5 });
    await store.revoke({ serialNumber: "0a", reason: "keyCompromise", revokedAt: new Date(1_000) });
    for (const value of ["revoked", "1000:noSuchReason", "99999999999999999:keyCompromise"]) {
      await redis.client.hset("junk-entry:revoked:{ca}", "0b", value);
      const problem = { name: "StoreUnavailableError", code: "ERR_STORE_UNAVAILABLE", retryAfterSeconds: 5, message: expect.stringMatching(/^Redis holds a corrupt revocation entry \(serial 0b is not/) };
      await expect(store.get("0B")).rejects.toMatchObject(problem);
      await expect(store.list()).rejects.toMatchObject(problem);
    }
    expect(await store.get("0a")).toEqual({ serialNumber: "0a", reason: "keyCompromise", revokedAt: new Date(1_000) });
  });

  it("a revision counter that is not a number: revision and revoke reject (CORRUPT), revoke writes no entry", async () => {
    const store = new RedisRevocationStore(redis.client, { keyPrefix: "junk-rev:" });
    await redis.client.set("junk-rev:revision:{ca}", "not-a-number");
    await expect(store.revision()).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE", message: expect.stringMatching(/corrupt revocation revision counter/) });
    await expect(store.revoke({ serialNumber: "0c", reason: "superseded" })).rejects.toMatchObject({
      code: "ERR_STORE_UNAVAILABLE",
      message: "Redis holds a corrupt revocation revision counter (not a number): revoke refused and changed nothing (fix or delete the key)",
    });
    expect(await redis.client.hget("junk-rev:revoked:{ca}", "0c")).toBeNull();
    // Fixed by the operator: the retry creates the entry and moves the revision on.
    await redis.client.set("junk-rev:revision:{ca}", "41");
    expect(await store.revoke({ serialNumber: "0c", reason: "superseded" })).toMatchObject({ created: true });
    expect(await store.revision()).toBe(42);
  });
});
