/**
 * The NDES admin page parser (PROXY.md "Challenge lifecycles by CA type":
 * decode UTF-16LE or the page's charset, extract the challenge, recognise the
 * cache-full and no-permission pages), on the page variants of
 * support/ndes-pages.ts, and fuzzed: any bytes and content type give a result
 * or one of the parser's typed errors, never anything else.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeNdesAdminPage, parseNdesAdminPage } from "../src/challenge-sources/ndes-page.js";
import {
  CACHE_FULL_PAGE,
  LOGIN_PAGE,
  NO_PERMISSION_PAGE,
  PAGE_CHALLENGE,
  REAL_PAGES,
  challengePage,
  encodePage,
  type PageEncoding,
} from "./support/ndes-pages.js";

const ENCODINGS: PageEncoding[] = ["utf-8", "utf-8-bom", "utf-16le", "utf-16le-bom"];
const PARSER_CODES = new Set(["ERR_PROXY_NDES_EMPTY", "ERR_PROXY_NDES_CACHE_FULL", "ERR_PROXY_NDES_PERMISSION", "ERR_PROXY_NDES_UNKNOWN_PAGE"]);

/** The parser's outcome: the challenge, or the error's code ("untyped" for anything else). */
function outcome(body: Uint8Array, contentType?: string | null): string {
  try {
    return `challenge:${parseNdesAdminPage(body, contentType).challenge}`;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    return typeof code === "string" && PARSER_CODES.has(code) && e instanceof Error ? code : `untyped:${String(e)}`;
  }
}

describe("NDES admin page: decoding", () => {
  it.each(ENCODINGS)("reads the challenge from a %s page whatever the Content-Type says", (enc) => {
    const body = encodePage(challengePage(), enc);
    for (const ct of [null, "text/html", "text/html; charset=utf-8", "text/html; charset=UTF-16"]) {
      expect(parseNdesAdminPage(body, ct)).toEqual({ challenge: PAGE_CHALLENGE, encoding: enc.startsWith("utf-16") ? "utf-16le" : "utf-8" });
    }
  });
  it("IIS: UTF-16LE without BOM, Content-Type and <meta> both claiming UTF-8", () => {
    const body = encodePage(challengePage(), "utf-16le");
    expect(decodeNdesAdminPage(body, "text/html; charset=utf-8").encoding).toBe("utf-16le");
  });
  it("UTF-16BE with a BOM", () => {
    const le = Buffer.from(challengePage(), "utf16le");
    const be = Buffer.alloc(le.length);
    for (let i = 0; i < le.length; i += 2) {
      be[i] = le[i + 1] ?? 0;
      be[i + 1] = le[i] ?? 0;
    }
    const body = new Uint8Array([0xfe, 0xff, ...be]);
    expect(parseNdesAdminPage(body, "text/html")).toEqual({ challenge: PAGE_CHALLENGE, encoding: "utf-16be" });
  });
  it("the Content-Type charset (windows-1252) decodes a page whose text is not ASCII", () => {
    const page = challengePage().replace("Network Device", "Réseau Device");
    const body = new Uint8Array(Buffer.from(page, "latin1"));
    expect(decodeNdesAdminPage(body, "text/html; charset=windows-1252")).toEqual({ text: page, encoding: "windows-1252" });
  });
  it("a <meta charset> is used when the header names none", () => {
    const page = '<html><head><meta charset="iso-8859-1"></head><body>é</body></html>';
    const body = new Uint8Array(Buffer.from(page, "latin1"));
    expect(decodeNdesAdminPage(body, "text/html").text).toBe(page);
  });
  it("an unknown charset label falls back to UTF-8", () => {
    expect(decodeNdesAdminPage(new TextEncoder().encode("<p>é</p>"), "text/html; charset=x-klingon")).toEqual({ text: "<p>é</p>", encoding: "utf-8" });
  });
});

describe("NDES admin page: what each page means", () => {
  it.each(ENCODINGS)("cache full (%s) → ERR_PROXY_NDES_CACHE_FULL, retryable", (enc) => {
    let err: unknown;
    try {
      parseNdesAdminPage(encodePage(CACHE_FULL_PAGE, enc), "text/html");
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: "ERR_PROXY_NDES_CACHE_FULL", retryable: true, name: "NdesPasswordCacheFullError" });
  });
  it.each(ENCODINGS)("no permission (%s) → ERR_PROXY_NDES_PERMISSION, not retryable", (enc) => {
    let err: unknown;
    try {
      parseNdesAdminPage(encodePage(NO_PERMISSION_PAGE, enc), "text/html");
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: "ERR_PROXY_NDES_PERMISSION", retryable: false });
  });
  it.each([
    ["no bytes", new Uint8Array(0)],
    ["whitespace", new TextEncoder().encode(" \r\n\t ")],
    ["a UTF-16LE BOM alone", new Uint8Array([0xff, 0xfe])],
    ["UTF-16LE blanks", encodePage("   \r\n", "utf-16le")],
  ])("empty (%s) → ERR_PROXY_NDES_EMPTY", (_name, body) => {
    expect(outcome(body, "text/html")).toBe("ERR_PROXY_NDES_EMPTY");
  });
  it("a login page → ERR_PROXY_NDES_UNKNOWN_PAGE, whose message holds no page text", () => {
    try {
      parseNdesAdminPage(encodePage(LOGIN_PAGE, "utf-8"), "text/html");
      expect.unreachable();
    } catch (e) {
      expect((e as { code: string }).code).toBe("ERR_PROXY_NDES_UNKNOWN_PAGE");
      expect((e as Error).message).toBe(`NDES admin page holds no challenge and is not a known NDES page (${LOGIN_PAGE.length} bytes, utf-8)`);
    }
  });
  it("sentences split over lines and with other case still match", () => {
    const page = CACHE_FULL_PAGE.replace("The password cache is full.", "THE PASSWORD\r\n   CACHE IS <b>FULL</b>.");
    expect(outcome(encodePage(page, "utf-8"))).toBe("ERR_PROXY_NDES_CACHE_FULL");
    const ch = challengePage().replace("The enrollment challenge password is: <B> ", "The enrollment challenge\n password is:<b>\n");
    expect(outcome(encodePage(ch, "utf-8"))).toBe(`challenge:${PAGE_CHALLENGE}`);
  });
  it("a challenge over 255 characters → unknown page; the message does not hold it", () => {
    const long = "A".repeat(256);
    try {
      parseNdesAdminPage(encodePage(challengePage(long), "utf-8"));
      expect.unreachable();
    } catch (e) {
      expect((e as { code: string }).code).toBe("ERR_PROXY_NDES_UNKNOWN_PAGE");
      expect((e as Error).message).not.toContain("AAAA");
    }
  });
  it("no error message holds the challenge, the page or its encoding's bytes", () => {
    for (const page of [CACHE_FULL_PAGE, NO_PERMISSION_PAGE, LOGIN_PAGE]) {
      for (const enc of ENCODINGS) {
        try {
          parseNdesAdminPage(encodePage(page, enc));
        } catch (e) {
          expect((e as Error).message).not.toMatch(/Network Device Enrollment Service allows|Sign in|<P>|8CE3/);
        }
      }
    }
  });
});

describe("NDES admin page: fuzz (fast-check)", () => {
  const contentTypes = fc.oneof(
    fc.constantFrom(undefined, null, "text/html", "text/html; charset=utf-8", "text/html; charset=utf-16", "text/html; charset=UTF-16LE", 'text/html;charset="iso-8859-1"', "text/html; charset=bogus"),
    fc.string({ maxLength: 40 }),
  );
  const encodings = fc.constantFrom(...ENCODINGS);

  it("any bytes → a challenge or a typed parser error", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), contentTypes, (body, ct) => !outcome(body, ct).startsWith("untyped")),
      { numRuns: 3000, seed: 1129 },
    );
  });

  it("real pages mutated (inserted text, truncation, byte flips, every encoding) → a challenge or a typed parser error", () => {
    const mutatedPage = fc
      .tuple(fc.constantFrom(...REAL_PAGES), fc.nat(), fc.string({ maxLength: 30 }), fc.nat(), encodings)
      .map(([page, at, insert, cut, enc]) => {
        const p = at % (page.length + 1);
        const text = page.slice(0, p) + insert + page.slice(p);
        const bytes = encodePage(text, enc);
        return bytes.subarray(0, bytes.length - (cut % Math.max(1, Math.floor(bytes.length / 4))));
      });
    const flipped = fc.tuple(mutatedPage, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 })).map(([bytes, flips]) => {
      const b = bytes.slice();
      for (const [at, v] of flips) if (b.length) b[at % b.length] = v;
      return b;
    });
    fc.assert(
      fc.property(fc.oneof(mutatedPage, flipped), contentTypes, (body, ct) => !outcome(body, ct).startsWith("untyped")),
      { numRuns: 4000, seed: 20261129 },
    );
  });

  it("any printable challenge token is extracted exactly, in every encoding", () => {
    const token = fc.string({ minLength: 1, maxLength: 64, unit: fc.constantFrom(..."0123456789ABCDEFabcdef-_=+/!#$%&*.:;?@~".split("")) });
    fc.assert(
      fc.property(token, encodings, contentTypes, (t, enc, ct) => outcome(encodePage(challengePage(t), enc), ct) === `challenge:${t}`),
      { numRuns: 2000, seed: 7 },
    );
  });

  it("a cache-full or no-permission page keeps its meaning whatever is added around the sentence", () => {
    const noise = fc.string({ maxLength: 40 }).filter((s) => !/challenge|<b>/i.test(s));
    fc.assert(
      fc.property(fc.constantFrom(CACHE_FULL_PAGE, NO_PERMISSION_PAGE), noise, noise, encodings, (page, pre, post, enc) => {
        const expected = page === CACHE_FULL_PAGE ? "ERR_PROXY_NDES_CACHE_FULL" : "ERR_PROXY_NDES_PERMISSION";
        return outcome(encodePage(pre + page + post, enc), "text/html") === expected;
      }),
      { numRuns: 1000, seed: 3 },
    );
  });
});
