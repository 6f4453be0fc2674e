/**
 * RFC 8894 §3.3.1 / §3.3.3 through two @scep/proxy replicas sharing RedisChallengeStore and RedisProfileStore on one
 * real redis-server (loopback, started here), in front of a real @scep/core server reached over loopback HTTP through
 * a gate this file controls, so the order is forced, not left to chance:
 *
 * 1. the device's PKCSReq reaches replica A, which consumes the one-time challenge (with its re-send binding) and
 *    forwards it; the gate holds it;
 * 2. the device's re-send of the same PKCSReq (its first answer is late) reaches replica B (or A again), matches the
 *    binding, is forwarded, and the CA issues;
 * 3. the gate answers A's held request 503 (busy) with Retry-After.
 *
 * A's release of the challenge must now be refused: the CA issued for the re-send, and a released challenge would let
 * the URL enroll once more (another key, another transaction: a second certificate from one one-time challenge).
 * A's answer is 502 with the upstream's Retry-After, since the device's re-send still passes (and does: the same
 * certificate).
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type Redis from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryTransactionStore, buildPkcsReq, createScepServer, generateCsr, readCertRep } from "@scep/core";
import { MemoryCaRegistry, buildProxyUrl, createScepProxy, type ProxyEvent } from "@scep/proxy";
import { createTestPki } from "../../core/test/support/pki.js";
import { usePrivateRedis } from "./support/private-redis.js";
import { RedisChallengeStore, RedisProfileStore } from "../src/index.js";
import { UNCONSUME } from "../src/lib/scripts.js";

const redis = usePrivateRedis({}, { second: true });
const CHALLENGE = "race-static";
const pki = await createTestPki();
let issued = 0;
let serial = 0xa000;
const core = createScepServer({
  profiles: [
    {
      name: "auto",
      path: "/auto",
      caCertificate: pki.ca.certificate,
      signer: pki.ca,
      challenge: { type: "static", password: CHALLENGE },
      transactions: new MemoryTransactionStore(),
      issue: async ({ csr }) => (issued++, { status: "SUCCESS", certificate: await pki.issue(csr.der, (serial++).toString(16)) }),
    },
  ],
});

/** The gate: the next PKIOperation it is told to hold waits for `answer`; everything else goes to the core server. */
let hold: { arrived: () => void; answer: Promise<{ status: number; headers: Record<string, string> }> } | undefined;
let gate: Server;
let gateUrl: string;

async function toCore(req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<void> {
  const request = new Request(`http://127.0.0.1${req.url ?? "/"}`, { method: req.method ?? "GET", ...(req.method === "POST" ? { body: new Uint8Array(body) } : {}) });
  const reply = await core.fetch(request);
  const headers: Record<string, string> = {};
  reply.headers.forEach((v, k) => (headers[k] = v));
  res.writeHead(reply.status, headers).end(Buffer.from(await reply.arrayBuffer()));
}

beforeAll(async () => {
  gate = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const held = new URL(req.url ?? "/", "http://x").searchParams.get("operation") === "PKIOperation" ? hold : undefined;
      if (held) {
        hold = undefined;
        held.arrived();
        void held.answer.then(({ status, headers }) => res.writeHead(status, { "content-type": "text/plain", ...headers }).end("busy"));
        return;
      }
      void toCore(req, body, res).catch(() => res.writeHead(500).end());
    });
  });
  await new Promise<void>((resolve) => gate.listen(0, "127.0.0.1", resolve));
  gateUrl = `http://127.0.0.1:${(gate.address() as AddressInfo).port}/auto`;
});
afterAll(async () => {
  gate.closeAllConnections();
  await new Promise((resolve) => gate.close(resolve));
});

function replica(client: Redis, prefix: string) {
  const events: ProxyEvent[] = [];
  const proxy = createScepProxy({
    profiles: new RedisProfileStore(client, { keyPrefix: prefix }),
    challenges: new RedisChallengeStore(client, { keyPrefix: prefix }),
    cas: new MemoryCaRegistry([{ name: "auto", type: "custom", url: gateUrl }]),
    onEvent: (e) => events.push(e),
    logger: { error: () => undefined },
  });
  return { proxy, events };
}

let devices = 0;

async function device(prefix: string) {
  const n = ++devices;
  const key = { hostId: `host-${n}`, profileId: "wifi", caName: "auto" };
  await new RedisProfileStore(redis.client, { keyPrefix: prefix }).put({ ...key, status: "pending", updatedAt: Date.now() });
  const challenge = await new RedisChallengeStore(redis.client, { keyPrefix: prefix }).issue({ profile: "auto", ttlMs: 3_600_000 });
  const url = buildProxyUrl("http://proxy.test/scep", { ...key, challenge });
  const pkcsReq = async (r: (typeof pki.requesters)["rsa"], label: string) => {
    const csr = await generateCsr({ keys: r.keys, subject: `CN=${label}-${n}, O=scep-sdk tests`, challengePassword: CHALLENGE, san: { dns: [`${label}-${n}.example.test`] } });
    return { der: (await buildPkcsReq({ csr, signer: r.signer, recipient: pki.ca.certificate })).der, r };
  };
  const send = async (p: ReturnType<typeof replica>, req: { der: Uint8Array; r: (typeof pki.requesters)["rsa"] }) => {
    const res = await p.proxy.fetch(new Request(`${url}?operation=PKIOperation`, { method: "POST", body: req.der as Uint8Array<ArrayBuffer> }));
    const body = new Uint8Array(await res.arrayBuffer());
    const rep = res.status === 200 ? await readCertRep(body, { decrypter: req.r.signer, caCertificates: [pki.ca.certificate] }) : undefined;
    return { status: res.status, retryAfter: res.headers.get("retry-after"), rep };
  };
  const redisKey = `${prefix}challenge:${createHash("sha256").update(challenge).digest("hex")}`;
  return { key, pkcsReq, send, redisKey };
}

describe("the first send's upstream answers 503 after its re-send was forwarded and issued", () => {
  it.each([
    ["on another replica", "other"],
    ["on the same replica", "same"],
  ] as const)("the re-send %s: the challenge stays spent (no release), A's 502 carries Retry-After, another request through the URL → 400, one certificate", async (_label, where) => {
    const prefix = `race-${where}:`;
    const a = replica(redis.client, prefix);
    const b = where === "other" ? replica(redis.second, prefix) : a;
    const d = await device(prefix);
    const mine = await d.pkcsReq(pki.requesters.rsa, "device");
    const before = issued;

    let arrived!: () => void;
    const atGate = new Promise<void>((resolve) => (arrived = resolve));
    let answer!: (a: { status: number; headers: Record<string, string> }) => void;
    hold = { arrived, answer: new Promise((resolve) => (answer = resolve)) };

    const first = d.send(a, mine);
    await atGate; // A consumed the challenge and its request waits at the gate
    const resent = await d.send(b, mine);
    expect(resent.rep?.status).toBe("SUCCESS");
    expect(b.events.at(-1)).toMatchObject({ reason: "forwarded", resend: true });
    expect(issued - before).toBe(1);

    answer({ status: 503, headers: { "retry-after": "7" } });
    const busy = await first;
    expect([busy.status, busy.retryAfter]).toEqual([502, "7"]);
    const firstEvent = a.events.find((e) => e.resend === undefined && e.operation === "PKIOperation");
    expect(firstEvent).toMatchObject({ reason: "upstream_failed", upstream: { reason: "http", status: 503 } });
    expect(firstEvent?.challengeReleased).toBeUndefined();
    expect(await redis.second.get(d.redisKey)).toMatch(/^R[0-9a-f]{64}s\d+:auto#[0-9a-f]{16}$/);

    // The device's own re-send after A's 502 still gets its certificate, the same one.
    const again = await d.send(a, mine);
    expect(again.rep?.status).toBe("SUCCESS");
    expect(Buffer.from(again.rep!.certificates[0]!.der)).toEqual(Buffer.from(resent.rep!.certificates[0]!.der));
    expect(a.events.at(-1)).toMatchObject({ reason: "forwarded", resend: true }); // matched, not a fresh consume
    expect(issued - before).toBe(1);

    // Someone else holding the URL (another key, another transaction): refused, no second certificate.
    const other = await d.pkcsReq(pki.requesters.p256, "other");
    expect((await d.send(a, other)).status).toBe(400);
    expect(a.events.at(-1)).toMatchObject({ reason: "challenge_failed", requeued: true });
    expect(issued - before).toBe(1);
  }, 60_000);
});

describe("RedisChallengeStore: the undo of a late consume (UNCONSUME) after a re-send matched", () => {
  it("leaves the challenge spent (R mark unchanged); before a match it puts it back", async () => {
    const store = new RedisChallengeStore(redis.client, { keyPrefix: "undo:" });
    const tagOf = (consumption: string) => createHash("sha256").update(consumption, "utf8").digest("hex").slice(0, 16);
    const keyOf = (c: string) => `undo:challenge:${createHash("sha256").update(c).digest("hex")}`;
    const undo = (c: string, consumption: string) => redis.client.eval(UNCONSUME.source, 1, keyOf(c), tagOf(consumption));

    const matched = await store.issue({ profile: "auto" });
    expect(await store.consume(matched, { profile: "auto", consumption: "late", binding: "b1" })).toBe(true);
    expect(await store.isSpentBy(matched, { profile: "auto", binding: "b1" })).toBe(true);
    const mark = await redis.client.get(keyOf(matched));
    expect(mark).toMatch(/^R/);
    expect(await undo(matched, "late")).toBe(0);
    expect(await redis.client.get(keyOf(matched))).toBe(mark);
    expect(await store.consume(matched, { profile: "auto" })).toBe(false);

    const unmatched = await store.issue({ profile: "auto" });
    expect(await store.consume(unmatched, { profile: "auto", consumption: "late", binding: "b1" })).toBe(true);
    expect(await undo(unmatched, "late")).toBe(1);
    expect(await store.consume(unmatched, { profile: "auto" })).toBe(true);
  });
});
