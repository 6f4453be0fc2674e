/**
 * The proxy as the tests that enroll through it set it up (PROXY.md): createScepProxy at /mdm/scep with one custom CA
 * named "core", memory profile and challenge stores, and its events collected; `oneTimeUrl` gives a device profile a
 * one-time URL as an MDM would (the profile PENDING, a challenge issued for an hour).
 */
import { MemoryChallengeStore } from "@scep/core";
import { MemoryCaRegistry, MemoryProfileStore, buildProxyUrl, createScepProxy, type ProxyEvent, type ScepProxy, type Upstream } from "../../src/index.js";

export interface CustomCaProxy {
  proxy: ScepProxy;
  profiles: MemoryProfileStore;
  challenges: MemoryChallengeStore;
  /** Every event the proxy emitted, in order. */
  events: ProxyEvent[];
  /** Marks the profile `hostId`/`profileId` of CA "core" PENDING and returns its one-time URL under `base`. */
  oneTimeUrl(base: string, device: { hostId: string; profileId: string }): Promise<string>;
}

/**
 * @param ca - the CA's URL, and the upstream to reach it by (default: the proxy's HttpUpstream).
 */
export function customCaProxy(ca: { url: string; upstream?: Upstream }): CustomCaProxy {
  const profiles = new MemoryProfileStore();
  const challenges = new MemoryChallengeStore();
  const events: ProxyEvent[] = [];
  const proxy = createScepProxy({
    basePath: "/mdm/scep",
    profiles,
    challenges,
    cas: new MemoryCaRegistry([{ name: "core", type: "custom", url: ca.url }]),
    ...(ca.upstream === undefined ? {} : { upstream: ca.upstream }),
    onEvent: (e) => events.push(e),
  });
  const oneTimeUrl = async (base: string, device: { hostId: string; profileId: string }): Promise<string> => {
    const key = { ...device, caName: "core" };
    await profiles.put({ ...key, status: "pending", updatedAt: Date.now() });
    return buildProxyUrl(base, { ...key, challenge: await challenges.issue({ profile: "core", ttlMs: 3_600_000 }) });
  };
  return { proxy, profiles, challenges, events, oneTimeUrl };
}
