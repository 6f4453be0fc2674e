/**
 * The conformance suite every {@link ProfileStore} runs.
 *
 * @module
 */
import { manualClock, type ManualClock, type StoreFactoryContext } from "@scep/core/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ProfileKey, ProfileRecord, ProfileStore } from "../stores/profile-store.js";

/** Options of {@link profileStoreConformance}. */
export interface ProfileStoreConformanceOptions<S extends ProfileStore = ProfileStore> {
  /** Name shown in the test report, e.g. `"redis"`. */
  name: string;
  /** Creates the store under test, wired to `context.now`; called before each test. */
  create: (context: StoreFactoryContext) => S | Promise<S>;
  /** Releases what `create` made; called after each test. */
  cleanup?: (store: S) => void | Promise<void>;
}

let counter = 0;

/**
 * Registers the ProfileStore conformance tests (vitest) for one
 * implementation. Call it at the top level of a test file. Keys are unique
 * per test, so a store shared between runs (one Redis database) is fine.
 *
 * What it holds a store to: `put` then `get` returns every field as given
 * (optional ones absent when absent), and copies; `get` of an absent key is
 * `undefined`; the three key fields are kept apart (`"a:b","c"` is not
 * `"a","b:c"`, nor are keys holding `,` `/` `%` or non-ASCII confused);
 * `put` replaces; `requeue` sets status `none`, removes
 * `challengeRetrievedAt` and `detail` (keeps `challengeHash`), increments `requeueCount` and sets
 * `updatedAt` by the injected clock, and 20 concurrent requeues add 20;
 * `requeue(key, expected)` requeues (resolving true, requeueCount + 1) only
 * while the stored record is still `expected` field for field, and leaves a
 * record replaced meanwhile (a re-registration, a requeue, a markFailed, any
 * field changed, added or removed) untouched, resolving false; of 20
 * concurrent conditional requeues with one `expected`, exactly one applies;
 * for an absent key it resolves false and creates nothing;
 * `markFailed` sets `failed`, the detail and `updatedAt`; both are no-ops
 * creating nothing for an absent key; `markFailed(key, detail, expected)` is
 * conditional as `requeue(key, expected)` is (true while the record is still
 * `expected`, false and untouched once it was replaced, exactly one of 20
 * concurrent calls applies, false and nothing created for an absent key); `delete` is true once; `list` yields
 * every record; a record with an empty key field, an unknown status, a
 * non-integer time or a negative `requeueCount` is refused by `put` with
 * @scep/core's InvalidArgumentError (`ERR_INVALID_ARGUMENT`, the exact
 * one-line message) and stores nothing; a bad constructor option of the
 * memory and Redis stores is that class too (tested beside each).
 *
 * @example
 * ```ts
 * import { MemoryProfileStore } from "@scep/proxy";
 * import { profileStoreConformance } from "@scep/proxy/testing";
 *
 * // your store in place of MemoryProfileStore: it must take `updatedAt` from the suite's clock
 * profileStoreConformance({ name: "memory", create: ({ now }) => new MemoryProfileStore({ now }) });
 * ```
 */
export function profileStoreConformance<S extends ProfileStore>(options: ProfileStoreConformanceOptions<S>): void {
  describe(`ProfileStore conformance: ${options.name}`, () => {
    let clock: ManualClock;
    let store: S;

    beforeEach(async () => {
      clock = manualClock();
      store = await options.create({ now: clock.now });
    });
    afterEach(async () => {
      await options.cleanup?.(store);
    });

    const run = (): string => `${++counter}-${Math.random().toString(36).slice(2, 10)}`;
    const key = (label = "h"): ProfileKey => ({ hostId: `${label}-${run()}`, profileId: "wifi", caName: "corp" });
    const record = (k: ProfileKey, extra: Partial<ProfileRecord> = {}): ProfileRecord => ({ ...k, status: "pending", updatedAt: 1_700_000_000_000, ...extra });

    it("put refuses a record it cannot store with InvalidArgumentError (ERR_INVALID_ARGUMENT, one line) and stores nothing", async () => {
      const cases: [Partial<ProfileRecord> | ((k: ProfileKey) => ProfileRecord), string][] = [
        [(k) => ({ ...record(k), hostId: "" }), "hostId must be a non-empty string"],
        [(k) => ({ ...record(k), profileId: "" }), "profileId must be a non-empty string"],
        [(k) => ({ ...record(k), caName: 7 as never }), "caName must be a non-empty string"],
        [{ status: "issued" as never }, "status must be one of pending, verifying, verified, failed, none"],
        [{ status: "toString" as never }, "status must be one of pending, verifying, verified, failed, none"],
        [{ updatedAt: 1.5 }, "updatedAt must be an integer number of milliseconds since 1970"],
        [{ updatedAt: Number.NaN }, "updatedAt must be an integer number of milliseconds since 1970"],
        [{ challengeRetrievedAt: "1700000000000" as never }, "challengeRetrievedAt must be an integer number of milliseconds since 1970"],
        [{ requeueCount: -1 }, "requeueCount must be a non-negative integer"],
        [{ requeueCount: 0.5 }, "requeueCount must be a non-negative integer"],
      ];
      for (const [bad, message] of cases) {
        const k = key("bad");
        const r = typeof bad === "function" ? bad(k) : record(k, bad);
        await expect(store.put(r), message).rejects.toMatchObject({ name: "InvalidArgumentError", code: "ERR_INVALID_ARGUMENT", message });
        expect(await store.get(k)).toBeUndefined();
      }
    });

    it("get of a key never put is undefined", async () => {
      expect(await store.get(key())).toBeUndefined();
    });

    it("put then get returns every field as given; absent optional fields stay absent", async () => {
      const full = record(key(), { platform: "darwin", challengeRetrievedAt: 1_700_000_001_234, challengeHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", detail: "note", requeueCount: 2 });
      const bare = record(key());
      await store.put(full);
      await store.put(bare);
      expect(await store.get(full)).toStrictEqual(full);
      expect(await store.get(bare)).toStrictEqual(bare);
    });

    it("get returns a copy: changing it changes nothing stored", async () => {
      const k = key();
      await store.put(record(k));
      const got = (await store.get(k))!;
      got.status = "verified";
      expect((await store.get(k))?.status).toBe("pending");
    });

    it("keeps the three key fields apart, whatever characters they hold", async () => {
      const r = run();
      const keys: ProfileKey[] = [
        { hostId: `a:b-${r}`, profileId: "c", caName: "d" },
        { hostId: `a-${r}`, profileId: "b:c", caName: "d" },
        { hostId: `a,b-${r}`, profileId: "c", caName: "d" },
        { hostId: `a-${r}`, profileId: "b,c", caName: "d" },
        { hostId: `a-${r}`, profileId: "b", caName: "c,d" },
        { hostId: `a/%20 é-${r}`, profileId: "p|q", caName: "d\"" },
      ];
      for (const [i, k] of keys.entries()) await store.put(record(k, { detail: `#${i}` }));
      for (const [i, k] of keys.entries()) expect((await store.get(k))?.detail).toBe(`#${i}`);
      expect(await store.get({ hostId: `a-${r}`, profileId: "b", caName: "c:d" })).toBeUndefined();
    });

    it("put replaces the whole record (fields left out are gone)", async () => {
      const k = key();
      await store.put(record(k, { platform: "ios", challengeRetrievedAt: 5 }));
      await store.put(record(k, { status: "verified", updatedAt: 1_700_000_009_000 }));
      expect(await store.get(k)).toStrictEqual(record(k, { status: "verified", updatedAt: 1_700_000_009_000 }));
    });

    it("requeue: status none, challengeRetrievedAt and detail removed, challengeHash kept, requeueCount + 1, updatedAt by the clock", async () => {
      const k = key();
      await store.put(record(k, { platform: "windows", challengeRetrievedAt: 1_700_000_000_500, challengeHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", detail: "x" }));
      clock.advance(1_000);
      await store.requeue(k);
      expect(await store.get(k)).toStrictEqual({ ...k, status: "none", platform: "windows", challengeHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", requeueCount: 1, updatedAt: clock.now().getTime() });
      clock.advance(1_000);
      await store.requeue(k);
      expect(await store.get(k)).toMatchObject({ status: "none", requeueCount: 2, updatedAt: clock.now().getTime() });
    });

    it("requeue is atomic: 20 concurrent requeues add 20 to requeueCount", async () => {
      const k = key();
      await store.put(record(k, { requeueCount: 3 }));
      await Promise.all(Array.from({ length: 20 }, () => store.requeue(k)));
      expect((await store.get(k))?.requeueCount).toBe(23);
    });

    it("requeue with expected = the record as read: requeued, resolves true, requeueCount + 1, updatedAt by the clock", async () => {
      const k = key();
      const hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
      await store.put(record(k, { platform: "darwin", challengeRetrievedAt: 1_700_000_000_500, challengeHash: hash, detail: "", requeueCount: 0 }));
      const read = (await store.get(k))!;
      clock.advance(1_000);
      expect(await store.requeue(k, read)).toBe(true);
      expect(await store.get(k)).toStrictEqual({ ...k, status: "none", platform: "darwin", challengeHash: hash, requeueCount: 1, updatedAt: clock.now().getTime() });
      // A bare record (no optional field) matches too.
      const bare = key();
      await store.put(record(bare));
      expect(await store.requeue(bare, (await store.get(bare))!)).toBe(true);
      expect(await store.get(bare)).toMatchObject({ status: "none", requeueCount: 1 });
    });

    it("requeue with expected is atomic: of 20 concurrent requeues with the same expected record, exactly one applies", async () => {
      const k = key();
      await store.put(record(k, { challengeRetrievedAt: 1_700_000_000_500, requeueCount: 3 }));
      const read = (await store.get(k))!;
      const results = await Promise.all(Array.from({ length: 20 }, () => store.requeue(k, read)));
      expect(results.filter((r) => r === true)).toHaveLength(1);
      expect(results.filter((r) => r === false)).toHaveLength(19);
      expect(await store.get(k)).toMatchObject({ status: "none", requeueCount: 4 });
    });

    it("markFailed: status failed with the detail, updatedAt by the clock, other fields kept", async () => {
      const k = key();
      await store.put(record(k, { platform: "darwin", challengeRetrievedAt: 7 }));
      clock.advance(2_500);
      await store.markFailed(k, "upstream timeout");
      expect(await store.get(k)).toStrictEqual(
        record(k, { status: "failed", platform: "darwin", challengeRetrievedAt: 7, detail: "upstream timeout", updatedAt: clock.now().getTime() }),
      );
    });

    it("markFailed with expected = the record as read: marked failed, resolves true, other fields kept", async () => {
      const k = key();
      const hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
      await store.put(record(k, { platform: "darwin", challengeRetrievedAt: 1_700_000_000_500, challengeHash: hash, detail: "", requeueCount: 2 }));
      const read = (await store.get(k))!;
      clock.advance(1_000);
      expect(await store.markFailed(k, "upstream timeout", read)).toBe(true);
      expect(await store.get(k)).toStrictEqual({ ...read, status: "failed", detail: "upstream timeout", updatedAt: clock.now().getTime() });
      // A bare record (no optional field) matches too.
      const bare = key();
      await store.put(record(bare));
      expect(await store.markFailed(bare, "x", (await store.get(bare))!)).toBe(true);
      expect(await store.get(bare)).toMatchObject({ status: "failed", detail: "x" });
    });

    it("markFailed with expected is atomic: of 20 concurrent calls with the same expected record, exactly one applies", async () => {
      const k = key();
      await store.put(record(k, { challengeRetrievedAt: 1_700_000_000_500 }));
      const read = (await store.get(k))!;
      clock.advance(1_000);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.markFailed(k, `upstream #${i}`, read)));
      expect(results.filter((r) => r === true)).toHaveLength(1);
      expect(results.filter((r) => r === false)).toHaveLength(19);
      expect(await store.get(k)).toStrictEqual({ ...read, status: "failed", detail: `upstream #${results.indexOf(true)}`, updatedAt: clock.now().getTime() });
    });

    // The two conditional writes (the proxy's own calls: requeue after a failed challenge check, the documented sink's
    // markFailed), each held to the same rule: it applies only to the very record read.
    const conditionalWrites: [string, (k: ProfileKey, read: ProfileRecord) => Promise<boolean | void>][] = [
      ["requeue", (k, read) => store.requeue(k, read)],
      ["markFailed", (k, read) => store.markFailed(k, "upstream timeout", read)],
    ];
    for (const [name, write] of conditionalWrites) {
      it(`${name} with expected: a record replaced meanwhile (re-registered, requeued, marked failed, any field changed, added or removed) is left untouched and it resolves false`, async () => {
        const hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        const base: Partial<ProfileRecord> = { platform: "darwin", challengeRetrievedAt: 1_700_000_000_500, challengeHash: hash };
        // What replaced the record between the read and the write: the stored record, from the one read.
        const replacements: [string, (read: ProfileRecord) => ProfileRecord | ((k: ProfileKey) => Promise<void>)][] = [
          ["a re-registration: new challengeHash, challengeRetrievedAt and updatedAt", (r) => ({ ...r, challengeHash: "0".repeat(64), challengeRetrievedAt: r.challengeRetrievedAt! + 1, updatedAt: r.updatedAt + 1 })],
          ["a re-registration with only a new challengeHash", (r) => ({ ...r, challengeHash: "0".repeat(64) })],
          ["a re-registration with only a new challengeRetrievedAt", (r) => ({ ...r, challengeRetrievedAt: r.challengeRetrievedAt! + 1 })],
          ["a re-registration with only a new updatedAt", (r) => ({ ...r, updatedAt: r.updatedAt + 1 })],
          ["another status", (r) => ({ ...r, status: "verifying" })],
          ["a field removed (challengeHash)", ({ challengeHash: _h, ...r }) => r],
          ["a field removed (challengeRetrievedAt)", ({ challengeRetrievedAt: _c, ...r }) => r],
          ["a field added", (r) => ({ ...r, detail: "added" })],
          ["another platform", (r) => ({ ...r, platform: "ios" })],
          ["another requeueCount", (r) => ({ ...r, requeueCount: 4 })],
          ["a requeue", () => async (k) => void (await store.requeue(k))],
          ["a markFailed", () => async (k) => void (await store.markFailed(k, "upstream timeout"))],
        ];
        for (const [what, replace] of replacements) {
          const k = key();
          await store.put(record(k, base));
          const read = (await store.get(k))!;
          const replacement = replace(read);
          if (typeof replacement === "function") await replacement(k);
          else await store.put(replacement);
          const before = await store.get(k);
          clock.advance(1_000);
          expect(await write(k, read), what).toBe(false);
          expect(await store.get(k), what).toStrictEqual(before);
        }
      });

      it(`${name} with expected of an absent key resolves false and creates nothing (also when the record was deleted after the read)`, async () => {
        const k = key();
        expect(await write(k, record(k))).toBe(false);
        expect(await store.get(k)).toBeUndefined();
        await store.put(record(k));
        const read = (await store.get(k))!;
        await store.delete(k);
        expect(await write(k, read)).toBe(false);
        expect(await store.get(k)).toBeUndefined();
      });
    }

    it("requeue and markFailed of an absent key create nothing", async () => {
      const k = key();
      await store.requeue(k);
      await store.markFailed(k, "x");
      expect(await store.get(k)).toBeUndefined();
    });

    it("delete is true once, then false; the record is gone", async () => {
      const k = key();
      await store.put(record(k));
      expect(await store.delete(k)).toBe(true);
      expect(await store.delete(k)).toBe(false);
      expect(await store.get(k)).toBeUndefined();
    });

    it("list yields every record put (and not deleted)", async () => {
      const label = `list-${run()}`;
      const keys = Array.from({ length: 5 }, (_, i) => key(`${label}-${i}`));
      for (const k of keys) await store.put(record(k));
      await store.delete(keys[4]!);
      const seen: ProfileRecord[] = [];
      for await (const r of store.list()) if (r.hostId.startsWith(label)) seen.push(r);
      expect(seen.map((r) => r.hostId).sort()).toEqual(keys.slice(0, 4).map((k) => k.hostId).sort());
      expect(seen[0]).toStrictEqual(record(keys.find((k) => k.hostId === seen[0]!.hostId)!));
    });
  });
}
