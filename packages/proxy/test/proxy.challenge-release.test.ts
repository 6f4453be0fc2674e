/**
 * PROXY.md "Challenge lifecycles" and "Forwarding": a `custom` CA's one-time challenge is consumed before the
 * PKIOperation goes upstream. When the upstream's failure proves the CA issued nothing (it answered 503 or 429,
 * the connection was refused, the host name did not resolve, the TLS handshake failed) the proxy gives the
 * challenge back, bound to its own consume, so the device's retry of the same URL passes. After a timeout, a reset
 * or a 500/502/504 the CA may have issued: the challenge stays spent and the retry is 400 `challenge failed`.
 * Real loopback upstreams (HTTP and HTTPS with an OpenSSL self-signed certificate), no mock of fetch.
 */
import { MemoryChallengeStore, StoreUnavailableError, type ChallengeStore } from "@scep/core";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { MemoryCaRegistry, MemoryProfileStore, buildProxyUrl, createScepProxy, type ProxyEvent, type ProxyLogger, type ScepProxy } from "../src/index.js";
import { freeStablePort } from "../../../test-support/peers";
import { PKI_REPLY, startUpstream, wellBehaved, type Script, type UpstreamServer } from "./support/upstream-server.js";
import { CORP_DEVICE, pendingCorp } from "./support/pending-corp.js";
import { selfSignedLoopbackCert } from "./support/tls-cert.js";

const MSG = Buffer.from("MIIB+/+/abcd", "base64");
let up: UpstreamServer;
let tlsServer: HttpsServer;
let tlsUrl: string;

beforeAll(async () => {
  up = await startUpstream();
  const tls = selfSignedLoopbackCert();
  tlsServer = createHttpsServer(tls, (_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("POSTPKIOperation\n"));
  await new Promise<void>((resolve) => tlsServer.listen(0, "127.0.0.1", resolve));
  tlsUrl = `https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}/scep`;
});
afterAll(async () => {
  await up.close();
  await new Promise((resolve) => tlsServer.close(resolve));
});

let challenges: MemoryChallengeStore;
let profiles: MemoryProfileStore;
let events: ProxyEvent[];
let logged: string[];
const logger: ProxyLogger = { error: (message) => void logged.push(message) };

beforeEach(async () => {
  ({ challenges, profiles, events } = await pendingCorp(up));
  logged = [];
});

/** A proxy with one custom CA "corp" at `url`, on the shared stores (another replica, or the same CA come back). */
function proxyAt(url: string, store: ChallengeStore = challenges, timeoutMs = 10_000): ScepProxy {
  return createScepProxy({
    profiles,
    challenges: store,
    cas: new MemoryCaRegistry([{ name: "corp", type: "custom", url }]),
    upstreamTimeoutMs: timeoutMs,
    maxBodyBytes: 64 * 1024,
    onEvent: (e) => events.push(e),
    logger,
  });
}

/** The device's URL with a fresh one-time challenge. */
async function deviceUrl(): Promise<string> {
  const challenge = await challenges.issue({ profile: "corp", ttlMs: 3_600_000 });
  return buildProxyUrl("http://proxy.test/scep", { ...CORP_DEVICE, challenge });
}

async function enroll(proxy: ScepProxy, url: string): Promise<{ status: number; body: Buffer; retryAfter: string | null }> {
  const res = await proxy.fetch(new Request(`${url}?operation=PKIOperation`, { method: "POST", body: MSG }));
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), retryAfter: res.headers.get("retry-after") };
}

const text = (s: string): Buffer => Buffer.from(s);
const onPki =
  (script: Script): Script =>
  (req, res, socket) =>
    req.operation === "PKIOperation" ? script(req, res, socket) : wellBehaved()(req, res, socket);

describe("a custom CA's challenge goes back when the upstream provably issued nothing", () => {
  it("upstream 503 then working: 502 with the upstream's Retry-After, then the device's retry with the same URL is forwarded; a third use fails", async () => {
    for (const [status, retryAfter] of [[503, "120"], [429, "7"]] as const) {
      const proxy = proxyAt(up.url);
      const url = await deviceUrl();
      up.script(onPki((_req, res) => res.writeHead(status, { "retry-after": retryAfter }).end("busy")));
      expect(await enroll(proxy, url)).toEqual({ status: 502, body: text("upstream failed"), retryAfter });
      expect(events.at(-1)).toMatchObject({ outcome: "upstream_error", upstream: { reason: "http", status }, challengeReleased: true });
      expect(events.at(-1)!.requeued).toBeUndefined();

      up.script(wellBehaved());
      expect(await enroll(proxy, url)).toEqual({ status: 200, body: PKI_REPLY, retryAfter: null });
      expect(events.at(-1)).toMatchObject({ outcome: "forwarded" });
      expect(events.at(-1)!.challengeReleased).toBeUndefined();
      expect(await enroll(proxy, url)).toMatchObject({ status: 400, body: text("challenge failed") }); // one-time again
      expect(proxy.stats().cas.corp).toMatchObject({ challengeReleases: 1, requeues: 1, upstreamHttpStatuses: { [String(status)]: 1 } });
      await profiles.put({ ...CORP_DEVICE, status: "pending", updatedAt: 0 }); // the MDM re-sends it
    }
    expect(up.seen.filter((s) => s.operation === "PKIOperation")).toHaveLength(4); // the third uses never went upstream
  });

  it("connection refused, an unresolvable host (.invalid, RFC 6761), a failed TLS handshake: 502 and the challenge goes back; the retry passes once the CA is reachable", async () => {
    const refused = `http://127.0.0.1:${await freeStablePort()}/scep`;
    for (const [caUrl, reason] of [[refused, "connection_refused"], ["http://ca.scep-proxy-refund.invalid/scep", "dns"], [tlsUrl, "tls"]] as const) {
      const url = await deviceUrl();
      expect(await enroll(proxyAt(caUrl, challenges, 20_000), url)).toEqual({ status: 502, body: text("upstream failed"), retryAfter: null });
      expect(events.at(-1)).toMatchObject({ upstream: { reason }, challengeReleased: true });
      expect(await enroll(proxyAt(up.url), url)).toEqual({ status: 200, body: PKI_REPLY, retryAfter: null });
    }
  }, 60_000);
});

describe("a custom CA's challenge stays spent when the CA may have issued", () => {
  it("HTTP 500, 502, 504 and a reset after the request arrived: 502, no release; the retry is 400 challenge failed and requeues", async () => {
    const faults: [string, Script][] = [
      ["500", (_req, res) => res.writeHead(500).end()],
      ["502", (_req, res) => res.writeHead(502).end()],
      ["504", (_req, res) => res.writeHead(504).end()],
      ["reset", (_req, _res, socket) => socket.destroy()],
    ];
    for (const [name, fault] of faults) {
      const proxy = proxyAt(up.url);
      const url = await deviceUrl();
      up.script(onPki(fault));
      expect(await enroll(proxy, url), name).toEqual({ status: 502, body: text("upstream failed"), retryAfter: null });
      expect(events.at(-1)!.challengeReleased, name).toBeUndefined();
      up.script(wellBehaved());
      expect(await enroll(proxy, url), name).toMatchObject({ status: 400, body: text("challenge failed") });
      expect(events.at(-1), name).toMatchObject({ reason: "challenge_failed", requeued: true });
      expect(proxy.stats().cas.corp?.challengeReleases, name).toBe(0);
      await profiles.put({ ...CORP_DEVICE, status: "pending", updatedAt: 0 });
    }
  });

  describe("timeout", () => {
    // The proxy's deadline runs on a fake clock; loopback I/O stays real.
    beforeEach(() => void vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] }));
    afterEach(() => void vi.useRealTimers());

    it("an upstream that has the message and does not answer in time: 504, the challenge stays spent (the CA may have issued), the retry is 400", async () => {
      const proxy = proxyAt(up.url, challenges, 300);
      const url = await deviceUrl();
      up.script(onPki(() => undefined)); // holds the PKIOperation
      const answer = enroll(proxy, url);
      while (!up.seen.some((s) => s.operation === "PKIOperation")) await new Promise((r) => setImmediate(r));
      await vi.advanceTimersByTimeAsync(300);
      expect(await answer).toEqual({ status: 504, body: text("upstream timed out"), retryAfter: null });
      expect(events.at(-1)).toMatchObject({ upstream: { reason: "timeout" } });
      expect(events.at(-1)!.challengeReleased).toBeUndefined();
      vi.useRealTimers();
      up.script(wellBehaved());
      expect(await enroll(proxy, url)).toMatchObject({ status: 400, body: text("challenge failed") });
    });
  });
});

describe("stores that cannot give the challenge back", () => {
  it("a ChallengeStore without release: an upstream 503 spends the challenge as before (502 without Retry-After, the retry is 400)", async () => {
    const noRelease: ChallengeStore = { issue: (o) => challenges.issue(o), consume: (c, o) => challenges.consume(c, o) };
    const proxy = proxyAt(up.url, noRelease);
    const url = await deviceUrl();
    up.script(onPki((_req, res) => res.writeHead(503, { "retry-after": "120" }).end()));
    expect(await enroll(proxy, url)).toEqual({ status: 502, body: text("upstream failed"), retryAfter: null });
    expect(events.at(-1)!.challengeReleased).toBeUndefined();
    up.script(wellBehaved());
    expect(await enroll(proxy, url)).toMatchObject({ status: 400, body: text("challenge failed") });
  });

  it("a release that throws (store down) or refuses: 502 without Retry-After, logged without the challenge, the challenge stays spent", async () => {
    for (const release of [() => Promise.reject(new StoreUnavailableError("redis down")), () => Promise.resolve(false)]) {
      const failing: ChallengeStore = { issue: (o) => challenges.issue(o), consume: (c, o) => challenges.consume(c, o), release };
      const proxy = proxyAt(up.url, failing);
      const url = await deviceUrl();
      up.script(onPki((_req, res) => res.writeHead(503).end()));
      expect(await enroll(proxy, url)).toEqual({ status: 502, body: text("upstream failed"), retryAfter: null });
      expect(events.at(-1)!.challengeReleased).toBeUndefined();
      up.script(wellBehaved());
      expect(await enroll(proxy, url)).toMatchObject({ status: 400, body: text("challenge failed") });
      await profiles.put({ ...CORP_DEVICE, status: "pending", updatedAt: 0 });
    }
    expect(logged).toEqual(["challenge release failed: the challenge stays spent", "challenge release refused: the challenge stays spent"]);
    expect(JSON.stringify(events)).not.toMatch(/[A-Za-z0-9_-]{32}/); // no challenge in an event
  });

  it("the release names the request's own consume (the id its consume carried: a late release cannot put back a later consume)", async () => {
    const seen: { consume?: string; release?: string } = {};
    const spy: ChallengeStore = {
      issue: (o) => challenges.issue(o),
      consume: (c, o) => ((seen.consume = o.consumption), challenges.consume(c, o)),
      release: (c, o) => ((seen.release = o.consumption), challenges.release(c, o)),
    };
    const url = await deviceUrl();
    up.script(onPki((_req, res) => res.writeHead(503).end()));
    await enroll(proxyAt(up.url, spy), url);
    expect(seen.consume).toMatch(/^[0-9a-f]{32}$/);
    expect(seen.release).toBe(seen.consume);
  });
});
