/**
 * Intune challenge validation benchmark (issue 9).
 *
 * Mode B (signed tokens, in this process): validations per second of
 * `SignedTokenValidator` with the memory replay cache and rate limiter, and
 * with `RedisReplayCache` / `RedisRateLimiter` on a private redis-server
 * (loopback, no persistence, started for the run; validations in flight:
 * `BENCH_REDIS_INFLIGHT`), for ES256 and RS256 tokens, next to the raw
 * node:crypto verify rates of the same tokens measured in the same run.
 * Every token has its own nonce and `sub`, so each validation passes every
 * gate (signature, time, audience, CSR binding, replay insert, rate-limit
 * hit); tokens are minted before the clock starts, and 300 untimed validations
 * warm the code path first. Each line is followed by this process's CPU time
 * per operation, a steadier ratio than wall rates on a shared machine.
 *
 * Mode A (Intune validation API, through the Express example server in a
 * child process): the server runs a configuration file with two profiles,
 * `/scep` (static challenge, no Intune) and `/intune` (Mode A against the
 * loopback Entra ID / Graph / Intune fake of @scep/intune's tests, each
 * ScepActions call answered after `BENCH_INTUNE_DELAY_MS`, so an enrollment
 * waits for validateRequest and successNotification). The same pre-built
 * PKCSReqs (distinct transactionIDs and subjects) are sent to each profile at
 * `BENCH_CONCURRENCY` over keep-alive connections; enrollments per second
 * count SUCCESS CertReps (every reply is read with `readCertRep` after the
 * timed window). Next to them, the CPU time per enrollment of the server
 * process (/proc, Linux) and of this process (load generator, plus the fake
 * Intune for `/intune`): on a shared machine the wall rates swing, the CPU
 * per enrollment much less, and the fake's own CPU is not the server's.
 *
 * Nothing is asserted: this is a measurement. The machine may be shared:
 * compare figures of one run, not across runs.
 *
 * Run: `pnpm bench:intune`. Environment:
 *
 * | variable | default | meaning |
 * | --- | --- | --- |
 * | `BENCH_SECONDS` | 1 | longest Mode B measurement |
 * | `BENCH_TOKENS` | 9000 | tokens minted per algorithm (a third per validator run, which ends when they are used up) |
 * | `BENCH_REDIS_INFLIGHT` | 64 | Mode B validations in flight against Redis |
 * | `BENCH_ENROLLMENTS` | 200 | Mode A PKCSReqs per profile |
 * | `BENCH_CONCURRENCY` | 32 | Mode A requests in flight |
 * | `BENCH_INTUNE_DELAY_MS` | 50 | the fake's answer delay per ScepActions call |
 * | `BENCH_MODES` | `B,A` | which parts to run |
 *
 * @module
 */
import { createPublicKey, randomUUID, verify, type KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Certificate, CertificationRequest, buildPkcsReq, createSelfSignedSigner, generateCsr, generateRsaKeyPair, readCertRep } from "@scep/core";
import { SignedTokenValidator, TrustAnchorPool, type RateLimiter, type ReplayCache } from "@scep/intune";
import { RedisRateLimiter, RedisReplayCache, redisClientOptions } from "@scep/redis";
import { startRedisServer } from "../../../test-support/peers";
import { anchor, mint } from "../../../packages/intune/test/support/tokens.js";
import { CLIENT_ID, CLIENT_SECRET, TENANT, startFakeIntune } from "../../../packages/intune/test/support/fake-intune.js";
import { startExample } from "../../server-kit/test/support/example-process.js";
import { cpuMsOf, postAll } from "./support.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
const TOKENS = Number(process.env.BENCH_TOKENS ?? 9000);
const REDIS_INFLIGHT = Number(process.env.BENCH_REDIS_INFLIGHT ?? 64);
const ENROLLMENTS = Number(process.env.BENCH_ENROLLMENTS ?? 200);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const DELAY_MS = Number(process.env.BENCH_INTUNE_DELAY_MS ?? 50);
const AUDIENCE = "https://scep.example.test/bench";
const EXPRESS_DIR = new URL("../../express-server/", import.meta.url).pathname;

// ioredis is a dependency of @scep/redis (and the server kit), not of this package: load that copy.
const ioredisPath = createRequire(new URL("../../../packages/redis/package.json", import.meta.url)).resolve("ioredis");
const { default: Redis } = (await import(pathToFileURL(ioredisPath).href)) as { default: new (url: string, options: object) => import("@scep/redis").RedisClient & { disconnect(): void } };

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");

/** Runs `op` back to back (at most `inflight` at once) for `seconds` or `limit` operations; operations per second and how many ran. */
async function rate(seconds: number, inflight: number, limit: number, op: (i: number) => unknown): Promise<{ perSecond: number; ran: number; cpuUs: number }> {
  let i = 0;
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  const lane = async (): Promise<void> => {
    while (performance.now() < end && i < limit) await op(i++);
  };
  await Promise.all(Array.from({ length: inflight }, lane));
  const cpu = process.cpuUsage(cpu0);
  return { perSecond: i / ((performance.now() - start) / 1000), ran: i, cpuUs: (cpu.user + cpu.system) / i };
}

/** Synchronous loop for `seconds`; operations per second and this process's CPU time per operation (µs). */
function syncRate(seconds: number, op: (i: number) => void): { perSecond: number; cpuUs: number } {
  let i = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  const cpu0 = process.cpuUsage();
  while (performance.now() < end) for (let k = 0; k < 64; k++) op(i++);
  const cpu = process.cpuUsage(cpu0);
  return { perSecond: i / ((performance.now() - start) / 1000), cpuUs: (cpu.user + cpu.system) / i };
}

async function modeB(): Promise<void> {
  console.log("\nMode B: signed-token validations per second (one process, one core)");
  const csr = CertificationRequest.from(await generateCsr({ keys: await generateRsaKeyPair(2048), subject: "CN=bench-device" }));
  const redis = await startRedisServer();
  const client = new Redis(redis.url, { ...redisClientOptions });
  await new Promise((ready) => (client as unknown as { once(e: string, f: () => void): void }).once("ready", () => ready(undefined)));
  try {
    for (const kind of ["p256", "rsa2048"] as const) {
      const a = await anchor(kind, `CN=bench ${kind}`, new Date(), 30);
      const pool = TrustAnchorPool.fromPem(a.pem);
      const now = Math.floor(Date.now() / 1000);
      // Distinct tokens, split between the three validator runs (minting is not timed; a run ends early when its share is used).
      const count = TOKENS;
      const tokens = Array.from({ length: count }, (_, i) =>
        mint(a.privateKey, { iss: "bench", sub: `device-${i}`, aud: AUDIENCE, iat: now - 10, exp: now + 3_000, nonce: `n-${kind}-${i}-${randomUUID()}`, device_name: "bench-device" }),
      );
      const raw = rawVerifier(a.privateKey, kind);
      const parts = tokens.map((t) => t.split("."));
      const rawRun = syncRate(SECONDS, (i) => raw(parts[i % count]!));
      const rawRate = rawRun.perSecond;
      const validator = (replayCache?: ReplayCache, rateLimiter?: RateLimiter): SignedTokenValidator =>
        new SignedTokenValidator({ trustAnchors: pool, audience: AUDIENCE, ...(replayCache ? { replayCache } : {}), ...(rateLimiter ? { rateLimiter } : {}) });
      const validate = (v: SignedTokenValidator, offset: number) => async (i: number) => {
        const verdict = await v.validate({ challenge: tokens[(offset + i) % count], csr, request: { transactionId: "bench" } });
        if (!verdict.ok) throw new Error(`token ${offset + i}: ${verdict.reason}`);
      };
      // Warm-up (untimed): the first timed run must not pay the JIT and first-call costs alone.
      const warmValidator = validator();
      for (let w = 0; w < 300; w++) {
        const t = mint(a.privateKey, { iss: "bench", sub: `warm-${w}`, aud: AUDIENCE, iat: now - 10, exp: now + 3_000, nonce: `w-${kind}-${w}-${randomUUID()}`, device_name: "bench-device" });
        if (!(await warmValidator.validate({ challenge: t, csr, request: { transactionId: "warm" } })).ok) throw new Error("warm-up token refused");
      }
      const share = Math.floor(count / 3);
      const memoryRun = await rate(SECONDS, 1, share, validate(validator(), 0));
      const memoryParallelRun = await rate(SECONDS, REDIS_INFLIGHT, share, validate(validator(), share));
      const prefix = `bench:${kind}:`;
      const redisRun = await rate(SECONDS, REDIS_INFLIGHT, share, validate(validator(new RedisReplayCache(client, { keyPrefix: prefix }), new RedisRateLimiter(client, { keyPrefix: prefix })), 2 * share));
      const [memory, memoryParallel, inRedis] = [memoryRun.perSecond, memoryParallelRun.perSecond, redisRun.perSecond];
      const alg = kind === "p256" ? "ES256" : "RS256";
      const pct = (n: number): string => `${((n / rawRate) * 100).toFixed(0)}% of raw`;
      console.log(`  ${alg}: raw verify (node:crypto, sync) ${fmt(rawRate)}/s | validator with memory stores: ${fmt(memory)}/s one at a time (${pct(memory)}), ${fmt(memoryParallel)}/s ${REDIS_INFLIGHT} in flight (${pct(memoryParallel)}) | validator with Redis stores: ${fmt(inRedis)}/s ${REDIS_INFLIGHT} in flight (${pct(inRedis)})`);
      // CPU time per operation swings far less than wall rates on a shared machine: the ratio the issue's goal is about.
      const cpuPct = (us: number): string => `${((rawRun.cpuUs / us) * 100).toFixed(0)}%`;
      console.log(`    CPU per operation (this process): raw verify ${rawRun.cpuUs.toFixed(1)} µs | memory stores ${memoryRun.cpuUs.toFixed(1)} µs one at a time (raw/validator ${cpuPct(memoryRun.cpuUs)}), ${memoryParallelRun.cpuUs.toFixed(1)} µs in flight (${cpuPct(memoryParallelRun.cpuUs)}) | Redis stores ${redisRun.cpuUs.toFixed(1)} µs (${cpuPct(redisRun.cpuUs)}; redis-server's own CPU not counted)`);
    }
  } finally {
    client.disconnect();
    await redis.stop();
  }
}

/** node:crypto's verify of a token's signature over its first two segments, as raw as it gets. */
function rawVerifier(privateKey: KeyObject, kind: "p256" | "rsa2048"): (parts: string[]) => void {
  const pub = createPublicKey(privateKey);
  return (parts) => {
    const input = Buffer.from(`${parts[0]}.${parts[1]}`, "ascii");
    const sig = Buffer.from(parts[2]!, "base64url");
    const ok = kind === "p256" ? verify("sha256", input, { key: pub, dsaEncoding: "ieee-p1363" }, sig) : verify("sha256", input, pub, sig);
    if (!ok) throw new Error("raw verify failed");
  };
}

/** Sends every request (`concurrency` in flight, keep-alive); the wall time and the bodies of the HTTP 200 replies. */
async function load(url: string, bodies: Uint8Array[], concurrency: number): Promise<{ seconds: number; replies: (Uint8Array | undefined)[] }> {
  const start = performance.now();
  const raws = await postAll(url, bodies, concurrency);
  return { seconds: (performance.now() - start) / 1000, replies: raws.map((r) => (r.ok ? r.body : undefined)) };
}

/** CPU time (user + system, ms) a process has used so far; NaN when it cannot be read. */
function cpuMs(pid: number | undefined): number {
  try {
    return pid === undefined ? Number.NaN : cpuMsOf([pid]);
  } catch {
    return Number.NaN;
  }
}

async function modeA(): Promise<void> {
  console.log(`\nMode A: enrollments per second through the Express example server, concurrency ${CONCURRENCY}, ${ENROLLMENTS} PKCSReqs per profile`);
  const fake = await startFakeIntune();
  fake.delayMs = DELAY_MS;
  const dir = mkdtempSync(join(tmpdir(), "scep-bench-intune-"));
  const config = {
    profiles: [
      { path: "/scep" },
      { path: "/intune", intune: { mode: "api", tenantId: TENANT, clientId: CLIENT_ID, clientSecretEnv: "INTUNE_CLIENT_SECRET", loginBaseUrl: fake.base, graphBaseUrl: fake.base, timeoutMs: 10_000, retries: 0 } },
    ],
  };
  writeFileSync(join(dir, "scep.json"), JSON.stringify(config));
  const { proc, base, listening } = await startExample(EXPRESS_DIR, { SCEP_DATA_DIR: join(dir, "data"), SCEP_CONFIG: join(dir, "scep.json"), SCEP_CHALLENGE: "bench-static", INTUNE_CLIENT_SECRET: CLIENT_SECRET });
  try {
    const ca = Certificate.from(readFileSync(listening.caCertificate, "utf8"));
    const keys = await Promise.all(Array.from({ length: 8 }, () => generateRsaKeyPair(2048)));
    const build = async (profile: string, i: number) => {
      const k = keys[i % keys.length]!;
      const subject = `CN=bench-${profile.slice(1)}-${i}`;
      const signer = await createSelfSignedSigner({ keys: k, subject });
      const csr = await generateCsr({ keys: k, subject, challengePassword: profile === "/scep" ? "bench-static" : "intune-encrypted-challenge" });
      const req = await buildPkcsReq({ csr, signer, recipient: ca, transactionId: randomUUID() });
      return { req, signer };
    };
    const results: Record<string, number> = {};
    for (const profile of ["/scep", "/intune"]) {
      const warm = await Promise.all(Array.from({ length: 8 }, (_, i) => build(profile, 100_000 + i)));
      await load(`${base}${profile}?operation=PKIOperation`, warm.map((w) => w.req.der), 8);
      const reqs = await Promise.all(Array.from({ length: ENROLLMENTS }, (_, i) => build(profile, i)));
      const cpu0 = cpuMs(proc.child.pid), own0 = process.cpuUsage();
      const { seconds, replies } = await load(`${base}${profile}?operation=PKIOperation`, reqs.map((r) => r.req.der), CONCURRENCY);
      const serverCpu = cpuMs(proc.child.pid) - cpu0, ownCpu = process.cpuUsage(own0);
      let ok = 0;
      for (const [i, body] of replies.entries()) {
        if (!body) continue;
        const rep = await readCertRep(new Uint8Array(body), { decrypter: reqs[i]!.signer, caCertificates: [ca], request: reqs[i]!.req });
        if (rep.status === "SUCCESS") ok++;
      }
      results[profile] = ok / seconds;
      const cpuText = Number.isFinite(serverCpu) ? `; CPU per enrollment: server ${(serverCpu / ENROLLMENTS).toFixed(2)} ms, this process (load generator${profile === "/intune" ? " + fake Intune" : ""}) ${((ownCpu.user + ownCpu.system) / 1000 / ENROLLMENTS).toFixed(2)} ms` : "";
      console.log(`  ${profile === "/scep" ? "without Intune (static challenge)" : `Mode A, Intune answering after ${DELAY_MS} ms`}: ${fmt(ok / seconds)} enrollments/s (${ok}/${ENROLLMENTS} SUCCESS in ${seconds.toFixed(2)} s${cpuText})`);
    }
    console.log(`  Mode A / without Intune: ${((results["/intune"]! / results["/scep"]!) * 100).toFixed(0)}% (each Mode A enrollment waits for 2 × ${DELAY_MS} ms: latency-bound ceiling ${fmt((CONCURRENCY * 1000) / (2 * DELAY_MS))}/s)`);
    console.log(`  ScepActions calls the fake answered: validateRequest ${fake.of("validateRequest").length}, successNotification ${fake.of("successNotification").length}`);
  } finally {
    await proc.terminate();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`Intune benchmark: node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}; the machine may be shared with other work`);
const modes = (process.env.BENCH_MODES ?? "B,A").split(",");
if (modes.includes("B")) await modeB();
if (modes.includes("A")) await modeA();
