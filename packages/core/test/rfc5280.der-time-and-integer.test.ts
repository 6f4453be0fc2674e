/**
 * RFC 5280 §4.1.2.5 and X.690 §8.3: times and small INTEGERs are written and
 * read exactly. The DER time forms (UTCTime YYMMDDHHMMSSZ, GeneralizedTime
 * YYYYMMDDHHMMSSZ) are read straight from the bytes; every input must read
 * exactly as the general (BER) reader below reads it, offsets and all.
 */
import { describe, expect, it } from "vitest";
import { Tag, encode, int, parse, readTime, time, tlv } from "../src/lib/der.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const ascii = (s: string): Uint8Array => new Uint8Array([...s].map((c) => c.charCodeAt(0)));

/** The general reader, as written before the DER fast path (the reference). */
function reference(tag: number, s: string): number | "error" {
  let m: RegExpExecArray | null;
  if (tag === Tag.UTC_TIME) m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)?(Z|[+-]\d{4})$/.exec(s);
  else m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)?(?:\.\d+)?(Z|[+-]\d{4})$/.exec(s);
  if (!m) return "error";
  let year = Number(m[1]);
  if (tag === Tag.UTC_TIME) year += year < 50 ? 2000 : 1900;
  let ms = Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0));
  const zone = m[7]!;
  if (zone !== "Z") {
    const offset = (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5))) * 60_000;
    ms += zone[0] === "+" ? -offset : offset;
  }
  return ms;
}

function read(tag: number, s: string): number | "error" {
  try {
    return readTime(parse(encode(tlv(tag, ascii(s)))), "t").getTime();
  } catch (e) {
    expect(e).toMatchObject({ code: "ERR_ASN1" });
    return "error";
  }
}

describe("RFC 5280 §4.1.2.5 time encoding", () => {
  it("writes UTCTime for 1950–2049 and GeneralizedTime outside it", () => {
    expect(hex(encode(time(new Date("2026-01-15T12:00:05Z"))))).toBe("170d" + hex(ascii("260115120005Z")));
    expect(hex(encode(time(new Date("1950-01-01T00:00:00Z"))))).toBe("170d" + hex(ascii("500101000000Z")));
    expect(hex(encode(time(new Date("2049-12-31T23:59:59.999Z"))))).toBe("170d" + hex(ascii("491231235959Z")));
    expect(hex(encode(time(new Date("2050-01-01T00:00:00Z"))))).toBe("180f" + hex(ascii("20500101000000Z")));
    expect(hex(encode(time(new Date("1949-07-04T08:09:10Z"))))).toBe("180f" + hex(ascii("19490704080910Z")));
  });

  it("reads back what it writes", () => {
    for (const iso of ["2026-01-15T12:00:05.000Z", "1950-01-01T00:00:00.000Z", "2049-12-31T23:59:59.000Z", "2050-01-01T00:00:00.000Z", "9999-12-31T23:59:59.000Z"]) {
      expect(readTime(parse(encode(time(new Date(iso)))), "t").toISOString()).toBe(iso);
    }
  });

  it("reads the DER forms, the BER forms and malformed times exactly as the general reader", () => {
    const fixed = [
      [Tag.UTC_TIME, "491231235959Z"],
      [Tag.UTC_TIME, "500101000000Z"],
      [Tag.UTC_TIME, "2601151200Z"],
      [Tag.UTC_TIME, "260115120000+0130"],
      [Tag.UTC_TIME, "261332250000Z"], // out-of-range fields roll over, as Date.UTC does
      [Tag.UTC_TIME, "26011512000aZ"],
      [Tag.UTC_TIME, "260115120000z"],
      [Tag.UTC_TIME, "26011512000/Z"],
      [Tag.GENERALIZED_TIME, "20260115120005Z"],
      [Tag.GENERALIZED_TIME, "00500101000000Z"],
      [Tag.GENERALIZED_TIME, "20260115120005.123Z"],
      [Tag.GENERALIZED_TIME, "202601151200Z"],
      [Tag.GENERALIZED_TIME, "20260115120005-0800"],
      [Tag.GENERALIZED_TIME, "2026011512000:Z"],
    ] as const;
    for (const [tag, s] of fixed) expect(read(tag, s), s).toBe(reference(tag, s));
    // A deterministic sweep of 13- and 15-character inputs near the DER forms.
    const alphabet = "0123456789Z+-.:/a ";
    let seed = 0x2545f491;
    const next = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % 1000;
    for (let i = 0; i < 4000; i++) {
      const tag = i % 2 === 0 ? Tag.UTC_TIME : Tag.GENERALIZED_TIME;
      const chars = [...(tag === Tag.UTC_TIME ? "260115120005Z" : "20260115120005Z")];
      for (let j = 0, k = next() % 3; j < k; j++) chars[next() % chars.length] = alphabet[next() % alphabet.length]!;
      const s = chars.join("");
      expect(read(tag, s), s).toBe(reference(tag, s));
    }
  });
});

describe("X.690 §8.3 INTEGER encoding of small values", () => {
  it("writes the minimal two's-complement form", () => {
    const cases: [number, string][] = [[0, "020100"], [1, "020101"], [127, "02017f"], [128, "02020080"], [255, "020200ff"], [256, "02020100"], [65535, "020300ffff"]];
    for (const [n, want] of cases) expect(hex(encode(int(n))), String(n)).toBe(want);
  });

  it("gives every call its own element (shared content octets are never written to)", () => {
    const a = encode(int(1));
    a[2] = 9;
    expect(hex(encode(int(1)))).toBe("020101");
  });
});
