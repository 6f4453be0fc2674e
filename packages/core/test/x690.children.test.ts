/**
 * X.690 §8.1 (BER) and §8.9–8.12: the contents of a constructed element are the complete encodings of its
 * components, one after another. The reader's `children` lists them; it collects them in one array shared by every
 * call and copies them out at their exact length (less garbage per message), so each answer must stand on its own: the
 * same list a plain walk gives, unchanged by later calls, and nothing of a message kept once the call returns or
 * throws. Properties run with fast-check (a failure prints its seed).
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Asn1Error } from "../src/errors.js";
import * as der from "../src/lib/der.js";
import { LIMITS } from "../src/limits.js";

/** A DER tree: a primitive OCTET STRING of 0–200 octets, or a SEQUENCE of 0–20 such trees. */
const tree: fc.Arbitrary<der.Der> = fc.letrec<{ node: der.Der }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.uint8Array({ maxLength: 200 }).map((b) => der.octetString(b)),
    fc.array(tie("node"), { maxLength: 20 }).map((xs) => der.seq(...xs)),
  ),
})).node;

/** The components of the constructed element at `t`, walked without `children`: [start, end] of each. */
function walk(t: der.Tlv): [number, number][] {
  const out: [number, number][] = [];
  for (let p = t.contentStart; p < t.contentEnd; ) {
    const c = der.readTlv(t.buf, p, t.contentEnd);
    out.push([c.start, c.end]);
    p = c.end;
  }
  return out;
}

const spans = (xs: der.Tlv[]): [number, number][] => xs.map((c) => [c.start, c.end]);

describe("X.690 §8.9: the components of a constructed element, each list its own", () => {
  it("lists every component of every constructed element, as a walk finds them, and no later call changes an earlier list", () => {
    fc.assert(
      fc.property(fc.array(tree, { minLength: 1, maxLength: 8 }), (roots) => {
        const lists: { t: der.Tlv; got: der.Tlv[]; want: [number, number][] }[] = [];
        const visit = (t: der.Tlv): void => {
          if ((t.tag & 0x20) === 0) return;
          const got = der.children(t);
          lists.push({ t, got, want: walk(t) });
          for (const c of got) visit(c);
        };
        for (const root of roots) visit(der.parse(der.encode(der.seq(root))));
        for (const { got, want } of lists) {
          expect(spans(got)).toEqual(want);
          expect(got.length).toBe(want.length);
        }
        // Each call answered with an array of its own.
        expect(new Set(lists.map((l) => l.got)).size).toBe(lists.length);
      }),
      { numRuns: 200 },
    );
  });

  it("answers rightly after a call that threw: a truncated component, and more components than LIMITS.asn1Elements", () => {
    // SEQUENCE { INTEGER 1, INTEGER 2, then an OCTET STRING whose length runs past the SEQUENCE }
    const truncated = der.parse(new Uint8Array([0x30, 0x08, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02, 0x04, 0x05]));
    expect(() => der.children(truncated)).toThrow(Asn1Error);
    const many = der.parse(der.encode(der.seq(...Array.from({ length: LIMITS.asn1Elements + 1 }, () => der.NULL))));
    expect(() => der.children(many)).toThrow(`more than ${LIMITS.asn1Elements} elements`);
    const ok = der.parse(der.encode(der.seq(der.int(1), der.NULL)));
    const got = der.children(ok);
    expect(got.map((c) => c.tag)).toEqual([der.Tag.INTEGER, der.Tag.NULL]);
    expect(got).toHaveLength(2);
  });

  it("keeps nothing of a message once the call returns or throws: its bytes are collected", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const refs = ((): WeakRef<Uint8Array>[] => {
      // Three components where the throwing call below reads two: its own clearing cannot hide a slot this one left.
      const returned = new Uint8Array([0x30, 0x09, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02, 0x02, 0x01, 0x03]);
      expect(der.children(der.parse(returned))).toHaveLength(3);
      const threw = new Uint8Array([0x30, 0x08, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02, 0x04, 0x05]);
      expect(() => der.children(der.parse(threw))).toThrow(Asn1Error);
      return [new WeakRef(returned), new WeakRef(threw)];
    })();
    await nextTurn(); // a WeakRef's target is kept until the end of the job that made it
    gc();
    expect(refs.map((r) => r.deref())).toEqual([undefined, undefined]);
  });
});
