/**
 * The conformance suite every {@link RevocationStore} runs.
 *
 * @module
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_CRL_NUMBER, type RevocationStore, type RevokeResult } from "../server/revocation-store.js";
import { manualClock, type ManualClock } from "./manual-clock.js";
import type { StoreFactoryContext } from "./transaction-store-conformance.js";

/** Options of {@link revocationStoreConformance}. */
export interface RevocationStoreConformanceOptions<S extends RevocationStore = RevocationStore> {
  /** Name shown in the test report, e.g. `"postgres"`. */
  name: string;
  /**
   * Creates an empty store under test, wired to `context.now`; called before
   * each test. Each call must give a fresh store (its own key prefix, table…):
   * the suite checks how CRL numbers go on from the first one a store answers.
   */
  create: (context: StoreFactoryContext) => S | Promise<S>;
  /** Releases what `create` made; called after each test. */
  cleanup?: (store: S) => void | Promise<void>;
}

const ERR_INVALID_ARGUMENT = expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" });
const ERR_CRL_NUMBER_EXHAUSTED = expect.objectContaining({ code: "ERR_CRL_NUMBER_EXHAUSTED" });

/** A result with `updated` spelled out (a store may leave it absent when false). */
const norm = (r: RevokeResult): Required<RevokeResult> => ({ entry: r.entry, created: r.created, updated: r.updated ?? false });

/**
 * Registers the RevocationStore conformance tests (vitest) for one
 * implementation. Call it at the top level of a test file.
 *
 * What it holds a store to (RFC 5280 §5.3.1, §5.2.3): a revocation is kept
 * with its reason and time (the suite's clock unless given), the serial
 * normalized to lower-case hex without separators; revoking again changes
 * nothing and reports `created: false` with the first entry, except that
 * keyCompromise upgrades a reason that says nothing of the key (CA/B BR
 * §4.9.1.1: reason changed, date kept, `updated: true`, revision moved; a
 * repeat or a downgrade is ignored) and any reason but certificateHold makes
 * a hold permanent the same way (RFC 5280 §5.3.1; never back on hold); of 50 concurrent revocations of one
 * serial exactly one is created and at most one upgrades it; `list` is
 * oldest first (ties by serial); `get` of an unknown serial is undefined; a
 * bad serial or reason is `ERR_INVALID_ARGUMENT`; CRL numbers start at 1 or
 * above and 50 concurrent calls get 50 distinct numbers above every earlier one;
 * `nextCrlNumber({ atLeast })` raises the counter to the floor (exact up to
 * 20 octets), never lowers it, keeps concurrent calls distinct, and refuses a
 * floor that is not a bigint from 0 to 2^159 - 1 with `ERR_INVALID_ARGUMENT`; answers 2^159 - 1
 * (`MAX_CRL_NUMBER`) once and then only `ERR_CRL_NUMBER_EXHAUSTED`, never a larger or wrapped number; `revision`,
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
      expect(norm(result)).toEqual({ created: true, updated: false, entry: { serialNumber: "4a0bff", reason: "keyCompromise", revokedAt: at } });
      expect(await store.get("4a0bff")).toEqual({ serialNumber: "4a0bff", reason: "keyCompromise", revokedAt: at });
      expect(await store.get("4A0BFF")).toEqual({ serialNumber: "4a0bff", reason: "keyCompromise", revokedAt: at });
      expect(await store.list()).toEqual([{ serialNumber: "4a0bff", reason: "keyCompromise", revokedAt: at }]);
    });

    it("RFC 5280 §4.1.2.2: every spelling of one positive serial is one entry (OpenSSL's 00FF…, Certificate.serialNumberHex's ff…)", async () => {
      const at = clock.now();
      const entry = { serialNumber: "00ff0102", reason: "keyCompromise", revokedAt: at };
      expect(norm(await store.revoke({ serialNumber: "00:FF:01:02", reason: "keyCompromise" }))).toEqual({ created: true, updated: false, entry });
      for (const spelling of ["ff0102", "FF:01:02", "0000ff0102", "00ff0102"]) expect(await store.get(spelling)).toEqual(entry);
      expect((await store.revoke({ serialNumber: "ff0102", reason: "superseded" })).created).toBe(false);
      await store.revoke({ serialNumber: "0000007f", reason: "superseded" });
      expect((await store.get("7f"))?.serialNumber).toBe("7f");
      expect((await store.list()).map((e) => e.serialNumber)).toEqual(["00ff0102", "7f"]);
    });

    it("RFC 5280 §4.1.2.2: a negative serial (DER content 80 01, −32767) is its own entry, never 0x8001's (00 80 01)", async () => {
      const at = clock.now();
      expect(norm(await store.revoke({ serialNumber: "-7FFF", reason: "keyCompromise" }))).toEqual({ created: true, updated: false, entry: { serialNumber: "-7fff", reason: "keyCompromise", revokedAt: at } });
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
      await store.revoke({ serialNumber: "0A", reason: "cessationOfOperation" }); // already revoked, not an upgrade: the list is unchanged
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

    it("revoking again with another reason keeps the first entry and reports created: false, updated: false", async () => {
      const first = clock.now();
      await store.revoke({ serialNumber: "5c", reason: "superseded" });
      clock.advance(60_000);
      const again = norm(await store.revoke({ serialNumber: "5c", reason: "cessationOfOperation" }));
      expect(again).toEqual({ created: false, updated: false, entry: { serialNumber: "5c", reason: "superseded", revokedAt: first } });
      expect(await store.list()).toEqual([{ serialNumber: "5c", reason: "superseded", revokedAt: first }]);
    });

    it("CA/B BR §4.9.1.1, RFC 5280 §5.3.1: re-revoking with keyCompromise upgrades every reason that says nothing of the key, keeps the revocationDate, reports updated: true", async () => {
      const first = clock.now();
      const upgradable = ["unspecified", "affiliationChanged", "superseded", "cessationOfOperation", "privilegeWithdrawn"] as const;
      for (const [i, reason] of upgradable.entries()) await store.revoke({ serialNumber: `7${i}`, reason });
      clock.advance(60_000);
      for (const [i] of upgradable.entries()) {
        const serialNumber = `7${i}`;
        const r = norm(await store.revoke({ serialNumber, reason: "keyCompromise", revokedAt: clock.now() }));
        expect(r).toEqual({ created: false, updated: true, entry: { serialNumber, reason: "keyCompromise", revokedAt: first } });
        expect(await store.get(serialNumber)).toEqual({ serialNumber, reason: "keyCompromise", revokedAt: first });
      }
      expect((await store.list()).map((e) => e.reason)).toEqual(upgradable.map(() => "keyCompromise"));
    });

    it("a second keyCompromise is a no-op; a downgrade is ignored; cACompromise and aACompromise (the issuer's key, RFC 5280 §5.3.1) are upgraded", async () => {
      const first = clock.now();
      await store.revoke({ serialNumber: "40", reason: "superseded" });
      expect(norm(await store.revoke({ serialNumber: "40", reason: "keyCompromise" })).updated).toBe(true);
      const revision = await store.revision?.();
      clock.advance(1000);
      const entry = { serialNumber: "40", reason: "keyCompromise", revokedAt: first };
      expect(norm(await store.revoke({ serialNumber: "40", reason: "keyCompromise" }))).toEqual({ created: false, updated: false, entry });
      expect(norm(await store.revoke({ serialNumber: "40", reason: "superseded" }))).toEqual({ created: false, updated: false, entry });
      expect(norm(await store.revoke({ serialNumber: "40", reason: "unspecified" }))).toEqual({ created: false, updated: false, entry });
      expect(await store.get("40")).toEqual(entry);
      expect(await store.revision?.()).toBe(revision);
      // RFC 5280 §5.3.1: cACompromise / aACompromise say the issuing CA's (or an attribute authority's) key was
      // compromised, not the subject's: a later keyCompromise says more, and upgrades them like superseded.
      for (const [serialNumber, reason] of [["41", "cACompromise"], ["42", "aACompromise"]] as const) {
        await store.revoke({ serialNumber, reason });
        const r = norm(await store.revoke({ serialNumber, reason: "keyCompromise" }));
        expect([r.created, r.updated, r.entry.reason]).toEqual([false, true, "keyCompromise"]);
      }
    });

    it("RFC 5280 §5.3.1: a certificateHold is made permanent by any other reason (updated: true, the hold's revocationDate kept, revision moved) and never goes back on hold", async () => {
      const first = clock.now();
      const permanent = ["unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded", "cessationOfOperation", "privilegeWithdrawn", "aACompromise"] as const;
      for (const [i] of permanent.entries()) await store.revoke({ serialNumber: `2${i}`, reason: "certificateHold" });
      clock.advance(60_000);
      for (const [i, reason] of permanent.entries()) {
        const serialNumber = `2${i}`;
        const before = await store.revision?.();
        const entry = { serialNumber, reason, revokedAt: first };
        expect(norm(await store.revoke({ serialNumber, reason, revokedAt: clock.now() }))).toEqual({ created: false, updated: true, entry });
        const after = await store.revision?.();
        if (before !== undefined) expect(after).toBeGreaterThan(before);
        // Held again, or released by a repeat: nothing changes (no store releases a hold; a permanent entry stays).
        expect(norm(await store.revoke({ serialNumber, reason: "certificateHold" }))).toEqual({ created: false, updated: false, entry });
        expect(await store.get(serialNumber)).toEqual(entry);
        expect(await store.revision?.()).toBe(after);
      }
      expect((await store.list()).map((e) => e.reason)).toEqual([...permanent]);
    });

    it("a hold made superseded can still be upgraded to keyCompromise; a second hold of a held serial changes nothing", async () => {
      const first = clock.now();
      await store.revoke({ serialNumber: "2a", reason: "certificateHold" });
      const held = await store.revision?.();
      expect(norm(await store.revoke({ serialNumber: "2a", reason: "certificateHold" }))).toEqual({ created: false, updated: false, entry: { serialNumber: "2a", reason: "certificateHold", revokedAt: first } });
      expect(await store.revision?.()).toBe(held);
      clock.advance(1000);
      expect(norm(await store.revoke({ serialNumber: "2a", reason: "superseded" })).updated).toBe(true);
      expect(norm(await store.revoke({ serialNumber: "2a", reason: "keyCompromise" }))).toEqual({ created: false, updated: true, entry: { serialNumber: "2a", reason: "keyCompromise", revokedAt: first } });
      expect(await store.list()).toEqual([{ serialNumber: "2a", reason: "keyCompromise", revokedAt: first }]);
    });

    it("50 concurrent revocations of a held serial, half superseded and half keyCompromise: none created, the entry ends keyCompromise with the hold's date", async () => {
      const first = clock.now();
      await store.revoke({ serialNumber: "2b2b", reason: "certificateHold" });
      clock.advance(1000);
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => store.revoke({ serialNumber: "2b2b", reason: i % 2 ? "keyCompromise" : "superseded" })),
      );
      expect(results.filter((r) => r.created)).toHaveLength(0);
      // keyCompromise first: one change; superseded first: it, then one keyCompromise over it.
      const updated = results.filter((r) => r.updated).map((r) => r.entry.reason).sort();
      expect([["keyCompromise"], ["keyCompromise", "superseded"]]).toContainEqual(updated);
      expect(await store.list()).toEqual([{ serialNumber: "2b2b", reason: "keyCompromise", revokedAt: first }]);
    });

    it("50 concurrent keyCompromise revocations of a held serial: exactly one reports updated, all answer keyCompromise", async () => {
      await store.revoke({ serialNumber: "2c2c", reason: "certificateHold" });
      const results = await Promise.all(Array.from({ length: 50 }, () => store.revoke({ serialNumber: "2c2c", reason: "keyCompromise" })));
      expect(results.filter((r) => r.updated)).toHaveLength(1);
      for (const r of results) expect([r.created, r.entry.reason]).toEqual([false, "keyCompromise"]);
    });

    it("revision, where the store has it, moves on an upgrade to keyCompromise and only then", async () => {
      if (!store.revision) return;
      await store.revoke({ serialNumber: "50", reason: "superseded" });
      const before = await store.revision();
      await store.revoke({ serialNumber: "50", reason: "superseded" });
      await store.revoke({ serialNumber: "50", reason: "cessationOfOperation" });
      expect(await store.revision()).toBe(before);
      await store.revoke({ serialNumber: "50", reason: "keyCompromise" });
      const upgraded = await store.revision();
      expect(upgraded).toBeGreaterThan(before);
      await store.revoke({ serialNumber: "50", reason: "keyCompromise" });
      await store.revoke({ serialNumber: "50", reason: "superseded" });
      expect(await store.revision()).toBe(upgraded);
    });

    it("of 50 concurrent revocations of one serial with reasons that do not upgrade each other exactly one is created, all answer the same entry", async () => {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => store.revoke({ serialNumber: "6d6d", reason: i % 2 ? "superseded" : "cessationOfOperation" })),
      );
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(results.filter((r) => r.updated)).toHaveLength(0);
      const winner = results.find((r) => r.created)!.entry;
      for (const r of results) expect(r.entry).toEqual(winner);
      expect(await store.list()).toEqual([winner]);
    });

    it("50 concurrent revocations of one serial, half superseded and half keyCompromise: one created, at most one updated, the entry ends keyCompromise with the creator's date", async () => {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => store.revoke({ serialNumber: "6e6e", reason: i % 2 ? "keyCompromise" : "superseded" })),
      );
      const created = results.filter((r) => r.created);
      const updated = results.filter((r) => r.updated);
      expect(created).toHaveLength(1);
      // A keyCompromise creator leaves nothing to upgrade; a superseded creator is upgraded by exactly one keyCompromise.
      expect(updated).toHaveLength(created[0]!.entry.reason === "keyCompromise" ? 0 : 1);
      for (const r of updated) expect(r.created).toBe(false);
      const final = await store.get("6e6e");
      expect(final).toEqual({ serialNumber: "6e6e", reason: "keyCompromise", revokedAt: created[0]!.entry.revokedAt });
      expect(await store.list()).toEqual([final]);
    });

    it("50 concurrent keyCompromise re-revocations of a superseded serial: exactly one reports updated, all answer keyCompromise", async () => {
      await store.revoke({ serialNumber: "6f6f", reason: "superseded" });
      const before = await store.revision?.();
      const results = await Promise.all(Array.from({ length: 50 }, () => store.revoke({ serialNumber: "6f6f", reason: "keyCompromise" })));
      expect(results.filter((r) => r.updated)).toHaveLength(1);
      for (const r of results) expect([r.created, r.entry.reason]).toEqual([false, "keyCompromise"]);
      if (before !== undefined) expect(await store.revision!()).toBeGreaterThan(before);
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

    it("a revokedAt that is not a valid Date is ERR_INVALID_ARGUMENT (one line) whether or not the serial is revoked already, and changes nothing", async () => {
      const invalid = expect.objectContaining({ name: "InvalidArgumentError", code: "ERR_INVALID_ARGUMENT", message: "revokedAt must be a valid Date" });
      await expect(store.revoke({ serialNumber: "0b", reason: "keyCompromise", revokedAt: new Date(Number.NaN) })).rejects.toEqual(invalid);
      expect(await store.list()).toEqual([]);
      const first = await store.revoke({ serialNumber: "0b", reason: "superseded" });
      const revision = await store.revision?.();
      await expect(store.revoke({ serialNumber: "0b", reason: "keyCompromise", revokedAt: new Date(Number.NaN) })).rejects.toEqual(invalid);
      await expect(store.revoke({ serialNumber: "0b", reason: "keyCompromise", revokedAt: 1_700_000_000_000 as never })).rejects.toEqual(invalid);
      expect(await store.list()).toEqual([first.entry]);
      expect(await store.revision?.()).toBe(revision);
    });

    it("RFC 5280 §5.2.3: CRL numbers start at 1 or above and 50 concurrent calls get distinct, consecutive, increasing numbers", async () => {
      const first = await store.nextCrlNumber();
      expect(first >= 1n).toBe(true);
      const numbers = await Promise.all(Array.from({ length: 50 }, () => store.nextCrlNumber()));
      expect(new Set(numbers).size).toBe(50);
      for (const n of numbers) expect(n > first && n <= first + 50n).toBe(true);
      expect(await store.nextCrlNumber()).toBe(first + 51n);
    });

    it("RFC 5280 §5.2.3: nextCrlNumber({ atLeast }) answers the floor when it is above the next number, and numbers go on from it", async () => {
      const first = await store.nextCrlNumber();
      const floor = first + 1000n;
      expect(await store.nextCrlNumber({ atLeast: floor })).toBe(floor);
      expect(await store.nextCrlNumber()).toBe(floor + 1n);
      // 20 octets (RFC 5280's most): exact, beyond a double and an int64.
      const big = (1n << 159n) - 5n;
      expect(await store.nextCrlNumber({ atLeast: big })).toBe(big);
      expect(await store.nextCrlNumber()).toBe(big + 1n);
    });

    it("RFC 5280 §5.2.3: nextCrlNumber({ atLeast }) never lowers the counter: a floor at or below the next number is ignored", async () => {
      const first = await store.nextCrlNumber({ atLeast: 500n });
      expect(first >= 500n).toBe(true);
      expect(await store.nextCrlNumber({ atLeast: 1n })).toBe(first + 1n);
      expect(await store.nextCrlNumber({ atLeast: first + 2n })).toBe(first + 2n);
      expect(await store.nextCrlNumber({ atLeast: 0n })).toBe(first + 3n);
      expect(await store.nextCrlNumber()).toBe(first + 4n);
    });

    it("RFC 5280 §5.2.3: concurrent nextCrlNumber calls with and without the same floor still get distinct numbers, each floored one at or above it, one equal", async () => {
      const first = await store.nextCrlNumber();
      const floor = first + 10_000n;
      const numbers = await Promise.all(Array.from({ length: 40 }, (_, i) => store.nextCrlNumber(i % 2 ? { atLeast: floor } : {})));
      expect(new Set(numbers).size).toBe(40);
      const raised = numbers.filter((n) => n >= floor);
      // Every floored call answers the floor or above (the first of them exactly it), and every call after it above.
      expect(raised.length).toBeGreaterThanOrEqual(20);
      expect(numbers.filter((n) => n === floor).length).toBe(1);
      const max = numbers.reduce((a, b) => (a > b ? a : b));
      expect(await store.nextCrlNumber()).toBe(max + 1n);
    });

    it("nextCrlNumber({ atLeast }) that is not a bigint from 0 to 2^159 - 1 is ERR_INVALID_ARGUMENT and moves nothing", async () => {
      const first = await store.nextCrlNumber();
      await expect(store.nextCrlNumber({ atLeast: 5 as never })).rejects.toEqual(ERR_INVALID_ARGUMENT);
      await expect(store.nextCrlNumber({ atLeast: -1n })).rejects.toEqual(ERR_INVALID_ARGUMENT);
      await expect(store.nextCrlNumber({ atLeast: 1n << 159n })).rejects.toEqual(ERR_INVALID_ARGUMENT);
      expect(await store.nextCrlNumber()).toBe(first + 1n);
    });

    it("RFC 5280 §5.2.3: nextCrlNumber({ atLeast: MAX_CRL_NUMBER }) answers 2^159 - 1 once; every later call is ERR_CRL_NUMBER_EXHAUSTED, never a wrapped or larger number", async () => {
      await store.nextCrlNumber();
      expect(await store.nextCrlNumber({ atLeast: MAX_CRL_NUMBER })).toBe(MAX_CRL_NUMBER);
      await expect(store.nextCrlNumber()).rejects.toEqual(ERR_CRL_NUMBER_EXHAUSTED);
      await expect(store.nextCrlNumber({ atLeast: 1n })).rejects.toEqual(ERR_CRL_NUMBER_EXHAUSTED);
      await expect(store.nextCrlNumber({ atLeast: MAX_CRL_NUMBER })).rejects.toEqual(ERR_CRL_NUMBER_EXHAUSTED);
      // The store stays exhausted (the counter was not moved past the limit, nor back).
      await expect(store.nextCrlNumber()).rejects.toEqual(ERR_CRL_NUMBER_EXHAUSTED);
    });

    it("RFC 5280 §5.2.3: the numbers just below the limit are handed out one by one up to 2^159 - 1, then ERR_CRL_NUMBER_EXHAUSTED; of concurrent calls at the limit only one gets it", async () => {
      expect(await store.nextCrlNumber({ atLeast: MAX_CRL_NUMBER - 2n })).toBe(MAX_CRL_NUMBER - 2n);
      expect(await store.nextCrlNumber()).toBe(MAX_CRL_NUMBER - 1n);
      const settled = await Promise.allSettled(Array.from({ length: 5 }, () => store.nextCrlNumber()));
      expect(settled.filter((r) => r.status === "fulfilled").map((r) => (r as PromiseFulfilledResult<bigint>).value)).toEqual([MAX_CRL_NUMBER]);
      for (const r of settled.filter((r) => r.status === "rejected")) expect((r as PromiseRejectedResult).reason).toEqual(ERR_CRL_NUMBER_EXHAUSTED);
    });
  });
}
