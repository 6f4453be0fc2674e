/**
 * Mode B's replay cache and rate limiter shared by two separate example
 * server processes (replicas A and B: one configuration file, one CA
 * directory, one real redis-server as SCEP_REDIS_URL): the same token
 * (nonce) raced through both is accepted once and `replay` on the other; a
 * device's limit (3 per 24 h) holds across both, one after the other and
 * when six enrollments race through both.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Certificate, buildPkcsReq, createSelfSignedSigner, generateCsr, generateRsaKeyPair, readCertRep, type CertRep } from "@scep/core";
import { startRedisServer, type RedisServer } from "../../../test-support/peers";
import { anchor, mint, type Anchor } from "../../../packages/intune/test/support/tokens.js";
import { startWithConfig, type RunningExample } from "./support/intune-example.js";

const AUDIENCE = "https://scep.example.test/mdm";

let redis: RedisServer;
let dir: string;
let signer: Anchor;
let a: RunningExample;
let b: RunningExample;
let ca: Certificate;
let keys: CryptoKeyPair;
let nonces = 0;

beforeAll(async () => {
  redis = await startRedisServer();
  dir = mkdtempSync(join(tmpdir(), "scep-intune-replicas-"));
  signer = await anchor("p256", "CN=MDM challenge signer", new Date(), 30);
  keys = await generateRsaKeyPair(2048);
  const config = { profiles: [{ path: "/mdm", intune: { mode: "signed-token", trustAnchors: "anchors.pem", audience: AUDIENCE, rateLimit: { max: 3, windowSeconds: 86_400 } } }] };
  const env = { SCEP_REDIS_URL: redis.url };
  const prepare = (d: string): void => writeFileSync(join(d, "anchors.pem"), signer.pem);
  a = await startWithConfig(config, env, { dir, prepare });
  b = await startWithConfig(config, env, { dir, prepare });
  ca = Certificate.from(a.caPem);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A token for device `n` (CN and sub derived from it), valid now, with a fresh nonce. */
function token(n: number): string {
  const now = Math.floor(Date.now() / 1000);
  return mint(signer.privateKey, { iss: "mdm-connector-1", sub: `device-guid-${n}`, aud: AUDIENCE, iat: now - 30, exp: now + 600, nonce: `replica-nonce-${process.pid}-${++nonces}`, device_name: `replica-device-${n}` });
}

/** A PKCSReq of device `n` with `challenge`, sent to `r`; the CertRep. */
async function enroll(r: RunningExample, n: number, challenge: string): Promise<CertRep & { tid: string }> {
  const subject = `CN=replica-device-${n}`;
  const csr = await generateCsr({ keys, subject, challengePassword: challenge });
  const deviceSigner = await createSelfSignedSigner({ keys, subject });
  // Its own transactionID (the default, a hash of the public key, would be the same for every request of this key).
  const req = await buildPkcsReq({ csr, signer: deviceSigner, recipient: ca, transactionId: randomUUID() });
  const res = await fetch(`${r.base}/mdm?operation=PKIOperation`, { method: "POST", body: req.der as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/x-pki-message" }, signal: AbortSignal.timeout(30_000) });
  expect(res.status).toBe(200);
  const rep = await readCertRep(new Uint8Array(await res.arrayBuffer()), { decrypter: deviceSigner, caCertificates: [ca], request: req });
  return Object.assign(rep, { tid: req.transactionId });
}

/** The reason label of the `scep` event of transaction `tid` on either replica. */
async function reason(tid: string): Promise<string> {
  const e = await Promise.race([a.proc.waitForJson("scep", (x) => x.transactionId === tid), b.proc.waitForJson("scep", (x) => x.transactionId === tid)]);
  return String(e.reason);
}

describe("two example servers on one Redis share the signed-token replay cache and rate limiter", () => {
  it("both replicas serve the profile with the Intune stores in Redis", () => {
    for (const r of [a, b]) expect(r.proc.banner("shared state")).toBe(`Redis ${redis.url}, keys scep:* (PENDING transactions, one-time challenges, counters, revocations, Intune replay caches and rate limits)`);
  });

  it("the same token raced through A and B at once is accepted once; the other gets FAILURE badMessageCheck (replay)", async () => {
    const t = token(1);
    const reps = await Promise.all([enroll(a, 1, t), enroll(b, 1, t)]);
    expect(reps.map((r) => r.status).sort()).toEqual(["FAILURE", "SUCCESS"]);
    const failed = reps.find((r) => r.status === "FAILURE")!;
    expect(failed.failInfo).toBe("badMessageCheck");
    expect(await reason(failed.tid)).toBe("replay");
    // And later, through either, still a replay.
    const again = await enroll(a, 1, t);
    expect([again.status, await reason(again.tid)]).toEqual(["FAILURE", "replay"]);
  });

  it("a device's limit holds across both: accepted through A, B, A; the fourth, through B, is rate_limited", async () => {
    const statuses: string[] = [];
    for (const r of [a, b, a]) statuses.push((await enroll(r, 2, token(2))).status);
    expect(statuses).toEqual(["SUCCESS", "SUCCESS", "SUCCESS"]);
    const fourth = await enroll(b, 2, token(2));
    expect([fourth.status, fourth.failInfo, await reason(fourth.tid)]).toEqual(["FAILURE", "badRequest", "rate_limited"]);
  });

  it("six enrollments of one device racing through both replicas: exactly three are issued, three rate_limited", async () => {
    const reps = await Promise.all([a, b, a, b, a, b].map((r) => enroll(r, 3, token(3))));
    expect(reps.filter((r) => r.status === "SUCCESS")).toHaveLength(3);
    const refused = reps.filter((r) => r.status === "FAILURE");
    expect(await Promise.all(refused.map((r) => reason(r.tid)))).toEqual(["rate_limited", "rate_limited", "rate_limited"]);
  });
});
