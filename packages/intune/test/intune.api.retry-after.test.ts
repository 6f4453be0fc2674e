/**
 * RFC 9110 §10.2.3 `Retry-After` on the Intune API clients, against the loopback fake of Entra ID, Graph and
 * Intune (test/support/fake-intune.ts): a 429 or 503 that names a delay is retried after that delay (measured on
 * the times the fake saw the requests arrive), from Intune, from Entra ID's token endpoint, from Graph discovery
 * and from the revocation API, over the global fetch and over nodeHttpFetch; a delay past `timeoutMs` fails at once
 * with the 429's typed error carrying `retryAfterSeconds`; the HTTP-date form; values that are unreadable, zero or
 * absurd; and a caller's abort during the wait, which ends the call at once and clears the wait's timer.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { CertificationRequest } from "@scep/core";
import { IntuneRevocationClient, IntuneScepClient, IntuneTimeoutError, IntuneTransportError, IntuneValidator, nodeHttpFetch, type Fetch, type IntuneError, type IntuneScepClientOptions } from "../src/index.js";
import { startFakeIntune, fakeIntuneConnection, type FakeIntune, type Recorded } from "./support/fake-intune.js";
import { csrWith } from "./support/tokens.js";

const TXID = "6D3A1C9F0B7E4A2D8C5B1E0F9A8D7C6B";

let fake: FakeIntune;
let csr: CertificationRequest;

beforeAll(async () => {
  csr = await csrWith("opaque-intune-challenge-blob");
});
beforeEach(async () => {
  fake = await startFakeIntune();
});
afterEach(async () => {
  vi.restoreAllMocks();
  await fake.close();
});

/** A client whose waits are real timers (the connection's no-op `sleep` dropped), unless `options.sleep` says otherwise. */
function client(options: Partial<IntuneScepClientOptions> = {}): IntuneScepClient {
  return new IntuneScepClient({ ...fakeIntuneConnection(fake), sleep: undefined, timeoutMs: 30_000, retries: 1, ...options });
}
const validate = (c: IntuneScepClient, signal?: AbortSignal) => c.validateRequest({ transactionId: TXID, certificateRequest: csr.der }, signal ? { signal } : {});
/** Milliseconds between the arrivals of two requests the fake recorded. */
const gap = (a: Recorded, b: Recorded): number => b.at - a.at;
/** Turns of the event loop (I/O included) until `done()` holds: waits on the loopback exchange, not on a clock. */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setImmediate(r));
}
/** A `sleep` that records what it was asked to wait and returns at once. */
function recordingSleep(): { waits: number[]; sleep: (ms: number) => Promise<void> } {
  const waits: number[] = [];
  return { waits, sleep: async (ms) => void waits.push(ms) };
}
/** Timers may fire a millisecond early against `performance.now()` (libuv rounds its loop time down). */
const SLACK_MS = 2;

describe("a 429 or 503 with Retry-After: the next attempt waits that long", () => {
  it.each([
    ["the global fetch", undefined],
    ["nodeHttpFetch", nodeHttpFetch],
  ] as [string, Fetch | undefined][])("Intune validateRequest 429, Retry-After: 1, then Success (%s): the retry arrives ≥ 1 s after the 429", async (_n, fetch) => {
    const c = client(fetch ? { fetch } : {});
    fake.next("validateRequest", { json: { code: "Throttled" }, status: 429, headers: { "retry-after": "1" } });
    expect(await validate(c)).toMatchObject({ code: "Success" });
    const [first, second] = fake.of("validateRequest") as [Recorded, Recorded];
    expect(fake.of("validateRequest")).toHaveLength(2);
    expect(gap(first, second)).toBeGreaterThanOrEqual(1000 - SLACK_MS);
  });

  it("Entra ID token endpoint 503, Retry-After: 1: the token request is sent again ≥ 1 s later", async () => {
    const c = client();
    fake.next("token", { json: { error: "temporarily_unavailable" }, status: 503, headers: { "retry-after": "1" } });
    expect(await validate(c)).toMatchObject({ code: "Success" });
    const [first, second] = fake.of("token") as [Recorded, Recorded];
    expect(gap(first, second)).toBeGreaterThanOrEqual(1000 - SLACK_MS);
    expect(fake.of("validateRequest")).toHaveLength(1);
  });

  it("Graph discovery 429, Retry-After: 1: discovery is asked again ≥ 1 s later, then Intune is called", async () => {
    const c = client();
    fake.next("discovery", { json: { error: { code: "TooManyRequests" } }, status: 429, headers: { "retry-after": "1" } });
    expect(await validate(c)).toMatchObject({ code: "Success" });
    const [first, second] = fake.of("discovery") as [Recorded, Recorded];
    expect(gap(first, second)).toBeGreaterThanOrEqual(1000 - SLACK_MS);
    expect(fake.of("validateRequest")).toHaveLength(1);
  });

  it("revocation API (downloadRevocationRequests) 503, Retry-After: 1: retried ≥ 1 s later", async () => {
    const c = new IntuneRevocationClient({ ...fakeIntuneConnection(fake), sleep: undefined, timeoutMs: 30_000, retries: 1 });
    fake.next("downloadRevocationRequests", { json: {}, status: 503, headers: { "retry-after": "1" } });
    expect(await c.downloadRevocationRequests({ maxRequests: 10 })).toEqual([]);
    const [first, second] = fake.of("downloadRevocationRequests") as [Recorded, Recorded];
    expect(gap(first, second)).toBeGreaterThanOrEqual(1000 - SLACK_MS);
  });

  it("the HTTP-date form, counted from the answer's Date header: one second later → the retry arrives ≥ 1 s after", async () => {
    const c = client();
    const date = new Date(Date.now() + 3_600_000); // the server's clock an hour ahead of ours: only its own Date counts
    fake.next("validateRequest", { json: {}, status: 503, headers: { date: date.toUTCString(), "retry-after": new Date(date.getTime() + 1000).toUTCString() } });
    expect(await validate(c)).toMatchObject({ code: "Success" });
    const [first, second] = fake.of("validateRequest") as [Recorded, Recorded];
    expect(gap(first, second)).toBeGreaterThanOrEqual(1000 - SLACK_MS);
  });
});

describe("a Retry-After past the call's deadline (timeoutMs) is not slept into", () => {
  it("Retry-After: 120 with timeoutMs 2,000: ERR_INTUNE_TRANSPORT at once, status 429, retryAfterSeconds 120, no retry, no wait", async () => {
    const { waits, sleep } = recordingSleep();
    const c = client({ timeoutMs: 2_000, retries: 3, sleep });
    fake.next("validateRequest", { json: {}, status: 429, headers: { "retry-after": "120" } });
    const e = await validate(c).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(IntuneTransportError);
    expect(e).toMatchObject({ code: "ERR_INTUNE_TRANSPORT", status: 429, retryAfterSeconds: 120, message: "Intune validateRequest: HTTP 429 (Retry-After 120 s)" });
    expect(fake.of("validateRequest")).toHaveLength(1);
    expect(waits).toEqual([]);
  });

  it("an HTTP-date an hour after the answer's Date: fails at once with retryAfterSeconds 3600", async () => {
    const { waits, sleep } = recordingSleep();
    const c = client({ timeoutMs: 10_000, sleep });
    const date = new Date("2026-03-01T12:00:00Z");
    fake.next("validateRequest", { json: {}, status: 503, headers: { date: date.toUTCString(), "retry-after": "Sun, 01 Mar 2026 13:00:00 GMT" } });
    await expect(validate(c)).rejects.toMatchObject({ code: "ERR_INTUNE_TRANSPORT", status: 503, retryAfterSeconds: 3600 });
    expect(fake.of("validateRequest")).toHaveLength(1);
    expect(waits).toEqual([]);
  });

  it("the token endpoint's 429 likewise: ERR_INTUNE_TRANSPORT with retryAfterSeconds, one token request, Intune never called", async () => {
    const { waits, sleep } = recordingSleep();
    const c = client({ timeoutMs: 5_000, sleep });
    fake.next("token", { json: { error: "throttled" }, status: 429, headers: { "retry-after": "30" } });
    await expect(validate(c)).rejects.toMatchObject({ code: "ERR_INTUNE_TRANSPORT", status: 429, retryAfterSeconds: 30 });
    expect(fake.of("token")).toHaveLength(1);
    expect(fake.of("validateRequest")).toHaveLength(0);
    expect(waits).toEqual([]);
  });

  it("the validator reports the typed error with retryAfterSeconds to onError (for a server's own Retry-After) and answers intune_unavailable", async () => {
    const errors: IntuneError[] = [];
    const v = new IntuneValidator({ ...fakeIntuneConnection(fake), timeoutMs: 2_000, retries: 1, onError: (e) => void errors.push(e) });
    fake.next("validateRequest", { json: {}, status: 429, headers: { "retry-after": "60" } });
    expect(await v.validate({ challenge: csr.challengePassword, csr, request: { transactionId: TXID } })).toMatchObject({ ok: false, reason: "intune_unavailable" });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: "ERR_INTUNE_TRANSPORT", status: 429, retryAfterSeconds: 60 });
    expect(fake.of("validateRequest")).toHaveLength(1);
  });
});

describe("values that are not a usable delay", () => {
  it("unreadable (-5, 1.5, soon) → the default back-off; 0 and an HTTP-date in the past → no wait at all", async () => {
    const { waits, sleep } = recordingSleep();
    const c = client({ retries: 5, sleep });
    const date = new Date("2026-03-01T12:00:00Z").toUTCString();
    fake.next(
      "validateRequest",
      { json: {}, status: 429, headers: { "retry-after": "-5" } },
      { json: {}, status: 429, headers: { "retry-after": "0" } },
      { json: {}, status: 503, headers: { "retry-after": "1.5" } },
      { json: {}, status: 503, headers: { date, "retry-after": "Sun, 01 Mar 2026 11:59:00 GMT" } },
      { json: {}, status: 429, headers: { "retry-after": "soon" } },
    );
    expect(await validate(c)).toMatchObject({ code: "Success" });
    expect(fake.of("validateRequest")).toHaveLength(6);
    // 200 ms × the retry's number where the value is unreadable; nothing for 0 and for the past date.
    expect(waits).toEqual([200, 600, 1000]);
  });

  it("an absurd delay-seconds (14 digits) is capped at one day, and so past the deadline: fails at once with retryAfterSeconds 86400", async () => {
    const { waits, sleep } = recordingSleep();
    const c = client({ sleep });
    fake.next("validateRequest", { json: {}, status: 429, headers: { "retry-after": "99999999999999" } });
    await expect(validate(c)).rejects.toMatchObject({ code: "ERR_INTUNE_TRANSPORT", status: 429, retryAfterSeconds: 86_400 });
    expect(waits).toEqual([]);
  });
});

describe("the caller's signal ends a Retry-After wait at once", () => {
  /** Waits until the client has set its 60 s retry timer; returns the timer's handle. */
  async function retryTimer(setTimeoutSpy: { mock: { calls: unknown[][]; results: { value: unknown }[] } }): Promise<unknown> {
    await until(() => setTimeoutSpy.mock.calls.some((call) => call[1] === 60_000));
    return setTimeoutSpy.mock.results[setTimeoutSpy.mock.calls.findIndex((call) => call[1] === 60_000)]!.value;
  }

  it("abort during a 60 s wait: rejects with the signal's reason, no second request, the wait's timer cleared", async () => {
    const setTimeoutSpy = vi.spyOn(globalThis, "setTimeout");
    const clearTimeoutSpy = vi.spyOn(globalThis, "clearTimeout");
    const c = client({ timeoutMs: 120_000 });
    fake.next("validateRequest", { json: {}, status: 429, headers: { "retry-after": "60" } });
    const controller = new AbortController();
    const call = validate(c, controller.signal).catch((x: unknown) => x);
    const timer = await retryTimer(setTimeoutSpy);
    const reason = new Error("the SCEP request was cancelled");
    controller.abort(reason);
    expect(await call).toBe(reason);
    expect(clearTimeoutSpy).toHaveBeenCalledWith(timer);
    expect(fake.of("validateRequest")).toHaveLength(1);
  });

  it("a TimeoutError reason (the caller's own deadline) is ERR_INTUNE_TIMEOUT", async () => {
    const setTimeoutSpy = vi.spyOn(globalThis, "setTimeout");
    const c = client({ timeoutMs: 120_000 });
    fake.next("validateRequest", { json: {}, status: 503, headers: { "retry-after": "60" } });
    const controller = new AbortController();
    const call = validate(c, controller.signal).catch((x: unknown) => x);
    await retryTimer(setTimeoutSpy);
    controller.abort(new DOMException("deadline passed", "TimeoutError"));
    const e = await call;
    expect(e).toBeInstanceOf(IntuneTimeoutError);
    expect(e).toMatchObject({ code: "ERR_INTUNE_TIMEOUT", message: "Intune validateRequest: the caller's deadline passed" });
    expect(fake.of("validateRequest")).toHaveLength(1);
  });

  it("an injected sleep that ignores the signal: the call still ends at the abort", async () => {
    let asked = 0;
    const c = client({ timeoutMs: 120_000, sleep: (ms) => ((asked = ms), new Promise<void>(() => undefined)) });
    fake.next("validateRequest", { json: {}, status: 429, headers: { "retry-after": "60" } });
    const controller = new AbortController();
    const call = validate(c, controller.signal).catch((x: unknown) => x);
    await until(() => asked !== 0);
    expect(asked).toBe(60_000);
    controller.abort(new Error("stop"));
    expect(await call).toMatchObject({ message: "stop" });
  });
});
