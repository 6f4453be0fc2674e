/**
 * Two example proxy processes on one real redis-server (SCEP_REDIS_URL), in
 * front of one upstream (our Express example server): they share profile
 * records and one-time challenges, so a device URL registered through one
 * works through the other, and one challenge raced through both is accepted
 * exactly once (16 PKCSReqs of 16 keys): one PKIOperation reaches the upstream, every other copy gets
 * 400, and the profile ends requeued. While redis-server hangs, devices and
 * the admin API get 503 with Retry-After (never a 500 or a hang), and both
 * proxies serve again once it is back.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseIdentifier } from "@scep/proxy";
import { Certificate, buildPkcsReq, createSelfSignedSigner, generateCsr, generateRsaKeyPair, readCertRep } from "@scep/core";
import { opensslVerifyChain, runScepclient, startRecordingProxy, startRedisServer, type RecordingProxy, type RedisServer } from "../../../test-support/peers";
import { startExampleUpstream, startProxy, type RunningProxy, type Upstream } from "./support/harness.js";

let redis: RedisServer;
let upstream: Upstream;
let back: RecordingProxy;
let a: RunningProxy;
let b: RunningProxy;

beforeAll(async () => {
  redis = await startRedisServer();
  upstream = await startExampleUpstream();
  back = await startRecordingProxy(upstream.url);
  const cas = [{ name: "corp", type: "custom" as const, url: back.url, challenge: upstream.challenge }];
  const env = { SCEP_REDIS_URL: redis.url, SCEP_PROXY_KEY_PREFIX: "e2e:" };
  [a, b] = await Promise.all([startProxy(cas, env), startProxy(cas, env)]);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await back?.stop();
  await upstream?.stop();
  await redis?.stop();
});

const pkiOps = (): number => back.exchanges.filter((e) => e.path.includes("operation=PKIOperation")).length;

describe("two proxy processes, one redis-server", () => {
  it("a URL registered through A enrolls through B (micromdm scepclient), and the profile record is the same on both", async () => {
    const reg = await a.register({ hostId: "replica-host-1", profileId: "wifi", caName: "corp" });
    const onB = `${b.base}${new URL(reg.url).pathname}`;
    const r = await runScepclient({ url: onB, challenge: reg.challengePassword, cn: "replica-host-1" });
    expect(r.ok, r.stdout + r.stderr).toBe(true);
    expect(await opensslVerifyChain(r.certPem!, upstream.caPem)).toMatch(/: OK\s*$/);
    // A second use through A: the challenge B consumed is gone for A too.
    const again = await runScepclient({ url: reg.url, challenge: reg.challengePassword, cn: "replica-host-1b" });
    expect(again.ok).toBe(false);
    expect(await b.profile("replica-host-1", "wifi", "corp")).toMatchObject({ status: "none", requeueCount: 1 });
    expect(await a.profile("replica-host-1", "wifi", "corp")).toMatchObject({ status: "none", requeueCount: 1 });
  });

  it("a re-registration through B supersedes the URL A handed out: the earlier URL gets 400 challenge superseded through either proxy (its challenge is gone from Redis, the profile stays pending), the current URL enrolls (micromdm scepclient)", async () => {
    const first = await a.register({ hostId: "rereg-host", profileId: "wifi", caName: "corp" });
    const second = await b.register({ hostId: "rereg-host", profileId: "wifi", caName: "corp" });
    expect(second.url).not.toBe(first.url);
    const challengeKey = (url: string): string => `e2e:challenge:${createHash("sha256").update(parseIdentifier(new URL(url).pathname.split("/").at(-1)!).challenge!, "utf8").digest("hex")}`;
    expect(await redis.command(`EXISTS ${challengeKey(first.url)}`)).toMatch(/^:0/);
    expect(await redis.command(`EXISTS ${challengeKey(second.url)}`)).toMatch(/^:1/);
    const before = pkiOps();
    for (const proxy of [a, b]) {
      const old = await runScepclient({ url: `${proxy.base}${new URL(first.url).pathname}`, challenge: first.challengePassword, cn: "rereg-host" });
      expect(old.ok).toBe(false);
    }
    expect(pkiOps() - before).toBe(0);
    expect(a.events().filter((e) => e.reason === "challenge_superseded").length + b.events().filter((e) => e.reason === "challenge_superseded").length).toBe(2);
    expect(await a.profile("rereg-host", "wifi", "corp")).toMatchObject({ status: "pending" });
    const r = await runScepclient({ url: `${a.base}${new URL(second.url).pathname}`, challenge: second.challengePassword, cn: "rereg-host" });
    expect(r.ok, r.stdout + r.stderr).toBe(true);
  });

  it("one challenge raced through both (16 PKCSReqs of 16 keys, alternating A and B) is accepted exactly once", async () => {
    // Distinct keys, so no copy is the re-send of another (the same PKCSReq again is forwarded: rfc8894.proxy.pkcsreq-resend).
    const reg = await a.register({ hostId: "race-host", profileId: "wifi", caName: "corp" });
    const path = new URL(reg.url).pathname;
    const ca = Certificate.from(upstream.caPem);
    const senders = await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        const keys = await generateRsaKeyPair(2048);
        const subject = `CN=race-host-${i}`;
        const csr = await generateCsr({ keys, subject, challengePassword: reg.challengePassword! });
        const signer = await createSelfSignedSigner({ keys, subject });
        return { signer, req: await buildPkcsReq({ csr, signer, recipient: ca }) };
      }),
    );
    const before = pkiOps();
    const responses = await Promise.all(
      senders.map(({ req }, i) =>
        fetch(`${(i % 2 ? a : b).base}${path}?operation=PKIOperation`, {
          method: "POST",
          body: req.der as Uint8Array<ArrayBuffer>,
          headers: { "content-type": "application/x-pki-message" },
          signal: AbortSignal.timeout(60_000),
        }).then(async (res) => ({ status: res.status, body: new Uint8Array(await res.arrayBuffer()), ...senders[i]! })),
      ),
    );
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([200, ...Array<number>(15).fill(400)]);
    expect(pkiOps() - before).toBe(1);
    const winner = responses.find((r) => r.status === 200)!;
    const rep = await readCertRep(winner.body, { decrypter: winner.signer, caCertificates: [ca], request: winner.req });
    expect(rep.status).toBe("SUCCESS");
    // A copy that found the challenge gone answered "challenge failed" and asked for a requeue of the record it had
    // read; the first such requeue applied, the others found the record changed (ProfileStore.requeue with
    // `expected`) and left it. A copy that read the record after that requeue found it not pending.
    const reasons = responses.filter((r) => r.status === 400).map((r) => Buffer.from(r.body).toString("utf8"));
    const failed = reasons.filter((t) => t === "challenge failed").length;
    expect(reasons.filter((t) => t !== "challenge failed")).toEqual(Array<string>(15 - failed).fill("profile status is not pending: none"));
    expect(failed).toBeGreaterThanOrEqual(1);
    expect(await b.profile("race-host", "wifi", "corp")).toMatchObject({ status: "none", requeueCount: 1 });
  });

  it("redis-server hung (SIGSTOP): a device's request and a registration get 503 + Retry-After from either proxy, /readyz says redis down (/healthz stays 200); after SIGCONT they work", async () => {
    const reg = await a.register({ hostId: "outage-host", profileId: "wifi", caName: "corp" });
    const path = new URL(reg.url).pathname;
    const readyz = async (p: RunningProxy): Promise<[number, unknown]> => {
      const r = await fetch(`${p.base}/readyz`, { signal: AbortSignal.timeout(10_000) });
      return [r.status, await r.json()];
    };
    /** /readyz of `p` once it answers `status` (the background PING runs every 2 s and times out after 2 s). */
    const readyzOnce = async (p: RunningProxy, status: number): Promise<[number, unknown]> => {
      let last = await readyz(p);
      for (let i = 0; i < 100 && last[0] !== status; i++) {
        await new Promise((done) => setTimeout(done, 100));
        last = await readyz(p);
      }
      return last;
    };
    expect(await readyz(a)).toEqual([200, { status: "ready", checks: { redis: "ok" } }]);
    await redis.pause();
    try {
      expect(await readyzOnce(b, 503)).toEqual([503, { status: "not ready", checks: { redis: "down" } }]);
      // The hang is logged as readiness sees it (the socket stays open: no connection error), on either proxy.
      for (const p of [a, b]) expect(await p.proc.waitForJson("redis-down")).toMatchObject({ type: "redis-down", reason: "no answer to PING within 2000 ms" });
      expect((await fetch(`${b.base}/healthz`)).status).toBe(200);
      const device = await fetch(`${b.base}${path}?operation=GetCACaps`, { signal: AbortSignal.timeout(30_000) });
      expect(device.status).toBe(503);
      expect(device.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(await device.text()).toBe("service unavailable");
      const admin = await a.admin("POST", "/admin/profiles", { hostId: "outage-host-2", profileId: "wifi" });
      expect(admin.status).toBe(503);
      expect(admin.headers.get("retry-after")).toBe("30");
    } finally {
      redis.resume();
    }
    expect(await readyzOnce(b, 200)).toEqual([200, { status: "ready", checks: { redis: "ok" } }]);
    for (const p of [a, b]) {
      await p.proc.waitForJson("redis-up");
      expect(p.proc.lines.filter((l) => l.includes('"type":"redis-down"'))).toHaveLength(1);
    }
    const caps = await fetch(`${b.base}${path}?operation=GetCACaps`, { signal: AbortSignal.timeout(30_000) });
    expect(caps.status).toBe(200);
    expect(await a.profile("outage-host", "wifi", "corp")).toMatchObject({ status: "pending" });
  });
});
