/**
 * The conformance suite every {@link ReplayCache} runs: the memory cache,
 * `@scep/redis`'s, and a cache of your own.
 *
 * @module
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { manualClock, type ManualClock, type StoreFactoryContext } from "@scep/core/testing";
import type { ReplayCache } from "../stores/replay-cache.js";

/**
 * What every store rejects a bad argument with: @scep/core's InvalidArgumentError, by name and code, with `message`.
 * A store's errors are @scep/core's (as `StoreUnavailableError` is), whichever package the store comes from.
 */
export const invalidArgument = (message: string): unknown => expect.objectContaining({ name: "InvalidArgumentError", code: "ERR_INVALID_ARGUMENT", message });

/**
 * Options of {@link replayCacheConformance}.
 *
 * @group Storage
 */
export interface ReplayCacheConformanceOptions<S extends ReplayCache = ReplayCache> {
  /** Name shown in the test report, e.g. `"redis"`. */
  name: string;
  /** Creates the cache under test, wired to `context.now`; called before each test. */
  create: (context: StoreFactoryContext) => S | Promise<S>;
  /** Releases what `create` made; called after each test. */
  cleanup?: (store: S) => void | Promise<void>;
}

let counter = 0;
/** A key no other test (or earlier run against the same backend) used. */
const fresh = (label: string): string => `${label}-${Date.now().toString(36)}-${++counter}-${Math.random().toString(36).slice(2, 10)}`;

/**
 * Registers the ReplayCache conformance tests (vitest) for one
 * implementation. Call it at the top level of a test file. Every TTL it uses
 * is a minute or more, so a store that also hands expiry to its backend (a
 * Redis PX) keeps its entries while a test runs.
 *
 * What it holds a cache to: a key is accepted once, then refused until its
 * TTL has passed by the injected clock (refused at TTL − 1 ms, accepted again
 * at TTL); a refused call does not extend the entry; keys are case-sensitive
 * whole strings (no prefix or `a|b` collisions, any Unicode); the empty key is
 * never stored; a TTL of 0, a negative, a fractional, a non-finite or a
 * non-number TTL rejects with @scep/core's InvalidArgumentError
 * (`ERR_INVALID_ARGUMENT`, `ttlMs must be a positive integer number of
 * milliseconds (got 0)`) and records nothing; of 50 concurrent calls with one key exactly one is
 * true, and 50 concurrent calls with distinct keys are all true; `release`, when the cache has it, makes a recorded
 * key fresh once more and answers false for an unknown or expired one.
 *
 * @example
 * ```ts
 * import type { ReplayCache } from "@scep/intune";
 * import { replayCacheConformance } from "@scep/intune/testing";
 *
 * declare function myReplayCache(options: { now: () => Date }): ReplayCache; // yours
 *
 * replayCacheConformance({ name: "mine", create: ({ now }) => myReplayCache({ now }) });
 * ```
 *
 * @group Storage
 */
export function replayCacheConformance<S extends ReplayCache>(options: ReplayCacheConformanceOptions<S>): void {
  describe(`ReplayCache conformance: ${options.name}`, () => {
    let clock: ManualClock;
    let cache: S;

    beforeEach(async () => {
      clock = manualClock();
      cache = await options.create({ now: clock.now });
    });
    afterEach(async () => {
      await options.cleanup?.(cache);
    });

    it("a key is accepted once, then refused", async () => {
      const k = fresh("once");
      expect(await cache.checkAndInsert(k, 60_000)).toBe(true);
      expect(await cache.checkAndInsert(k, 60_000)).toBe(false);
      expect(await cache.checkAndInsert(k, 60_000)).toBe(false);
    });

    it("the entry expires at insert + TTL by the injected clock: refused at TTL − 1 ms, accepted at TTL", async () => {
      const k = fresh("ttl");
      expect(await cache.checkAndInsert(k, 60_000)).toBe(true);
      clock.advance(59_999);
      expect(await cache.checkAndInsert(k, 60_000)).toBe(false);
      clock.advance(1);
      expect(await cache.checkAndInsert(k, 60_000)).toBe(true);
      expect(await cache.checkAndInsert(k, 60_000)).toBe(false);
    });

    it("a refused call does not extend the entry", async () => {
      const k = fresh("extend");
      expect(await cache.checkAndInsert(k, 60_000)).toBe(true);
      clock.advance(59_000);
      expect(await cache.checkAndInsert(k, 60_000)).toBe(false);
      clock.advance(1_000);
      expect(await cache.checkAndInsert(k, 60_000)).toBe(true);
    });

    it("each entry keeps its own TTL", async () => {
      const short = fresh("short");
      const long = fresh("long");
      expect(await cache.checkAndInsert(short, 60_000)).toBe(true);
      expect(await cache.checkAndInsert(long, 3_600_000)).toBe(true);
      clock.advance(60_000);
      expect(await cache.checkAndInsert(short, 60_000)).toBe(true);
      expect(await cache.checkAndInsert(long, 3_600_000)).toBe(false);
    });

    it("keys are case-sensitive whole strings: no case folding, prefix or separator collisions", async () => {
      const base = fresh("Nonce");
      expect(await cache.checkAndInsert(base, 60_000)).toBe(true);
      expect(await cache.checkAndInsert(base.toLowerCase(), 60_000)).toBe(true);
      expect(await cache.checkAndInsert(base.toUpperCase(), 60_000)).toBe(true);
      expect(await cache.checkAndInsert(base + "x", 60_000)).toBe(true);
      expect(await cache.checkAndInsert(base.slice(0, -1), 60_000)).toBe(true);
      expect(await cache.checkAndInsert(`${base}|a`, 60_000)).toBe(true);
      expect(await cache.checkAndInsert(`${base}|a`, 60_000)).toBe(false);
      expect(await cache.checkAndInsert(`${base}|`, 60_000)).toBe(true);
      const unicode = `${base}-ñ-😀-\u0000-\n`;
      expect(await cache.checkAndInsert(unicode, 60_000)).toBe(true);
      expect(await cache.checkAndInsert(unicode, 60_000)).toBe(false);
      expect(await cache.checkAndInsert(unicode.normalize("NFD") + "\u0301", 60_000)).toBe(true);
    });

    it("release (when implemented) forgets a recorded key: the next checkAndInsert is true, then refused again; false for an unknown or expired key", async (ctx) => {
      if (!cache.release) return ctx.skip(); // optional: a cache without it gives nothing back
      const k = fresh("release");
      expect(await cache.checkAndInsert(k, 60_000)).toBe(true);
      expect(await cache.release(k)).toBe(true);
      expect(await cache.checkAndInsert(k, 60_000)).toBe(true);
      expect(await cache.checkAndInsert(k, 60_000)).toBe(false);
      expect(await cache.release(fresh("never-recorded"))).toBe(false);
      const old = fresh("expired");
      expect(await cache.checkAndInsert(old, 60_000)).toBe(true);
      clock.advance(60_000);
      expect(await cache.release(old)).toBe(false);
      expect(await cache.checkAndInsert(old, 60_000)).toBe(true);
    });

    it("the empty key is never stored: always accepted", async () => {
      expect(await cache.checkAndInsert("", 60_000)).toBe(true);
      expect(await cache.checkAndInsert("", 60_000)).toBe(true);
    });

    it("a TTL of 0, negative, fractional or not a number is InvalidArgumentError (ERR_INVALID_ARGUMENT, one line), not silently off, and records nothing", async () => {
      const cases: [unknown, string][] = [[0, "0"], [-1, "-1"], [1.5, "1.5"], [Number.NaN, "NaN"], [Number.POSITIVE_INFINITY, "Infinity"], ["60000", "a string"], [undefined, "none"], [null, "null"]];
      for (const [ttl, shown] of cases) {
        const k = fresh("bad-ttl");
        await expect(cache.checkAndInsert(k, ttl as number)).rejects.toEqual(invalidArgument(`ttlMs must be a positive integer number of milliseconds (got ${shown})`));
        expect(await cache.checkAndInsert(k, 60_000)).toBe(true);
      }
    });

    it("a TTL of years is a TTL, not an error: a signed token whose exp is years ahead needs its nonce kept that long", async () => {
      const k = fresh("long-ttl");
      const tenYears = 10 * 365 * 86_400_000;
      expect(await cache.checkAndInsert(k, tenYears)).toBe(true);
      clock.advance(5 * 365 * 86_400_000);
      expect(await cache.checkAndInsert(k, tenYears)).toBe(false);
    });

    it("of 50 concurrent calls with one key exactly one is accepted", async () => {
      const k = fresh("race");
      const results = await Promise.all(Array.from({ length: 50 }, () => cache.checkAndInsert(k, 60_000)));
      expect(results.filter((r) => r)).toHaveLength(1);
    });

    it("50 concurrent calls with distinct keys are all accepted", async () => {
      const keys = Array.from({ length: 50 }, (_, i) => fresh(`many-${i}`));
      expect(await Promise.all(keys.map((k) => cache.checkAndInsert(k, 60_000)))).toEqual(keys.map(() => true));
    });
  });
}
