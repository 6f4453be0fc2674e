import express from "express";
import { MemoryChallengeStore } from "@scep/core";
import { scepMiddleware } from "@scep/express";
import { MemoryCaRegistry, MemoryProfileStore, buildProxyUrl, challengeHash, createScepProxy } from "@scep/proxy";

const profiles = new MemoryProfileStore(); // RedisProfileStore (@scep/redis) for several replicas
const challenges = new MemoryChallengeStore(); // RedisChallengeStore likewise
const proxy = createScepProxy({
  basePath: "/scep",
  profiles,
  challenges,
  cas: new MemoryCaRegistry([
    { name: "corp", type: "custom", url: "https://ca.corp.example/scep" },
    { name: "ndes", type: "ndes", url: "https://ndes.corp.example/certsrv/mscep/mscep.dll", exemptPlatforms: ["windows"] },
  ]),
  // e.record: the record the proxy read, so markFailed leaves a re-registration made meanwhile alone. The promise is
  // returned: a store failure is logged by the proxy, never an unhandled rejection.
  onEvent: (e) =>
    e.outcome === "upstream_error" && e.hostId && e.profileId && e.caName && e.record
      ? profiles.markFailed({ hostId: e.hostId, profileId: e.profileId, caName: e.caName }, `upstream ${e.upstream?.reason}`, e.record)
      : undefined,
});
// Before any body parser (express.urlencoded(), express.json()…): a PKIOperation body one of them read first is
// answered 400 body_already_read.
express().use(scepMiddleware(proxy, { maxBodyBytes: 2 * 1024 * 1024 })).listen(8080);

// When the MDM renders a profile for a device. The holder makes this challenge supersede the one of an earlier
// rendering of the same profile, and the record keeps its hash: only the latest URL enrolls.
const key = { hostId: "host-42", profileId: "wifi", caName: "corp" };
const challenge = await challenges.issue({ profile: "corp", ttlMs: 3_600_000, holder: JSON.stringify([key.hostId, key.profileId]) });
await profiles.put({ ...key, status: "pending", updatedAt: Date.now(), challengeHash: await challengeHash(challenge) });
const url = buildProxyUrl("https://mdm.example.com/scep", { ...key, challenge });
// → https://mdm.example.com/scep/host-42,wifi,corp,<32 base64url characters>
