/**
 * PROXY.md checks 3 and 5: a CA's `exemptPlatforms` lifts the delivery-status check only, never the challenge check.
 * Windows ACKs a SCEP profile before it enrolls, so Fleet exempts Windows from the `pending` rule; its proxy then let
 * Windows PKIOperations through a custom SCEP CA without using the one-time challenge at all (fleetdm/fleet#47300,
 * https://github.com/fleetdm/fleet/issues/47300), fixed by checking the challenge for Windows before forwarding and
 * refusing missing, wrong and expired ones (fleetdm/fleet#51014, https://github.com/fleetdm/fleet/pull/51014).
 *
 * Ours: a Windows record in any status reaches the challenge check of its CA; a missing, wrong, expired or spent
 * challenge is refused (400 `challenge failed`) and nothing reaches the upstream. Real upstream on loopback; clock
 * injected.
 */
import { MemoryChallengeStore } from "@scep/core";
import { manualClock, type ManualClock } from "@scep/core/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MemoryCaRegistry, MemoryProfileStore, buildIdentifier, createScepProxy, type ProfileKey, type ProxyIdentifier, type ScepProxy } from "../src/index.js";
import { startUpstream, type UpstreamServer } from "./support/upstream-server.js";

const MIN = 60_000;
const MSG = Buffer.from("MIIB+/+/abcd", "base64");
const key: ProfileKey = { hostId: "win-7", profileId: "wifi", caName: "corp" };

let up: UpstreamServer;
let clock: ManualClock;
let profiles: MemoryProfileStore;
let challenges: MemoryChallengeStore;
let proxy: ScepProxy;

beforeAll(async () => {
  up = await startUpstream();
});
afterAll(() => up.close());

beforeEach(async () => {
  up.seen.length = 0;
  clock = manualClock(new Date("2026-08-11T09:00:00Z"));
  profiles = new MemoryProfileStore({ now: clock.now });
  challenges = new MemoryChallengeStore({ now: clock.now });
  proxy = createScepProxy({
    profiles,
    challenges,
    now: clock.now,
    cas: new MemoryCaRegistry([{ name: "corp", type: "custom", url: up.url, exemptPlatforms: ["windows"] }]),
    upstreamTimeoutMs: 5_000,
  });
  // Windows ACKed the profile: Fleet's record is past `pending` when the device enrolls.
  await profiles.put({ ...key, status: "verifying", platform: "windows", updatedAt: clock.now().getTime() });
});

/** A Windows PKIOperation: POST through the `/pkiclient.exe` suffix the CSP appends. */
async function post(id: ProxyIdentifier): Promise<{ status: number; text: string }> {
  const res = await proxy.fetch(new Request(`http://proxy.test/scep/${buildIdentifier(id)}/pkiclient.exe?operation=PKIOperation`, { method: "POST", body: MSG, headers: { "content-type": "application/x-pki-message" } }));
  return { status: res.status, text: await res.text() };
}
const forwarded = (): number => up.seen.filter((s) => s.operation === "PKIOperation").length;

describe("PROXY.md check 5 for an exempt platform: the one-time challenge is still required (fleet#47300, fleet#51014)", () => {
  it("no challenge, a wrong one, or one issued for another CA profile → 400 challenge failed, nothing forwarded", async () => {
    const foreign = await challenges.issue({ profile: "other-ca", ttlMs: 60 * MIN });
    for (const challenge of [undefined, "not-a-challenge-we-issued", foreign]) {
      expect(await post({ ...key, ...(challenge === undefined ? {} : { challenge }) })).toEqual({ status: 400, text: "challenge failed" });
    }
    expect(forwarded()).toBe(0);
  });

  it("an expired challenge (past the 1 h TTL) → 400 challenge failed, nothing forwarded", async () => {
    const challenge = await challenges.issue({ profile: "corp", ttlMs: 60 * MIN });
    clock.advance(60 * MIN + 1);
    expect(await post({ ...key, challenge })).toEqual({ status: 400, text: "challenge failed" });
    expect(forwarded()).toBe(0);
  });

  it("a valid challenge is forwarded once; the same URL again → 400 challenge failed (one-shot, status exemption or not)", async () => {
    const challenge = await challenges.issue({ profile: "corp", ttlMs: 60 * MIN });
    expect((await post({ ...key, challenge })).status).toBe(200);
    expect(await post({ ...key, challenge })).toEqual({ status: 400, text: "challenge failed" });
    expect(forwarded()).toBe(1);
  });
});
