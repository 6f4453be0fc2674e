/**
 * RFC 3986 §2.1/§2.3 for a SCEP query value (`encodeQueryValue`, what ScepClient and @scep/proxy send as `message`):
 * every UTF-8 byte but the unreserved characters is `%XX` (upper-case hex), and our server's reader (`rawQueryParam`,
 * which keeps a literal `+`) gets back exactly the string encoded.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeQueryValue, rawQueryParam, toBase64 } from "../src/index.js";

describe("encodeQueryValue", () => {
  it.each([
    ["My CA", "My%20CA"],
    ["A-Z.a_z~0", "A-Z.a_z~0"],
    ["+/=&?#%", "%2B%2F%3D%26%3F%23%25"],
    ["!'()*", "%21%27%28%29%2A"],
    ["é😀", "%C3%A9%F0%9F%98%80"],
    ["", ""],
  ])("%j → %s", (value, wire) => {
    expect(encodeQueryValue(value)).toBe(wire);
  });

  it("a base64 PKIOperation message: + / = as %2B %2F %3D", () => {
    expect(encodeQueryValue(toBase64(new Uint8Array([0xfb, 0xff, 0xbf, 0x3e])))).toBe("%2B%2F%2B%2FPg%3D%3D");
  });

  it("a lone surrogate (no UTF-8) goes out as U+FFFD (EF BF BD), as URLSearchParams sends it; never throws", () => {
    expect(encodeQueryValue("CA\uD800")).toBe("CA%EF%BF%BD");
  });

  it("any well-formed string: only unreserved characters and %XX, read back unchanged by rawQueryParam", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 64 }), (value) => {
        const wire = encodeQueryValue(value);
        expect(wire).toMatch(/^(?:[A-Za-z0-9\-._~]|%[0-9A-F]{2})*$/);
        expect(rawQueryParam(`?operation=GetCACert&message=${wire}`, "message")).toBe(value);
      }),
    );
  });
});
