/**
 * What an AbortSignal ends in @scep/intune, against the loopback Entra ID / Graph / Intune of
 * test/support/fake-intune.ts scripted never to answer: syncIntuneRevocations' `signal` (the download, a `revoke`,
 * the upload, the wait before a retry) with the revocation store left consistent; the `signal` of notifySuccess,
 * notifyFailure, confirmHook and withFailureNotification; a shared token request or Graph discovery no call waits
 * for any more; an injected fetch that ignores its signal; the replay cache and rate limiter after Intune's yes.
 * Each abort must settle the call within a bounded number of event-loop turns (never on a clock), close the
 * connection it held and clear its timers, with no unhandled rejection.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { MemoryRevocationStore, createSelfSignedSigner, generateRsaKeyPair, type Certificate, type CertificationRequest } from "@scep/core";
import {
  IntuneRevocationClient,
  IntuneTimeoutError,
  IntuneValidator,
  MemoryRateLimiter,
  MemoryReplayCache,
  revocationStoreRevoker,
  syncIntuneRevocations,
  type Fetch,
  type IntuneError,
  type IntuneRevocationClientOptions,
  type IntuneRevoke,
  type IntuneValidatorOptions,
  type ReplayCache,
} from "../src/index.js";
import { startFakeIntune, fakeIntuneConnection, type FakeIntune, type FakeRevocationRequest } from "./support/fake-intune.js";
import { csrWith } from "./support/tokens.js";

const TXID = "6D3A1C9F0B7E4A2D8C5B1E0F9A8D7C6B";
const ISSUER = "CN=Contoso Issuing CA, O=Contoso";
/** Every call's own timeout: far beyond any test, so only the signal can end what hangs. */
const TIMEOUT_MS = 60_000;

let fake: FakeIntune;
let unhandled: unknown[];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
beforeEach(async () => {
  fake = await startFakeIntune();
  unhandled = [];
  process.on("unhandledRejection", onUnhandled);
});
afterEach(async () => {
  vi.restoreAllMocks();
  await fake.close();
  process.off("unhandledRejection", onUnhandled);
});

/** Turns of the event loop (I/O included) until `done()` holds: waits on the loopback exchange, not on a clock. */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setImmediate(r));
}
/** Whether `done()` comes to hold within `turns` turns of the event loop (a loopback close takes a few). */
async function within(done: () => boolean, turns = 500): Promise<boolean> {
  for (let i = 0; i < turns && !done(); i++) await new Promise((r) => setImmediate(r));
  return done();
}
/** How `p` settles within `turns` turns of the event loop: `{ value }`, `{ error }`, or "pending". */
async function settles<T>(p: Promise<T>, turns = 500): Promise<{ value: T } | { error: unknown } | "pending"> {
  let out: { value: T } | { error: unknown } | "pending" = "pending";
  p.then(
    (value) => (out = { value }),
    (error: unknown) => (out = { error }),
  );
  await within(() => out !== "pending", turns);
  return out;
}
/** No unhandled rejection surfaced (given a few turns to). */
async function noUnhandled(): Promise<void> {
  await within(() => false, 20);
  expect(unhandled).toEqual([]);
}

/** Watches the global setTimeout/clearTimeout: how many timers of `ms` were set and are neither cleared nor fired. */
function watchTimers(): { live(ms: number): number; set(ms: number): number } {
  const set = vi.spyOn(globalThis, "setTimeout");
  const cleared = vi.spyOn(globalThis, "clearTimeout");
  const of = (ms: number): unknown[] => set.mock.calls.flatMap((call, i) => (call[1] === ms ? [set.mock.results[i]!.value] : []));
  return {
    set: (ms) => of(ms).length,
    live: (ms) => of(ms).filter((h) => !cleared.mock.calls.some((c) => c[0] === h) && (h as { _destroyed?: boolean })._destroyed !== true).length,
  };
}

const pending = (n: number): FakeRevocationRequest[] =>
  Array.from({ length: n }, (_, i) => ({ requestContext: `ctx-${i + 1}`, serialNumber: (0x1000 + i).toString(16).toUpperCase(), issuerName: ISSUER, caConfiguration: null }));

function revocationClient(options: Partial<IntuneRevocationClientOptions> = {}): IntuneRevocationClient {
  return new IntuneRevocationClient({ ...fakeIntuneConnection(fake), timeoutMs: TIMEOUT_MS, retries: 1, ...options });
}

describe("syncIntuneRevocations: signal ends the round at once, the store consistent", () => {
  it("Intune never answers the download: abort → rejects with the signal's reason (AbortError), connection closed, timer cleared, nothing revoked; the next round completes", async () => {
    const store = new MemoryRevocationStore();
    const revoke = vi.fn<IntuneRevoke>(revocationStoreRevoker(store));
    fake.pendingRevocations = pending(2);
    fake.next("downloadRevocationRequests", { hang: true });
    const timers = watchTimers();
    const client = revocationClient();
    const controller = new AbortController();
    const round = syncIntuneRevocations({ client, revoke, signal: controller.signal });
    await until(() => fake.open("downloadRevocationRequests") === 1);
    controller.abort();
    const out = await settles(round);
    expect(out).toEqual({ error: controller.signal.reason });
    expect((controller.signal.reason as Error).name).toBe("AbortError");
    expect(await within(() => fake.open() === 0)).toBe(true);
    expect(timers.live(TIMEOUT_MS)).toBe(0);
    expect(revoke).not.toHaveBeenCalled();
    expect(await store.list()).toEqual([]);
    expect(fake.of("downloadRevocationRequests")).toHaveLength(1); // not retried after the abort
    expect(fake.of("uploadRevocationResults")).toHaveLength(0);

    const next = await syncIntuneRevocations({ client, revoke });
    expect(next).toMatchObject({ downloaded: 2, succeeded: 2, uploaded: true });
    expect((await store.list()).map((e) => e.serialNumber)).toEqual(["1000", "1001"]);
    expect(fake.pendingRevocations).toEqual([]);
    await noUnhandled();
  });

  it("a TimeoutError reason (AbortSignal.timeout, a deadline of the caller's own) → IntuneTimeoutError ERR_INTUNE_TIMEOUT", async () => {
    fake.next("downloadRevocationRequests", { hang: true });
    const controller = new AbortController();
    const round = syncIntuneRevocations({ client: revocationClient(), revoke: async () => "revoked", signal: controller.signal });
    await until(() => fake.open("downloadRevocationRequests") === 1);
    const reason = new DOMException("the shutdown limit passed", "TimeoutError");
    controller.abort(reason);
    const out = await settles(round);
    expect(out).toEqual({ error: expect.any(IntuneTimeoutError) });
    expect((out as { error: IntuneError }).error).toMatchObject({ code: "ERR_INTUNE_TIMEOUT", message: "Intune revocation sync: the caller's deadline passed", cause: reason });
    await noUnhandled();
  });

  it("an aborted signal: nothing is asked, the round rejects with its reason", async () => {
    const reason = new Error("shutting down");
    await expect(syncIntuneRevocations({ client: revocationClient(), revoke: async () => "revoked", signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(fake.requests).toEqual([]);
  });

  it("abort during the wait before a retry (503, Retry-After 30 s): at once, the wait's timer cleared, no second download", async () => {
    fake.next("downloadRevocationRequests", { json: {}, status: 503, headers: { "retry-after": "30" } });
    const timers = watchTimers();
    const controller = new AbortController();
    const round = syncIntuneRevocations({ client: revocationClient({ sleep: undefined }), revoke: async () => "revoked", signal: controller.signal });
    await until(() => timers.set(30_000) === 1);
    controller.abort();
    expect(await settles(round)).toEqual({ error: controller.signal.reason });
    expect(timers.live(30_000)).toBe(0);
    expect(fake.of("downloadRevocationRequests")).toHaveLength(1);
    await noUnhandled();
  });

  it("abort while a revoke hangs: at once (not after revokeTimeoutMs), the revoke's own signal aborted; what was revoked stays, nothing is uploaded; the next round redoes the rest", async () => {
    const store = new MemoryRevocationStore();
    const real = revocationStoreRevoker(store);
    fake.pendingRevocations = pending(3);
    let asked = false;
    let hung: AbortSignal | undefined;
    const revoke: IntuneRevoke = (request, options) => {
      if (request.requestContext !== "ctx-2") return real(request, options);
      asked = true;
      hung = options?.signal;
      return new Promise(() => undefined); // a store that never answers
    };
    const timers = watchTimers();
    const controller = new AbortController();
    const client = revocationClient();
    const round = syncIntuneRevocations({ client, revoke, signal: controller.signal });
    await until(() => asked);
    const reason = new Error("shutting down");
    controller.abort(reason);
    expect(await settles(round)).toEqual({ error: reason });
    expect(hung?.aborted).toBe(true);
    expect(hung?.reason).toBe(reason);
    expect(timers.live(30_000)).toBe(0); // revokeTimeoutMs's timer
    expect((await store.list()).map((e) => e.serialNumber)).toEqual(["1000"]);
    expect(fake.of("uploadRevocationResults")).toHaveLength(0);
    expect(fake.pendingRevocations).toHaveLength(3);

    const next = await syncIntuneRevocations({ client, revoke: real, alreadyRevoked: "succeeded" });
    expect(next.items.map((i) => [i.request.requestContext, i.outcome, i.result.errorCode])).toEqual([
      ["ctx-1", "already_revoked", 0],
      ["ctx-2", "revoked", 0],
      ["ctx-3", "revoked", 0],
    ]);
    expect(next.uploaded).toBe(true);
    expect(fake.pendingRevocations).toEqual([]);
    await noUnhandled();
  });

  it("abort while the upload gets no answer: at once, connection closed; the revocations stay, Intune still holds every request, the next round uploads", async () => {
    const store = new MemoryRevocationStore();
    fake.pendingRevocations = pending(2);
    fake.next("uploadRevocationResults", { hang: true });
    const timers = watchTimers();
    const controller = new AbortController();
    const client = revocationClient();
    const round = syncIntuneRevocations({ client, revoke: revocationStoreRevoker(store), signal: controller.signal });
    await until(() => fake.open("uploadRevocationResults") === 1);
    controller.abort();
    expect(await settles(round)).toEqual({ error: controller.signal.reason });
    expect(await within(() => fake.open() === 0)).toBe(true);
    expect(timers.live(TIMEOUT_MS)).toBe(0);
    expect(fake.of("uploadRevocationResults")).toHaveLength(1);
    expect((await store.list()).map((e) => e.serialNumber)).toEqual(["1000", "1001"]);
    expect(fake.pendingRevocations).toHaveLength(2);

    const next = await syncIntuneRevocations({ client, revoke: revocationStoreRevoker(store), alreadyRevoked: "succeeded" });
    expect(next).toMatchObject({ downloaded: 2, succeeded: 2, uploaded: true });
    expect(fake.pendingRevocations).toEqual([]);
    await noUnhandled();
  });

  it("a client of the caller's own that ignores the signal: the round still ends at the abort", async () => {
    const client = { downloadRevocationRequests: () => new Promise<never>(() => undefined), uploadRevocationResults: async () => ({ activityId: "x" }) };
    const controller = new AbortController();
    const round = syncIntuneRevocations({ client, revoke: async () => "revoked", signal: controller.signal });
    controller.abort();
    expect(await settles(round)).toEqual({ error: controller.signal.reason });
  });
});

describe("revocationStoreRevoker: no write once the sync stopped waiting", () => {
  it("the round's abort comes while isIssued is asked: nothing is written", async () => {
    const store = new MemoryRevocationStore();
    let answer!: (issued: boolean) => void;
    const revoke = revocationStoreRevoker(store, { isIssued: () => new Promise<boolean>((r) => (answer = r)) });
    const controller = new AbortController();
    const call = revoke({ requestContext: "c", serialNumber: "0A" }, { signal: controller.signal });
    await until(() => answer !== undefined);
    controller.abort(new Error("shutting down"));
    answer(true);
    await expect(call).rejects.toThrow("shutting down");
    expect(await store.list()).toEqual([]);
  });

  it("isIssued outlasts revokeTimeoutMs: the request is answered 4100 and its late answer writes nothing (the next round would have found it revoked: 4005)", async () => {
    const store = new MemoryRevocationStore();
    let answer: ((issued: boolean) => void) | undefined;
    const revoke = revocationStoreRevoker(store, { isIssued: () => new Promise<boolean>((r) => (answer = r)) });
    fake.pendingRevocations = pending(1);
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    let summary;
    try {
      const round = syncIntuneRevocations({ client: revocationClient(), revoke, revokeTimeoutMs: 5_000 });
      await until(() => answer !== undefined);
      await vi.advanceTimersByTimeAsync(5_000);
      summary = await round;
    } finally {
      vi.useRealTimers();
    }
    expect(summary.items.map((i) => [i.outcome, i.result.errorCode])).toEqual([["revoke_timeout", 4100]]);
    answer!(true);
    await within(() => false, 20);
    expect(await store.list()).toEqual([]);
  });
});

describe("notifySuccess, notifyFailure, confirmHook, withFailureNotification: signal", () => {
  let csr: CertificationRequest;
  let issued: Certificate;
  let errors: IntuneError[];
  beforeAll(async () => {
    csr = await csrWith("opaque-intune-challenge-blob");
    const keys = await generateRsaKeyPair(2048);
    issued = (await createSelfSignedSigner({ keys, subject: "CN=device-0001.corp.example.test", now: new Date("2026-03-01T12:00:00Z") })).certificate;
  });
  beforeEach(() => {
    errors = [];
  });
  const validator = (options: Partial<IntuneValidatorOptions> = {}): IntuneValidator =>
    new IntuneValidator({ ...fakeIntuneConnection(fake), timeoutMs: TIMEOUT_MS, retries: 1, onError: (e) => void errors.push(e), ...options });
  const confirmCtx = (signal: AbortSignal) => ({ transactionId: TXID, csr, certificate: issued, challengeData: { intune: { activityId: "a" } }, signal });

  it("notifySuccess: Intune never answers, abort → rejects with the reason at once, connection closed, timer cleared, no retry", async () => {
    fake.next("successNotification", { hang: true });
    const timers = watchTimers();
    const controller = new AbortController();
    const call = validator().notifySuccess({ transactionId: TXID, csr: csr.der, certificate: issued }, { signal: controller.signal });
    await until(() => fake.open("successNotification") === 1);
    const reason = new Error("the embedding app's deadline");
    controller.abort(reason);
    expect(await settles(call)).toEqual({ error: reason });
    expect(await within(() => fake.open() === 0)).toBe(true);
    expect(timers.live(TIMEOUT_MS)).toBe(0);
    expect(fake.of("successNotification")).toHaveLength(1);
    await noUnhandled();
  });

  it("notifySuccess: a TimeoutError reason → ERR_INTUNE_TIMEOUT", async () => {
    fake.next("successNotification", { hang: true });
    const controller = new AbortController();
    const call = validator().notifySuccess({ transactionId: TXID, csr: csr.der, certificate: issued }, { signal: controller.signal });
    await until(() => fake.open("successNotification") === 1);
    controller.abort(new DOMException("deadline", "TimeoutError"));
    expect(await settles(call)).toEqual({ error: expect.objectContaining({ name: "IntuneTimeoutError", code: "ERR_INTUNE_TIMEOUT", message: "Intune successNotification: the caller's deadline passed" }) });
  });

  it("notifyFailure: Intune never answers, abort → rejects with the reason at once, connection closed", async () => {
    fake.next("failureNotification", { hang: true });
    const controller = new AbortController();
    const call = validator().notifyFailure({ transactionId: TXID, csr: csr.der, errorDescription: "CA offline" }, { signal: controller.signal });
    await until(() => fake.open("failureNotification") === 1);
    controller.abort();
    expect(await settles(call)).toEqual({ error: controller.signal.reason });
    expect(await within(() => fake.open() === 0)).toBe(true);
    await noUnhandled();
  });

  it("confirmHook: ctx.signal's abort → veto intune_notification_failed at once, not reported; a TimeoutError reason is reported as ERR_INTUNE_TIMEOUT; deliverWhenNotificationFails → ok", async () => {
    const v = validator();
    const hook = v.confirmHook();
    for (const [reason, codes] of [
      [new Error("the SCEP client went away"), []],
      [new DOMException("deadline", "TimeoutError"), ["ERR_INTUNE_TIMEOUT"]],
    ] as const) {
      errors = [];
      fake.next("successNotification", { hang: true });
      const controller = new AbortController();
      const answer = hook(confirmCtx(controller.signal));
      await until(() => fake.open("successNotification") === 1);
      controller.abort(reason);
      expect(await settles(answer)).toEqual({ value: { ok: false, reason: "intune_notification_failed", failInfoText: "Intune did not acknowledge the issued certificate" } });
      expect(errors.map((e) => e.code)).toEqual(codes);
      expect(await within(() => fake.open() === 0)).toBe(true);
    }
    fake.next("successNotification", { hang: true });
    const controller = new AbortController();
    const answer = v.confirmHook({ deliverWhenNotificationFails: true })(confirmCtx(controller.signal));
    await until(() => fake.open("successNotification") === 1);
    controller.abort();
    expect(await settles(answer)).toEqual({ value: { ok: true } });
    await noUnhandled();
  });

  it("withFailureNotification: ctx.signal ends the failureNotification wait; the issue hook's answer is passed on", async () => {
    const v = validator();
    fake.next("failureNotification", { hang: true });
    const refused = { status: "FAILURE" as const, failInfoText: "key too short" };
    const issue = v.withFailureNotification(async () => refused);
    const controller = new AbortController();
    const answer = issue({ transactionId: TXID, csr, challengeData: { intune: { activityId: "a" } }, signal: controller.signal });
    await until(() => fake.open("failureNotification") === 1);
    controller.abort();
    expect(await settles(answer)).toEqual({ value: refused });
    expect(errors).toEqual([]);
    expect(await within(() => fake.open() === 0)).toBe(true);
    await noUnhandled();
  });
});

describe("a token request or discovery shared by calls is cut once no call waits for it", () => {
  it("Entra ID never answers: the aborted call's token request is closed and its timer cleared (it kept the process busy until timeoutMs)", async () => {
    fake.next("token", { hang: true });
    const timers = watchTimers();
    const controller = new AbortController();
    const call = revocationClient().downloadRevocationRequests({ maxRequests: 1, signal: controller.signal });
    await until(() => fake.open("token") === 1);
    controller.abort();
    expect(await settles(call)).toEqual({ error: controller.signal.reason });
    expect(await within(() => fake.open("token") === 0)).toBe(true);
    expect(timers.live(TIMEOUT_MS)).toBe(0);
    expect(fake.of("token")).toHaveLength(1); // not retried for nobody
    await noUnhandled();
  });

  it("Graph discovery never answers: closed once its only caller aborts", async () => {
    fake.next("discovery", { hang: true });
    const timers = watchTimers();
    const controller = new AbortController();
    const call = revocationClient().downloadRevocationRequests({ maxRequests: 1, signal: controller.signal });
    await until(() => fake.open("discovery") === 1);
    controller.abort();
    expect(await settles(call)).toEqual({ error: controller.signal.reason });
    expect(await within(() => fake.open("discovery") === 0)).toBe(true);
    expect(timers.live(TIMEOUT_MS)).toBe(0);
    await noUnhandled();
  });

  it("two calls share one token request: it goes on while one still waits, is cut when the last aborts, and a new call starts afresh", async () => {
    fake.next("token", { hang: true });
    const client = revocationClient();
    const first = new AbortController();
    const second = new AbortController();
    const a = client.downloadRevocationRequests({ maxRequests: 1, signal: first.signal });
    const b = client.uploadRevocationResults([{ requestContext: "c", succeeded: true, errorCode: 0 }], { signal: second.signal });
    await until(() => fake.open("token") === 1);
    first.abort();
    expect(await settles(a)).toEqual({ error: first.signal.reason });
    expect(await within(() => fake.open("token") === 0, 100)).toBe(false); // b still waits on it
    expect(fake.of("token")).toHaveLength(1);
    second.abort();
    // A call made right at the abort does not join the request being cut.
    const c = client.downloadRevocationRequests({ maxRequests: 1 });
    expect(await settles(b)).toEqual({ error: second.signal.reason });
    expect(await settles(c, 5_000)).toEqual({ value: [] });
    expect(fake.open()).toBe(0);
    await noUnhandled();
  });

  it("a call without a signal keeps the shared request going when the other call aborts", async () => {
    fake.next("token", { hang: true });
    const client = revocationClient();
    const patient = client.downloadRevocationRequests({ maxRequests: 1 });
    const patientOut = patient.catch((e: unknown) => e); // rejects when the fake closes at the end of the test
    const controller = new AbortController();
    const hasty = client.downloadRevocationRequests({ maxRequests: 1, signal: controller.signal });
    await until(() => fake.open("token") === 1);
    controller.abort();
    expect(await settles(hasty)).toEqual({ error: controller.signal.reason });
    expect(await within(() => fake.open("token") === 0, 100)).toBe(false);
    expect(await settles(patientOut, 5)).toBe("pending");
  });
});

describe("an injected fetch that ignores its signal", () => {
  let csr: CertificationRequest;
  let errors: IntuneError[];
  beforeAll(async () => {
    csr = await csrWith("opaque-intune-challenge-blob");
  });
  beforeEach(() => {
    errors = [];
  });
  // The global fetch without the signal: as a wrapper that drops `init.signal` would call it.
  const deaf: Fetch = (url, { signal: _ignored, ...init }) => fetch(url, init);
  const unavailable = { ok: false, reason: "intune_unavailable", failInfo: "badRequest", failInfoText: "Intune challenge validation is unavailable; try again later" };
  const validator = (options: Partial<IntuneValidatorOptions> = {}): IntuneValidator =>
    new IntuneValidator({ ...fakeIntuneConnection(fake), fetch: deaf, timeoutMs: TIMEOUT_MS, retries: 0, onError: (e) => void errors.push(e), ...options });
  const input = (signal?: AbortSignal) => ({ challenge: csr.challengePassword, csr, request: { transactionId: TXID }, ...(signal ? { signal } : {}) });

  it("validate's signal still ends the call at once (it waited for an answer that never came)", async () => {
    const v = validator();
    expect(await v.validate(input())).toMatchObject({ ok: true }); // tokens and endpoint cached
    fake.next("validateRequest", { hang: true });
    const controller = new AbortController();
    const verdict = v.validate(input(controller.signal));
    await until(() => fake.open("validateRequest") === 1);
    controller.abort();
    expect(await settles(verdict)).toEqual({ value: unavailable });
    await noUnhandled();
  });

  // A wrapper that swallows errors resolves `undefined`; arriving after the abort it was read as a Response
  // (`late.body`): a TypeError no one handled, which ends a Node process.
  it("a fetch that resolves undefined after the abort: intune_unavailable, never an unhandled rejection", async () => {
    let deliver: ((r: Response | undefined) => void) | undefined;
    const late = validator({
      fetch: (url, init) => (String(url).includes("validateRequest") ? new Promise<Response>((r) => (deliver = r as (r: Response | undefined) => void)) : deaf(url, init)),
    });
    const controller = new AbortController();
    const verdict = late.validate(input(controller.signal));
    await until(() => deliver !== undefined); // the token and the endpoint came; validateRequest waits
    controller.abort();
    expect(await settles(verdict)).toEqual({ value: unavailable });
    deliver!(undefined);
    await noUnhandled();
  });

  it("timeoutMs still ends the call: ERR_INTUNE_TIMEOUT, intune_unavailable", async () => {
    const v = validator({ timeoutMs: 300 });
    expect(await v.validate(input())).toMatchObject({ ok: true });
    fake.next("validateRequest", { hang: true });
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const verdict = v.validate(input());
      await until(() => fake.open("validateRequest") === 1);
      await vi.advanceTimersByTimeAsync(300);
      expect(await settles(verdict)).toEqual({ value: unavailable });
    } finally {
      vi.useRealTimers();
    }
    expect(errors.map((e) => [e.code, e.message])).toEqual([["ERR_INTUNE_TIMEOUT", "Intune validateRequest: no answer within 300 ms"]]);
  });
});

describe("validate: the replay cache and rate limiter after Intune's yes", () => {
  let csr: CertificationRequest;
  beforeAll(async () => {
    csr = await csrWith("opaque-intune-challenge-blob");
  });
  const unavailable = { ok: false, reason: "intune_unavailable", failInfo: "badRequest", failInfoText: "Intune challenge validation is unavailable; try again later" };
  const input = (signal: AbortSignal) => ({ challenge: csr.challengePassword, csr, request: { transactionId: TXID }, signal });

  it("a replay cache that does not answer: the abort ends validate at once (intune_unavailable); the entry it records afterwards is given back", async () => {
    let answer: ((fresh: boolean) => void) | undefined;
    const released: string[] = [];
    const replayCache: ReplayCache = {
      checkAndInsert: () => new Promise<boolean>((r) => (answer = r)),
      release: async (key) => (released.push(key), true),
    };
    const v = new IntuneValidator({ ...fakeIntuneConnection(fake), timeoutMs: TIMEOUT_MS, replayCache });
    const controller = new AbortController();
    const verdict = v.validate(input(controller.signal));
    await until(() => answer !== undefined);
    controller.abort();
    expect(await settles(verdict)).toEqual({ value: unavailable });
    answer!(true);
    expect(await within(() => released.length === 1)).toBe(true);
    expect(released).toEqual([TXID]);
    await noUnhandled();
  });

  it("the abort comes as the rate limiter answers: intune_unavailable, the transactionID and the hit given back", async () => {
    const controller = new AbortController();
    const replayCache = new MemoryReplayCache();
    const limiter = new MemoryRateLimiter();
    const rateLimiter = {
      hit: async (key: string, limit: { max: number; windowMs: number }) => {
        const r = await limiter.hit(key, limit);
        controller.abort();
        return r;
      },
      release: (key: string, id: string) => limiter.release(key, id),
    };
    const v = new IntuneValidator({ ...fakeIntuneConnection(fake), timeoutMs: TIMEOUT_MS, replayCache, rateLimiter, rateLimit: { max: 1, windowMs: 60_000 } });
    expect(await v.validate(input(controller.signal))).toEqual(unavailable);
    await within(() => false, 20);
    expect(await replayCache.checkAndInsert(TXID, 60_000)).toBe(true); // the transactionID was given back
    expect(limiter.size).toBe(0); // and the hit
  });
});
