/**
 * X.690 §11.6 (DER): the components of a SET OF are written in ascending order of their encodings, compared as
 * octet strings. The writer sorts a handful of items (a SignerInfo's signed attributes) by insertion and longer sets
 * with Array.prototype.sort; both, and a SET OF written while the writer's reused buffer is taken (inside
 * `der.withEncoding`), must give the same order.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import * as der from "../src/lib/der.js";

/**
 * `n` distinct encodings of 1–40 random octets (the writer takes bytes as they are), every third one the one before
 * with an octet more: a common prefix, which X.690 orders shorter first (as if padded with zero octets).
 */
function items(n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const seen = new Set<string>();
  while (out.length < n) {
    const previous = out.length % 3 === 2 ? out[out.length - 1] : undefined;
    const enc = new Uint8Array(previous ? Buffer.concat([previous, randomBytes(1)]) : randomBytes(1 + Math.floor(Math.random() * 40)));
    const key = Buffer.from(enc).toString("hex");
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(enc);
  }
  return out;
}

const expected = (xs: Uint8Array[]): string => Buffer.concat([...xs].sort((a, b) => Buffer.compare(a, b))).toString("hex");

describe("X.690 §11.6: SET OF components in ascending order of their encodings", () => {
  it.each([0, 1, 2, 3, 8, 16, 17, 40])("%i components, in any input order", (n) => {
    for (let round = 0; round < 20; round++) {
      const xs = items(n);
      const set = der.setOfEncoded(xs);
      const parsed = der.parse(set);
      expect(parsed.tag).toBe(der.Tag.SET);
      expect(Buffer.from(der.content(parsed)).toString("hex")).toBe(expected(xs));
      expect(Buffer.from(der.encode(der.setOf(xs))).toString("hex")).toBe(Buffer.from(set).toString("hex"));
    }
  });

  it("a SET OF written while the reused buffer is taken gives the same bytes, and the outer bytes stay intact", () => {
    const xs = items(9);
    const outer = der.seq(der.int(5), der.octetString(new Uint8Array(300).fill(7)));
    const alone = Buffer.from(der.setOfEncoded(xs)).toString("hex");
    const { nested, intact } = der.withEncoding(outer, (bytes) => {
      const before = Buffer.from(bytes).toString("hex");
      const nested = Buffer.from(der.setOfEncoded(xs)).toString("hex");
      return { nested, intact: Buffer.from(bytes).toString("hex") === before };
    });
    expect(nested).toBe(alone);
    expect(intact).toBe(true);
  });
});
