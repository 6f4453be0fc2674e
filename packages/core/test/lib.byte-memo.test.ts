/**
 * ByteMemo (src/lib/byte-memo.ts), the memo behind nameProblem and the subjectAltName check: keyed by the bytes, not
 * the array; bounded in count (oldest dropped) and in the size of a value it keeps, so a client sending large
 * subjects or subjectAltNames cannot make it hold more than capacity × maxBytes.
 */
import { describe, expect, it } from "vitest";
import { ByteMemo } from "../src/lib/byte-memo.js";

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

describe("ByteMemo", () => {
  it("finds a value by its bytes in any array, and only by those bytes (every octet counts, 0x00–0xff)", () => {
    const memo = new ByteMemo<string>(4, 16);
    const stored = bytes(0x30, 0x00, 0xff, 0x80);
    memo.set(memo.key(stored), "checked");
    expect(memo.get(memo.key(bytes(0x30, 0x00, 0xff, 0x80)))).toBe("checked");
    expect(memo.get(memo.key(Uint8Array.from(stored).subarray(0)))).toBe("checked");
    for (const other of [bytes(0x30, 0x00, 0xff), bytes(0x30, 0x00, 0xff, 0x81), bytes(0x30, 0x00, 0xff, 0x80, 0x00), bytes(0x00, 0x30, 0xff, 0x80)]) {
      expect(memo.get(memo.key(other))).toBeUndefined();
    }
    stored[3] = 0x7f; // the array changed: its new bytes are another value
    expect(memo.get(memo.key(stored))).toBeUndefined();
  });

  it("keeps the `capacity` most recently stored values", () => {
    const memo = new ByteMemo<number>(3, 16);
    for (let i = 0; i < 5; i++) memo.set(memo.key(bytes(i)), i);
    expect([0, 1, 2, 3, 4].map((i) => memo.get(memo.key(bytes(i))))).toEqual([undefined, undefined, 2, 3, 4]);
    memo.set(memo.key(bytes(2)), 2); // stored again: the most recent
    memo.set(memo.key(bytes(5)), 5);
    expect([2, 3, 4, 5].map((i) => memo.get(memo.key(bytes(i))))).toEqual([2, undefined, 4, 5]);
  });

  it("keeps no value longer than maxBytes, and nothing for what is not a Uint8Array", () => {
    const memo = new ByteMemo<string>(4, 8);
    expect(memo.key(new Uint8Array(8))).toBe("\0".repeat(8));
    expect(memo.key(new Uint8Array(9))).toBeUndefined();
    memo.set(memo.key(new Uint8Array(9)), "long");
    expect(memo.get(memo.key(new Uint8Array(9)))).toBeUndefined();
    expect(memo.key("3000" as unknown as Uint8Array)).toBeUndefined();
  });
});
