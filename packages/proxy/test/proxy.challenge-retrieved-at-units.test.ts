/**
 * PROXY.md "Challenge lifecycles by CA type": an NDES or Smallstep challenge is valid for its window (57 / 4 minutes)
 * after `challengeRetrievedAt`, milliseconds since 1970, measured with the injected clock; older → requeue + 400.
 *
 * An MDM that records the fetch time in the wrong unit gets a time far from the clock. Seconds land in 1970: expired
 * and requeued, as before. Microseconds (or milliseconds × 1000) land some 50 000 years ahead, and `now < retrievedAt
 * + ttl` held for all of them: the challenge never expired at the proxy and the profile was never requeued, while
 * NDES dropped the challenge after its own 60 minutes, so each device enrollment failed at the CA instead (the stuck
 * profiles of https://github.com/fleetdm/fleet/issues/46291, by another road). A fetch time more than 24 hours
 * (`MAX_CHALLENGE_RETRIEVED_AHEAD_MS`) ahead of the clock is now a wrong record: 400 `challenge failed`, requeued so
 * the MDM fetches a fresh challenge. The bound is not the challenge's window: an MDM whose clock runs 5 minutes ahead
 * (past Smallstep's 4-minute window) is clock skew, forwarded; failing it requeued the profile, and the fresh fetch,
 * stamped by the same clock, failed again, forever.
 */
import { manualClock } from "@scep/core/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MAX_CHALLENGE_RETRIEVED_AHEAD_MS, MemoryCaRegistry, MemoryProfileStore, createScepProxy, type ScepProxy } from "../src/index.js";
import { startUpstream, wellBehaved, type UpstreamServer } from "./support/upstream-server.js";

const MSG = Buffer.from("MIIB+/+/abcd", "base64");
const MIN = 60_000;

let up: UpstreamServer;
beforeAll(async () => {
  up = await startUpstream();
});
afterAll(async () => {
  await up.close();
});

let clock: ReturnType<typeof manualClock>;
let profiles: MemoryProfileStore;
let proxy: ScepProxy;

beforeEach(() => {
  up.script(wellBehaved());
  up.seen.length = 0;
  clock = manualClock();
  profiles = new MemoryProfileStore({ now: clock.now });
  proxy = createScepProxy({
    profiles,
    cas: new MemoryCaRegistry([{ name: "ndes", type: "ndes", url: up.url }, { name: "step", type: "smallstep", url: up.url }], { defaultName: "ndes" }),
    now: clock.now,
  });
});

async function enroll(caName: "ndes" | "step", challengeRetrievedAt: number): Promise<[number, string, string | undefined]> {
  const key = { hostId: "h1", profileId: "p1", caName };
  await profiles.put({ ...key, status: "pending", challengeRetrievedAt, updatedAt: 0 });
  const res = await proxy.fetch(new Request(`http://proxy.test/scep/h1,p1,${caName}?operation=PKIOperation`, { method: "POST", body: MSG }));
  return [res.status, await res.text(), (await profiles.get(key))?.status];
}

const forwarded = (): number => up.seen.filter((s) => s.operation === "PKIOperation").length;

describe("challengeRetrievedAt is milliseconds since 1970", () => {
  it("microseconds (NDES and Smallstep): 400 challenge failed, requeued, nothing forwarded", async () => {
    const micros = clock.now().getTime() * 1000;
    expect(await enroll("ndes", micros)).toEqual([400, "challenge failed", "none"]);
    expect(await enroll("step", micros)).toEqual([400, "challenge failed", "none"]);
    expect(forwarded()).toBe(0);
  });

  it("more than 24 hours ahead of the clock (25 h, and 24 h + 1 ms; NDES and Smallstep): challenge failed, requeued", async () => {
    const now = clock.now().getTime();
    expect(MAX_CHALLENGE_RETRIEVED_AHEAD_MS).toBe(24 * 60 * MIN);
    for (const ahead of [25 * 60 * MIN, MAX_CHALLENGE_RETRIEVED_AHEAD_MS + 1]) {
      expect(await enroll("ndes", now + ahead)).toEqual([400, "challenge failed", "none"]);
      expect(await enroll("step", now + ahead)).toEqual([400, "challenge failed", "none"]);
    }
    expect(forwarded()).toBe(0);
  });

  it("clock skew is forwarded: 30 s, a window, 5 minutes past Smallstep's 4-minute window, exactly 24 hours ahead", async () => {
    const now = clock.now().getTime();
    expect(await enroll("ndes", now + 30_000)).toEqual([200, expect.any(String), "pending"]);
    expect(await enroll("ndes", now + 57 * MIN)).toEqual([200, expect.any(String), "pending"]);
    expect(await enroll("step", now + 4 * MIN)).toEqual([200, expect.any(String), "pending"]);
    expect(await enroll("step", now + 5 * MIN)).toEqual([200, expect.any(String), "pending"]);
    expect(await enroll("step", now + MAX_CHALLENGE_RETRIEVED_AHEAD_MS)).toEqual([200, expect.any(String), "pending"]);
    expect(forwarded()).toBe(5);
  });

  it("seconds land in 1970: expired and requeued (as before)", async () => {
    expect(await enroll("ndes", Math.floor(clock.now().getTime() / 1000))).toEqual([400, "challenge password has expired", "none"]);
  });
});
