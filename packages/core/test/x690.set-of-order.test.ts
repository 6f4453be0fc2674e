/**
 * X.690 §11.6 (DER): the components of a SET OF are written in ascending order of their encodings, compared as
 * octet strings. The writer sorts a handful of items (a SignerInfo's signed attributes) by insertion and longer sets
 * with Array.prototype.sort; both, and a SET OF written while the writer's reused buffer is taken (inside
 * `der.withEncoding`), must give the same order. Properties run with fast-check (a failure prints its seed).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as der from "../src/lib/der.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/**
 * Distinct encodings of 1–40 octets (the writer takes bytes as they are), some the one before with octets more: a
 * common prefix, which X.690 orders shorter first (as if padded with zero octets).
 */
const components = (maxLength: number): fc.Arbitrary<Uint8Array[]> =>
  fc
    .array(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.boolean()), { maxLength })
    .map((xs) => xs.map(([bytes, extend], i) => (extend && i > 0 ? new Uint8Array([...xs[i - 1]![0], ...bytes]) : bytes)))
    .map((xs) => [...new Map(xs.map((x) => [hex(x), x])).values()]);

const expected = (xs: Uint8Array[]): string => hex(Buffer.concat([...xs].sort((a, b) => Buffer.compare(a, b))));

describe("X.690 §11.6: SET OF components in ascending order of their encodings", () => {
  it.each([
    ["up to 16 components (insertion sort)", 16],
    ["up to 60 components (Array.prototype.sort above 16)", 60],
  ])("%s, in any input order", (_, maxLength) => {
    fc.assert(
      fc.property(components(maxLength), (xs) => {
        const set = der.setOfEncoded(xs);
        const parsed = der.parse(set);
        expect(parsed.tag).toBe(der.Tag.SET);
        expect(hex(der.content(parsed))).toBe(expected(xs));
        expect(hex(der.encode(der.setOf(xs)))).toBe(hex(set));
      }),
      { numRuns: 300 },
    );
  });

  it("a SET OF written while the reused buffer is taken gives the same bytes, and the outer bytes stay intact", () => {
    fc.assert(
      fc.property(components(20), (xs) => {
        const outer = der.seq(der.int(5), der.octetString(new Uint8Array(300).fill(7)));
        const alone = hex(der.setOfEncoded(xs));
        const { nested, intact } = der.withEncoding(outer, (bytes) => {
          const before = hex(bytes);
          const nested = hex(der.setOfEncoded(xs));
          return { nested, intact: hex(bytes) === before };
        });
        expect(nested).toBe(alone);
        expect(intact).toBe(true);
      }),
      { numRuns: 100 },
    );
  });
});
