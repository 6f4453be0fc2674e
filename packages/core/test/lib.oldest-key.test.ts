/**
 * oldestKeyOf (lib/oldest-key.ts): the oldest key of a Map in insertion order, as a fresh `map.keys().next()` gives it
 * (ECMA-262 §24.1.5), through deletions, re-insertions and an iterator run to its end; used by every Map this
 * package bounds by dropping its oldest entry (the key-transport ledger, ByteMemo).
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { oldestKeyOf } from "../src/lib/oldest-key.js";
import { ByteMemo } from "../src/lib/byte-memo.js";

type Op = { kind: "set" | "delete" | "touch" | "evict"; key: number };

describe("oldestKeyOf: the oldest key in insertion order, as map.keys().next() gives it", () => {
  it("agrees with a fresh iterator over any sequence of sets, deletes, moves to the end and evictions", () => {
    const op = fc.record({ kind: fc.constantFrom<Op["kind"]>("set", "delete", "touch", "evict"), key: fc.integer({ min: 0, max: 20 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const map = new Map<number, number>();
        const oldest = oldestKeyOf(map);
        for (const { kind, key } of ops) {
          if (kind === "set") map.set(key, key);
          else if (kind === "delete") map.delete(key);
          else if (kind === "touch" && map.has(key)) {
            map.delete(key);
            map.set(key, key);
          } else if (kind === "evict") {
            const expected = map.keys().next();
            const got = oldest();
            expect(got).toBe(expected.done ? undefined : expected.value);
            if (got !== undefined) map.delete(got);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it("begins again after it ran to the end: a key added to an emptied map is found", () => {
    const map = new Map<string, number>([["a", 1]]);
    const oldest = oldestKeyOf(map);
    expect(oldest()).toBe("a");
    map.delete("a");
    expect(oldest()).toBeUndefined();
    map.set("b", 2);
    expect(oldest()).toBe("b");
  });

  it("keeps nothing the map replaced: a value deleted from a map that never needed its oldest key is collected, also after V8 rebuilt the table many times", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const map = new Map<number, object>();
    const oldest = oldestKeyOf(map);
    let value: object | undefined = { first: true };
    const first = new WeakRef(value);
    map.set(0, value);
    value = undefined;
    for (let i = 1; i < 8; i++) map.set(i, {});
    // Each key moved to the end 500 times: the deleted slots make V8 rebuild the table again and again.
    for (let round = 0; round < 500; round++) {
      for (let i = 0; i < 8; i++) {
        map.delete(i);
        map.set(i, {});
      }
    }
    await nextTurn(); // a WeakRef's target is kept until the end of the job that made it
    gc();
    expect(first.deref()).toBeUndefined();
    expect(oldest()).toBe(0); // and it still answers
  });
});

describe("ByteMemo and the key-transport ledger let go of the iterator when a key is only moved to the end", () => {
  it("a full ByteMemo whose values are only replaced keeps none of the replaced ones", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const memo = new ByteMemo<object>(8, 64);
    const key = (i: number) => memo.key(new Uint8Array([i]));
    for (let i = 0; i < 9; i++) memo.set(key(i), {}); // one eviction: the iterator is live
    let value: object | undefined = { first: true };
    const first = new WeakRef(value);
    memo.set(key(8), value);
    value = undefined;
    // Every key stored again 500 times, none new: no eviction, the table rebuilt again and again.
    for (let round = 0; round < 500; round++) for (let i = 1; i < 9; i++) memo.set(key(i), {});
    await nextTurn();
    gc();
    expect(first.deref()).toBeUndefined();
    memo.set(key(100), {}); // and eviction still takes the least recent
    expect(memo.get(key(1))).toBeUndefined();
    expect(memo.get(key(2))).toBeDefined();
  });
});
