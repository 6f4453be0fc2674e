/**
 * Field reports about a SCEP proxy's challenge lifecycle, rebuilt against our proxy over a loopback upstream with an
 * injected clock (PROXY.md check 5).
 *
 * - A backlog of Apple hosts came back more than an hour after their NDES challenge was fetched; Fleet answered
 *   "challenge password has expired" en masse and the profiles did not recover by themselves: each expiry spent one
 *   of the profile's retry attempts, and the device's own automatic retries of the same stale payload spent more
 *   (fleetdm/fleet#46291, https://github.com/fleetdm/fleet/issues/46291; fixed in fleetdm/fleet#48105,
 *   https://github.com/fleetdm/fleet/pull/48105, so an expiry re-sends the profile with a fresh challenge without
 *   counting as a failed attempt). Here: the expiry requeues once and is never marked failed; the device retrying
 *   the stale URL is refused without a second requeue and nothing reaches the CA; the profile re-sent with a fresh
 *   challenge is forwarded.
 * - Custom-CA renewals failed for hosts offline longer than the one-time challenge's life: the proxy found no
 *   challenge ("challenge not found") and nothing brought the profile back (fleetdm/fleet#44111,
 *   https://github.com/fleetdm/fleet/issues/44111). Here: a one-time challenge past its TTL, or one the store never
 *   held (a flushed store), requeues the profile, and the re-rendered profile's new challenge is forwarded.
 */
import { MemoryChallengeStore } from "@scep/core";
import { manualClock, type ManualClock } from "@scep/core/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MemoryCaRegistry, MemoryProfileStore, buildIdentifier, createScepProxy, type ProfileKey, type ProxyEvent, type ProxyIdentifier, type ScepProxy } from "../src/index.js";
import { PKI_REPLY, startUpstream, type UpstreamServer } from "./support/upstream-server.js";

const MIN = 60_000;
const MSG = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x05]);

let up: UpstreamServer;
let clock: ManualClock;
let profiles: MemoryProfileStore;
let challenges: MemoryChallengeStore;
let events: ProxyEvent[];
let proxy: ScepProxy;

beforeAll(async () => {
  up = await startUpstream();
});
afterAll(async () => {
  await up.close();
});
beforeEach(() => {
  up.seen.length = 0;
  clock = manualClock(new Date("2026-06-01T08:00:00Z"));
  profiles = new MemoryProfileStore({ now: clock.now });
  challenges = new MemoryChallengeStore({ now: clock.now });
  events = [];
  proxy = createScepProxy({
    profiles,
    challenges,
    cas: new MemoryCaRegistry([
      { name: "ndes", type: "ndes", url: up.url },
      { name: "corp", type: "custom", url: up.url },
    ]),
    now: clock.now,
    onEvent: (e) => events.push(e),
  });
});

async function post(id: ProxyIdentifier): Promise<string> {
  const res = await proxy.fetch(new Request(`http://proxy.test/scep/${buildIdentifier(id)}?operation=PKIOperation`, { method: "POST", body: MSG }));
  const body = Buffer.from(await res.arrayBuffer());
  return `${res.status} ${res.status === 200 ? body.toString("hex") : body.toString("utf8")}`;
}

const forwarded = (): number => up.seen.filter((r) => r.operation === "PKIOperation").length;
const OK = `200 ${PKI_REPLY.toString("hex")}`;

describe("PROXY.md check 5: an expired NDES challenge recovers by requeue (fleet#46291, fleet#48105)", () => {
  const key: ProfileKey = { hostId: "mac-17", profileId: "okta-device", caName: "ndes" };

  it("expired → one requeue; three automatic retries of the stale payload → refused, no further requeue, nothing forwarded; re-sent with a fresh challenge → forwarded", async () => {
    await profiles.put({ ...key, status: "pending", challengeRetrievedAt: clock.now().getTime(), updatedAt: clock.now().getTime() });
    clock.advance(75 * MIN);
    expect(await post(key)).toBe("400 challenge password has expired");
    expect(await profiles.get(key)).toMatchObject({ status: "none", requeueCount: 1 });

    // The device retries the payload it already has (Apple retries a profile up to three times).
    for (let i = 0; i < 3; i++) {
      clock.advance(1 * MIN);
      expect(await post(key)).toBe("400 profile status is not pending: none");
    }
    expect(await profiles.get(key)).toMatchObject({ status: "none", requeueCount: 1 });
    expect(forwarded()).toBe(0);

    // The MDM re-sends the profile with a challenge fetched now; the device enrolls.
    await profiles.put({ ...key, status: "pending", challengeRetrievedAt: clock.now().getTime(), requeueCount: 1, updatedAt: clock.now().getTime() });
    clock.advance(2 * MIN);
    expect(await post(key)).toBe(OK);
    expect(forwarded()).toBe(1);
    expect(events.map((e) => e.reason)).toEqual(["challenge_expired", "not_pending", "not_pending", "not_pending", "forwarded"]);
    expect(events.filter((e) => e.requeued)).toHaveLength(1);
  });
});

describe("PROXY.md check 5: a one-time challenge that is gone recovers by requeue (fleet#44111)", () => {
  const key: ProfileKey = { hostId: "mac-44", profileId: "wifi", caName: "corp" };

  it("a challenge past its TTL (the host was offline) → challenge failed and requeued; the re-rendered profile's challenge → forwarded", async () => {
    const stale = await challenges.issue({ profile: "corp", ttlMs: 60 * MIN });
    await profiles.put({ ...key, status: "pending", updatedAt: clock.now().getTime() });
    clock.advance(3 * 24 * 60 * MIN);
    expect(await post({ ...key, challenge: stale })).toBe("400 challenge failed");
    expect(await profiles.get(key)).toMatchObject({ status: "none", requeueCount: 1 });

    const fresh = await challenges.issue({ profile: "corp", ttlMs: 60 * MIN });
    await profiles.put({ ...key, status: "pending", requeueCount: 1, updatedAt: clock.now().getTime() });
    expect(await post({ ...key, challenge: fresh })).toBe(OK);
    expect(forwarded()).toBe(1);
  });

  it("a challenge the store never held (a flushed store) → challenge failed and requeued, nothing forwarded", async () => {
    await profiles.put({ ...key, status: "pending", updatedAt: clock.now().getTime() });
    expect(await post({ ...key, challenge: "bm90LWlzc3VlZC1ieS10aGlzLXN0b3JlLTAwMDA" })).toBe("400 challenge failed");
    expect(await profiles.get(key)).toMatchObject({ status: "none", requeueCount: 1 });
    expect(forwarded()).toBe(0);
  });
});
