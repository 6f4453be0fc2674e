import { FetchHandlerUpstream, MemoryCaRegistry, MemoryChallengeSource, MemoryProfileStore } from "@scep/proxy";
import { caRegistryConformance, challengeSourceConformance, profileStoreConformance, upstreamConformance } from "@scep/proxy/testing";

upstreamConformance({
  name: "in process",
  create: (handler) => ({ upstream: new FetchHandlerUpstream(handler), ca: { name: "local", type: "custom", url: "http://in-process/scep" } }),
});
challengeSourceConformance({
  name: "fixed",
  create: ({ now }) => new MemoryChallengeSource({ now, challenge: "8CE317021F690069" }),
  ok: () => ({ ca: { name: "corp", type: "ndes", url: "https://ndes.corp.example/certsrv/mscep/mscep.dll" }, challenge: "8CE317021F690069" }),
  failures: [],
});
caRegistryConformance({ name: "memory", create: (cas, options) => new MemoryCaRegistry(cas, options) });
profileStoreConformance({ name: "memory", create: ({ now }) => new MemoryProfileStore({ now }) });
