/**
 * RFC 8894 §3.3.1 / §3.3.3 through @scep/proxy replicas that share RedisChallengeStore (and RedisProfileStore) on one
 * real redis-server (loopback, started here): a PKCSReq re-sent after PENDING or a lost reply is forwarded by
 * whichever replica it reaches, because the consume wrote its binding (transactionID and signer key) with the spent
 * mark in the same script. The upstream is a real @scep/core server. Then Redis stopped (SIGSTOP) while a PKCSReq or
 * its re-send comes: 503 with Retry-After, no requeue, and nothing half-written (the late consume is undone, the first
 * send's spent mark and binding stay as they were).
 */
import { createHash } from "node:crypto";
import type Redis from "ioredis";
import { describe, expect, it } from "vitest";
import { buildPkcsReq, generateCsr, readCertRep } from "@scep/core";
import { FetchHandlerUpstream, MemoryCaRegistry, MemoryProfileStore, buildProxyUrl, createScepProxy, type ProfileStore, type ProxyEvent } from "@scep/proxy";
import { manualAndAutoCore } from "../../proxy/test/support/core-server-upstream.js";
import { usePrivateRedis } from "./support/private-redis.js";
import { pause, scriptRuns, until } from "./support/redis-probes.js";
import { RedisChallengeStore, RedisProfileStore } from "../src/index.js";

const redis = usePrivateRedis({}, { second: true });
const CHALLENGE = "resend-redis";
/** The upstream CA, in-process: "manual" answers PENDING until approved, "auto" issues at once. */
const core = await manualAndAutoCore({ challenge: CHALLENGE });
const { pki } = core;

let devices = 0;

/** A proxy replica on `client` (CA "manual" and "auto" both custom, upstream the core server in-process). */
function replica(client: Redis, prefix: string, options: { profiles?: ProfileStore; commandTimeoutMs?: number } = {}) {
  const events: ProxyEvent[] = [];
  const proxy = createScepProxy({
    profiles: options.profiles ?? new RedisProfileStore(client, { keyPrefix: prefix }),
    challenges: new RedisChallengeStore(client, { keyPrefix: prefix, ...(options.commandTimeoutMs ? { commandTimeoutMs: options.commandTimeoutMs } : {}) }),
    cas: new MemoryCaRegistry([
      { name: "manual", type: "custom", url: "http://core.test/manual" },
      { name: "auto", type: "custom", url: "http://core.test/auto" },
    ]),
    upstream: new FetchHandlerUpstream(core.server),
    onEvent: (e) => events.push(e),
    logger: { error: () => undefined },
  });
  return { proxy, events };
}

/** A device of CA `ca`: its profile PENDING and its one-time URL (challenge issued in Redis), its PKCSReq, a sender. */
async function device(ca: "manual" | "auto", prefix: string, profiles: ProfileStore = new RedisProfileStore(redis.client, { keyPrefix: prefix })) {
  const n = ++devices;
  const key = { hostId: `host-${n}`, profileId: "wifi", caName: ca };
  await profiles.put({ ...key, status: "pending", updatedAt: Date.now() });
  const challenge = await new RedisChallengeStore(redis.client, { keyPrefix: prefix }).issue({ profile: ca, ttlMs: 3_600_000 });
  const url = buildProxyUrl("http://proxy.test/scep", { ...key, challenge });
  const r = pki.requesters.rsa;
  const csr = await generateCsr({ keys: r.keys, subject: `CN=host-${n}, O=scep-sdk tests`, challengePassword: CHALLENGE, san: { dns: [`host-${n}.example.test`] } });
  const req = await buildPkcsReq({ csr, signer: r.signer, recipient: pki.ca.certificate });
  const send = async (p: { proxy: { fetch(r: Request): Promise<Response> } }, der: Uint8Array = req.der) => {
    const res = await p.proxy.fetch(new Request(`${url}?operation=PKIOperation`, { method: "POST", body: der as Uint8Array<ArrayBuffer> }));
    const body = new Uint8Array(await res.arrayBuffer());
    const rep = res.status === 200 ? await readCertRep(body, { decrypter: r.signer, caCertificates: [pki.ca.certificate] }) : undefined;
    return { status: res.status, retryAfter: res.headers.get("retry-after"), rep };
  };
  const redisKey = `${prefix}challenge:${createHash("sha256").update(challenge).digest("hex")}`;
  return { key, req, csr, send, profiles, redisKey };
}

describe("two proxy replicas on one Redis agree on a PKCSReq's re-send", () => {
  it("PENDING on A, the re-send on B → PENDING, approved, the re-send on A → SUCCESS; another transaction on B → 400 and requeue", async () => {
    const a = replica(redis.client, "rs1:");
    const b = replica(redis.second, "rs1:");
    const d = await device("manual", "rs1:");
    expect((await d.send(a)).rep?.status).toBe("PENDING");
    expect((await d.send(b)).rep?.status).toBe("PENDING");
    expect(b.events.at(-1)).toMatchObject({ reason: "forwarded", resend: true });
    await core.server.approve("manual", d.req.transactionId);
    const done = await d.send(a);
    expect(done.rep?.status).toBe("SUCCESS");
    expect(done.rep!.certificates[0]!.subject).toBe(`CN=${d.key.hostId}, O=scep-sdk tests`);
    expect(a.events.map((e) => e.resend ?? false)).toEqual([false, true]);
    expect(await d.profiles.get(d.key)).toMatchObject({ status: "pending" });

    const other = await buildPkcsReq({ csr: d.csr, signer: pki.requesters.rsa.signer, recipient: pki.ca.certificate, transactionId: "ANOTHER" });
    expect((await d.send(b, other.der)).status).toBe(400);
    expect(b.events.at(-1)).toMatchObject({ reason: "challenge_failed", requeued: true });
    expect(await d.profiles.get(d.key)).toMatchObject({ status: "none", requeueCount: 1 });
  });

  it("the same PKCSReq sent to both replicas at once (a client retrying before its first answer), 20 devices: every send forwarded, one consume each, one certificate each", async () => {
    const a = replica(redis.client, "rs2:");
    const b = replica(redis.second, "rs2:");
    for (let n = 0; n < 20; n++) {
      const d = await device("auto", "rs2:");
      const before = core.issued;
      const sinceA = a.events.length;
      const sinceB = b.events.length;
      const answers = await Promise.all([d.send(a), d.send(b), d.send(a), d.send(b)]);
      expect(answers.map((x) => x.status)).toEqual([200, 200, 200, 200]);
      expect(answers.map((x) => x.rep?.status)).toEqual(["SUCCESS", "SUCCESS", "SUCCESS", "SUCCESS"]);
      expect(new Set(answers.map((x) => Buffer.from(x.rep!.certificates[0]!.der).toString("hex"))).size).toBe(1);
      expect(core.issued - before).toBe(1);
      const proxied = [...a.events.slice(sinceA), ...b.events.slice(sinceB)];
      expect(proxied.filter((e) => !e.resend)).toHaveLength(1); // the one consume
      expect(proxied.some((e) => e.requeued)).toBe(false);
    }
  }, 60_000);
});

describe("Redis stopped while a PKCSReq or its re-send comes: 503, Retry-After, nothing half-written", () => {
  it("the re-send → 503 with Retry-After and no requeue; the first send's spent mark and binding unchanged; once Redis is back the re-send is forwarded", async () => {
    const profiles = new MemoryProfileStore();
    const p = replica(redis.client, "rs3:", { profiles, commandTimeoutMs: 300 });
    const d = await device("auto", "rs3:", profiles);
    const first = await d.send(p);
    expect(first.rep?.status).toBe("SUCCESS");
    const spent = await redis.second.get(d.redisKey);
    expect(spent).toMatch(/^r[0-9a-f]{64}s\d+:auto#[0-9a-f]{16}$/);

    const before = await scriptRuns(redis.server);
    await pause(redis.server);
    let down;
    try {
      down = await d.send(p);
    } finally {
      redis.server.resume();
    }
    expect([down.status, down.retryAfter]).toEqual([503, "30"]);
    expect(p.events.at(-1)).toMatchObject({ outcome: "unavailable", reason: "store_unavailable" });
    expect(p.events.at(-1)?.requeued).toBeUndefined();
    expect(await profiles.get(d.key)).toMatchObject({ status: "pending" });
    // The late consume ran when Redis resumed (refused: spent) and its undo too (nothing of its own to put back).
    expect(await until(async () => (await scriptRuns(redis.server)) >= before + 2)).toBe(true);
    expect(await redis.second.get(d.redisKey)).toBe(spent);

    const resent = await d.send(p);
    expect(resent.rep?.status).toBe("SUCCESS");
    expect(Buffer.from(resent.rep!.certificates[0]!.der)).toEqual(Buffer.from(first.rep!.certificates[0]!.der));
    expect(p.events.at(-1)).toMatchObject({ reason: "forwarded", resend: true });
  }, 90_000);

  it("the first send → 503; the late consume with its binding is undone (the challenge live again); the retry consumes it, its re-send matches", async () => {
    const profiles = new MemoryProfileStore();
    const p = replica(redis.client, "rs4:", { profiles, commandTimeoutMs: 300 });
    const d = await device("auto", "rs4:", profiles);
    const live = await redis.second.get(d.redisKey);
    expect(live).toMatch(/^\d+:auto$/);
    const before = core.issued;
    const runs = await scriptRuns(redis.server);

    await pause(redis.server);
    let down;
    try {
      down = await d.send(p);
    } finally {
      redis.server.resume();
    }
    expect(down.status).toBe(503);
    expect(core.issued).toBe(before); // nothing reached the CA
    // The late consume ran when Redis resumed (it spent the challenge and wrote its binding), then its undo.
    expect(await until(async () => (await scriptRuns(redis.server)) >= runs + 2)).toBe(true);
    expect(await redis.second.get(d.redisKey)).toBe(live);

    expect((await d.send(p)).rep?.status).toBe("SUCCESS");
    expect(p.events.at(-1)?.resend).toBeUndefined();
    expect((await d.send(p)).rep?.status).toBe("SUCCESS");
    expect(p.events.at(-1)).toMatchObject({ reason: "forwarded", resend: true });
    expect(core.issued - before).toBe(1);
    expect(await profiles.get(d.key)).toMatchObject({ status: "pending" });
  }, 90_000);
});
