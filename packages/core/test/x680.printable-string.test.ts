/**
 * X.680 §41.4 (Table 10, PrintableString): `isPrintableString` is public (`@scep/core`), so an MDM or a proxy can tell
 * whether a challenge fits what Windows' SCEP client encodes (RFC 2985 §5.4.1 challengePassword as a PrintableString;
 * fleetdm/fleet#47492) without a copy of the alphabet of its own (`@scep/proxy`'s `fitsPrintableString` was one).
 * The alphabet below is written out from X.680's table, not from the code's regular expression.
 */
import { describe, expect, it } from "vitest";
import { isPrintableString } from "../src/index.js";

const TABLE_10 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?";

describe("X.680 §41.4: isPrintableString", () => {
  it("accepts exactly Table 10's 74 characters among the 65 536 UTF-16 code units, and the empty string", () => {
    const fits: string[] = [];
    for (let c = 0; c <= 0xffff; c++) if (isPrintableString(String.fromCharCode(c))) fits.push(String.fromCharCode(c));
    expect(fits.join("")).toBe([...TABLE_10].sort().join(""));
    expect(isPrintableString("")).toBe(true);
  });

  it("judges the whole string: one character outside the set makes it false", () => {
    expect(isPrintableString("8CE317021F690069")).toBe(true);
    expect(isPrintableString("Ab 0'()+,-./:=?")).toBe(true);
    for (const s of ["a_b", "a!b", "pass@word", "x*", "é", "trailing\n", "\u0000", "ok😀"]) expect([s, isPrintableString(s)]).toEqual([s, false]);
  });
});
