/**
 * RFC 8894 §3.3.1 / §3.3.3 and RFC 9110 §10.2.3: when an upstream failure leaves a `custom` CA's one-time challenge
 * spent, but spent by this very PKCSReq (its consume recorded the re-send binding: transactionID and signer key), the
 * device's re-send of it is forwarded; so the proxy's 502 / 504 says when to send it (`Retry-After`: the upstream's
 * for a 503 or 429, else 30 s). Without a binding (`forwardResends: false`, a store without `isSpentBy`, a message
 * whose signature does not verify) the same URL cannot pass again and no Retry-After invites a retry.
 *
 * Real loopback upstream (a scriptable HTTP server), real signed PKCSReqs; no mock of fetch.
 */
import { MemoryChallengeStore, buildPkcsReq, generateCsr, type ChallengeStore } from "@scep/core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createTestPki, type TestPki } from "../../core/test/support/pki.js";
import { MemoryCaRegistry, MemoryProfileStore, buildProxyUrl, createScepProxy, type ProxyEvent, type ScepProxy } from "../src/index.js";
import { CORP_DEVICE, pendingCorp } from "./support/pending-corp.js";
import { startUpstream, wellBehaved, type Script, type UpstreamServer } from "./support/upstream-server.js";

let up: UpstreamServer;
let pki: TestPki;
beforeAll(async () => {
  up = await startUpstream();
  pki = await createTestPki();
});
afterAll(() => up.close());

let challenges: MemoryChallengeStore;
let profiles: MemoryProfileStore;
let events: ProxyEvent[];
const key = CORP_DEVICE;

beforeEach(async () => void ({ challenges, profiles, events } = await pendingCorp(up)));

function proxyAt(options: { store?: ChallengeStore; forwardResends?: boolean; timeoutMs?: number } = {}): ScepProxy {
  return createScepProxy({
    profiles,
    challenges: options.store ?? challenges,
    cas: new MemoryCaRegistry([{ name: "corp", type: "custom", url: up.url }]),
    upstreamTimeoutMs: options.timeoutMs ?? 10_000,
    ...(options.forwardResends === undefined ? {} : { forwardResends: options.forwardResends }),
    onEvent: (e) => events.push(e),
    logger: { error: () => undefined },
  });
}

let csrs = 0;
/** A one-time URL and a signed PKCSReq for it. */
async function device(): Promise<{ url: string; der: Uint8Array }> {
  const challenge = await challenges.issue({ profile: "corp", ttlMs: 3_600_000 });
  const url = buildProxyUrl("http://proxy.test/scep", { ...key, challenge });
  const r = pki.requesters.rsa;
  const csr = await generateCsr({ keys: r.keys, subject: "CN=h1, O=scep-sdk tests", challengePassword: "x", san: { dns: [`h1-${++csrs}.example.test`] } });
  return { url, der: (await buildPkcsReq({ csr, signer: r.signer, recipient: pki.ca.certificate })).der };
}

async function send(proxy: ScepProxy, d: { url: string; der: Uint8Array }): Promise<{ status: number; retryAfter: string | null }> {
  const res = await proxy.fetch(new Request(`${d.url}?operation=PKIOperation`, { method: "POST", body: d.der as Uint8Array<ArrayBuffer> }));
  await res.arrayBuffer();
  return { status: res.status, retryAfter: res.headers.get("retry-after") };
}

const onPki =
  (script: Script): Script =>
  (req, res, socket) =>
    req.operation === "PKIOperation" ? script(req, res, socket) : wellBehaved()(req, res, socket);

const faults: [string, Script][] = [
  ["500", (_req, res) => res.writeHead(500).end()],
  ["502", (_req, res) => res.writeHead(502).end()],
  ["504", (_req, res) => res.writeHead(504).end()],
  ["reset", (_req, _res, socket) => socket.destroy()],
];

describe("a failure that leaves the challenge spent by this PKCSReq: Retry-After, and the re-send passes", () => {
  it.each(faults)("upstream %s: 502 with Retry-After 30, the challenge stays spent, the device's re-send is forwarded (no requeue)", async (_name, fault) => {
    const proxy = proxyAt();
    const d = await device();
    up.script(onPki(fault));
    expect(await send(proxy, d)).toEqual({ status: 502, retryAfter: "30" });
    expect(events.at(-1)?.challengeReleased).toBeUndefined();
    up.script(wellBehaved());
    expect(await send(proxy, d)).toEqual({ status: 200, retryAfter: null });
    expect(events.at(-1)).toMatchObject({ reason: "forwarded", resend: true });
    expect(await profiles.get(key)).toMatchObject({ status: "pending" });
  });

  it("the re-send's own upstream fails (500, then 503 with Retry-After 120): 502 with Retry-After 30, then 120; the next re-send passes", async () => {
    const proxy = proxyAt();
    const d = await device();
    expect((await send(proxy, d)).status).toBe(200);
    up.script(onPki((_req, res) => res.writeHead(500).end()));
    expect(await send(proxy, d)).toEqual({ status: 502, retryAfter: "30" });
    expect(events.at(-1)).toMatchObject({ resend: true, upstream: { reason: "http", status: 500 } });
    up.script(onPki((_req, res) => res.writeHead(503, { "retry-after": "120" }).end()));
    expect(await send(proxy, d)).toEqual({ status: 502, retryAfter: "120" });
    up.script(wellBehaved());
    expect(await send(proxy, d)).toEqual({ status: 200, retryAfter: null });
  });

  it("an upstream 503 whose release the store refuses: 502 with the upstream's Retry-After (the re-send passes)", async () => {
    const refusing: ChallengeStore = {
      issue: (o) => challenges.issue(o),
      consume: (c, o) => challenges.consume(c, o),
      isSpentBy: (c, o) => challenges.isSpentBy(c, o),
      release: async () => false,
    };
    const proxy = proxyAt({ store: refusing });
    const d = await device();
    up.script(onPki((_req, res) => res.writeHead(503, { "retry-after": "45" }).end()));
    expect(await send(proxy, d)).toEqual({ status: 502, retryAfter: "45" });
    up.script(wellBehaved());
    expect(await send(proxy, d)).toEqual({ status: 200, retryAfter: null });
    expect(events.at(-1)).toMatchObject({ resend: true });
  });

  it("the first send's release (upstream 503) lands between its re-send's failed consume and its isSpentBy: the re-send consumes the given-back challenge and is forwarded, not refused and requeued", async () => {
    let held: { end: (status: number) => void } | undefined;
    let between: (() => Promise<void>) | undefined;
    const interleaved: ChallengeStore = {
      issue: (o) => challenges.issue(o),
      consume: (c, o) => challenges.consume(c, o),
      release: (c, o) => challenges.release(c, o),
      isSpentBy: async (c, o) => {
        const run = between;
        between = undefined;
        await run?.(); // after the re-send's consume failed, before its look at the binding
        return challenges.isSpentBy(c, o);
      },
    };
    const proxy = proxyAt({ store: interleaved });
    const d = await device();
    up.script(onPki((_req, res) => void (held = { end: (status) => res.writeHead(status, { "retry-after": "45" }).end() })));
    const first = send(proxy, d);
    while (!held) await new Promise((r) => setImmediate(r)); // the first send consumed the challenge and is upstream
    up.script(wellBehaved());
    between = async () => {
      held!.end(503);
      expect(await first).toEqual({ status: 502, retryAfter: "45" }); // released: the upstream issued nothing
    };
    expect(await send(proxy, d)).toEqual({ status: 200, retryAfter: null });
    expect(between).toBeUndefined();
    expect(events.map((e) => [e.reason, e.challengeReleased ?? false, e.resend ?? false])).toEqual([
      ["upstream_failed", true, false],
      ["forwarded", false, false],
    ]);
    expect(await profiles.get(key)).toMatchObject({ status: "pending" });
    expect(await send(proxy, d)).toEqual({ status: 200, retryAfter: null }); // spent by the re-send now: its re-send passes
    expect(events.at(-1)).toMatchObject({ resend: true });
  });

  describe("timeout", () => {
    beforeEach(() => void vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] }));
    afterEach(() => void vi.useRealTimers());

    it("an upstream that does not answer in time: 504 with Retry-After 30; the re-send is forwarded", async () => {
      const proxy = proxyAt({ timeoutMs: 300 });
      const d = await device();
      up.script(onPki(() => undefined)); // holds the PKIOperation
      const answer = send(proxy, d);
      while (!up.seen.some((s) => s.operation === "PKIOperation")) await new Promise((r) => setImmediate(r));
      await vi.advanceTimersByTimeAsync(300);
      expect(await answer).toEqual({ status: 504, retryAfter: "30" });
      vi.useRealTimers();
      up.script(wellBehaved());
      expect(await send(proxy, d)).toEqual({ status: 200, retryAfter: null });
      expect(events.at(-1)).toMatchObject({ resend: true });
    });
  });
});

describe("an upstream 4xx about the proxy's configuration: 502 without Retry-After, though the challenge stays bound", () => {
  it.each([401, 403, 404, 405, 415])("upstream %s: no Retry-After (the same refusal waits until an operator acts); once fixed, the re-send passes", async (code) => {
    const proxy = proxyAt();
    const d = await device();
    up.script(onPki((_req, res) => res.writeHead(code).end()));
    expect(await send(proxy, d)).toEqual({ status: 502, retryAfter: null });
    up.script(wellBehaved());
    expect(await send(proxy, d)).toEqual({ status: 200, retryAfter: null });
    expect(events.at(-1)).toMatchObject({ reason: "forwarded", resend: true });
  });
});

describe("no binding, no re-send: no Retry-After (unchanged)", () => {
  it("forwardResends: false, or a store without isSpentBy: upstream 500 → 502 without Retry-After, the retry is 400 challenge failed", async () => {
    const noSpentBy: ChallengeStore = { issue: (o) => challenges.issue(o), consume: (c, o) => challenges.consume(c, o), release: (c, o) => challenges.release(c, o) };
    for (const proxy of [proxyAt({ forwardResends: false }), proxyAt({ store: noSpentBy })]) {
      const d = await device();
      up.script(onPki((_req, res) => res.writeHead(500).end()));
      expect(await send(proxy, d)).toEqual({ status: 502, retryAfter: null });
      up.script(wellBehaved());
      expect(await send(proxy, d)).toEqual({ status: 400, retryAfter: null });
      expect(events.at(-1)).toMatchObject({ reason: "challenge_failed", requeued: true });
      await profiles.put({ ...key, status: "pending", updatedAt: 0 });
    }
  });
});
