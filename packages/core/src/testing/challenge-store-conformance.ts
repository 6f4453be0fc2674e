/**
 * The conformance suite every one-time {@link ChallengeStore} runs.
 *
 * @module
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ChallengeStore } from "../server/challenge.js";
import { manualClock, type ManualClock } from "./manual-clock.js";
import type { StoreFactoryContext } from "./transaction-store-conformance.js";

/** Options of {@link challengeStoreConformance}. */
export interface ChallengeStoreConformanceOptions<S extends ChallengeStore = ChallengeStore> {
  /** Name shown in the test report, e.g. `"dynamodb"`. */
  name: string;
  /** Creates the store under test, wired to `context.now`; called before each test. */
  create: (context: StoreFactoryContext) => S | Promise<S>;
  /** Releases what `create` made; called after each test. */
  cleanup?: (store: S) => void | Promise<void>;
}

let profileCounter = 0;

/**
 * Registers the ChallengeStore conformance tests (vitest) for one
 * implementation. Call it at the top level of a test file.
 *
 * What it holds a store to: `issue` returns distinct printable challenges
 * (usable as a CSR challengePassword), and refuses a `ttlMs` that is not an
 * integer from 1 ms to 365 days with InvalidArgumentError (`ERR_INVALID_ARGUMENT`,
 * `numberOption`'s exact line); `consume` is true exactly once per
 * challenge, false for an unknown, expired (by the injected clock) or
 * already-consumed challenge and for another profile (which leaves it
 * intact for its own profile); of 50 concurrent
 * consumes of one challenge exactly one is true, and concurrent consumes of
 * different challenges all succeed. Profiles are compared exactly, whatever
 * characters they hold (`@scep/proxy` uses CA names as profiles: `,` `:` `%`
 * spaces and non-ASCII characters). When the store has the optional `sweep`,
 * it resolves a non-negative integer, leaves every live challenge consumable
 * once, expired ones stay refused, and a second sweep at the same instant
 * removes 0. When it has the optional `release`, a consumed challenge
 * released is consumable exactly once more until its original expiry, and
 * release is false (changing nothing) for an unconsumed, unknown, expired or
 * other profile's challenge; a release naming a `consumption` id puts back only
 * the consume made with that id (a late one after the challenge was consumed
 * again is false), so a release racing re-uses lets at most one through. A challenge
 * issued with a `holder` supersedes the earlier ones of that profile and holder (consume and release of those are
 * false), and of concurrent issues for one holder exactly one stays consumable. When it has the optional `isSpentBy`,
 * that is true exactly for the `binding` the spending consume named (any string, compared exactly), while the
 * challenge is spent, live, of that profile and not superseded; never for a consume without one; a release clears it
 * and the next consume's binding replaces it; of concurrent consumes with distinct bindings, the winner's matches; once
 * it matched, release of the spending consume is false and changes nothing (of a match racing a release, exactly one
 * succeeds).
 *
 * @example
 * ```ts
 * import { MemoryChallengeStore } from "@scep/core";
 * import { challengeStoreConformance } from "@scep/core/testing";
 *
 * // your store in place of MemoryChallengeStore: it must decide expiry with the suite's clock
 * challengeStoreConformance({
 *   name: "memory",
 *   create: ({ now }) => new MemoryChallengeStore({ now }),
 * });
 * ```
 */
export function challengeStoreConformance<S extends ChallengeStore>(options: ChallengeStoreConformanceOptions<S>): void {
  describe(`ChallengeStore conformance: ${options.name}`, () => {
    let clock: ManualClock;
    let store: S;

    beforeEach(async () => {
      clock = manualClock();
      store = await options.create({ now: clock.now });
    });
    afterEach(async () => {
      await options.cleanup?.(store);
    });

    const profile = (label = "p"): string => `${label}-${++profileCounter}-${Math.random().toString(36).slice(2, 10)}`;

    it("issue returns distinct printable challenges of at least 16 characters", async () => {
      const p = profile();
      const issued = await Promise.all(Array.from({ length: 100 }, () => store.issue({ profile: p, ttlMs: 60_000 })));
      expect(new Set(issued).size).toBe(100);
      for (const c of issued) expect(c).toMatch(/^[\x21-\x7e]{16,}$/);
    });

    it("consume is true once, then false", async () => {
      const p = profile();
      const c = await store.issue({ profile: p, ttlMs: 60_000 });
      expect(await store.consume(c, { profile: p })).toBe(true);
      expect(await store.consume(c, { profile: p })).toBe(false);
    });

    it("consume is false for a challenge never issued (also the empty string)", async () => {
      const p = profile();
      await store.issue({ profile: p, ttlMs: 60_000 });
      expect(await store.consume("0123456789abcdef0123456789abcdef", { profile: p })).toBe(false);
      expect(await store.consume("", { profile: p })).toBe(false);
    });

    it("consume is false under another profile and leaves the challenge intact for its own profile (probing cannot burn it)", async () => {
      const a = profile("a");
      const b = profile("b");
      const c = await store.issue({ profile: a, ttlMs: 60_000 });
      expect(await store.consume(c, { profile: b })).toBe(false);
      expect(await store.consume(c, { profile: b })).toBe(false);
      expect(await store.consume(c, { profile: a })).toBe(true);
      expect(await store.consume(c, { profile: a })).toBe(false);
    });

    it("a challenge expires at its ttlMs by the injected clock", async () => {
      const p = profile();
      const early = await store.issue({ profile: p, ttlMs: 60_000 });
      const late = await store.issue({ profile: p, ttlMs: 60_000 });
      clock.advance(59_999);
      expect(await store.consume(early, { profile: p })).toBe(true);
      clock.advance(2);
      expect(await store.consume(late, { profile: p })).toBe(false);
    });

    it("issue refuses a ttlMs that is not an integer from 1 to 31536000000 (ms, 365 days) with InvalidArgumentError (one line)", async () => {
      for (const [ttl, shown] of [[0, "0"], [-1, "-1"], [1.5, "1.5"], [Number.NaN, "NaN"], ["60000", '"60000"'], [31_536_000_001, "31536000001"], [null, "null"]] as const) {
        await expect(store.issue({ profile: "p", ttlMs: ttl as never }), String(ttl)).rejects.toEqual(
          expect.objectContaining({ name: "InvalidArgumentError", code: "ERR_INVALID_ARGUMENT", message: `ttlMs must be an integer number of milliseconds from 1 to 31536000000 (got ${shown})` }),
        );
      }
    });

    it("a challenge issued with a longer ttlMs outlives one with a shorter", async () => {
      const p = profile();
      const short = await store.issue({ profile: p, ttlMs: 60_000 });
      const long = await store.issue({ profile: p, ttlMs: 3_600_000 });
      clock.advance(60_001);
      expect(await store.consume(short, { profile: p })).toBe(false);
      expect(await store.consume(long, { profile: p })).toBe(true);
    });

    it("is atomic: of 50 concurrent consumes of one challenge exactly one is true", async () => {
      const p = profile();
      const c = await store.issue({ profile: p, ttlMs: 60_000 });
      const results = await Promise.all(Array.from({ length: 50 }, () => store.consume(c, { profile: p })));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it("profiles are compared exactly: CA names with , : % spaces and non-ASCII characters (as @scep/proxy uses them) are kept apart", async () => {
      const base = profile("ca");
      const names = [`${base}:a`, `${base},a`, `${base}%3Aa`, `${base} a`, `${base}é`, `${base}É`, `${base}/日本`];
      const issued = await Promise.all(names.map((p) => store.issue({ profile: p, ttlMs: 60_000 })));
      for (const [i, c] of issued.entries()) {
        for (const [j, other] of names.entries()) if (j !== i) expect(await store.consume(c, { profile: other })).toBe(false);
        expect(await store.consume(c, { profile: `${names[i]} ` })).toBe(false);
        expect(await store.consume(c, { profile: base })).toBe(false);
      }
      for (const [i, c] of issued.entries()) expect(await store.consume(c, { profile: names[i]! })).toBe(true);
    });

    it("sweep (when the store has it) removes no live challenge; expired ones stay refused; a second sweep at the same instant removes 0", async (ctx) => {
      if (!store.sweep) return ctx.skip("this store has no sweep (its backend expires challenges)");
      const p = profile();
      const expired = await Promise.all(Array.from({ length: 3 }, () => store.issue({ profile: p, ttlMs: 60_000 })));
      const live = await Promise.all(Array.from({ length: 2 }, () => store.issue({ profile: p, ttlMs: 3_600_000 })));
      clock.advance(60_001);
      const removed = await store.sweep();
      expect(Number.isSafeInteger(removed) && removed >= 0).toBe(true);
      expect(await store.sweep()).toBe(0);
      for (const c of expired) expect(await store.consume(c, { profile: p })).toBe(false);
      for (const c of live) expect(await store.consume(c, { profile: p })).toBe(true);
      for (const c of live) expect(await store.consume(c, { profile: p })).toBe(false);
    });

    it("release (when the store has it) makes a consumed challenge usable exactly once more, with the expiry it was issued with", async (ctx) => {
      if (!store.release) return ctx.skip("this store has no release");
      const p = profile();
      const c = await store.issue({ profile: p, ttlMs: 60_000 });
      expect(await store.release(c, { profile: p })).toBe(false); // not consumed: nothing to give back
      expect(await store.consume(c, { profile: p })).toBe(true);
      expect(await store.release(c, { profile: p })).toBe(true);
      expect(await store.release(c, { profile: p })).toBe(false); // once is enough: no second use is made up
      const results = await Promise.all(Array.from({ length: 20 }, () => store.consume(c, { profile: p })));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await store.release(c, { profile: p })).toBe(true);
      clock.advance(60_001);
      expect(await store.consume(c, { profile: p })).toBe(false);
    });

    it("release (when the store has it) is false for an unknown challenge, another profile's, or one that expired after it was consumed", async (ctx) => {
      if (!store.release) return ctx.skip("this store has no release");
      const a = profile("a");
      const b = profile("b");
      expect(await store.release("0123456789abcdef0123456789abcdef", { profile: a })).toBe(false);
      const c = await store.issue({ profile: a, ttlMs: 60_000 });
      expect(await store.consume(c, { profile: a })).toBe(true);
      expect(await store.release(c, { profile: b })).toBe(false);
      expect(await store.consume(c, { profile: a })).toBe(false); // still spent
      clock.advance(60_001);
      expect(await store.release(c, { profile: a })).toBe(false);
      expect(await store.consume(c, { profile: a })).toBe(false);
    });

    it("release (when the store has it) with a consumption id puts back only that consume: a late release after the challenge was used again changes nothing", async (ctx) => {
      if (!store.release) return ctx.skip("this store has no release");
      const p = profile();
      const c = await store.issue({ profile: p, ttlMs: 60_000 });
      expect(await store.consume(c, { profile: p, consumption: "first" })).toBe(true);
      expect(await store.release(c, { profile: p, consumption: "other" })).toBe(false); // not that consume's id
      expect(await store.consume(c, { profile: p })).toBe(false); // still spent
      expect(await store.release(c, { profile: p, consumption: "first" })).toBe(true);
      expect(await store.consume(c, { profile: p, consumption: "second" })).toBe(true);
      expect(await store.release(c, { profile: p, consumption: "first" })).toBe(false); // late: the second consume stays
      expect(await store.consume(c, { profile: p })).toBe(false);
      const plain = await store.issue({ profile: p, ttlMs: 60_000 });
      expect(await store.consume(plain, { profile: p })).toBe(true);
      expect(await store.release(plain, { profile: p, consumption: "first" })).toBe(false); // consumed without an id
      expect(await store.release(plain, { profile: p })).toBe(true);
    });

    it("release (when the store has it) racing consumes never lets a challenge be used twice", async (ctx) => {
      if (!store.release) return ctx.skip("this store has no release");
      const p = profile();
      for (let round = 0; round < 10; round++) {
        const c = await store.issue({ profile: p, ttlMs: 60_000 });
        expect(await store.consume(c, { profile: p, consumption: `r${round}-first` })).toBe(true);
        // The refund, a duplicate of it that comes late, and ten re-uses, all at once: one re-use at most.
        const results = await Promise.all([
          store.release(c, { profile: p, consumption: `r${round}-first` }),
          ...Array.from({ length: 10 }, (_, i) => store.consume(c, { profile: p, consumption: `r${round}-${i}` })),
          store.release(c, { profile: p, consumption: `r${round}-first` }),
          ...Array.from({ length: 10 }, (_, i) => store.consume(c, { profile: p, consumption: `r${round}-late-${i}` })),
        ]);
        const releases = [results[0], results[11]];
        const consumes = results.filter((_, i) => i !== 0 && i !== 11);
        expect(releases.filter(Boolean)).toHaveLength(1);
        expect(consumes.filter(Boolean).length).toBeLessThanOrEqual(1);
      }
    });

    it("isSpentBy (when the store has it) is true only for the binding the spending consume named, while it stays spent, live and of that profile", async (ctx) => {
      if (!store.isSpentBy) return ctx.skip("this store has no isSpentBy (re-sends of a spent challenge are refused)");
      const p = profile();
      const q = profile("q");
      const binding = "tx-1 # : | é 日本 " + "x".repeat(300);
      const c = await store.issue({ profile: p, ttlMs: 60_000 });
      expect(await store.isSpentBy(c, { profile: p, binding })).toBe(false); // issued, not spent
      expect(await store.consume(c, { profile: p, consumption: "first", binding })).toBe(true);
      expect(await store.isSpentBy(c, { profile: p, binding })).toBe(true);
      expect(await store.isSpentBy(c, { profile: p, binding })).toBe(true); // it stays so (the match is recorded, the binding kept)
      expect(await store.isSpentBy(c, { profile: p, binding: `${binding} ` })).toBe(false);
      expect(await store.isSpentBy(c, { profile: p, binding: "tx-1" })).toBe(false);
      expect(await store.isSpentBy(c, { profile: p, binding: "" })).toBe(false);
      expect(await store.isSpentBy(c, { profile: q, binding })).toBe(false);
      expect(await store.isSpentBy("0123456789abcdef0123456789abcdef", { profile: p, binding })).toBe(false);
      expect(await store.consume(c, { profile: p, binding })).toBe(false); // still one-shot
      clock.advance(60_001);
      expect(await store.isSpentBy(c, { profile: p, binding })).toBe(false); // expired by the injected clock

      const plain = await store.issue({ profile: p, ttlMs: 60_000 });
      expect(await store.consume(plain, { profile: p })).toBe(true);
      expect(await store.isSpentBy(plain, { profile: p, binding })).toBe(false); // consumed without a binding
      expect(await store.isSpentBy(plain, { profile: p, binding: "" })).toBe(false);
    });

    it("isSpentBy (when the store has it) follows release and a later consume: a released challenge matches nothing, the next consume's binding replaces it", async (ctx) => {
      if (!store.isSpentBy || !store.release) return ctx.skip("this store has no isSpentBy or no release");
      const p = profile();
      const c = await store.issue({ profile: p, ttlMs: 60_000 });
      expect(await store.consume(c, { profile: p, consumption: "one", binding: "b1" })).toBe(true);
      expect(await store.release(c, { profile: p, consumption: "one" })).toBe(true);
      expect(await store.isSpentBy(c, { profile: p, binding: "b1" })).toBe(false);
      expect(await store.consume(c, { profile: p, consumption: "two", binding: "b2" })).toBe(true);
      expect(await store.isSpentBy(c, { profile: p, binding: "b1" })).toBe(false);
      expect(await store.isSpentBy(c, { profile: p, binding: "b2" })).toBe(true);
      expect(await store.release(c, { profile: p, consumption: "one" })).toBe(false); // late: nothing changes
      expect(await store.isSpentBy(c, { profile: p, binding: "b2" })).toBe(true);
    });

    it("isSpentBy (when the store has it): once it matched a re-send, release of the spending consume is false and changes nothing; a miss changes nothing", async (ctx) => {
      if (!store.isSpentBy || !store.release) return ctx.skip("this store has no isSpentBy or no release");
      const p = profile();
      const c = await store.issue({ profile: p, ttlMs: 60_000 });
      expect(await store.consume(c, { profile: p, consumption: "first", binding: "b1" })).toBe(true);
      expect(await store.isSpentBy(c, { profile: p, binding: "b2" })).toBe(false); // another request: no mark
      expect(await store.isSpentBy(c, { profile: p, binding: "b1" })).toBe(true); // the re-send, forwarded
      expect(await store.release(c, { profile: p, consumption: "first" })).toBe(false);
      expect(await store.release(c, { profile: p })).toBe(false);
      expect(await store.consume(c, { profile: p, consumption: "second", binding: "b2" })).toBe(false); // still spent
      expect(await store.isSpentBy(c, { profile: p, binding: "b1" })).toBe(true); // its re-sends still pass

      const missed = await store.issue({ profile: p, ttlMs: 60_000 });
      expect(await store.consume(missed, { profile: p, consumption: "first", binding: "b1" })).toBe(true);
      expect(await store.isSpentBy(missed, { profile: p, binding: "b2" })).toBe(false);
      expect(await store.release(missed, { profile: p, consumption: "first" })).toBe(true); // a miss left it releasable
    });

    it("isSpentBy (when the store has it) racing release, either one sent first: the challenge is either released (and the re-send not matched) or matched (and not released), never both", async (ctx) => {
      if (!store.isSpentBy || !store.release) return ctx.skip("this store has no isSpentBy or no release");
      const p = profile();
      for (let round = 0; round < 20; round++) {
        const c = await store.issue({ profile: p, ttlMs: 60_000 });
        expect(await store.consume(c, { profile: p, consumption: `r${round}`, binding: "b1" })).toBe(true);
        // Odd rounds send the release first (on one connection, or in memory, it lands first): the release wins.
        const match = (): Promise<boolean> => store.isSpentBy!(c, { profile: p, binding: "b1" });
        const release = (): Promise<boolean> => store.release!(c, { profile: p, consumption: `r${round}` });
        const [matched, released] = round % 2 === 0 ? await Promise.all([match(), release()]) : await Promise.all([release(), match()]).then(([r, m]) => [m, r]);
        expect(matched !== released).toBe(true);
        // Released: usable once more by the next consume. Matched: spent for good.
        expect(await store.consume(c, { profile: p, consumption: `r${round}-next` })).toBe(released);
      }
    });

    it("isSpentBy (when the store has it) is false once a holder's later issue superseded the challenge", async (ctx) => {
      if (!store.isSpentBy) return ctx.skip("this store has no isSpentBy");
      const p = profile();
      const c = await store.issue({ profile: p, ttlMs: 60_000, holder: "host-1,wifi" });
      expect(await store.consume(c, { profile: p, binding: "b1" })).toBe(true);
      await store.issue({ profile: p, ttlMs: 60_000, holder: "host-1,wifi" });
      expect(await store.isSpentBy(c, { profile: p, binding: "b1" })).toBe(false);
    });

    it("isSpentBy (when the store has it): the binding is written with the spent mark, atomically: of 20 concurrent consumes with 20 bindings, the one that won is the one that matches", async (ctx) => {
      if (!store.isSpentBy) return ctx.skip("this store has no isSpentBy");
      const p = profile();
      for (let round = 0; round < 5; round++) {
        const c = await store.issue({ profile: p, ttlMs: 60_000 });
        const bindings = Array.from({ length: 20 }, (_, i) => `r${round}-b${i}`);
        const won = await Promise.all(bindings.map((binding) => store.consume(c, { profile: p, binding })));
        expect(won.filter(Boolean)).toHaveLength(1);
        const matched = await Promise.all(bindings.map((binding) => store.isSpentBy!(c, { profile: p, binding })));
        expect(matched).toEqual(won);
      }
    });

    it("a challenge issued with a holder supersedes the holder's earlier ones (a re-registered profile's earlier URL): consume and release of those are false; other holders, profiles and holder-less challenges are untouched", async () => {
      const p = profile();
      const q = profile("q");
      const first = await store.issue({ profile: p, ttlMs: 60_000, holder: "host-1,wifi" });
      const spent = await store.issue({ profile: p, ttlMs: 60_000, holder: "host-2,wifi" });
      const otherHolder = await store.issue({ profile: p, ttlMs: 60_000, holder: "host-1,vpn" });
      const otherProfile = await store.issue({ profile: q, ttlMs: 60_000, holder: "host-1,wifi" });
      const none = await store.issue({ profile: p, ttlMs: 60_000 });
      expect(await store.consume(spent, { profile: p, consumption: "c1" })).toBe(true);
      const second = await store.issue({ profile: p, ttlMs: 60_000, holder: "host-1,wifi" });
      const again = await store.issue({ profile: p, ttlMs: 60_000, holder: "host-2,wifi" });
      expect(await store.consume(first, { profile: p })).toBe(false);
      if (store.release) expect(await store.release(spent, { profile: p, consumption: "c1" })).toBe(false);
      expect(await store.consume(spent, { profile: p })).toBe(false);
      const third = await store.issue({ profile: p, ttlMs: 60_000, holder: "host-1,wifi" });
      expect(await store.consume(second, { profile: p })).toBe(false);
      expect(await store.consume(third, { profile: p })).toBe(true);
      expect(await store.consume(again, { profile: p })).toBe(true);
      expect(await store.consume(otherHolder, { profile: p })).toBe(true);
      expect(await store.consume(otherProfile, { profile: q })).toBe(true);
      expect(await store.consume(none, { profile: p })).toBe(true);
    });

    it("concurrent issues for one holder leave exactly one of them consumable", async () => {
      const p = profile();
      const issued = await Promise.all(Array.from({ length: 10 }, () => store.issue({ profile: p, ttlMs: 60_000, holder: "host-1,wifi" })));
      const results = await Promise.all(issued.map((c) => store.consume(c, { profile: p })));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it("concurrent consumes of 20 different challenges all succeed", async () => {
      const p = profile();
      const issued = await Promise.all(Array.from({ length: 20 }, () => store.issue({ profile: p, ttlMs: 60_000 })));
      expect(await Promise.all(issued.map((c) => store.consume(c, { profile: p })))).toEqual(issued.map(() => true));
    });
  });
}
