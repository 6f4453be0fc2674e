/**
 * PROXY.md "The URL and the identifier": the builder percent-encodes each
 * field, the parser refuses every malformed shape with a fixed reason, and
 * parse(build(x)) round-trips.
 */
import { ScepError, isScepError } from "@scep/core";
import { describe, expect, it } from "vitest";
import { IdentifierError, MAX_IDENTIFIER_LENGTH, buildIdentifier, buildProxyUrl, isProxyError, parseIdentifier, type IdentifierErrorReason } from "../src/index.js";

const reasonOf = (f: () => unknown): IdentifierErrorReason | "none" => {
  try {
    f();
    return "none";
  } catch (e) {
    if (!(e instanceof IdentifierError)) throw e;
    return e.reason;
  }
};

describe("buildIdentifier", () => {
  it("percent-encodes each field so , / % and space cannot break the split", () => {
    expect(buildIdentifier({ hostId: "host 1", profileId: "wifi,eap", caName: "a/b%c" })).toBe("host%201,wifi%2Ceap,a%2Fb%25c");
    expect(buildIdentifier({ hostId: "h", profileId: "p" })).toBe("h,p");
    expect(buildIdentifier({ hostId: "h", profileId: "p", challenge: "c+/=" })).toBe("h,p,,c%2B%2F%3D");
    expect(buildIdentifier({ hostId: "hé", profileId: "p", caName: "ca", challenge: "" })).toBe("h%C3%A9,p,ca,");
  });

  it("refuses empty required fields, an empty caName, control characters, lone surrogates and oversize", () => {
    expect(reasonOf(() => buildIdentifier({ hostId: "", profileId: "p" }))).toBe("empty_field");
    expect(reasonOf(() => buildIdentifier({ hostId: "h", profileId: "" }))).toBe("empty_field");
    expect(reasonOf(() => buildIdentifier({ hostId: "h", profileId: "p", caName: "" }))).toBe("empty_field");
    expect(reasonOf(() => buildIdentifier({ hostId: "h\u0000", profileId: "p" }))).toBe("control_character");
    expect(reasonOf(() => buildIdentifier({ hostId: "h", profileId: "p", challenge: "a\u007f" }))).toBe("control_character");
    expect(reasonOf(() => buildIdentifier({ hostId: "h\uD800", profileId: "p" }))).toBe("bad_encoding");
    expect(reasonOf(() => buildIdentifier({ hostId: "h".repeat(MAX_IDENTIFIER_LENGTH), profileId: "p" }))).toBe("too_long");
  });

  it("buildProxyUrl appends the segment to the base with one slash", () => {
    expect(buildProxyUrl("https://mdm.example.com/scep/", { hostId: "h 1", profileId: "p", caName: "ndes" })).toBe("https://mdm.example.com/scep/h%201,p,ndes");
  });
});

const MESSAGES: Record<IdentifierErrorReason, string> = {
  empty: "empty",
  too_long: "too long",
  field_count: "expected 2 to 4 comma-separated fields",
  empty_field: "a required field is empty",
  bad_encoding: "bad percent-encoding or not UTF-8",
  control_character: "a field holds a control character",
};

describe("parseIdentifier", () => {
  it("reads 2, 3 and 4 fields; an empty caName field means the default CA", () => {
    expect(parseIdentifier("h,p")).toStrictEqual({ hostId: "h", profileId: "p" });
    expect(parseIdentifier("h,p,ca")).toStrictEqual({ hostId: "h", profileId: "p", caName: "ca" });
    expect(parseIdentifier("h,p,ca,c")).toStrictEqual({ hostId: "h", profileId: "p", caName: "ca", challenge: "c" });
    expect(parseIdentifier("h,p,,c%2B")).toStrictEqual({ hostId: "h", profileId: "p", challenge: "c+" });
    expect(parseIdentifier("h%C3%A9,p%2Cq")).toStrictEqual({ hostId: "hé", profileId: "p,q" });
  });

  it.each<[string, string, IdentifierErrorReason]>([
    ["the empty string", "", "empty"],
    ["a single field", "host", "field_count"],
    ["five fields", "a,b,c,d,e", "field_count"],
    ["an empty hostId", ",p", "empty_field"],
    ["an empty profileId", "h,", "empty_field"],
    ["a % without two hex digits", "h%2,p", "bad_encoding"],
    ["a %zz escape", "h,p%zz", "bad_encoding"],
    ["escaped bytes that are not UTF-8", "h%FF,p", "bad_encoding"],
    ["an encoded UTF-16 surrogate", "h%ED%A0%80,p", "bad_encoding"],
    ["an overlong UTF-8 encoding", "h%C0%AF,p", "bad_encoding"],
    ["an escaped NUL", "h%00,p", "control_character"],
    ["a raw NUL", "h\u0000,p", "control_character"],
    ["an escaped newline", "h,p,ca,c%0A", "control_character"],
    ["a huge identifier", `h,${"p".repeat(MAX_IDENTIFIER_LENGTH)}`, "too_long"],
  ])("refuses %s with a fixed reason and without echoing the input", (_what, segment, reason) => {
    let error: unknown;
    try {
      parseIdentifier(segment);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(IdentifierError);
    expect(error).toBeInstanceOf(ScepError);
    expect(isScepError(error) && isProxyError(error)).toBe(true);
    expect(error).toMatchObject({ code: "ERR_PROXY_IDENTIFIER", reason, name: "IdentifierError" });
    expect((error as Error).message).toBe(`invalid identifier: ${MESSAGES[reason]}`);
  });
});
