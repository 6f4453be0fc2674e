/**
 * X.690 §8.19 and X.660: OBJECT IDENTIFIERs are encoded exactly, and arcs
 * that cannot exist are refused instead of silently encoding another OID.
 */
import { describe, expect, it } from "vitest";
import { encode, oid, readOid, parse } from "../src/lib/der.js";

describe("OBJECT IDENTIFIER encoding", () => {
  it("encodes and reads back", () => {
    expect(Buffer.from(encode(oid("2.5.29.17"))).toString("hex")).toBe("0603551d11");
    expect(Buffer.from(encode(oid("1.2.840.113549.1.1.11"))).toString("hex")).toBe("06092a864886f70d01010b");
    expect(readOid(parse(encode(oid("2.999.1"))))).toBe("2.999.1");
  });

  it("refuses arcs X.660 does not allow", () => {
    for (const bad of ["1.40", "0.40.1", "3.1", "1", "1.-2", "1.2.x"]) {
      expect(() => oid(bad), bad).toThrow(expect.objectContaining({ code: "ERR_ASN1" }));
    }
  });
});
