/**
 * The conformance suite every {@link RevocationStore} runs.
 *
 * @module
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RevocationStore } from "../server/revocation-store.js";
import { manualClock, type ManualClock } from "./manual-clock.js";
import type { StoreFactoryContext } from "./transaction-store-conformance.js";

/** Options of {@link revocationStoreConformance}. */
export interface RevocationStoreConformanceOptions<S extends RevocationStore = RevocationStore> {
  /** Name shown in the test report, e.g. `"postgres"`. */
  name: string;
  /**
   * Creates an empty store under test, wired to `context.now`; called before
   * each test. Each call must give a fresh store (its own key prefix, table…):
   * the suite checks that the CRL number starts at 1.
   */
  create: (context: StoreFactoryContext) => S | Promise<S>;
  /** Releases what `create` made; called after each test. */
  cleanup?: (store: S) => void | Promise<void>;
}

const ERR_INVALID_ARGUMENT = expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" });

/**
 * Registers the RevocationStore conformance tests (vitest) for one
 * implementation. Call it at the top level of a test file.
 *
 * What it holds a store to (RFC 5280 §5.3.1, §5.2.3): a revocation is kept
 * with its reason and time (the suite's clock unless given), the serial
 * normalized to lower-case hex without separators; revoking again changes
 * nothing and reports `created: false` with the first entry; of 50
 * concurrent revocations of one serial exactly one is created; `list` is
 * oldest first (ties by serial); `get` of an unknown serial is undefined; a
 * bad serial or reason is `ERR_INVALID_ARGUMENT`; CRL numbers start at 1 and
 * 50 concurrent calls get 50 distinct numbers above every earlier one; `revision`,
 * where a store has it, grows with every created revocation, stays put
 * otherwise, and a store created later by the same clock (what a reset looks
 * like) answers above an earlier one's.
 *
 * @example
 * ```ts
 * import { MemoryRevocationStore } from "@scep/core";
 * import { revocationStoreConformance } from "@scep/core/testing";
 *
 * revocationStoreConformance({ name: "memory", create: ({ now }) => new MemoryRevocationStore({ now }) });
 * ```
 */
export function revocationStoreConformance<S extends RevocationStore>(options: RevocationStoreConformanceOptions<S>): void {
  describe(`RevocationStore conformance: ${options.name}`, () => {
    let clock: ManualClock;
    let store: S;

    beforeEach(async () => {
      clock = manualClock();
      store = await options.create({ now: clock.now });
    });
    afterEach(async () => {
      await options.cleanup?.(store);
    });

    it("RFC 5280 §5.3.1: revoke records serial, reason and the clock's time; get and list return it", async () => {
      const at = clock.now();
      const result = await store.revoke({ serialNumber: "4A:0B:FF", reason: "keyCompromise" });
      expect(result).toEqual({ created: true, entry: { serialNumber: "4a0bff", reason: "keyCompromise", revokedAt: at } });
      expect(await store.get("4a0bff")).toEqual({ serialNumber: "4a0bff", reason: "keyCompromise", revokedAt: at });
      expect(await store.get("4A0BFF")).toEqual({ serialNumber: "4a0bff", reason: "keyCompromise", revokedAt: at });
      expect(await store.list()).toEqual([{ serialNumber: "4a0bff", reason: "keyCompromise", revokedAt: at }]);
    });

    it("RFC 5280 §4.1.2.2: every spelling of one positive serial is one entry (OpenSSL's 00FF…, Certificate.serialNumberHex's ff…)", async () => {
      const at = clock.now();
      const entry = { serialNumber: "00ff0102", reason: "keyCompromise", revokedAt: at };
      expect(await store.revoke({ serialNumber: "00:FF:01:02", reason: "keyCompromise" })).toEqual({ created: true, entry });
      for (const spelling of ["ff0102", "FF:01:02", "0000ff0102", "00ff0102"]) expect(await store.get(spelling)).toEqual(entry);
      expect((await store.revoke({ serialNumber: "ff0102", reason: "superseded" })).created).toBe(false);
      await store.revoke({ serialNumber: "0000007f", reason: "superseded" });
      expect((await store.get("7f"))?.serialNumber).toBe("7f");
      expect((await store.list()).map((e) => e.serialNumber)).toEqual(["00ff0102", "7f"]);
    });

    it("RFC 5280 §4.1.2.2: a negative serial (DER content 80 01, −32767) is its own entry, never 0x8001's (00 80 01)", async () => {
      const at = clock.now();
      expect(await store.revoke({ serialNumber: "-7FFF", reason: "keyCompromise" })).toEqual({ created: true, entry: { serialNumber: "-7fff", reason: "keyCompromise", revokedAt: at } });
      expect(await store.get("8001")).toBeUndefined();
      expect(await store.get("-7f:ff")).toEqual({ serialNumber: "-7fff", reason: "keyCompromise", revokedAt: at });
      expect((await store.revoke({ serialNumber: "8001", reason: "superseded" })).created).toBe(true);
      expect((await store.get("00:80:01"))?.reason).toBe("superseded");
      expect((await store.list()).map((e) => e.serialNumber).sort()).toEqual(["-7fff", "008001"]);
    });

    it("revision, where the store has it, grows with every new revocation, never goes back, and stays put otherwise", async () => {
      if (!store.revision) return;
      const empty = await store.revision();
      expect(Number.isSafeInteger(empty) && empty >= 0).toBe(true);
      expect(await store.revision()).toBe(empty);
      await store.revoke({ serialNumber: "0a", reason: "superseded" });
      const one = await store.revision();
      expect(one).toBeGreaterThan(empty);
      await store.revoke({ serialNumber: "0A", reason: "keyCompromise" }); // already revoked: the list is unchanged
      expect(await store.revision()).toBe(one);
      await store.revoke({ serialNumber: "0b", reason: "superseded" });
      expect(await store.revision()).toBeGreaterThan(one);
    });

    it("revision, where the store has it: a store emptied and refilled to the same count (a reset) answers above the old one", async () => {
      if (!store.revision) return;
      for (const serial of ["01", "02", "03"]) await store.revoke({ serialNumber: serial, reason: "superseded" });
      const before = await store.revision();
      clock.advance(1000);
      // A reset looks like a fresh store created later by the same clock (a flushed Redis, a deleted file, a restart).
      const reset = await options.create({ now: clock.now });
      try {
        for (const serial of ["04", "05", "06"]) await reset.revoke({ serialNumber: serial, reason: "superseded" });
        expect(await reset.revision!()).toBeGreaterThan(before);
      } finally {
        await options.cleanup?.(reset);
      }
    });

    it("an explicit revokedAt is kept to the millisecond", async () => {
      const at = new Date("2026-01-02T03:04:05.678Z");
      await store.revoke({ serialNumber: "01", reason: "superseded", revokedAt: at });
      expect((await store.get("01"))?.revokedAt.toISOString()).toBe("2026-01-02T03:04:05.678Z");
    });

    it("get of a serial never revoked is undefined; list of an empty store is []", async () => {
      expect(await store.get("7f00")).toBeUndefined();
      expect(await store.list()).toEqual([]);
    });

    it("revoking again keeps the first entry and reports created: false", async () => {
      const first = clock.now();
      await store.revoke({ serialNumber: "5c", reason: "superseded" });
      clock.advance(60_000);
      const again = await store.revoke({ serialNumber: "5c", reason: "keyCompromise" });
      expect(again).toEqual({ created: false, entry: { serialNumber: "5c", reason: "superseded", revokedAt: first } });
      expect(await store.list()).toHaveLength(1);
    });

    it("of 50 concurrent revocations of one serial exactly one is created, all answer the same entry", async () => {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => store.revoke({ serialNumber: "6d6d", reason: i % 2 ? "keyCompromise" : "cessationOfOperation" })),
      );
      expect(results.filter((r) => r.created)).toHaveLength(1);
      const winner = results.find((r) => r.created)!.entry;
      for (const r of results) expect(r.entry).toEqual(winner);
      expect(await store.list()).toEqual([winner]);
    });

    it("list is oldest revocation first, ties by serial", async () => {
      await store.revoke({ serialNumber: "30", reason: "unspecified" });
      clock.advance(1000);
      await store.revoke({ serialNumber: "20", reason: "affiliationChanged" });
      await store.revoke({ serialNumber: "10", reason: "privilegeWithdrawn" });
      expect((await store.list()).map((e) => [e.serialNumber, e.reason])).toEqual([
        ["30", "unspecified"],
        ["10", "privilegeWithdrawn"],
        ["20", "affiliationChanged"],
      ]);
    });

    it("a serial that is not hex, or a reason RFC 5280 does not list for a CRL entry, is ERR_INVALID_ARGUMENT and stores nothing", async () => {
      await expect(store.revoke({ serialNumber: "xyz", reason: "keyCompromise" })).rejects.toEqual(ERR_INVALID_ARGUMENT);
      await expect(store.revoke({ serialNumber: "", reason: "keyCompromise" })).rejects.toEqual(ERR_INVALID_ARGUMENT);
      await expect(store.revoke({ serialNumber: "0a", reason: "removeFromCRL" as never })).rejects.toEqual(ERR_INVALID_ARGUMENT);
      await expect(store.revoke({ serialNumber: "0a", reason: "toString" as never })).rejects.toEqual(ERR_INVALID_ARGUMENT);
      expect(await store.list()).toEqual([]);
    });

    it("RFC 5280 §5.2.3: CRL numbers start at 1 and 50 concurrent calls get distinct, increasing numbers", async () => {
      expect(await store.nextCrlNumber()).toBe(1n);
      const numbers = await Promise.all(Array.from({ length: 50 }, () => store.nextCrlNumber()));
      expect(new Set(numbers).size).toBe(50);
      for (const n of numbers) expect(n > 1n && n <= 51n).toBe(true);
      expect(await store.nextCrlNumber()).toBe(52n);
    });
  });
}
