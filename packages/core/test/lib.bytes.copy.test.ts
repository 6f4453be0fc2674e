/**
 * copyBytes: a copy in memory of its own, also of a Node Buffer, whose slice() is a view of the same memory
 * (the kind of fault behind decodePkiMessage re-tagging a Buffer body in place, and stores sharing a caller's bytes).
 */
import { describe, expect, it } from "vitest";
import { copyBytes } from "../src/lib/bytes.js";

describe("copyBytes", () => {
  it("copies a Buffer, and a view into a larger Buffer, into a plain Uint8Array of its own", () => {
    const backing = Buffer.from([9, 1, 2, 3, 9]);
    const view = backing.subarray(1, 4);
    const copy = copyBytes(view);
    expect(copy.constructor).toBe(Uint8Array);
    expect([...copy]).toEqual([1, 2, 3]);
    expect(copy.buffer.byteLength).toBe(3);
    backing.fill(0);
    expect([...copy]).toEqual([1, 2, 3]);
    expect([...view.slice()].length).toBe(3); // the trap: Buffer's slice() shares memory
    view[0] = 7;
    expect(backing.slice(1, 2)[0]).toBe(7);
  });
});
