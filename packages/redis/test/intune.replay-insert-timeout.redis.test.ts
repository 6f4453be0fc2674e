/**
 * The fault held here: a store write that times out but lands. Redis is
 * paused (SIGSTOP) past `commandTimeoutMs` while a validator records what an
 * acceptable request spends; the store rejects (ERR_STORE_UNAVAILABLE: the
 * server answers 503 and the device resends), yet the write sits on the
 * connection and Redis runs it when it resumes. Without an undo, the resend is
 * refused as a replay of its own transactionID or token (or counted twice by
 * the rate limiter): lost state. Each test resumes Redis, polls a separate raw
 * connection until the late write has run and been undone, then validates the
 * same request again and expects it accepted.
 *
 * Mode A (IntuneValidator: the transactionID) and Mode B
 * (SignedTokenValidator: the nonce) on RedisReplayCache; Mode B's rate-limit
 * hit on RedisRateLimiter. And the order the undo relies on: once a call has
 * rejected, no command of it is sent any more (a NOSCRIPT retry would
 * overtake the undo). Real redis-server on loopback, no mock of it.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CertificationRequest } from "@scep/core";
import { IntuneValidator, MemoryReplayCache, SignedTokenValidator, TrustAnchorPool } from "@scep/intune";
import { CLIENT_ID, CLIENT_SECRET, TENANT, startFakeIntune, type FakeIntune } from "../../intune/test/support/fake-intune.js";
import { NOW, anchor, csrWith, goodClaims, mint, type Anchor } from "../../intune/test/support/tokens.js";
import { usePrivateRedis } from "./support/private-redis.js";
import { calls, pause, until } from "./support/redis-probes.js";
import { RedisRateLimiter, RedisReplayCache, type RedisClient } from "../src/index.js";

const redis = usePrivateRedis();
// Short only where Redis is paused (the call must time out); every step that must succeed gets a generous deadline,
// through a second validator on the same Redis (a second replica, as far as the stores can tell).
const PAUSED_DEADLINE_MS = 300;
const DEADLINE_MS = 10_000;
const sha256 = (s: string): string => createHash("sha256").update(s, "utf8").digest("hex");

let fake: FakeIntune;
let ec: Anchor;
let pool: TrustAnchorPool;

beforeAll(async () => {
  [fake, ec] = await Promise.all([startFakeIntune(), anchor("p256")]);
  pool = TrustAnchorPool.fromPem(ec.pem, { now: () => NOW });
}, 60_000);
afterAll(() => fake?.close());

const exists = async (key: string): Promise<boolean> => (await redis.server.command(`EXISTS ${key}`)).trim() === ":1";

/**
 * Pauses Redis (until it is really stopped), expects `validate` to reject with ERR_STORE_UNAVAILABLE, resumes Redis, and waits until Redis has
 * run the late write (`command`'s count grew) and `key` is gone again.
 */
async function timeOutWhileWriting(validate: () => Promise<unknown>, command: string, gone: () => Promise<boolean>): Promise<void> {
  const before = await calls(redis.server, command);
  await pause(redis.server); // stopped before the write is sent: it waits in the socket and must time out
  try {
    await expect(validate()).rejects.toMatchObject({ name: "StoreUnavailableError", code: "ERR_STORE_UNAVAILABLE" });
  } finally {
    redis.server.resume();
  }
  expect(await until(async () => (await calls(redis.server, command)) > before), `Redis ran the late ${command}`).toBe(true);
  expect(await until(gone), "the late write was undone").toBe(true);
}

describe("a replay-cache insert that times out but lands is given back: the device's resend after the 503 validates", () => {
  it("Mode A (IntuneValidator): the transactionID's late SET is undone; the same transaction validates", async () => {
    const csr: CertificationRequest = await csrWith("opaque-intune-challenge-blob");
    const transactionId = "A1B2C3D4E5F60718293A4B5C6D7E8F90";
    const validator = (commandTimeoutMs: number) =>
      new IntuneValidator({
        tenant: TENANT,
        clientId: CLIENT_ID,
        credential: { clientSecret: CLIENT_SECRET },
        loginBaseUrl: fake.base,
        graphBaseUrl: fake.base,
        timeoutMs: 10_000,
        replayCache: new RedisReplayCache(redis.client, { keyPrefix: "mode-a:", commandTimeoutMs }),
      });
    const [paused, after] = [validator(PAUSED_DEADLINE_MS), validator(DEADLINE_MS)];
    const input = { challenge: csr.challengePassword, csr, request: { transactionId } };
    const key = `mode-a:replay:${sha256(transactionId)}`;
    await paused.client.validateRequest({ transactionId: "WARM-UP", certificateRequest: csr.der }); // tokens and discovery before the pause

    await timeOutWhileWriting(() => paused.validate(input), "set", async () => !(await exists(key)));

    expect(await after.validate(input)).toMatchObject({ ok: true });
    expect(await after.validate(input)).toMatchObject({ ok: false, reason: "replay" }); // and the transactionID is spent again
  }, 90_000);

  it("Mode B (SignedTokenValidator): the nonce's late SET is undone; the same token validates", async () => {
    const nonce = "nonce-late-set-1";
    const csr = await csrWith(mint(ec.privateKey, goodClaims({ nonce })));
    const validator = (commandTimeoutMs: number) =>
      new SignedTokenValidator({
        trustAnchors: pool,
        now: () => NOW,
        replayCache: new RedisReplayCache(redis.client, { keyPrefix: "mode-b:", commandTimeoutMs, now: () => NOW }),
        rateLimiter: new RedisRateLimiter(redis.client, { keyPrefix: "mode-b:", commandTimeoutMs, now: () => NOW }),
      });
    const [paused, after] = [validator(PAUSED_DEADLINE_MS), validator(DEADLINE_MS)];
    const input = { challenge: csr.challengePassword, csr, request: { transactionId: "T1" } };
    const key = `mode-b:replay:${sha256(nonce)}`;

    await timeOutWhileWriting(() => paused.validate(input), "set", async () => !(await exists(key)));

    expect(await after.validate(input)).toMatchObject({ ok: true });
    expect(await after.validate(input)).toMatchObject({ ok: false, reason: "replay" });
  }, 90_000);
});

describe("a rate-limit hit that times out but lands is given back (its id is made client-side)", () => {
  it("Mode B: the late hit is removed; with max 1 the resend after the 503 validates", async () => {
    const claims = goodClaims({ nonce: "nonce-late-hit-1", sub: "device-late-hit" });
    const csr = await csrWith(mint(ec.privateKey, claims));
    const replayCache = new MemoryReplayCache({ now: () => NOW }); // one process: the nonce is given back by the validator
    const validator = (commandTimeoutMs: number) => {
      const rateLimiter = new RedisRateLimiter(redis.client, { keyPrefix: "hit:", commandTimeoutMs, now: () => NOW });
      return new SignedTokenValidator({ trustAnchors: pool, now: () => NOW, replayCache, rateLimiter, rateLimit: { max: 1, windowMs: 86_400_000 } });
    };
    const [paused, after] = [validator(PAUSED_DEADLINE_MS), validator(DEADLINE_MS)];
    await new RedisRateLimiter(redis.client, { keyPrefix: "hit:" }).hit("warm-up", { max: 1, windowMs: 60_000 }); // Redis knows the script: the paused EVALSHA runs as sent
    const input = { challenge: csr.challengePassword, csr, request: { transactionId: "T1" } };
    const key = `hit:rate:${sha256(JSON.stringify([claims["sub"], claims["iss"]]))}`;

    await timeOutWhileWriting(() => paused.validate(input), "evalsha", async () => (await redis.server.command(`ZCARD ${key}`)).trim() === ":0");

    expect(await after.validate(input)).toMatchObject({ ok: true }); // not rate_limited: the late hit does not count
  }, 90_000);
});

describe("nothing of a rejected call is sent after it: the undo stays the last word", () => {
  it("an EVALSHA answered NOSCRIPT after the deadline is not retried as EVAL (it would add the hit after its ZREM)", async () => {
    // The store's client, with Redis paused just before the hit's EVALSHA is written.
    let pauseBeforeEvalsha = false;
    const client: RedisClient = {
      callBuffer: async (command, args) => {
        if (command === "EVALSHA" && pauseBeforeEvalsha) {
          pauseBeforeEvalsha = false;
          await pause(redis.server);
        }
        return redis.client.callBuffer(command, args);
      },
    };
    const limiter = new RedisRateLimiter(client, { keyPrefix: "noscript:", commandTimeoutMs: PAUSED_DEADLINE_MS, now: () => NOW });
    const key = `noscript:rate:${sha256("device-noscript")}`;
    await redis.client.script("FLUSH"); // the hit's EVALSHA will be answered NOSCRIPT
    const zrems = await calls(redis.server, "zrem");

    pauseBeforeEvalsha = true;
    try {
      await expect(limiter.hit("device-noscript", { max: 1, windowMs: 86_400_000 })).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE" });
    } finally {
      redis.server.resume();
    }
    expect(await until(async () => (await calls(redis.server, "zrem")) > zrems), "Redis ran the undo (ZREM)").toBe(true);
    // Barrier: the NOSCRIPT reply came before the ZREM's; a retry would be written before the first PING's reply is read.
    await redis.client.ping();
    await redis.client.ping();
    expect((await redis.server.command(`ZCARD ${key}`)).trim()).toBe(":0");
    const after = new RedisRateLimiter(redis.client, { keyPrefix: "noscript:", commandTimeoutMs: DEADLINE_MS, now: () => NOW });
    expect(await after.hit("device-noscript", { max: 1, windowMs: 86_400_000 })).toMatchObject({ allowed: true, count: 1 });
  }, 90_000);
});
