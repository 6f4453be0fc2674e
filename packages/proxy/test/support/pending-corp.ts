/**
 * Per-test state of the tests that enroll one device through a `custom` CA named "corp" on a scriptable upstream
 * (proxy.challenge-release, rfc8894.proxy.resend-retry-after): the upstream back to well-behaved with nothing seen,
 * fresh memory stores, no events, and the device's profile (h1, p1, corp) PENDING so its one-time URL is live.
 */
import { MemoryChallengeStore } from "@scep/core";
import { MemoryProfileStore, type ProxyEvent } from "../../src/index.js";
import { wellBehaved, type UpstreamServer } from "./upstream-server.js";

/** The device's profile key. */
export const CORP_DEVICE = { hostId: "h1", profileId: "p1", caName: "corp" } as const;

export interface PendingCorp {
  challenges: MemoryChallengeStore;
  profiles: MemoryProfileStore;
  /** Where the test's proxy collects its events (empty). */
  events: ProxyEvent[];
}

/** Resets `up` and returns fresh stores with {@link CORP_DEVICE} PENDING. Call it in `beforeEach`. */
export async function pendingCorp(up: UpstreamServer): Promise<PendingCorp> {
  up.script(wellBehaved());
  up.seen.length = 0;
  const profiles = new MemoryProfileStore();
  await profiles.put({ ...CORP_DEVICE, status: "pending", updatedAt: 0 });
  return { challenges: new MemoryChallengeStore(), profiles, events: [] };
}
