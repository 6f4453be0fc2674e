/**
 * PROXY.md "Forwarding": upstream faults injected by a loopback server
 * (slow, 500, connection reset, oversized response, wrong content type,
 * refused connection, unresolvable host) each get the specified answer
 * (504 or 502 with a fixed body, never the upstream's URL or credentials),
 * the typed reason reaches the event hook, and the proxy keeps serving.
 */
import { MemoryChallengeStore } from "@scep/core";
import { manualClock } from "@scep/core/testing";
import type { ServerResponse } from "node:http";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { HttpUpstream, MemoryCaRegistry, MemoryProfileStore, UpstreamError, buildProxyUrl, createScepProxy, type CaConfig, type ProxyEvent, type ScepProxy } from "../src/index.js";
import { freeStablePort } from "../../../test-support/peers";
import { PKI_REPLY, startUpstream, wellBehaved, type Script, type UpstreamServer } from "./support/upstream-server.js";

const MSG = Buffer.from("MIIB+/+/abcd", "base64");
let up: UpstreamServer;
let proxy: ScepProxy;
let events: ProxyEvent[];
let profiles: MemoryProfileStore;
/** Upstream URL with credentials: neither may ever appear in an answer. */
let secretUrl: string;

beforeAll(async () => {
  up = await startUpstream();
  secretUrl = up.url.replace("http://", "http://mdm-svc:Sup3rSecret@");
});
afterAll(async () => {
  await up.close();
});

beforeEach(async () => {
  up.script(wellBehaved());
  up.seen.length = 0;
  events = [];
  const clock = manualClock();
  profiles = new MemoryProfileStore({ now: clock.now });
  await profiles.put({ hostId: "h1", profileId: "p1", caName: "ndes", status: "pending", challengeRetrievedAt: clock.now().getTime(), updatedAt: 0 });
  proxy = createScepProxy({
    profiles,
    cas: new MemoryCaRegistry([{ name: "ndes", type: "ndes", url: secretUrl }]),
    now: clock.now,
    upstreamTimeoutMs: 300,
    maxBodyBytes: 64 * 1024,
    onEvent: (e) => events.push(e),
  });
});

const post = async (): Promise<{ status: number; text: string }> => {
  const res = await proxy.fetch(new Request("http://proxy.test/scep/h1,p1,ndes?operation=PKIOperation", { method: "POST", body: MSG }));
  return { status: res.status, text: await res.text() };
};

const get = async (): Promise<{ status: number; text: string }> => {
  const res = await proxy.fetch(new Request(`http://proxy.test/scep/h1,p1,ndes?operation=PKIOperation&message=${encodeURIComponent(MSG.toString("base64"))}`));
  return { status: res.status, text: await res.text() };
};

/** After a fault the proxy still answers a good request (the caps are cached: PKIOperation only). */
async function stillServes(): Promise<void> {
  up.script(wellBehaved());
  const res = await proxy.fetch(new Request("http://proxy.test/scep/h1,p1,ndes?operation=PKIOperation", { method: "POST", body: MSG }));
  expect([res.status, Buffer.from(await res.arrayBuffer())]).toEqual([200, PKI_REPLY]);
}

const fault =
  (onPki: Script): Script =>
  (req, res, socket) =>
    req.operation === "PKIOperation" ? onPki(req, res, socket) : wellBehaved()(req, res, socket);

/** Turns of the event loop (I/O included) until `done()` holds: waits on the loopback exchange, not on a clock. */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setImmediate(r));
}

/**
 * `answer`, once the fake clock has reached the deadline: it is still pending 1 ms before `ms` (the upstream has
 * the request by then) and settles at `ms`.
 */
async function atDeadline<T>(answer: Promise<T>, ms: number, arrived: () => boolean): Promise<T> {
  let settled = false;
  void answer.then(() => (settled = true), () => (settled = true));
  await until(arrived);
  await vi.advanceTimersByTimeAsync(ms - 1);
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  expect(settled).toBe(false);
  await vi.advanceTimersByTimeAsync(1);
  return answer;
}

describe("upstream faults", () => {
  // The deadlines (the proxy's upstreamTimeoutMs, 300 ms) run on a fake clock: they fire when a test moves it, never
  // because a loaded machine was slow to answer an exchange that should succeed. Loopback I/O stays real.
  beforeEach(() => void vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] }));
  afterEach(() => void vi.useRealTimers());

  it("slow upstream → 504 upstream timed out at the configured timeout (300 ms, not before), reason timeout", async () => {
    up.script(fault(() => undefined)); // holds the PKIOperation: never answers
    const r = await atDeadline(post(), 300, () => up.seen.some((s) => s.operation === "PKIOperation"));
    expect(r).toEqual({ status: 504, text: "upstream timed out" });
    expect(events.at(-1)).toMatchObject({ outcome: "upstream_error", reason: "upstream_timeout", status: 504, upstream: { reason: "timeout" } });
    await stillServes();
  });

  it("a custom Upstream that ignores the AbortSignal and never answers → 504 at the proxy's own deadline", async () => {
    let called = false;
    const never = (): Promise<never> => ((called = true), new Promise<never>(() => undefined));
    const hanging = { getCACaps: never, getCACert: never, pkiOperation: never };
    const p = createScepProxy({ profiles, cas: new MemoryCaRegistry([{ name: "ndes", type: "ndes", url: secretUrl }]), upstream: hanging, upstreamTimeoutMs: 200, onEvent: (e) => events.push(e) });
    const res = await atDeadline(p.fetch(new Request("http://proxy.test/scep/h1,p1,ndes?operation=GetCACaps")), 200, () => called);
    expect([res.status, await res.text()]).toEqual([504, "upstream timed out"]);
    expect(events.at(-1)).toMatchObject({ operation: "GetCACaps", upstream: { reason: "timeout" } });
  });

  it("the device going away ends the call to a custom Upstream that ignores the signal (reason other), well before the deadline", async () => {
    const hanging = { getCACaps: () => new Promise<never>(() => undefined), getCACert: () => new Promise<never>(() => undefined), pkiOperation: () => new Promise<never>(() => undefined) };
    const p = createScepProxy({ profiles, cas: new MemoryCaRegistry([{ name: "ndes", type: "ndes", url: secretUrl }]), upstream: hanging, upstreamTimeoutMs: 60_000, onEvent: (e) => events.push(e) });
    const device = new AbortController();
    const answer = p.fetch(new Request("http://proxy.test/scep/h1,p1,ndes?operation=GetCACaps", { signal: device.signal }));
    setImmediate(() => device.abort());
    expect((await answer).status).toBe(502);
    expect(events.at(-1)).toMatchObject({ upstream: { reason: "other" } });
    // …and a device already gone when the call would start
    const gone = await p.fetch(new Request("http://proxy.test/scep/h1,p1,ndes?operation=GetCACaps", { signal: AbortSignal.abort() }));
    expect(gone.status).toBe(502);
  });

  it("a body that trickles past the timeout → 504 too (the deadline covers the whole body)", async () => {
    const held: ServerResponse[] = [];
    up.script(fault((_req, res) => {
      res.writeHead(200, { "content-type": "application/x-pki-message" });
      res.write(Buffer.from([0x30])); // the first byte; the rest never comes
      held.push(res);
    }));
    // The proxy has the answer's head (its fetch resolved) before the clock reaches the deadline.
    let head = false;
    const realFetch = globalThis.fetch;
    const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const res = await realFetch(input, init);
      if (String(input instanceof Request ? input.url : input).includes("operation=PKIOperation")) head = true;
      return res;
    });
    try {
      expect(await atDeadline(post(), 300, () => head)).toEqual({ status: 504, text: "upstream timed out" });
    } finally {
      spy.mockRestore();
      held.forEach((res) => res.destroy());
    }
    await stillServes();
  });

  it("HTTP 500 → 502 upstream failed, reason http with status 500", async () => {
    up.script(fault((_req, res) => res.writeHead(500, { "content-type": "text/html" }).end(`<h1>error at ${up.url}</h1>`)));
    expect(await post()).toEqual({ status: 502, text: "upstream failed" });
    expect(events.at(-1)).toMatchObject({ reason: "upstream_failed", upstream: { reason: "http", status: 500 } });
    expect(proxy.stats().cas.ndes).toMatchObject({ upstreamFailures: { http: 1 }, upstreamHttpStatuses: { "500": 1 } });
    await stillServes();
  });

  it("HTTP 503 / 429 from the upstream (busy, rate-limited) → 502 upstream failed with Retry-After: the upstream's seconds or date, clamped to 1–3600, else 30", async () => {
    const cases: [number, Record<string, string>, string | null][] = [
      [500, { "retry-after": "120" }, null], // a server error is no "come back later": nothing passed on
      [503, { "retry-after": "120" }, "120"],
      [429, { "retry-after": "7" }, "7"],
      [503, {}, "30"],
      [503, { "retry-after": "soon" }, "30"],
      [503, { "retry-after": "0" }, "1"],
      [503, { "retry-after": "86400" }, "3600"],
    ];
    for (const [status, headers, expected] of cases) {
      up.script(fault((_req, res) => res.writeHead(status, { "content-type": "text/plain", ...headers }).end(`busy at ${up.url}`)));
      const res = await proxy.fetch(new Request("http://proxy.test/scep/h1,p1,ndes?operation=PKIOperation", { method: "POST", body: MSG }));
      const retryAfter = res.headers.get("retry-after");
      const text = await res.text();
      expect([res.status, text, retryAfter]).toEqual([502, "upstream failed", expected]);
      expect(events.at(-1)).toMatchObject({ outcome: "upstream_error", reason: "upstream_failed", upstream: { reason: "http", status } });
    }
    await stillServes();
  });

  it("a custom CA's PKIOperation answered 503: the consumed challenge goes back, so the 502 keeps the Retry-After and the retry passes; its GetCACaps keeps the Retry-After (proxy.challenge-release.test.ts holds the other cases)", async () => {
    const challenges = new MemoryChallengeStore();
    const custom = createScepProxy({
      profiles,
      challenges,
      cas: new MemoryCaRegistry([{ name: "corp", type: "custom", url: secretUrl }]),
      upstreamTimeoutMs: 300,
      maxBodyBytes: 64 * 1024,
      onEvent: (e) => events.push(e),
    });
    await profiles.put({ hostId: "h2", profileId: "p1", caName: "corp", status: "pending", updatedAt: 0 });
    const url = buildProxyUrl("http://proxy.test/scep", { hostId: "h2", profileId: "p1", caName: "corp", challenge: await challenges.issue({ profile: "corp", ttlMs: 3_600_000 }) });
    up.script((_req, res) => res.writeHead(503, { "retry-after": "120" }).end());
    const caps = await custom.fetch(new Request(`${url}?operation=GetCACaps`));
    expect([caps.status, caps.headers.get("retry-after")]).toEqual([502, "120"]);
    const pki = await custom.fetch(new Request(`${url}?operation=PKIOperation`, { method: "POST", body: MSG }));
    expect([pki.status, await pki.text(), pki.headers.get("retry-after")]).toEqual([502, "upstream failed", "120"]);
    up.script(wellBehaved());
    const retry = await custom.fetch(new Request(`${url}?operation=PKIOperation`, { method: "POST", body: MSG }));
    expect([retry.status, Buffer.from(await retry.arrayBuffer())]).toEqual([200, PKI_REPLY]);
  });

  it("createScepProxy's now reaches its default HttpUpstream: an HTTP-date Retry-After is read against it (exactly 600 s), and caps expire by it", async () => {
    const clock = manualClock(new Date("2026-03-01T10:00:00.000Z"));
    const dated = createScepProxy({ profiles, cas: new MemoryCaRegistry([{ name: "ndes", type: "ndes", url: secretUrl }]), now: clock.now, maxBodyBytes: 64 * 1024 });
    await profiles.put({ hostId: "h1", profileId: "p1", caName: "ndes", status: "pending", challengeRetrievedAt: clock.now().getTime(), updatedAt: 0 });
    const date = new Date(clock.now().getTime() + 600_000).toUTCString();
    up.script(fault((_req, res) => res.writeHead(503, { "retry-after": date }).end()));
    const busy = await dated.fetch(new Request("http://proxy.test/scep/h1,p1,ndes?operation=PKIOperation", { method: "POST", body: MSG }));
    expect([busy.status, busy.headers.get("retry-after")]).toEqual([502, "600"]);
    // The caps fetched for that PKIOperation are kept for HttpUpstream's capsTtlMs (10 minutes) by the same clock.
    up.script(wellBehaved());
    up.seen.length = 0;
    const pki = () => dated.fetch(new Request("http://proxy.test/scep/h1,p1,ndes?operation=PKIOperation", { method: "POST", body: MSG }));
    clock.advance(599_999);
    await profiles.put({ hostId: "h1", profileId: "p1", caName: "ndes", status: "pending", challengeRetrievedAt: clock.now().getTime(), updatedAt: 0 });
    expect((await pki()).status).toBe(200);
    clock.advance(1);
    expect((await pki()).status).toBe(200);
    expect(up.seen.map((r) => r.operation)).toEqual(["PKIOperation", "GetCACaps", "PKIOperation"]);
  });

  it("an HTTP-date Retry-After is read against the upstream's injected clock, not the wall clock: exactly 600 s, however slow the run", async () => {
    const clock = manualClock(new Date("2026-03-01T10:00:00.000Z"));
    // The challenge fetched by this proxy's clock (a fetch time months ahead of it is a wrong record: challenge failed).
    await profiles.put({ hostId: "h1", profileId: "p1", caName: "ndes", status: "pending", challengeRetrievedAt: clock.now().getTime(), updatedAt: 0 });
    const dated = createScepProxy({
      profiles,
      cas: new MemoryCaRegistry([{ name: "ndes", type: "ndes", url: secretUrl }]),
      upstream: new HttpUpstream({ timeoutMs: 300, now: clock.now }),
      now: clock.now,
      maxBodyBytes: 64 * 1024,
    });
    for (const [offsetMs, expected] of [[600_000, "600"], [-60_000, "1"], [86_400_000, "3600"]] as const) {
      const date = new Date(clock.now().getTime() + offsetMs).toUTCString();
      up.script(fault((_req, res) => res.writeHead(503, { "retry-after": date }).end()));
      const res = await dated.fetch(new Request("http://proxy.test/scep/h1,p1,ndes?operation=PKIOperation", { method: "POST", body: MSG }));
      expect([res.status, res.headers.get("retry-after")]).toEqual([502, expected]);
    }
  });

  it("an upstream 4xx tells the device the truth: its message refused (400), too large (413; 414 to a GET), or the proxy's side at fault (502)", async () => {
    up.script(fault((_req, res) => res.writeHead(400, { "content-type": "text/plain" }).end(`bad message at ${up.url}`)));
    expect(await post()).toEqual({ status: 400, text: "upstream refused the request" });
    expect(events.at(-1)).toMatchObject({ outcome: "rejected", reason: "upstream_refused", upstream: { reason: "http", status: 400 } });
    up.script(fault((_req, res) => res.writeHead(413).end()));
    expect(await post()).toEqual({ status: 413, text: "request too large" });
    // 414: the message is too long for the upstream's GET (RFC 9110 §15.5.15): a device's GET is told so, as by the
    // proxy's own limit (send it by POST); its POST is told the message is too large for this upstream.
    up.script(fault((_req, res) => res.writeHead(414).end()));
    expect(await get()).toEqual({ status: 414, text: "request URI too long" });
    expect(events.at(-1)).toMatchObject({ outcome: "rejected", reason: "upstream_refused", upstream: { reason: "http", status: 414 } });
    expect(await post()).toEqual({ status: 413, text: "request too large" });
    // The proxy's credentials, access, URL, method or request: not the device's mistake, so not a 4xx to it.
    for (const status of [401, 403, 404, 405, 408, 411, 415]) {
      up.script(fault((_req, res) => res.writeHead(status).end()));
      expect([status, await post()]).toEqual([status, { status: 502, text: "upstream failed" }]);
      expect(events.at(-1)).toMatchObject({ outcome: "upstream_error", reason: "upstream_failed", upstream: { reason: "http", status } });
    }
    expect(proxy.stats().cas.ndes).toMatchObject({ upstreamHttpStatuses: { "400": 1, "401": 1, "403": 1, "404": 1, "413": 1, "414": 2 } });
    await stillServes();
  });

  it("connection reset mid-answer → 502, reason other", async () => {
    up.script(fault((_req, _res, socket) => socket.destroy()));
    expect(await post()).toEqual({ status: 502, text: "upstream failed" });
    expect(events.at(-1)).toMatchObject({ upstream: { reason: "other" } });
    await stillServes();
  });

  it("oversized response (declared, and streamed without Content-Length) → 502, reason other; never truncated", async () => {
    up.script(fault((_req, res) => res.writeHead(200, { "content-type": "application/x-pki-message" }).end(Buffer.alloc(64 * 1024 + 1))));
    expect(await post()).toEqual({ status: 502, text: "upstream failed" });
    up.script(fault((_req, res) => {
      res.writeHead(200, { "content-type": "application/x-pki-message", "transfer-encoding": "chunked" });
      for (let i = 0; i < 65; i++) res.write(Buffer.alloc(1024));
      res.end();
    }));
    expect(await post()).toEqual({ status: 502, text: "upstream failed" });
    expect(events.slice(-2).map((e) => e.upstream)).toEqual([{ reason: "other" }, { reason: "other" }]);
    await stillServes();
  });

  it("wrong content type (an HTML page with 200) → 502, reason other", async () => {
    up.script(fault((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<html>login</html>")));
    expect(await post()).toEqual({ status: 502, text: "upstream failed" });
    expect(events.at(-1)).toMatchObject({ upstream: { reason: "other" } });
    await stillServes();
  });

  it("no answer body ever names the upstream URL or its credentials", async () => {
    for (const [status, text] of [[500, "upstream failed"], [503, "upstream failed"]] as const) {
      up.script(fault((_req, res) => res.writeHead(status, { "retry-after": secretUrl }).end(secretUrl)));
      const r = await post();
      expect(r.text).toBe(text);
    }
    expect(JSON.stringify(events)).not.toContain("Sup3rSecret");
    expect(up.seen.find((s) => s.operation === "PKIOperation")?.headers.authorization).toBe(`Basic ${Buffer.from("mdm-svc:Sup3rSecret").toString("base64")}`);
  });
});

describe("HttpUpstream failure reasons", () => {
  const ca = (url: string): CaConfig => ({ name: "x", type: "custom", url });

  async function reasonOf(p: Promise<unknown>): Promise<[string, string]> {
    try {
      await p;
      return ["resolved", ""];
    } catch (e) {
      if (!(e instanceof UpstreamError)) throw e;
      return [e.reason, e.message];
    }
  }

  it("connection refused → connection_refused", async () => {
    const port = await freeStablePort(); // a closed listen(0) port could be another test's server by the time we call
    expect(await reasonOf(new HttpUpstream({ timeoutMs: 10_000 }).getCACaps(ca(`http://127.0.0.1:${port}/scep`)))).toEqual(["connection_refused", "upstream refused the connection"]);
  });

  it("an unresolvable host name (.invalid, RFC 6761) → dns", async () => {
    expect(await reasonOf(new HttpUpstream({ timeoutMs: 20_000 }).getCACaps(ca("http://ndes.scep-proxy-test.invalid/scep")))).toEqual(["dns", "upstream host name did not resolve"]);
  });

  it("a body that drips past timeoutMs, its stream left unaborted by the fetch (nodejs/undici#4089) → timeout, on time", async () => {
    // Node 20's fetch does not always reject a read already waiting when its signal aborts; a fetch that never sees
    // the signal makes that happen every time: the read must be cut by the upstream's own deadline.
    const drip: ReturnType<typeof setInterval>[] = [];
    up.script((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      drip.push(setInterval(() => res.write(" "), 20));
    });
    let guard: ReturnType<typeof setTimeout> | undefined;
    try {
      const unaborted = ((input: string | URL | Request, init?: RequestInit) => fetch(input, { ...init, signal: null })) as typeof fetch;
      const call = reasonOf(new HttpUpstream({ timeoutMs: 300, fetch: unaborted }).getCACaps(ca(up.url)));
      expect(await Promise.race([call, new Promise<"stuck">((resolve) => (guard = setTimeout(() => resolve("stuck"), 3000)))])).toEqual(["timeout", "upstream did not answer within 300 ms"]);
    } finally {
      clearTimeout(guard);
      for (const t of drip) clearInterval(t);
    }
  });

  it("the caller's AbortSignal → other", async () => {
    const controller = new AbortController();
    up.script(() => controller.abort()); // the device goes away once the upstream has the request
    const call = new HttpUpstream({ timeoutMs: 10_000 }).getCACaps(ca(up.url), { signal: controller.signal });
    expect(await reasonOf(call)).toEqual(["other", "upstream call aborted by the caller"]);
  });

  it("caps are cached for capsTtlMs by the injected clock, then asked again; an HTTP error on GetCACaps means GET", async () => {
    const clock = manualClock();
    const u = new HttpUpstream({ now: clock.now, capsTtlMs: 60_000 });
    await u.pkiOperation(ca(up.url), MSG);
    clock.advance(59_999);
    await u.pkiOperation(ca(up.url), MSG);
    clock.advance(1);
    up.script((req, res, s) => (req.operation === "GetCACaps" ? res.writeHead(404).end() : wellBehaved()(req, res, s)));
    await u.pkiOperation(ca(up.url), MSG);
    expect(up.seen.map((s) => `${s.method} ${s.operation}`)).toEqual(["GET GetCACaps", "POST PKIOperation", "POST PKIOperation", "GET GetCACaps", "GET PKIOperation"]);
  });

  it("a transient HTTP error on GetCACaps (503, 500, 429, 408) means GET for 30 s, not for capsTtlMs; a 501 or 404 for capsTtlMs", async () => {
    for (const [status, remembered] of [[503, 30_000], [500, 30_000], [429, 30_000], [408, 30_000], [501, 600_000], [404, 600_000]] as const) {
      up.seen.length = 0;
      const clock = manualClock();
      const u = new HttpUpstream({ now: clock.now });
      up.script((req, res, s) => (req.operation === "GetCACaps" ? res.writeHead(status).end() : wellBehaved()(req, res, s)));
      await u.pkiOperation(ca(up.url), MSG);
      up.script(wellBehaved());
      clock.advance(remembered - 1);
      await u.pkiOperation(ca(up.url), MSG); // still GET, caps not asked
      clock.advance(1);
      await u.pkiOperation(ca(up.url), MSG);
      await u.pkiOperation(ca(up.url), MSG);
      expect(up.seen.map((s) => `${s.method} ${s.operation}`), String(status)).toEqual(["GET GetCACaps", "GET PKIOperation", "GET PKIOperation", "GET GetCACaps", "POST PKIOperation", "POST PKIOperation"]);
    }
  });

  it("concurrent PKIOperations share one GetCACaps", async () => {
    const u = new HttpUpstream();
    await Promise.all(Array.from({ length: 5 }, () => u.pkiOperation(ca(up.url), MSG)));
    expect(up.seen.filter((s) => s.operation === "GetCACaps")).toHaveLength(1);
  });

  it("a POSTed PKIOperation has Content-Length and no chunked transfer encoding (IIS refuses those)", async () => {
    const big = Buffer.alloc(200_000, 0x41);
    await new HttpUpstream().pkiOperation(ca(up.url), big);
    const p = up.seen.find((s) => s.operation === "PKIOperation")!;
    expect([p.method, p.headers["content-length"], p.headers["transfer-encoding"], p.body.equals(big)]).toEqual(["POST", "200000", undefined, true]);
  });

  it("refuses to send a message over maxRequestBytes", async () => {
    expect(await reasonOf(new HttpUpstream({ maxRequestBytes: 10 }).pkiOperation(ca(up.url), Buffer.alloc(11)))).toEqual(["other", "PKIOperation message larger than 10 bytes"]);
    expect(up.seen).toEqual([]);
  });
});
