/**
 * A full Redis (`maxmemory` reached under `maxmemory-policy noeviction`, what the README asks for) answers every
 * write `OOM command not allowed when used memory > 'maxmemory'` and still serves reads. A service on Express that
 * stored its state in Redis answered that error with a bare 500 (telefonicaid/PopBox#93,
 * https://github.com/telefonicaid/PopBox/issues/93); Redis itself refused even read-only MULTI blocks under OOM once
 * (redis/redis#106, https://github.com/redis/redis/issues/106), so which of our operations write matters.
 *
 * Ours, with RedisTransactionStore and RedisChallengeStore behind a SCEP server and the proxy's stores: a PKCSReq while
 * Redis is full is 503 with Retry-After (never a 5xx of ours, never a FAILURE that would end the device's enrollment);
 * the one-time challenge is not spent by the refused attempt (the consume script's first write is refused, so it
 * changes nothing), so the device's retry once memory is freed enrolls. GetCACaps and GetCACert do not
 * touch Redis. Real redis-server on loopback; `CONFIG SET maxmemory` makes it full.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildPkcsReq, createScepServer, type ScepProfile } from "@scep/core";
import { NOW, createDevice, createTestCa, getOp, issuingHook, postPki, readReply, type TestCa } from "../../core/test/support/server-pki.js";
import { usePrivateRedis } from "./support/private-redis.js";
import { RedisChallengeStore, RedisTransactionStore } from "../src/index.js";

const redis = usePrivateRedis();
let ca: TestCa;
beforeAll(async () => {
  ca = await createTestCa("Full Redis CA");
}, 60_000);

/** Every write refused from now on (Redis counts its own memory as over a 1-byte limit); reads still answered. */
async function fill(): Promise<void> {
  await redis.client.config("SET", "maxmemory-policy", "noeviction");
  await redis.client.config("SET", "maxmemory", "1");
}
afterEach(async () => {
  await redis.client.config("SET", "maxmemory", "0");
});

describe("RFC 8894 §3.3 with a full Redis (noeviction): 503 and the challenge kept (PopBox#93, redis#106)", () => {
  it("PKCSReq → 503 + Retry-After, the challenge not spent; GetCACaps/GetCACert 200; once freed the same device enrolls", async () => {
    const challenges = new RedisChallengeStore(redis.client, { keyPrefix: "full:", retryAfterSeconds: 9, now: () => NOW });
    const transactions = new RedisTransactionStore(redis.client, { keyPrefix: "full:", retryAfterSeconds: 9, now: () => NOW });
    const calls: unknown[] = [];
    const profile: ScepProfile = { name: "p", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "store", store: challenges }, transactions, issue: issuingHook(ca, calls as never[]) };
    const server = createScepServer({ profiles: [profile], now: () => NOW });
    const challenge = await challenges.issue({ profile: "p" });
    const device = await createDevice({ cn: "full-redis-device", challengePassword: challenge });
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });

    await fill();
    await expect(redis.client.set("probe", "x")).rejects.toThrow(/^OOM /);
    const refused = await postPki(server, "/scep", built.der);
    expect([refused.status, refused.headers.get("retry-after")]).toEqual([503, "9"]);
    expect(calls).toHaveLength(0);
    // Nothing of the refused attempt was written, the challenge included: a direct consume is refused the same way.
    await expect(challenges.consume(challenge, { profile: "p" })).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE", retryAfterSeconds: 9 });
    for (const op of ["GetCACaps", "GetCACert"]) expect((await getOp(server, "/scep", op)).status).toBe(200);

    // Freed. The refused attempt's claim could not be let go while Redis was full: the retry waits it out (10 s in
    // process), then is issued once, with the challenge the refused attempt did not spend.
    await redis.client.config("SET", "maxmemory", "0");
    const rep = await readReply(await postPki(server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.cert] });
    expect(rep.status).toBe("SUCCESS");
    expect(calls).toHaveLength(1);
  }, 60_000);

  it("each store operation that writes rejects with ERR_STORE_UNAVAILABLE; reads answer", async () => {
    const challenges = new RedisChallengeStore(redis.client, { keyPrefix: "full2:", now: () => NOW });
    const transactions = new RedisTransactionStore(redis.client, { keyPrefix: "full2:", now: () => NOW });
    const live = await challenges.issue({ profile: "p" });
    await fill();
    await expect(challenges.issue({ profile: "p" })).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE" });
    await expect(challenges.consume(live, { profile: "p" })).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE" });
    expect(await transactions.get("p", "none")).toBeUndefined();
    await redis.client.config("SET", "maxmemory", "0");
    expect(await challenges.consume(live, { profile: "p" })).toBe(true);
  }, 30_000);
});
