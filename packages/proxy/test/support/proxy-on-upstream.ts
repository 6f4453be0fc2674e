/**
 * The per-test setup of the tests that drive the proxy against one CA on the scriptable loopback upstream
 * (field.upstream-html-caps, proxy.upstream-unusable-answer, proxy.getcacert-identifier): the upstream back to
 * well-behaved with nothing seen, fresh memory profile and challenge stores, no events, the device's profile
 * (h1, p1, the CA's name) PENDING, and createScepProxy (base path `/scep`) with that one CA at the upstream's URL,
 * collecting its events. Call it in `beforeEach`.
 */
import { MemoryChallengeStore } from "@scep/core";
import { MemoryCaRegistry, MemoryProfileStore, createScepProxy, type CaType, type ProfileRecord, type ProxyEvent, type ScepProxy, type ScepProxyOptions } from "../../src/index.js";
import { wellBehaved, type UpstreamServer } from "./upstream-server.js";

export interface ProxyOnUpstream {
  profiles: MemoryProfileStore;
  challenges: MemoryChallengeStore;
  /** Every event the proxy emitted, in order (empty). */
  events: ProxyEvent[];
  proxy: ScepProxy;
}

export interface ProxyOnUpstreamSetup {
  /** The one CA, at the upstream's URL. */
  ca: { name: string; type: CaType };
  /** More fields of the device's PENDING record (h1, p1, the CA's name, `updatedAt: 0`), e.g. `challengeRetrievedAt`. */
  record?: Partial<Omit<ProfileRecord, "hostId" | "profileId" | "caName" | "status">>;
  /** More options of the proxy (`upstreamTimeoutMs`…). */
  options?: Partial<Omit<ScepProxyOptions, "profiles" | "challenges" | "cas" | "onEvent">>;
}

/** Resets `up` and returns fresh stores, the record PENDING, and a proxy in front of `up` with `setup.ca`. */
export async function proxyOnUpstream(up: UpstreamServer, setup: ProxyOnUpstreamSetup): Promise<ProxyOnUpstream> {
  up.script(wellBehaved());
  up.seen.length = 0;
  const events: ProxyEvent[] = [];
  const profiles = new MemoryProfileStore();
  const challenges = new MemoryChallengeStore();
  await profiles.put({ hostId: "h1", profileId: "p1", caName: setup.ca.name, status: "pending", updatedAt: 0, ...setup.record });
  const proxy = createScepProxy({ ...setup.options, profiles, challenges, cas: new MemoryCaRegistry([{ ...setup.ca, url: up.url }]), onEvent: (e) => events.push(e) });
  return { profiles, challenges, events, proxy };
}
