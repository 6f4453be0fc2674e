/**
 * The conformance suite every {@link RateLimiter} runs: the memory limiter,
 * `@scep/redis`'s, and a limiter of your own.
 *
 * @module
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { manualClock, type ManualClock, type StoreFactoryContext } from "@scep/core/testing";
import type { RateLimiter } from "../stores/rate-limiter.js";
import { invalidArgument } from "./replay-cache-conformance.js";

/**
 * Options of {@link rateLimiterConformance}.
 *
 * @group Storage
 */
export interface RateLimiterConformanceOptions<S extends RateLimiter = RateLimiter> {
  /** Name shown in the test report, e.g. `"redis"`. */
  name: string;
  /** Creates the limiter under test, wired to `context.now`; called before each test. */
  create: (context: StoreFactoryContext) => S | Promise<S>;
  /** Releases what `create` made; called after each test. */
  cleanup?: (store: S) => void | Promise<void>;
}

let counter = 0;
const fresh = (label: string): string => `${label}-${Date.now().toString(36)}-${++counter}-${Math.random().toString(36).slice(2, 10)}`;
const DAY = 86_400_000;

/**
 * Registers the RateLimiter conformance tests (vitest) for one
 * implementation. Call it at the top level of a test file.
 *
 * What it holds a limiter to: `max` hits are allowed per window, the next is
 * refused and not recorded; a hit exactly `windowMs` old still counts, one
 * `windowMs + 1` old does not (sliding window, by the injected clock);
 * `release` frees one hit and ignores unknown ids; keys are independent
 * case-sensitive strings; a `limit` that is not an object, or a `max`/`windowMs`
 * of 0, negative, fractional, NaN, a numeric string or past its range, rejects
 * with @scep/core's InvalidArgumentError (`ERR_INVALID_ARGUMENT`, in
 * `numberOption`'s one-line message) and records nothing; of 50 concurrent hits on one key exactly `max` are
 * allowed.
 *
 * @example
 * ```ts
 * import type { RateLimiter } from "@scep/intune";
 * import { rateLimiterConformance } from "@scep/intune/testing";
 *
 * declare function myRateLimiter(options: { now: () => Date }): RateLimiter; // yours
 *
 * rateLimiterConformance({ name: "mine", create: ({ now }) => myRateLimiter({ now }) });
 * ```
 *
 * @group Storage
 */
export function rateLimiterConformance<S extends RateLimiter>(options: RateLimiterConformanceOptions<S>): void {
  describe(`RateLimiter conformance: ${options.name}`, () => {
    let clock: ManualClock;
    let limiter: S;

    beforeEach(async () => {
      clock = manualClock();
      limiter = await options.create({ now: clock.now });
    });
    afterEach(async () => {
      await options.cleanup?.(limiter);
    });

    it("max hits are allowed with counts 1..max, the next is refused with count max", async () => {
      const k = fresh("max");
      const limit = { max: 3, windowMs: DAY };
      const results = [];
      for (let i = 0; i < 4; i++) {
        results.push(await limiter.hit(k, limit));
        clock.advance(1_000);
      }
      expect(results.map((r) => [r.allowed, r.count])).toEqual([[true, 1], [true, 2], [true, 3], [false, 3]]);
      for (const r of results.slice(0, 3)) expect(r.allowed && typeof r.id === "string" && r.id.length > 0).toBe(true);
    });

    it("refused hits are not recorded: the window frees up on the schedule of the allowed ones", async () => {
      const k = fresh("refused");
      const limit = { max: 2, windowMs: 10_000 };
      expect((await limiter.hit(k, limit)).allowed).toBe(true); // t=0
      clock.advance(1_000);
      expect((await limiter.hit(k, limit)).allowed).toBe(true); // t=1000
      for (let i = 0; i < 5; i++) {
        clock.advance(1_000);
        expect(await limiter.hit(k, limit)).toEqual({ allowed: false, count: 2 }); // t=2000..6000
      }
      clock.advance(4_001); // t=10001: the t=0 hit is out, the refused ones never were in
      expect(await limiter.hit(k, limit)).toMatchObject({ allowed: true, count: 2 });
    });

    it("a hit exactly windowMs old still counts; windowMs + 1 old does not", async () => {
      const k = fresh("boundary");
      const limit = { max: 1, windowMs: 60_000 };
      expect((await limiter.hit(k, limit)).allowed).toBe(true);
      clock.advance(60_000);
      expect(await limiter.hit(k, limit)).toEqual({ allowed: false, count: 1 });
      clock.advance(1);
      expect(await limiter.hit(k, limit)).toMatchObject({ allowed: true, count: 1 });
    });

    it("release frees the released hit only; an unknown id or key is ignored", async () => {
      const k = fresh("release");
      const limit = { max: 2, windowMs: DAY };
      const a = await limiter.hit(k, limit);
      const b = await limiter.hit(k, limit);
      expect(a.allowed && b.allowed).toBe(true);
      if (!a.allowed || !b.allowed) return;
      expect(a.id).not.toBe(b.id);
      await limiter.release(k, "no-such-id");
      await limiter.release(fresh("no-such-key"), a.id);
      expect(await limiter.hit(k, limit)).toEqual({ allowed: false, count: 2 });
      await limiter.release(k, b.id);
      await limiter.release(k, b.id); // twice: still one hit freed
      expect(await limiter.hit(k, limit)).toMatchObject({ allowed: true, count: 2 });
      expect(await limiter.hit(k, limit)).toEqual({ allowed: false, count: 2 });
    });

    it("keys are independent, case-sensitive whole strings", async () => {
      const k = fresh("Key");
      const limit = { max: 1, windowMs: DAY };
      expect((await limiter.hit(k, limit)).allowed).toBe(true);
      expect((await limiter.hit(k, limit)).allowed).toBe(false);
      for (const other of [k.toLowerCase(), k + "x", k.slice(0, -1), JSON.stringify([k, ""]), `${k}|`]) {
        expect((await limiter.hit(other, limit)).allowed).toBe(true);
      }
    });

    it("a bad limit is InvalidArgumentError (ERR_INVALID_ARGUMENT, one line) and records nothing", async () => {
      const MAX = "rate limit max must be an integer from 1 to 1000000000";
      const WINDOW = "rate limit windowMs must be an integer number of milliseconds from 1 to 31536000000";
      const cases: [unknown, string][] = [
        [{ max: 0, windowMs: DAY }, `${MAX} (got 0)`],
        [{ max: -1, windowMs: DAY }, `${MAX} (got -1)`],
        [{ max: 1.5, windowMs: DAY }, `${MAX} (got 1.5)`],
        [{ max: "3", windowMs: DAY }, `${MAX} (got "3")`],
        [{ max: 1_000_000_001, windowMs: DAY }, `${MAX} (got 1000000001)`],
        [{ windowMs: DAY }, `${MAX} (got null)`],
        [{ max: 3, windowMs: 0 }, `${WINDOW} (got 0)`],
        [{ max: 3, windowMs: -5 }, `${WINDOW} (got -5)`],
        [{ max: 3, windowMs: 0.5 }, `${WINDOW} (got 0.5)`],
        [{ max: 3, windowMs: Number.NaN }, `${WINDOW} (got NaN)`],
        [{ max: 3, windowMs: 366 * DAY }, `${WINDOW} (got ${366 * DAY})`],
        [null, "rate limit must be an object { max, windowMs }"],
        [3, "rate limit must be an object { max, windowMs }"],
      ];
      for (const [limit, message] of cases) {
        const k = fresh("bad");
        await expect(limiter.hit(k, limit as never)).rejects.toEqual(invalidArgument(message));
        expect(await limiter.hit(k, { max: 1, windowMs: DAY })).toMatchObject({ allowed: true, count: 1 });
      }
    });

    it("of 50 concurrent hits on one key exactly max are allowed", async () => {
      const k = fresh("race");
      const results = await Promise.all(Array.from({ length: 50 }, () => limiter.hit(k, { max: 3, windowMs: DAY })));
      expect(results.filter((r) => r.allowed)).toHaveLength(3);
      expect(results.filter((r) => !r.allowed).every((r) => r.count === 3)).toBe(true);
    });
  });
}
