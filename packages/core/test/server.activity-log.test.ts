/**
 * ActivityLog's bounds and classification (issue 11): at most maxEntries
 * entries (oldest dropped), every string cut to a fixed length whatever a
 * client sends, the kind of an event (RFC 8894 §3.3.1 first enrollment,
 * §3.3.1.2 renewal, §3.3.3 CertPoll, a proxy's event), and which events are
 * kept by default.
 */
import { describe, expect, it } from "vitest";
import { ActivityLog, type ScepEvent } from "../src/index.js";

const T0 = new Date("2026-01-15T12:00:00Z");
const ev = (e: Partial<ScepEvent>): ScepEvent => ({ operation: "PKCSReq", outcome: "success", reason: "issued", status: 200, latencyMs: 3, time: T0, ...e });

describe("bounds", () => {
  it("keeps the newest maxEntries entries; ids keep counting", () => {
    const log = new ActivityLog({ maxEntries: 3, now: () => T0 });
    for (let i = 1; i <= 5; i++) log.sink(ev({ transactionId: `T${i}` }));
    expect(log.size).toBe(3);
    expect(log.capacity).toBe(3);
    expect(log.list().map((e) => [e.id, e.transactionId])).toEqual([
      [5, "T5"],
      [4, "T4"],
      [3, "T3"],
    ]);
  });

  it("cuts long strings (a 10 000-character subject is kept as 256 characters ending in …)", () => {
    const log = new ActivityLog({ now: () => T0 });
    log.sink(ev({ subject: "CN=" + "x".repeat(10_000), reason: "r".repeat(500), transactionId: "t".repeat(1000) }));
    const [e] = log.list();
    expect(e!.subject).toHaveLength(256);
    expect(e!.subject!.endsWith("x…")).toBe(true);
    expect(e!.reason).toHaveLength(64);
    expect(e!.transactionId).toHaveLength(128);
  });

  it("never cuts between the halves of a surrogate pair (the kept subject stays well-formed UTF-16)", () => {
    const log = new ActivityLog({ now: () => T0 });
    // 254 characters, then U+1F600 as code units 254 and 255: a cut after 255 units would keep its high half alone.
    log.sink(ev({ subject: "a".repeat(254) + "\u{1F600}" + "b".repeat(10), serial: "s".repeat(78) + "\u{1F600}" }));
    const [e] = log.list();
    expect(e!.subject).toBe("a".repeat(254) + "…");
    // Within the bound: kept whole, the pair included (80 code units, the serial's limit).
    expect(e!.serial).toBe("s".repeat(78) + "\u{1F600}");
  });

  it("keeps a string's leading U+FEFF (copying a string out must not read it as a byte order mark)", () => {
    const log = new ActivityLog({ now: () => T0 });
    log.sink(ev({ transactionId: "\uFEFFT1", reason: "\uFEFFr" }));
    expect(log.list().map((e) => [e.transactionId, e.reason])).toEqual([["\uFEFFT1", "\uFEFFr"]]);
  });

  it("a maxEntries of 1 holds one entry; 0 is refused at construction (it was taken as 1)", () => {
    const log = new ActivityLog({ maxEntries: 1 });
    log.sink(ev({}));
    log.sink(ev({}));
    expect(log.size).toBe(1);
    expect(() => new ActivityLog({ maxEntries: 0 })).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: "maxEntries must be an integer from 1 to 1000000 (got 0)" }));
  });

  it("list() returns copies: changing one does not change the log", () => {
    const log = new ActivityLog({ now: () => T0 });
    log.sink(ev({ reason: "issued" }));
    log.list()[0]!.reason = "tampered";
    expect(log.list()[0]!.reason).toBe("issued");
  });
});

describe("kinds", () => {
  it("PKCSReq is initial, or renewal when the server took it as one; RenewalReq is renewal; CertPoll poll; GetCRL query", () => {
    const log = new ActivityLog({ now: () => T0 });
    log.sink(ev({ operation: "PKCSReq", renewal: false }));
    log.sink(ev({ operation: "PKCSReq", renewal: true }));
    log.sink(ev({ operation: "RenewalReq", renewal: true }));
    log.sink(ev({ operation: "CertPoll", reason: "still_pending", outcome: "pending" }));
    log.sink(ev({ operation: "GetCRL", reason: "crl_returned" }));
    log.sink(ev({ operation: "unknown", outcome: "rejected", reason: "unknown_operation", status: 400 }));
    expect(log.list().map((e) => e.kind)).toEqual(["other", "query", "poll", "renewal", "renewal", "initial"]);
  });

  it("a proxy records its own events with kind proxy", () => {
    const log = new ActivityLog({ now: () => T0 });
    log.record({ kind: "proxy", profile: "ndes", outcome: "rejected", reason: "challenge_expired", status: 400, time: new Date(T0.getTime() - 5) });
    expect(log.list({ kind: "proxy" })).toEqual([{ id: 1, time: new Date(T0.getTime() - 5), kind: "proxy", operation: "proxy", profile: "ndes", outcome: "rejected", reason: "challenge_expired", status: 400, latencyMs: 0 }]);
  });
});

describe("what is kept", () => {
  it("by default every event but a successful GetCACaps/GetCACert/GetNextCACert", () => {
    const log = new ActivityLog({ now: () => T0 });
    expect(log.record(ev({ operation: "GetCACaps", reason: "caps" }))).toBeUndefined();
    log.sink(ev({ operation: "GetCACert", reason: "ca_cert" }));
    log.sink(ev({ operation: "GetNextCACert", outcome: "rejected", reason: "no_next_ca", status: 404 }));
    expect(log.list().map((e) => e.reason)).toEqual(["no_next_ca"]);
  });

  it("include decides instead when given", () => {
    const log = new ActivityLog({ now: () => T0, include: (e) => e.outcome !== "success" });
    log.sink(ev({ operation: "GetCACaps", reason: "caps" }));
    log.sink(ev({ outcome: "failure", reason: "bad_challenge" }));
    log.sink(ev({}));
    expect(log.list().map((e) => e.reason)).toEqual(["bad_challenge"]);
  });
});

describe("time", () => {
  it("a server's event is logged at its own time (when the request arrived), not when the log recorded it", () => {
    const log = new ActivityLog({ now: () => new Date(T0.getTime() + 5000) });
    log.sink(ev({ time: T0 }));
    expect(log.list()[0]!.time).toEqual(T0);
    expect(log.list({ since: new Date(T0.getTime() + 1) })).toEqual([]);
  });
});
