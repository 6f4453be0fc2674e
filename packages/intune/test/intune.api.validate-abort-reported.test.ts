/**
 * IntuneValidator.validate's `signal`: an abort whose reason is a `TimeoutError` (the caller's deadline,
 * `AbortSignal.timeout(ms)`) is told to `onError` exactly once as ERR_INTUNE_TIMEOUT (operation `validateRequest`),
 * whichever step it ends: the call to Intune, Intune's answer coming in, the replay cache or the rate limiter asked
 * after Intune's Success. Any other abort (the caller's own decision) is not reported. Intune is the loopback fake of
 * test/support/fake-intune.ts; the stores are real memory stores, wrapped so that their call hangs or so that the
 * abort lands at a chosen turn. No clock: every wait is a number of event-loop turns.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { CertificationRequest } from "@scep/core";
import { IntuneValidator, MemoryRateLimiter, MemoryReplayCache, type Fetch, type IntuneError, type IntuneValidatorOptions, type RateLimiter, type ReplayCache } from "../src/index.js";
import { startFakeIntune, fakeIntuneConnection, type FakeIntune } from "./support/fake-intune.js";
import { csrWith } from "./support/tokens.js";

const TXID = "9C4E2B7A1D0F3E5C8B6A4D2F0E9C7B5A";
/** Every call's own timeout: far beyond any test, so only the signal ends what hangs. */
const TIMEOUT_MS = 60_000;
const UNAVAILABLE = { ok: false, reason: "intune_unavailable", failInfo: "badRequest", failInfoText: "Intune challenge validation is unavailable; try again later" };
const LIMIT = { max: 5, windowMs: 60_000 };

let fake: FakeIntune;
let unhandled: unknown[];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
let csr: CertificationRequest;
let reported: { code: string; operation: string; message: string; cause: unknown }[];

beforeAll(async () => {
  csr = await csrWith("opaque-intune-challenge-blob");
});
beforeEach(async () => {
  fake = await startFakeIntune();
  unhandled = [];
  reported = [];
  process.on("unhandledRejection", onUnhandled);
});
afterEach(async () => {
  await fake.close();
  process.off("unhandledRejection", onUnhandled);
});

/** The reason `AbortSignal.timeout(ms)` aborts with: the caller's deadline. */
const deadline = (): DOMException => new DOMException("the caller's deadline passed", "TimeoutError");

const validator = (options: Partial<IntuneValidatorOptions> = {}): IntuneValidator =>
  new IntuneValidator({
    ...fakeIntuneConnection(fake),
    timeoutMs: TIMEOUT_MS,
    retries: 0,
    onError: (e: IntuneError, operation) => void reported.push({ code: e.code, operation, message: e.message, cause: e.cause }),
    ...options,
  });
const input = (signal: AbortSignal) => ({ challenge: csr.challengePassword, csr, request: { transactionId: TXID }, profile: "intune", signal });

/** Turns of the event loop (I/O included) until `done()` holds: waits on the loopback exchange, not on a clock. */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setImmediate(r));
}
/** Whether `done()` comes to hold within `turns` turns of the event loop. */
async function within(done: () => boolean, turns = 500): Promise<boolean> {
  for (let i = 0; i < turns && !done(); i++) await new Promise((r) => setImmediate(r));
  return done();
}
/** How `p` settles within `turns` turns of the event loop: `{ value }`, `{ error }`, or "pending". */
async function settles<T>(p: Promise<T>, turns = 500): Promise<{ value: T } | { error: unknown } | "pending"> {
  let out: { value: T } | { error: unknown } | "pending" = "pending";
  p.then(
    (value) => (out = { value }),
    (error: unknown) => (out = { error }),
  );
  await within(() => out !== "pending", turns);
  return out;
}

/** A memory replay cache whose `checkAndInsert` waits until the test answers (a store that hangs). */
function hangingReplayCache(): { cache: ReplayCache; asked: () => boolean; answer: () => void; memory: MemoryReplayCache } {
  const memory = new MemoryReplayCache();
  let go: (() => void) | undefined;
  const cache: ReplayCache = {
    checkAndInsert: async (key, ttl) => {
      await new Promise<void>((r) => (go = r));
      return memory.checkAndInsert(key, ttl);
    },
    release: (key) => memory.release(key),
  };
  return { cache, memory, asked: () => go !== undefined, answer: () => go!() };
}

/** A memory rate limiter whose `hit` waits until the test answers. */
function hangingRateLimiter(): { limiter: RateLimiter; asked: () => boolean; answer: () => void; memory: MemoryRateLimiter } {
  const memory = new MemoryRateLimiter();
  let go: (() => void) | undefined;
  const limiter: RateLimiter = {
    hit: async (key, limit) => {
      await new Promise<void>((r) => (go = r));
      return memory.hit(key, limit);
    },
    release: (key, id) => memory.release(key, id),
  };
  return { limiter, memory, asked: () => go !== undefined, answer: () => go!() };
}

const STORES_TIMEOUT = "Intune validation (replay cache and rate limiter after Intune's Success): the caller's deadline passed";

describe("validate: a TimeoutError abort in the store step after Intune's Success is reported to onError", () => {
  it("the replay cache hangs: intune_unavailable at the abort, ERR_INTUNE_TIMEOUT reported once; the entry recorded later is given back", async () => {
    const replay = hangingReplayCache();
    const v = validator({ replayCache: replay.cache });
    const controller = new AbortController();
    const verdict = v.validate(input(controller.signal));
    await until(replay.asked);
    expect(fake.of("validateRequest")).toHaveLength(1); // Intune answered Success; the store step is under way
    const reason = deadline();
    controller.abort(reason);
    expect(await settles(verdict)).toEqual({ value: UNAVAILABLE });
    expect(reported).toEqual([{ code: "ERR_INTUNE_TIMEOUT", operation: "validateRequest", message: STORES_TIMEOUT, cause: reason }]);
    replay.answer();
    await within(() => false, 20);
    expect(await replay.memory.checkAndInsert(TXID, 60_000)).toBe(true); // given back when the store answered
    expect(reported).toHaveLength(1); // the late answer reports nothing more
    expect(unhandled).toEqual([]);
  });

  it("the rate limiter hangs: intune_unavailable at the abort, ERR_INTUNE_TIMEOUT reported once; the transactionID and the late hit are given back", async () => {
    const replayCache = new MemoryReplayCache();
    const rate = hangingRateLimiter();
    const v = validator({ replayCache, rateLimiter: rate.limiter, rateLimit: LIMIT });
    const controller = new AbortController();
    const verdict = v.validate(input(controller.signal));
    await until(rate.asked);
    const reason = deadline();
    controller.abort(reason);
    expect(await settles(verdict)).toEqual({ value: UNAVAILABLE });
    expect(reported).toEqual([{ code: "ERR_INTUNE_TIMEOUT", operation: "validateRequest", message: STORES_TIMEOUT, cause: reason }]);
    rate.answer();
    expect(await within(() => rate.memory.size === 0 && replayCache.size === 0)).toBe(true);
    expect(reported).toHaveLength(1);
    expect(unhandled).toEqual([]);
  });

  it("the caller's own abort (not a TimeoutError) in the same step: intune_unavailable, not reported", async () => {
    const replay = hangingReplayCache();
    const v = validator({ replayCache: replay.cache });
    const controller = new AbortController();
    const verdict = v.validate(input(controller.signal));
    await until(replay.asked);
    controller.abort();
    expect(await settles(verdict)).toEqual({ value: UNAVAILABLE });
    replay.answer();
    await within(() => false, 20);
    expect(reported).toEqual([]);
    expect(unhandled).toEqual([]);
  });

  // The abort lands 0, 1, 2, … microtasks after the rate limiter answered: before validate saw the stores' verdict,
  // as it did, or after validate answered. Whatever the turn, a refusal at the abort is reported exactly once, and
  // an `ok` (the abort came after the answer) not at all.
  it("the abort lands at any turn after the rate limiter answered: intune_unavailable is reported exactly once, ok never", async () => {
    const outcomes = new Set<string>();
    for (let depth = 0; depth <= 40; depth++) {
      reported = [];
      const controller = new AbortController();
      const memory = new MemoryRateLimiter();
      const rateLimiter: RateLimiter = {
        hit: async (key, limit) => {
          const r = await memory.hit(key, limit);
          let hop = Promise.resolve();
          for (let i = 0; i < depth; i++) hop = hop.then(() => undefined);
          void hop.then(() => controller.abort(deadline()));
          return r;
        },
        release: (key, id) => memory.release(key, id),
      };
      const v = validator({ replayCache: new MemoryReplayCache(), rateLimiter, rateLimit: LIMIT });
      const verdict = await v.validate(input(controller.signal));
      await within(() => controller.signal.aborted, 20);
      if (verdict.ok) {
        outcomes.add("ok");
        expect(reported, `depth ${depth}`).toEqual([]);
      } else {
        outcomes.add("unavailable");
        expect(verdict, `depth ${depth}`).toEqual(UNAVAILABLE);
        expect(reported.map((r) => [r.code, r.operation, r.message]), `depth ${depth}`).toEqual([["ERR_INTUNE_TIMEOUT", "validateRequest", STORES_TIMEOUT]]);
        expect(await within(() => memory.size === 0), `depth ${depth}: the hit given back`).toBe(true);
      }
    }
    expect([...outcomes].sort()).toEqual(["ok", "unavailable"]); // the sweep crossed the moment validate answered
    expect(unhandled).toEqual([]);
  });
});

describe("validate: a TimeoutError abort around the call to Intune is reported once", () => {
  it("the abort comes as Intune's answer is read to its end: intune_unavailable, ERR_INTUNE_TIMEOUT reported once, nothing spent", async () => {
    const controller = new AbortController();
    const reason = deadline();
    // Intune's real answer from the fake, handed on as a body whose end (its last read) comes with the caller's deadline.
    const atLastByte: Fetch = async (url, init) => {
      const res = await fetch(url, init);
      if (!String(url).includes("ScepActions/validateRequest")) return res;
      const bytes = new Uint8Array(await res.arrayBuffer());
      let sent = false;
      const body = new ReadableStream<Uint8Array>(
        {
          pull(c) {
            if (!sent) {
              sent = true;
              c.enqueue(bytes);
              return;
            }
            c.close();
            controller.abort(reason);
          },
        },
        { highWaterMark: 0 },
      );
      return new Response(body, { status: res.status, headers: res.headers });
    };
    const replayCache = new MemoryReplayCache();
    const v = validator({ fetch: atLastByte, replayCache });
    expect(await settles(v.validate(input(controller.signal)))).toEqual({ value: UNAVAILABLE });
    expect(fake.of("validateRequest")).toHaveLength(1);
    expect(reported).toEqual([{ code: "ERR_INTUNE_TIMEOUT", operation: "validateRequest", message: "Intune validateRequest: the caller's deadline passed", cause: reason }]);
    expect(replayCache.size).toBe(0); // nothing spent
    expect(unhandled).toEqual([]);
  });

  it("Intune does not answer: the abort ends the call, ERR_INTUNE_TIMEOUT reported once (not twice)", async () => {
    const v = validator();
    const warm = new AbortController();
    expect(await v.validate(input(warm.signal))).toMatchObject({ ok: true }); // tokens and endpoint cached
    fake.next("validateRequest", { hang: true });
    const controller = new AbortController();
    const verdict = v.validate(input(controller.signal));
    await until(() => fake.open("validateRequest") === 1);
    controller.abort(deadline());
    expect(await settles(verdict)).toEqual({ value: UNAVAILABLE });
    await within(() => false, 20);
    expect(reported.map((r) => [r.code, r.operation])).toEqual([["ERR_INTUNE_TIMEOUT", "validateRequest"]]);
    expect(unhandled).toEqual([]);
  });
});
