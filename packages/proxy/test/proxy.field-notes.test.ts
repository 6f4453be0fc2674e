/**
 * PROXY.md "Field notes": mass challenge expiry (many profiles delivered,
 * devices offline for an hour) ends in requeues, never in stuck profiles; two
 * proxy replicas sharing one challenge store accept a raced one-time
 * challenge once; messages are forwarded byte for byte (never re-encoded);
 * an in-process upstream (a FetchHandler behind HttpUpstream's `fetch`)
 * serves an MDM that embeds its own SCEP server.
 */
import { MemoryChallengeStore, type FetchHandler } from "@scep/core";
import { manualClock } from "@scep/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpUpstream, MemoryCaRegistry, MemoryProfileStore, buildIdentifier, createScepProxy, type ProfileKey, type ProxyEvent } from "../src/index.js";
import { startUpstream, type UpstreamServer } from "./support/upstream-server.js";

const MIN = 60_000;
let up: UpstreamServer;
beforeAll(async () => {
  up = await startUpstream();
});
afterAll(() => up.close());

describe("field notes", () => {
  it("mass expiry: 200 NDES profiles delivered, devices back after an hour → 200 × 400 expired, all 200 requeued, nothing forwarded", async () => {
    up.seen.length = 0;
    const clock = manualClock();
    const profiles = new MemoryProfileStore({ now: clock.now });
    const proxy = createScepProxy({ profiles, cas: new MemoryCaRegistry([{ name: "ndes", type: "ndes", url: up.url }]), now: clock.now });
    const keys: ProfileKey[] = Array.from({ length: 200 }, (_, i) => ({ hostId: `host-${i}`, profileId: "wifi", caName: "ndes" }));
    for (const k of keys) await profiles.put({ ...k, status: "pending", challengeRetrievedAt: clock.now().getTime(), updatedAt: 0 });
    clock.advance(61 * MIN);
    const answers = await Promise.all(
      keys.map(async (k) => {
        const res = await proxy.fetch(new Request(`http://proxy.test/scep/${buildIdentifier(k)}?operation=PKIOperation`, { method: "POST", body: new Uint8Array([0x30, 0x00]) }));
        return `${res.status} ${await res.text()}`;
      }),
    );
    expect(new Set(answers)).toEqual(new Set(["400 challenge password has expired"]));
    const statuses: string[] = [];
    for await (const r of profiles.list()) statuses.push(`${r.status}/${r.requeueCount}`);
    expect(statuses).toEqual(keys.map(() => "none/1"));
    expect(up.seen).toEqual([]);
    expect(proxy.stats().cas.ndes).toMatchObject({ requests: 200, requeues: 200, reasons: { challenge_expired: 200 } });
  });

  it("two replicas sharing the stores: one challenge raced through both is accepted once, the loser requeues", async () => {
    up.seen.length = 0;
    const profiles = new MemoryProfileStore();
    const challenges = new MemoryChallengeStore();
    const events: ProxyEvent[] = [];
    const replica = (): FetchHandler =>
      createScepProxy({ profiles, challenges, cas: new MemoryCaRegistry([{ name: "corp", type: "custom", url: up.url }]), onEvent: (e) => events.push(e) });
    const [a, b] = [replica(), replica()];
    const key = { hostId: "h1", profileId: "p1", caName: "corp" };
    await profiles.put({ ...key, status: "pending", updatedAt: 0 });
    const id = buildIdentifier({ ...key, challenge: await challenges.issue({ profile: "corp", ttlMs: 60 * MIN }) });
    const send = (p: FetchHandler): Promise<number> =>
      p.fetch(new Request(`http://proxy.test/scep/${id}?operation=PKIOperation`, { method: "POST", body: new Uint8Array([0x30, 0x00]) })).then((r) => r.status);
    expect((await Promise.all([send(a), send(b)])).sort()).toEqual([200, 400]);
    expect(up.seen.filter((s) => s.operation === "PKIOperation")).toHaveLength(1);
    expect(events.map((e) => e.reason).sort()).toEqual(["challenge_failed", "forwarded"]);
    expect(await profiles.get(key)).toMatchObject({ status: "none", requeueCount: 1 });
  });

  it("forwards a message byte for byte, BER and trailing bytes included (Windows' signed attributes are never re-encoded)", async () => {
    up.seen.length = 0;
    const clock = manualClock();
    const profiles = new MemoryProfileStore();
    const proxy = createScepProxy({ profiles, cas: new MemoryCaRegistry([{ name: "ndes", type: "ndes", url: up.url }]), now: clock.now });
    await profiles.put({ hostId: "win-1", profileId: "p", caName: "ndes", status: "verifying", platform: "windows", challengeRetrievedAt: clock.now().getTime(), updatedAt: 0 });
    const ber = new Uint8Array([0x30, 0x80, 0x06, 0x03, 0x2a, 0x03, 0x04, 0x31, 0x80, 0x00, 0x00, 0x00, 0x00, 0xff, 0x00]);
    const res = await proxy.fetch(new Request("http://proxy.test/scep/win-1,p,ndes/pkiclient.exe?operation=PKIOperation", { method: "POST", body: ber }));
    expect(res.status).toBe(400); // not pending and not exempt: the default registry exempts nobody
    const exempting = createScepProxy({ profiles, cas: new MemoryCaRegistry([{ name: "ndes", type: "ndes", url: up.url, exemptPlatforms: ["windows"] }]), now: clock.now });
    const ok = await exempting.fetch(new Request("http://proxy.test/scep/win-1,p,ndes/pkiclient.exe?operation=PKIOperation", { method: "POST", body: ber }));
    expect(ok.status).toBe(200);
    expect(up.seen.filter((s) => s.operation === "PKIOperation").map((s) => [...s.body])).toEqual([[...ber]]);
  });

  it("an in-process upstream: HttpUpstream's fetch hands requests to a FetchHandler, no socket", async () => {
    const seen: string[] = [];
    const embedded: FetchHandler = {
      fetch: async (req) => {
        const u = new URL(req.url);
        seen.push(`${req.method} ${u.pathname}${u.search}`);
        return u.searchParams.get("operation") === "GetCACaps" ? new Response("POSTPKIOperation\n", { headers: { "content-type": "text/plain" } }) : new Response(new Uint8Array([0x30, 0x00]), { headers: { "content-type": "application/x-pki-message" } });
      },
    };
    const profiles = new MemoryProfileStore();
    const clock = manualClock();
    const proxy = createScepProxy({
      profiles,
      cas: new MemoryCaRegistry([{ name: "ndes", type: "ndes", url: "http://embedded.invalid/scep" }]),
      upstream: new HttpUpstream({ fetch: (input, init) => embedded.fetch(new Request(input, init)) }),
      now: clock.now,
    });
    await profiles.put({ hostId: "h", profileId: "p", caName: "ndes", status: "pending", challengeRetrievedAt: clock.now().getTime(), updatedAt: 0 });
    const res = await proxy.fetch(new Request("http://proxy.test/scep/h,p,ndes?operation=PKIOperation", { method: "POST", body: new Uint8Array([0x30, 0x00]) }));
    expect([res.status, [...new Uint8Array(await res.arrayBuffer())]]).toEqual([200, [0x30, 0x00]]);
    expect(seen).toEqual(["GET /scep?operation=GetCACaps", "POST /scep?operation=PKIOperation"]);
  });
});
