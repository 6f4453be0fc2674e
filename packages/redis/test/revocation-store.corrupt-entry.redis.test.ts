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
      message: "Redis holds a corrupt revocation revision counter (not an integer from 0 to 2^53 - 1 without leading zeros): revoke refused and changed nothing (fix or delete the key)",
    });
    expect(await redis.client.hget("junk-rev:revoked:{ca}", "0c")).toBeNull();
    // Fixed by the operator: the retry creates the entry and moves the revision on.
    await redis.client.set("junk-rev:revision:{ca}", "41");
    expect(await store.revoke({ serialNumber: "0c", reason: "superseded" })).toMatchObject({ created: true });
    expect(await store.revision()).toBe(42);
  });

  // Digits INCR cannot increment ("007", 20 digits: "not an integer or out of range"; int64's largest: "would overflow")
  // or revision() cannot answer exactly (2^53): the old check `^%d+$` let them through, the entry was written, INCR
  // failed, the retry answered created: false and the revision never moved; revision() read "007" as 7.
  const COUNTERS = ["007", "00", "99999999999999999999", "9223372036854775807", "9007199254740992"];
  it.each(COUNTERS)("a revision counter %j: revision and revoke reject (CORRUPT), no entry written, the counter unchanged", async (junk) => {
    const prefix = `junk-digits-${Math.random().toString(36).slice(2)}:`;
    const store = new RedisRevocationStore(redis.client, { keyPrefix: prefix, retryAfterSeconds: 5 });
    await redis.client.set(`${prefix}revision:{ca}`, junk);
    const corrupt = {
      name: "StoreUnavailableError",
      code: "ERR_STORE_UNAVAILABLE",
      retryAfterSeconds: 5,
      message: expect.stringMatching(/^Redis holds a corrupt revocation revision counter \(not an integer from 0 to 2\^53 - 1 without leading zeros\): (revision|revoke) refused and changed nothing/),
    };
    await expect(store.revision()).rejects.toMatchObject(corrupt);
    for (let i = 0; i < 2; i++) await expect(store.revoke({ serialNumber: "0d", reason: "superseded" })).rejects.toMatchObject(corrupt);
    expect(await redis.client.hgetall(`${prefix}revoked:{ca}`)).toEqual({});
    expect(await redis.client.get(`${prefix}revision:{ca}`)).toBe(junk);
  });

  it("a revision counter at 2^53 - 1: revision reads it, revoke refuses (its INCR would leave the rule) and writes nothing", async () => {
    const store = new RedisRevocationStore(redis.client, { keyPrefix: "junk-max:" });
    await redis.client.set("junk-max:revision:{ca}", String(Number.MAX_SAFE_INTEGER));
    expect(await store.revision()).toBe(Number.MAX_SAFE_INTEGER);
    await expect(store.revoke({ serialNumber: "0e", reason: "superseded" })).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE", message: expect.stringMatching(/revision counter \(at its largest, 2\^53 - 1: a revocation cannot move it on\): revoke refused and changed nothing/) });
    expect(await redis.client.hgetall("junk-max:revoked:{ca}")).toEqual({});
    expect(await redis.client.get("junk-max:revision:{ca}")).toBe(String(Number.MAX_SAFE_INTEGER));
  });

  it("0 and 2^53 - 2 are revisions: revoke moves them on", async () => {
    for (const [start, next] of [["0", 1], [String(Number.MAX_SAFE_INTEGER - 1), Number.MAX_SAFE_INTEGER]] as const) {
      const prefix = `rev-edge-${start}:`;
      const store = new RedisRevocationStore(redis.client, { keyPrefix: prefix });
      await redis.client.set(`${prefix}revision:{ca}`, start);
      expect(await store.revoke({ serialNumber: "0f", reason: "superseded" })).toMatchObject({ created: true });
      expect(await store.revision()).toBe(next);
    }
  });

  // The upgrade path read the entry's ms by `%d+` while get/list read `\d{1,16}` and a valid Date: it rewrote
  // "99999999999999999:superseded" as keyCompromise, moved the revision on, then threw "refused and changed nothing".
  it("an upgradable entry whose ms is beyond a Date: revoke(keyCompromise) rejects and changes neither the entry nor the revision", async () => {
    const store = new RedisRevocationStore(redis.client, { keyPrefix: "junk-upgrade:" });
    await store.revoke({ serialNumber: "0a", reason: "superseded", revokedAt: new Date(1_000) });
    const revision = await store.revision();
    for (const junk of ["99999999999999999:superseded", "8640000000000001:certificateHold", "-8640000000000001:superseded"]) {
      await redis.client.hset("junk-upgrade:revoked:{ca}", "0b", junk);
      await expect(store.revoke({ serialNumber: "0b", reason: "keyCompromise" })).rejects.toMatchObject({
        code: "ERR_STORE_UNAVAILABLE",
        message: "Redis holds a corrupt revocation entry (serial 0b is not <ms>:<reason> with a known reason): revoke refused and changed nothing (fix or delete the key)",
      });
      expect(await redis.client.hget("junk-upgrade:revoked:{ca}", "0b")).toBe(junk);
      expect(await store.revision()).toBe(revision);
    }
  });

  it("a revocation before 1970 (negative ms) is written and read back by the same rule", async () => {
    const store = new RedisRevocationStore(redis.client, { keyPrefix: "neg-ms:" });
    const revokedAt = new Date(-86_400_000);
    expect(await store.revoke({ serialNumber: "0a", reason: "certificateHold", revokedAt })).toMatchObject({ created: true, entry: { revokedAt } });
    expect(await store.revoke({ serialNumber: "0a", reason: "keyCompromise" })).toMatchObject({ updated: true, entry: { reason: "keyCompromise", revokedAt } });
    expect(await store.list()).toEqual([{ serialNumber: "0a", reason: "keyCompromise", revokedAt }]);
  });
});
