/**
 * What both validators (Mode A: IntuneValidator, Mode B: SignedTokenValidator)
 * give back of what an accepted challenge spent in the stores (the replay
 * entry of the transactionID or nonce, the rate-limit hit), on the in-memory
 * stores wrapped to record every call and to fail on demand:
 * - a store error after the replay entry was recorded (the server answers 503)
 *   gives the entry back, so the device's resend is not a replay;
 * - the verdict's `release` (the server failed the request) gives back both;
 * - a `checkAndInsert` that fails is never answered with `release(key)`: the
 *   key may be a live entry of the request that spent it first.
 * The Redis stores' own undo of a write that lands after a timeout is held in
 * packages/redis/test/intune.replay-insert-timeout.redis.test.ts.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { CertificationRequest } from "@scep/core";
import { IntuneValidator, MemoryRateLimiter, MemoryReplayCache, SignedTokenValidator, TrustAnchorPool, type RateLimiter, type ReplayCache, type ValidatorVerdict } from "../src/index.js";
import { startFakeIntune, fakeIntuneConnection, type FakeIntune } from "./support/fake-intune.js";
import { NOW, anchor, csrWith, goodClaims, mint, type Anchor } from "./support/tokens.js";

const TXID = "6D3A1C9F0B7E4A2D8C5B1E0F9A8D7C6B";

/** Memory stores that log every call and fail the named operation while it is in `failing`. */
function stores() {
  const cache = new MemoryReplayCache({ now: () => NOW });
  const limiter = new MemoryRateLimiter({ now: () => NOW });
  const calls: string[] = [];
  const failing = new Set<"checkAndInsert" | "hit" | "limiter.release" | "replay.release">();
  const fail = (what: string) => Promise.reject(new Error(`ETIMEDOUT (${what})`));
  const replayCache: ReplayCache = {
    checkAndInsert: async (key, ttlMs) => {
      calls.push(`checkAndInsert ${key}`);
      return failing.has("checkAndInsert") ? fail("checkAndInsert") : cache.checkAndInsert(key, ttlMs);
    },
    release: async (key) => {
      calls.push(`replay.release ${key}`);
      return failing.has("replay.release") ? fail("replay.release") : cache.release(key);
    },
  };
  const rateLimiter: RateLimiter = {
    hit: async (key, limit) => {
      calls.push(`hit ${key}`);
      if (failing.has("hit")) return fail("hit");
      const r = await limiter.hit(key, limit);
      if (r.allowed) calls.push(`hit id ${r.id}`);
      return r;
    },
    release: async (key, id) => {
      calls.push(`limiter.release ${key} ${id}`);
      return failing.has("limiter.release") ? fail("limiter.release") : limiter.release(key, id);
    },
  };
  return { replayCache, rateLimiter, calls, failing };
}
type Stores = ReturnType<typeof stores>;

let fake: FakeIntune;
let ec: Anchor;
let pool: TrustAnchorPool;
let intuneCsr: CertificationRequest;

beforeAll(async () => {
  ec = await anchor("p256");
  pool = TrustAnchorPool.fromPem(ec.pem, { now: () => NOW });
  intuneCsr = await csrWith("opaque-intune-challenge-blob");
});
beforeEach(async () => {
  fake = await startFakeIntune();
});
afterEach(() => fake.close());

/** One validator per mode, on the given stores, and the one request it is asked about again and again. */
interface Mode {
  /** The replay key the request spends. */
  replayKey: string;
  /** The rate-limit key the request spends. */
  rateKey: string;
  validate(): Promise<ValidatorVerdict>;
}
const modes: [string, (s: Stores, extra?: { compliance?: () => boolean }) => Promise<Mode>][] = [
  [
    "Mode A (IntuneValidator): the transactionID",
    async (s) => {
      const v = new IntuneValidator({
        ...fakeIntuneConnection(fake),
        timeoutMs: 5_000,
        retries: 0,
        now: () => NOW,
        replayCache: s.replayCache,
        rateLimiter: s.rateLimiter,
        rateLimit: { max: 1, windowMs: 86_400_000 },
      });
      return { replayKey: TXID, rateKey: JSON.stringify(["", intuneCsr.subject]), validate: () => v.validate({ challenge: intuneCsr.challengePassword, csr: intuneCsr, request: { transactionId: TXID } }) };
    },
  ],
  [
    "Mode B (SignedTokenValidator): the nonce",
    async (s, extra = {}) => {
      const v = new SignedTokenValidator({
        trustAnchors: pool,
        now: () => NOW,
        replayCache: s.replayCache,
        rateLimiter: s.rateLimiter,
        rateLimit: { max: 1, windowMs: 86_400_000 },
        ...(extra.compliance ? { compliance: extra.compliance } : {}),
      });
      const claims = goodClaims({ nonce: "nonce-give-back-1" });
      const csr = await csrWith(mint(ec.privateKey, claims));
      return { replayKey: "nonce-give-back-1", rateKey: JSON.stringify([claims["sub"], claims["iss"]]), validate: () => v.validate({ challenge: csr.challengePassword, csr, request: { transactionId: "T1" } }) };
    },
  ],
];

describe.each(modes)("%s", (_name, make) => {
  it("the rate limiter fails after the replay entry was recorded: ERR_STORE_UNAVAILABLE, the entry is released once, and the resend validates", async () => {
    const s = stores();
    const m = await make(s);
    s.failing.add("hit");
    await expect(m.validate()).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE", message: "the rate limiter is unavailable" });
    expect(s.calls).toEqual([`checkAndInsert ${m.replayKey}`, `hit ${m.rateKey}`, `replay.release ${m.replayKey}`]);
    s.failing.delete("hit");
    expect(await m.validate()).toMatchObject({ ok: true });
  });

  it("the give-back itself fails too: the limiter's error is what validate rejects with (the release error is dropped)", async () => {
    const s = stores();
    const m = await make(s);
    s.failing.add("hit").add("replay.release");
    await expect(m.validate()).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE", message: "the rate limiter is unavailable" });
    expect(s.calls.filter((c) => c.startsWith("replay.release"))).toHaveLength(1);
  });

  it("the verdict's release gives back the replay entry and the very hit recorded, once each; the resend validates", async () => {
    const s = stores();
    const m = await make(s);
    const first = await m.validate();
    expect(first).toMatchObject({ ok: true, release: expect.any(Function) });
    const id = s.calls.find((c) => c.startsWith("hit id "))!.slice("hit id ".length);
    s.calls.length = 0;
    await (first as { release: () => Promise<unknown> }).release();
    expect(s.calls.sort()).toEqual([`limiter.release ${m.rateKey} ${id}`, `replay.release ${m.replayKey}`]);
    expect(await m.validate()).toMatchObject({ ok: true }); // neither a replay nor over the limit of 1
    expect(await m.validate()).toMatchObject({ ok: false, reason: "replay" });
  });

  it("checkAndInsert fails: ERR_STORE_UNAVAILABLE and nothing else is called (release(key) could forget the entry of the request that spent the key first)", async () => {
    const s = stores();
    const m = await make(s);
    expect(await m.validate()).toMatchObject({ ok: true }); // the first request spends the key
    s.calls.length = 0;
    s.failing.add("checkAndInsert");
    await expect(m.validate()).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE", message: "the replay cache is unavailable" });
    expect(s.calls).toEqual([`checkAndInsert ${m.replayKey}`]);
    s.failing.delete("checkAndInsert");
    expect(await m.validate()).toMatchObject({ ok: false, reason: "replay" }); // the replay is still refused
  });
});

describe("Mode B, gate 10: compliance refuses after the hit was counted", () => {
  it("the hit is given back and the nonce stays spent (a refused token is not retried)", async () => {
    const s = stores();
    const m = await modes[1]![1](s, { compliance: () => false });
    expect(await m.validate()).toMatchObject({ ok: false, reason: "compliance_failed" });
    expect(s.calls.filter((c) => !c.startsWith("hit id "))).toEqual([`checkAndInsert ${m.replayKey}`, `hit ${m.rateKey}`, expect.stringMatching(/^limiter\.release /)]);
    expect(await m.validate()).toMatchObject({ ok: false, reason: "replay" });
  });

  it("giving the hit back fails: ERR_STORE_UNAVAILABLE (503) and the nonce is released; the resend is refused as rate_limited (the hit still counts), not as a replay", async () => {
    const s = stores();
    const m = await modes[1]![1](s, { compliance: () => false });
    s.failing.add("limiter.release");
    await expect(m.validate()).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE", message: "the rate limiter is unavailable" });
    expect(s.calls.filter((c) => c.startsWith("replay.release"))).toEqual([`replay.release ${m.replayKey}`]);
    s.failing.delete("limiter.release");
    // Not "replay": the nonce was given back; the hit that could not be given back still counts (max 1).
    expect(await m.validate()).toMatchObject({ ok: false, reason: "rate_limited" });
  });
});
