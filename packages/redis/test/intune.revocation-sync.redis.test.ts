/**
 * @scep/intune's revocation sync (INTUNE.md "revocation sync";
 * Microsoft's IntuneRevocationClient / CARequestErrorCode) acting on a
 * RedisRevocationStore on a real redis-server, with the fake Intune of
 * packages/intune/test/support on loopback: the certificate Intune names ends
 * up revoked for every replica, and a Redis that stops answering is reported
 * 4101 (Intune sends the request again) without ending the round.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSelfSignedSigner, generateRsaKeyPair, type Certificate } from "@scep/core";
import { IntuneRevocationClient, revocationStoreRevoker, syncIntuneRevocations } from "@scep/intune";
import { CLIENT_ID, CLIENT_SECRET, TENANT, startFakeIntune, type FakeIntune } from "../../intune/test/support/fake-intune.js";
import { usePrivateRedis } from "./support/private-redis.js";
import { calls, pause, until } from "./support/redis-probes.js";
import { RedisRevocationStore } from "../src/index.js";

const redis = usePrivateRedis();
const NOW = new Date("2026-03-02T08:00:00Z");
let fake: FakeIntune;
let issued: Certificate;

beforeAll(async () => {
  fake = await startFakeIntune();
  const keys = await generateRsaKeyPair(2048);
  issued = (await createSelfSignedSigner({ keys, subject: "CN=Contoso Issuing CA, O=Contoso", now: NOW })).certificate;
}, 60_000);
afterAll(() => fake?.close());

const client = (): IntuneRevocationClient =>
  new IntuneRevocationClient({ tenant: TENANT, clientId: CLIENT_ID, credential: { clientSecret: CLIENT_SECRET }, loginBaseUrl: fake.base, graphBaseUrl: fake.base, timeoutMs: 30_000, sleep: async () => {} });
const uploaded = (): unknown => JSON.parse(fake.of("uploadRevocationResults").at(-1)!.body);

describe("syncIntuneRevocations on RedisRevocationStore", () => {
  it("the certificate Intune names is revoked for every replica; an unknown serial is 4004", async () => {
    const store = new RedisRevocationStore(redis.client, { keyPrefix: "sync-a:", ca: "contoso", now: () => NOW });
    const otherReplica = new RedisRevocationStore(redis.client, { keyPrefix: "sync-a:", ca: "contoso" });
    fake.pendingRevocations = [
      { requestContext: "ctx-issued", serialNumber: issued.serialNumberHex.toUpperCase(), issuerName: issued.issuer, caConfiguration: null },
      { requestContext: "ctx-unknown", serialNumber: "ABCD", issuerName: issued.issuer, caConfiguration: null },
    ];
    const summary = await syncIntuneRevocations({ client: client(), issuerName: issued.issuer, revoke: revocationStoreRevoker(store, { isIssued: (s) => s === issued.serialNumberHex }) });
    expect(summary).toMatchObject({ downloaded: 2, succeeded: 1, failed: 1, retryable: 0, uploaded: true });
    expect(await otherReplica.get(issued.serialNumberHex)).toEqual({ serialNumber: issued.serialNumberHex, reason: "unspecified", revokedAt: NOW });
    expect(await otherReplica.list()).toHaveLength(1);
    expect(uploaded()).toEqual({
      results: [
        { requestContext: "ctx-issued", succeeded: true, errorCode: 0, errorMessage: null },
        { requestContext: "ctx-unknown", succeeded: false, errorCode: 4004, errorMessage: "this CA issued no certificate with this serial number" },
      ],
    });
  });

  it("Redis stops answering → 4101 and the round completes; once it is back the request Intune sends again is answered 0 (alreadyRevoked: 'succeeded', since the late write landed)", async () => {
    const paused = new RedisRevocationStore(redis.client, { keyPrefix: "sync-b:", commandTimeoutMs: 300, now: () => NOW });
    const store = new RedisRevocationStore(redis.client, { keyPrefix: "sync-b:", now: () => NOW });
    fake.pendingRevocations = [{ requestContext: "ctx-1", serialNumber: "0A1B", issuerName: null, caConfiguration: null }];
    const c = client();
    const before = await calls(redis.server, "hsetnx");
    await pause(redis.server);
    let first;
    try {
      first = await syncIntuneRevocations({ client: c, revoke: revocationStoreRevoker(paused) });
    } finally {
      redis.server.resume();
    }
    expect(first.items.map((i) => [i.outcome, i.result.errorCode])).toEqual([["store_unavailable", 4101]]);
    expect(first.uploaded).toBe(true);
    expect(fake.pendingRevocations.map((r) => r.requestContext)).toEqual(["ctx-1"]); // Intune keeps it
    expect(await until(async () => (await calls(redis.server, "hsetnx")) > before), "Redis ran the late HSETNX").toBe(true);

    const second = await syncIntuneRevocations({ client: c, revoke: revocationStoreRevoker(store), alreadyRevoked: "succeeded" });
    expect(second.items.map((i) => [i.outcome, i.result])).toEqual([["already_revoked", { requestContext: "ctx-1", succeeded: true, errorCode: 0 }]]);
    expect(await store.list()).toEqual([{ serialNumber: "0a1b", reason: "unspecified", revokedAt: NOW }]);
    expect(fake.pendingRevocations).toEqual([]);
  }, 90_000);
});
