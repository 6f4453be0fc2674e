/**
 * PROXY.md "Challenge lifecycles" and "Forwarding": a `custom` CA's one-time challenge consumed for a PKIOperation
 * goes back when the upstream's failure proves nothing of the request reached the CA (`UpstreamError.beforeRequest`),
 * beyond the reasons that already said so (connection refused, DNS, TLS handshake): the host or network unreachable
 * (a socket error of `connect()`), undici's connect timeout, and the GetCACaps `HttpUpstream` asks before the
 * PKIOperation failing, so that the PKIOperation was never sent. The same codes from an established socket, and a
 * timeout waiting for the answer, keep it spent.
 *
 * The upstream is a real loopback server; the failures a test cannot cause on loopback deterministically (an
 * unreachable host, a connect timeout) come from a `fetch` that rejects with the error Node's fetch (undici) gives for
 * them: `TypeError("fetch failed")` whose `cause` is the socket error of `connect()` (`code`, `errno`, `syscall:
 * "connect"`, `address`, `port`, as for the real refused connection checked first) or undici's `ConnectTimeoutError`.
 */
import { MemoryChallengeStore } from "@scep/core";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { HttpUpstream, MemoryCaRegistry, MemoryProfileStore, UpstreamError, buildProxyUrl, createScepProxy, type ProxyEvent, type ScepProxy } from "../src/index.js";
import { PKI_REPLY, startUpstream, wellBehaved, type UpstreamServer } from "./support/upstream-server.js";
import { CORP_DEVICE, pendingCorp } from "./support/pending-corp.js";

const MSG = Buffer.from("MIIB+/+/abcd", "base64");
let up: UpstreamServer;

beforeAll(async () => {
  up = await startUpstream();
});
afterAll(async () => {
  await up.close();
});

let challenges: MemoryChallengeStore;
let profiles: MemoryProfileStore;
let events: ProxyEvent[];

beforeEach(async () => {
  ({ challenges, profiles, events } = await pendingCorp(up));
});

/** The error Node's fetch rejects with when `connect()` fails: undici passes the socket error on as `cause`. */
function connectError(code: string, errno: number, syscall = "connect"): TypeError {
  const socketError = Object.assign(new Error(`${syscall} ${code} 192.0.2.1:443`), { errno, code, syscall, address: "192.0.2.1", port: 443 });
  return new TypeError("fetch failed", { cause: socketError });
}

/** undici's `ConnectTimeoutError` (lib/core/errors.js) as fetch rejects with it. */
function connectTimeout(): TypeError {
  const cause = Object.assign(new Error("Connect Timeout Error (attempted address: ca.corp.example:443, timeout: 10000ms)"), { name: "ConnectTimeoutError", code: "UND_ERR_CONNECT_TIMEOUT" });
  return new TypeError("fetch failed", { cause });
}

/** A fetch that reaches the loopback upstream for GetCACaps and rejects the PKIOperation with `error`. */
function failingPki(error: () => unknown): typeof fetch {
  return async (input, init) => {
    if (new URL(String(input)).searchParams.get("operation") === "PKIOperation") throw error();
    return fetch(input, init);
  };
}

/** A proxy with one custom CA "corp" on the loopback upstream, calling it through `upstream`. */
function proxyWith(upstream = new HttpUpstream(), timeoutMs = 10_000): ScepProxy {
  return createScepProxy({
    profiles,
    challenges,
    cas: new MemoryCaRegistry([{ name: "corp", type: "custom", url: up.url }]),
    upstream,
    upstreamTimeoutMs: timeoutMs,
    maxBodyBytes: 64 * 1024,
    onEvent: (e) => events.push(e),
    logger: { error: () => undefined },
  });
}

async function deviceUrl(): Promise<string> {
  const challenge = await challenges.issue({ profile: "corp", ttlMs: 3_600_000 });
  return buildProxyUrl("http://proxy.test/scep", { ...CORP_DEVICE, challenge });
}

async function enroll(proxy: ScepProxy, url: string): Promise<{ status: number; body: string }> {
  const res = await proxy.fetch(new Request(`${url}?operation=PKIOperation`, { method: "POST", body: MSG }));
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()).toString("latin1") };
}

const pkiSeen = (): number => up.seen.filter((s) => s.operation === "PKIOperation").length;

describe("what HttpUpstream calls beforeRequest, on real Node errors", () => {
  it("a real refused connection: fetch's cause is the socket error of connect() (the shape the injected errors below copy); beforeRequest true", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const raw = await fetch(`http://127.0.0.1:${port}/`).catch((e: unknown) => e);
    expect(raw).toBeInstanceOf(TypeError);
    expect((raw as TypeError).cause).toMatchObject({ code: "ECONNREFUSED", syscall: "connect", address: "127.0.0.1", port });
    const e = await new HttpUpstream().getCACaps({ name: "corp", type: "custom", url: `http://127.0.0.1:${port}/scep` }).catch((x: unknown) => x);
    expect(e).toMatchObject({ reason: "connection_refused", beforeRequest: true });
  });

  it("a real reset after the request arrived (an established socket): reason other, beforeRequest false", async () => {
    up.script((req, res, socket) => (req.operation === "PKIOperation" ? socket.destroy() : wellBehaved()(req, res, socket)));
    const e = await new HttpUpstream().pkiOperation({ name: "corp", type: "custom", url: up.url }, MSG).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UpstreamError);
    expect(e).toMatchObject({ reason: "other", beforeRequest: false });
    expect(pkiSeen()).toBe(1);
  });

  it("each failure's reason, message and beforeRequest", async () => {
    const ca = { name: "corp", type: "custom", url: up.url } as const;
    const cases: [string, () => unknown, { reason: string; message: string; beforeRequest: boolean }][] = [
      ["connect EHOSTUNREACH", () => connectError("EHOSTUNREACH", -113), { reason: "other", message: "upstream host unreachable (EHOSTUNREACH)", beforeRequest: true }],
      ["connect ENETUNREACH", () => connectError("ENETUNREACH", -101), { reason: "other", message: "upstream host unreachable (ENETUNREACH)", beforeRequest: true }],
      ["connect EHOSTDOWN", () => connectError("EHOSTDOWN", -112), { reason: "other", message: "upstream host unreachable (EHOSTDOWN)", beforeRequest: true }],
      ["connect ENETDOWN", () => connectError("ENETDOWN", -100), { reason: "other", message: "upstream host unreachable (ENETDOWN)", beforeRequest: true }],
      ["connect EADDRNOTAVAIL", () => connectError("EADDRNOTAVAIL", -99), { reason: "other", message: "upstream host unreachable (EADDRNOTAVAIL)", beforeRequest: true }],
      ["connect ETIMEDOUT (the kernel's SYN retries)", () => connectError("ETIMEDOUT", -110), { reason: "timeout", message: "upstream connection timed out", beforeRequest: true }],
      ["undici's connect timeout", connectTimeout, { reason: "timeout", message: "upstream connection timed out", beforeRequest: true }],
      [
        "happy eyeballs: every attempt's connect() failed",
        () => new TypeError("fetch failed", { cause: Object.assign(new AggregateError([connectError("ENETUNREACH", -101).cause, connectError("ETIMEDOUT", -110).cause]), { code: "ENETUNREACH" }) }),
        { reason: "other", message: "upstream host unreachable (ENETUNREACH)", beforeRequest: true },
      ],
      // The same codes from a socket that was connected: the request may have gone out.
      ["read EHOSTUNREACH (Linux gives up retransmitting an established connection)", () => connectError("EHOSTUNREACH", -113, "read"), { reason: "other", message: "upstream host unreachable (EHOSTUNREACH)", beforeRequest: false }],
      ["read ETIMEDOUT", () => connectError("ETIMEDOUT", -110, "read"), { reason: "timeout", message: "upstream connection timed out", beforeRequest: false }],
      ["ETIMEDOUT without a syscall", () => new TypeError("fetch failed", { cause: Object.assign(new Error("timed out"), { code: "ETIMEDOUT" }) }), { reason: "timeout", message: "upstream connection timed out", beforeRequest: false }],
      ["EHOSTUNREACH without a syscall", () => new TypeError("fetch failed", { cause: Object.assign(new Error("unreachable"), { code: "EHOSTUNREACH" }) }), { reason: "other", message: "upstream host unreachable (EHOSTUNREACH)", beforeRequest: false }],
      [
        "happy eyeballs: one attempt connected",
        () => new TypeError("fetch failed", { cause: Object.assign(new AggregateError([connectError("ENETUNREACH", -101).cause, connectError("ECONNRESET", -104, "read").cause]), { code: "ENETUNREACH" }) }),
        { reason: "other", message: "upstream host unreachable (ENETUNREACH)", beforeRequest: false },
      ],
    ];
    for (const [name, error, expected] of cases) {
      const e = await new HttpUpstream({ fetch: failingPki(error) }).pkiOperation(ca, MSG).catch((x: unknown) => x);
      expect(e, name).toBeInstanceOf(UpstreamError);
      expect({ reason: (e as UpstreamError).reason, message: (e as UpstreamError).message, beforeRequest: (e as UpstreamError).beforeRequest }, name).toEqual(expected);
    }
  });
});

describe("a custom CA's challenge goes back when nothing of the PKIOperation reached the CA", () => {
  it("host or network unreachable (connect EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN, EADDRNOTAVAIL): 502, the challenge goes back (reason other), the retry of the same URL is forwarded", async () => {
    for (const [code, errno] of [["EHOSTUNREACH", -113], ["ENETUNREACH", -101], ["EHOSTDOWN", -112], ["ENETDOWN", -100], ["EADDRNOTAVAIL", -99]] as const) {
      const url = await deviceUrl();
      expect(await enroll(proxyWith(new HttpUpstream({ fetch: failingPki(() => connectError(code, errno)) })), url), code).toEqual({ status: 502, body: "upstream failed" });
      expect(events.at(-1), code).toMatchObject({ outcome: "upstream_error", upstream: { reason: "other" }, challengeReleased: true });
      expect(await enroll(proxyWith(), url), code).toEqual({ status: 200, body: PKI_REPLY.toString("latin1") });
    }
  });

  it("undici's connect timeout (UND_ERR_CONNECT_TIMEOUT): 504, the challenge goes back (reason timeout), the retry of the same URL is forwarded", async () => {
    const url = await deviceUrl();
    const proxy = proxyWith(new HttpUpstream({ fetch: failingPki(connectTimeout) }));
    expect(await enroll(proxy, url)).toEqual({ status: 504, body: "upstream timed out" });
    expect(events.at(-1)).toMatchObject({ outcome: "upstream_error", upstream: { reason: "timeout" }, challengeReleased: true });
    expect(proxy.stats().cas.corp).toMatchObject({ challengeReleases: 1, upstreamFailures: { timeout: 1 } });
    expect(await enroll(proxyWith(), url)).toEqual({ status: 200, body: PKI_REPLY.toString("latin1") });
  });

  it("the GetCACaps asked before the PKIOperation is reset (real loopback): 502, the PKIOperation never went out, the challenge goes back; the retry is forwarded", async () => {
    const url = await deviceUrl();
    up.script((req, res, socket) => (req.operation === "GetCACaps" ? socket.destroy() : wellBehaved()(req, res, socket)));
    expect(await enroll(proxyWith(), url)).toEqual({ status: 502, body: "upstream failed" });
    expect(pkiSeen()).toBe(0);
    expect(events.at(-1)).toMatchObject({ outcome: "upstream_error", upstream: { reason: "other" }, challengeReleased: true });
    up.script(wellBehaved());
    expect(await enroll(proxyWith(), url)).toEqual({ status: 200, body: PKI_REPLY.toString("latin1") });
    expect(pkiSeen()).toBe(1);
  });

  describe("the GetCACaps asked first times out", () => {
    beforeEach(() => void vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] }));
    afterEach(() => void vi.useRealTimers());

    it("HttpUpstream's own deadline on the GetCACaps (real loopback, held): 504, the PKIOperation never went out, the challenge goes back", async () => {
      const url = await deviceUrl();
      up.script((req, res, socket) => (req.operation === "GetCACaps" ? undefined : wellBehaved()(req, res, socket))); // holds GetCACaps
      const answer = enroll(proxyWith(new HttpUpstream({ timeoutMs: 200 }), 10_000), url);
      while (!up.seen.some((s) => s.operation === "GetCACaps")) await new Promise((r) => setImmediate(r));
      await vi.advanceTimersByTimeAsync(200);
      expect(await answer).toEqual({ status: 504, body: "upstream timed out" });
      expect(pkiSeen()).toBe(0);
      expect(events.at(-1)).toMatchObject({ outcome: "upstream_error", upstream: { reason: "timeout" }, challengeReleased: true });
      vi.useRealTimers();
      up.script(wellBehaved());
      expect(await enroll(proxyWith(), url)).toEqual({ status: 200, body: PKI_REPLY.toString("latin1") });
    });
  });
});

describe("a custom CA's challenge stays spent when the request may have reached the CA", () => {
  it("read EHOSTUNREACH, read ETIMEDOUT, a bare ETIMEDOUT or EHOSTUNREACH: 502/504, no release; the retry is 400 challenge failed", async () => {
    const cases: [string, () => unknown, number][] = [
      ["read EHOSTUNREACH", () => connectError("EHOSTUNREACH", -113, "read"), 502],
      ["read ETIMEDOUT", () => connectError("ETIMEDOUT", -110, "read"), 504],
      ["ETIMEDOUT without a syscall", () => new TypeError("fetch failed", { cause: Object.assign(new Error("timed out"), { code: "ETIMEDOUT" }) }), 504],
      ["EHOSTUNREACH without a syscall", () => new TypeError("fetch failed", { cause: Object.assign(new Error("unreachable"), { code: "EHOSTUNREACH" }) }), 502],
    ];
    for (const [name, error, status] of cases) {
      const url = await deviceUrl();
      expect((await enroll(proxyWith(new HttpUpstream({ fetch: failingPki(error) })), url)).status, name).toBe(status);
      expect(events.at(-1)!.challengeReleased, name).toBeUndefined();
      expect(await enroll(proxyWith(), url), name).toEqual({ status: 400, body: "challenge failed" });
      await profiles.put({ ...CORP_DEVICE, status: "pending", updatedAt: 0 }); // the MDM re-sends it
    }
  });

  it("an Upstream of one's own: an UpstreamError of reason other is released only with beforeRequest: true", async () => {
    for (const beforeRequest of [true, false]) {
      const url = await deviceUrl();
      const own = {
        getCACaps: () => Promise.reject(new UpstreamError("other", "unused")),
        getCACert: () => Promise.reject(new UpstreamError("other", "unused")),
        pkiOperation: () => Promise.reject(new UpstreamError("other", "EST upstream unreachable", { beforeRequest })),
      };
      const proxy = createScepProxy({ profiles, challenges, cas: new MemoryCaRegistry([{ name: "corp", type: "custom", url: up.url }]), upstream: own, onEvent: (e) => events.push(e) });
      expect((await enroll(proxy, url)).status).toBe(502);
      expect(events.at(-1)!.challengeReleased === true, String(beforeRequest)).toBe(beforeRequest);
    }
  });
});
