/**
 * RFC 9110 §10.2.3: `Retry-After` is delay-seconds (`1*DIGIT`) or an HTTP-date. The one reader the SDK shares
 * (`@scep/core/internal`'s `parseRetryAfter`: `ScepClient`'s error answers, @scep/proxy's upstream, @scep/intune's
 * calls to Microsoft) answers whole seconds, at most a day, or undefined for what it cannot read.
 * (Found by a review: "0000005" read as the one-day cap, so @scep/intune failed at once instead of retrying in 5 s.)
 */
import { describe, expect, it } from "vitest";
import { MAX_RETRY_AFTER_SECONDS, parseRetryAfter } from "../src/internal/index.js";

const NOW = Date.parse("Wed, 02 Dec 2026 01:00:00 GMT");

describe("RFC 9110 §10.2.3: Retry-After", () => {
  it("delay-seconds: as given, leading zeros and surrounding space ignored, capped at a day", () => {
    expect(MAX_RETRY_AFTER_SECONDS).toBe(86_400);
    const read = (v: string): number | undefined => parseRetryAfter(v, NOW);
    expect(["0", "30", " 7 ", "0000005", "000", "86400", "86401", "999999", "99999999999999"].map(read)).toEqual([0, 30, 7, 5, 0, 86_400, 86_400, 86_400, 86_400]);
  });

  it("an HTTP-date: seconds from the given now, rounded up; a past date is 0; NaN now makes it unreadable", () => {
    expect(parseRetryAfter("Wed, 02 Dec 2026 01:02:05 GMT", NOW)).toBe(125);
    expect(parseRetryAfter("Wednesday, 02-Dec-26 01:00:01 GMT", NOW)).toBe(1);
    expect(parseRetryAfter("Wed, 02 Dec 2026 00:59:00 GMT", NOW)).toBe(0);
    expect(parseRetryAfter("Thu, 02 Dec 2027 01:00:00 GMT", NOW)).toBe(86_400);
    expect(parseRetryAfter("Wed, 02 Dec 2026 01:02:05 GMT", Number.NaN)).toBeUndefined();
  });

  it("absent or unreadable: undefined (the caller's own back-off applies)", () => {
    expect([null, undefined, "", "soon", "-5", "1.5", "5s", "+5", "Someday"].map((v) => parseRetryAfter(v, NOW))).toEqual(Array(9).fill(undefined));
  });
});
