/**
 * The conformance suite every {@link CounterStore} runs.
 *
 * @module
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CounterStore } from "../server/counter-store.js";
import type { ScepOutcome } from "../server/events.js";

/** Options of {@link counterStoreConformance}. */
export interface CounterStoreConformanceOptions<S extends CounterStore = CounterStore> {
  /** Name shown in the test report. */
  name: string;
  /**
   * Creates the store under test; called before each test. Called a second
   * time within a test when `replicas` is set: both instances must then share
   * one backend, as two replicas of a server would.
   */
  create: () => S | Promise<S>;
  /** Releases what `create` made; called after each test for every instance. */
  cleanup?: (store: S) => void | Promise<void>;
  /** True when two instances from `create` share their counts (a Redis or database store); adds the two-replica test. */
  replicas?: boolean;
}

let profileCounter = 0;

/**
 * Registers the CounterStore conformance tests (vitest) for one
 * implementation. Call it at the top level of a test file.
 *
 * What it holds a store to: `increment` returns at once without throwing and
 * every count shows in the next `read` (exact numbers, by outcome and by
 * reason); 500 increments fired at once all count; profiles never mix; an
 * unknown profile reads as empty records; with `replicas`, two instances add
 * up.
 *
 * @example
 * ```ts
 * import { MemoryCounterStore } from "@scep/core";
 * import { counterStoreConformance } from "@scep/core/testing";
 *
 * // your store in place of MemoryCounterStore; `replicas: true` when two instances share one backend (Redis, a database)
 * counterStoreConformance({ name: "memory", create: () => new MemoryCounterStore() });
 * ```
 */
export function counterStoreConformance<S extends CounterStore>(options: CounterStoreConformanceOptions<S>): void {
  describe(`CounterStore conformance: ${options.name}`, () => {
    let store: S;
    let created: S[] = [];

    const make = async (): Promise<S> => {
      const s = await options.create();
      created.push(s);
      return s;
    };
    beforeEach(async () => {
      created = [];
      store = await make();
    });
    afterEach(async () => {
      for (const s of created) await options.cleanup?.(s);
    });

    const profile = (label = "p"): string => `${label}-${++profileCounter}-${Math.random().toString(36).slice(2, 10)}`;

    /** Calls increment as a server does: without waiting, and checks it neither throws nor returns a rejecting promise. */
    const count = (s: S, p: string, outcome: ScepOutcome, reason: string): Promise<void> => {
      const r = s.increment(p, outcome, reason);
      return Promise.resolve(r);
    };

    it("reads exactly what was counted, by outcome and by reason", async () => {
      const p = profile();
      await Promise.all([
        count(store, p, "success", "issued"),
        count(store, p, "success", "issued"),
        count(store, p, "success", "caps"),
        count(store, p, "failure", "bad_challenge"),
        count(store, p, "rejected", "store_unavailable"),
      ]);
      expect(await store.read(p)).toEqual({
        outcomes: { success: 3, failure: 1, rejected: 1 },
        reasons: { issued: 2, caps: 1, bad_challenge: 1, store_unavailable: 1 },
      });
    });

    it("labels named like Object.prototype's properties count as any other label", async () => {
      // A reason comes from validators and webhooks: `constructor` or `__proto__` must be counted, not read as
      // an inherited value or taken for the record's prototype.
      const p = profile();
      for (const reason of ["constructor", "__proto__", "toString", "hasOwnProperty", "__proto__"]) await count(store, p, "failure", reason);
      const read = await store.read(p);
      expect(read.outcomes).toEqual({ failure: 5 });
      expect(Object.entries(read.reasons).sort()).toEqual([
        ["__proto__", 2],
        ["constructor", 1],
        ["hasOwnProperty", 1],
        ["toString", 1],
      ]);
    });

    it("an unknown profile reads as empty records", async () => {
      expect(await store.read(profile())).toEqual({ outcomes: {}, reasons: {} });
    });

    it("counts keep adding up across reads", async () => {
      const p = profile();
      await count(store, p, "pending", "pending_approval");
      expect((await store.read(p)).outcomes).toEqual({ pending: 1 });
      await count(store, p, "pending", "pending_approval");
      await count(store, p, "error", "internal_error");
      expect(await store.read(p)).toEqual({ outcomes: { pending: 2, error: 1 }, reasons: { pending_approval: 2, internal_error: 1 } });
    });

    it("500 increments fired at once all count", async () => {
      const p = profile();
      const outcomes: ScepOutcome[] = ["success", "failure", "pending", "rejected", "error"];
      await Promise.all(Array.from({ length: 500 }, (_, i) => count(store, p, outcomes[i % 5]!, `r${i % 7}`)));
      const got = await store.read(p);
      expect(got.outcomes).toEqual({ success: 100, failure: 100, pending: 100, rejected: 100, error: 100 });
      expect(Object.values(got.reasons).reduce((a, b) => a + b, 0)).toBe(500);
      expect(got.reasons["r0"]).toBe(72);
      expect(got.reasons["r6"]).toBe(71);
    });

    it("profiles never mix (also names with ':', braces and unicode)", async () => {
      const base = profile();
      const names = [base, `${base}:x`, `{${base}}`, `${base} ✓`];
      for (const [i, n] of names.entries()) for (let k = 0; k <= i; k++) await count(store, n, "success", "issued");
      for (const [i, n] of names.entries()) expect(await store.read(n)).toEqual({ outcomes: { success: i + 1 }, reasons: { issued: i + 1 } });
    });

    if (options.replicas) {
      it("two instances (two replicas) add up, whichever one reads", async () => {
        const p = profile();
        const other = await make();
        await Promise.all([
          ...Array.from({ length: 30 }, () => count(store, p, "success", "issued")),
          ...Array.from({ length: 20 }, () => count(other, p, "failure", "bad_challenge")),
        ]);
        const expected = { outcomes: { success: 30, failure: 20 }, reasons: { issued: 30, bad_challenge: 20 } };
        // Each instance may hold its own counts back until it reads; after both read, both see everything.
        await store.read(p);
        await other.read(p);
        expect(await store.read(p)).toEqual(expected);
        expect(await other.read(p)).toEqual(expected);
      });
    }
  });
}
