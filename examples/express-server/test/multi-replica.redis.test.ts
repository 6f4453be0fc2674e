/**
 * Two separate example-server processes (replicas A and B: same CA directory,
 * one Redis given as SCEP_REDIS_URL) behave as one server (issue 8): a
 * request PENDING on A is approved through B's admin endpoint and collected
 * by CertPoll on either; a one-time challenge is consumed once across both;
 * an approve racing a reject through different replicas has one winner that
 * both report; stats add up over both; and with redis-server killed mid-load
 * enrollments fail fast with 503 + Retry-After (never 500, never a hang) while
 * GetCACaps/GetCACert keep working, then succeed again once it is back; a
 * certificate revoked through one replica is on the other's CRL (RFC 5280 §5),
 * whose CRL numbers come from the one Redis counter.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Certificate,
  CertificationRequest,
  buildCertPoll,
  buildPkcsReq,
  createSelfSignedSigner,
  generateCsr,
  generateRsaKeyPair,
  readCertRep,
  type CertRep,
} from "@scep/core";
import { freeStablePort, httpGet, runStrongswanGen, runStrongswanScep, startRedisServer, type RedisServer } from "../../../test-support/peers";
import { ExampleProcess, startExample } from "../../server-kit/test/support/example-process.js";

const EXAMPLE_DIR = new URL("..", import.meta.url).pathname;
const TOKEN = "replica-admin-token-0123456789";

interface Replica {
  proc: ExampleProcess;
  base: string;
}

let redis: RedisServer;
let tmp: string;
let keys: CryptoKeyPair;

beforeAll(async () => {
  redis = await startRedisServer();
  tmp = mkdtempSync(join(tmpdir(), "scep-replicas-"));
  keys = await generateRsaKeyPair(2048);
});
afterAll(async () => {
  await redis?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/**
 * Replica A, then B (A creates the CA in `dir`; B reads it), both on Redis. Each pair has its own CA, so its own key
 * prefix (`<dir>:`): a prefix belongs to one CA, and a server with another CA on it is refused.
 */
async function startPair(dir: string, env: Record<string, string>): Promise<[Replica, Replica, Certificate]> {
  const common = { SCEP_DATA_DIR: join(tmp, dir), SCEP_REDIS_URL: redis.url, SCEP_REDIS_KEY_PREFIX: `${dir}:`, SCEP_ADMIN_TOKEN: TOKEN, ...env };
  const a = await startExample(EXAMPLE_DIR, common);
  const b = await startExample(EXAMPLE_DIR, common);
  const ca = Certificate.from(readFileSync(a.listening.caCertificate, "utf8"));
  return [a, b, ca];
}

const admin = (r: Replica, path: string, method = "POST"): Promise<Response> =>
  fetch(`${r.base}/admin/${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` } });

/** A device: one key (shared, to keep RSA key generation out of the test time), its own subject and challenge. */
async function device(subject: string, challenge: string) {
  const csr = await generateCsr({ keys, subject, challengePassword: challenge });
  const signer = await createSelfSignedSigner({ keys, subject });
  return { csr, signer, subjectDer: CertificationRequest.from(csr).subjectDer };
}

async function post(r: Replica, der: Uint8Array): Promise<Response> {
  return fetch(`${r.base}/scep?operation=PKIOperation`, { method: "POST", body: der as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/x-pki-message" }, signal: AbortSignal.timeout(15_000) });
}

/** Sends a PKCSReq to `r`; the HTTP status and, for 200, the decoded CertRep. */
async function pkcsReq(r: Replica, ca: Certificate, d: Awaited<ReturnType<typeof device>>) {
  const req = await buildPkcsReq({ csr: d.csr, signer: d.signer, recipient: ca });
  const res = await post(r, req.der);
  const rep = res.status === 200 ? await readCertRep(new Uint8Array(await res.arrayBuffer()), { decrypter: d.signer, caCertificates: [ca], request: req }) : undefined;
  return { res, rep, tid: req.transactionId };
}

async function certPoll(r: Replica, ca: Certificate, d: Awaited<ReturnType<typeof device>>, transactionId: string): Promise<CertRep> {
  const built = await buildCertPoll({ issuer: ca, subject: d.subjectDer, transactionId, signer: d.signer, recipient: ca });
  const res = await post(r, built.der);
  expect(res.status).toBe(200);
  return readCertRep(new Uint8Array(await res.arrayBuffer()), { decrypter: d.signer, caCertificates: [ca], request: built });
}

async function issueChallenge(r: Replica): Promise<string> {
  const res = await admin(r, "challenges");
  expect(res.status).toBe(201);
  return ((await res.json()) as { challenge: string }).challenge;
}

describe("two replicas, one revocation list", () => {
  let a: Replica;
  let b: Replica;
  let ca: Certificate;
  beforeAll(async () => {
    [a, b, ca] = await startPair("revocation", { SCEP_CHALLENGE: "revocation-secret" });
  });
  afterAll(async () => {
    await Promise.all([a?.proc.terminate(), b?.proc.terminate()]);
  });

  it("a certificate issued by A and revoked through B's admin API is on A's CRL and on B's: one CRL, with a larger CRL number (RFC 5280 §5.2.3)", async () => {
    const crlOf = async (r: Replica) => {
      const res = await fetch(`${r.base}/scep/ca.crl`);
      expect([res.status, res.headers.get("content-type")]).toEqual([200, "application/pkix-crl"]);
      const file = join(tmp, `crl-${Math.random().toString(36).slice(2)}.der`);
      writeFileSync(file, new Uint8Array(await res.arrayBuffer()));
      const text = execFileSync("openssl", ["crl", "-inform", "DER", "-in", file, "-noout", "-text", "-CAfile", join(tmp, "revocation", "ca.pem"), "-verify"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
      return { text, number: Number(/X509v3 CRL Number:\s*\n\s+(\d+)/.exec(text)![1]) };
    };
    const before = await crlOf(a);
    const d = await device("CN=replica-revoked", "revocation-secret");
    const issued = await pkcsReq(a, ca, d);
    expect(issued.rep?.status).toBe("SUCCESS");
    const serial = issued.rep!.certificates[0]!.serialNumberHex;
    const res = await fetch(`${b.base}/admin/scep/revoke`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ serialNumber: serial, reason: "superseded" }) });
    expect([res.status, ((await res.json()) as { created: boolean }).created]).toEqual([200, true]);
    const onB = await crlOf(b);
    const onA = await crlOf(a);
    for (const crl of [onA, onB]) {
      expect(crl.text).toContain(`Serial Number: ${serial.toUpperCase()}`);
      expect(crl.text).toMatch(/X509v3 CRL Reason Code:\s*\n\s+Superseded/);
      expect(crl.number).toBeGreaterThan(before.number);
    }
    // One CRL per revocation state: A serves the CRL B signed and published in the data directory they share.
    expect(onA.number).toBe(onB.number);
  });
});

describe("two replicas in PENDING mode", () => {
  let a: Replica;
  let b: Replica;
  let ca: Certificate;
  beforeAll(async () => {
    [a, b, ca] = await startPair("pending", { SCEP_PENDING: "true", SCEP_CHALLENGE: "pending-secret" });
  });
  afterAll(async () => {
    await Promise.all([a?.proc.terminate(), b?.proc.terminate()]);
  });

  it("PENDING through A, listed and approved through B, the certificate by CertPoll on A and on B (RFC 8894 §3.3.3)", async () => {
    expect(a.proc.banner("shared state")).toBe(`Redis ${redis.url}, keys pending:* (PENDING transactions, one-time challenges, counters, revocations)`);
    const d = await device("CN=replica-pending", "pending-secret");
    const first = await pkcsReq(a, ca, d);
    expect(first.rep?.status).toBe("PENDING");
    expect((await certPoll(b, ca, d, first.tid)).status).toBe("PENDING");
    const listed = (await (await admin(b, "pending", "GET")).json()) as { pending: Array<{ transactionId: string; subject: string; status: string }> };
    expect(listed.pending.map((p) => [p.transactionId, p.subject, p.status])).toEqual([[first.tid, "CN=replica-pending", "PENDING"]]);
    const ok = await admin(b, `approve/${encodeURIComponent(first.tid)}`);
    expect([ok.status, await ok.json()]).toEqual([200, { profile: "/scep", transactionId: first.tid, status: "ISSUED", subject: "CN=replica-pending", serialNumber: expect.stringMatching(/^[0-9a-f]+$/) }]);
    const viaA = await certPoll(a, ca, d, first.tid);
    const viaB = await certPoll(b, ca, d, first.tid);
    expect(viaA.status).toBe("SUCCESS");
    expect(viaA.certificates[0]!.subject).toBe("CN=replica-pending");
    expect(viaB.status).toBe("SUCCESS");
    expect(viaB.certificates[0]!.serialNumber).toEqual(viaA.certificates[0]!.serialNumber);
    expect(viaA.certificates[0]!.isIssuedBy(ca)).toBe(true);
  });

  it("strongSwan pki --scep enrolls through A and polls A; the operator approves through B; strongSwan gets the certificate", async () => {
    const key = await runStrongswanGen({ size: 2048 });
    const caPem = readFileSync(a.proc.banner("CA certificate")!, "utf8");
    const running = runStrongswanScep({
      url: `${a.base}/scep`, key: key.keyDer, dn: "C=US, O=replicas, CN=ss-replica", password: "pending-secret",
      caCertEnc: caPem, caCertSig: caPem, cipher: "aes", pollIntervalSeconds: 1, maxPollSeconds: 60, timeoutMs: 90_000,
    });
    let failed: unknown;
    try {
      // The PENDING request, seen through B; then A's log shows strongSwan polling it before anyone decides.
      let tid: string | undefined;
      for (let i = 0; i < 200 && tid === undefined; i++) {
        const listed = (await (await admin(b, "pending", "GET")).json()) as { pending: Array<{ transactionId: string; subject: string }> };
        tid = listed.pending.find((p) => p.subject === "C=US, O=replicas, CN=ss-replica")?.transactionId;
        if (tid === undefined) await new Promise((done) => setTimeout(done, 100));
      }
      expect(tid).toBeDefined();
      await a.proc.waitForJson("scep", (e) => e.operation === "CertPoll" && e.transactionId === tid && e.outcome === "pending");
      const ok = await admin(b, `approve/${encodeURIComponent(tid!)}`);
      expect(ok.status).toBe(200);
    } catch (error) {
      failed = error;
    }
    const r = await running;
    if (failed !== undefined) throw failed;
    expect(r.ok, r.messages.join("\n")).toBe(true);
    expect(Certificate.from(r.certDer!).isIssuedBy(ca)).toBe(true);
    await a.proc.waitForJson("scep", (e) => e.operation === "CertPoll" && e.reason === "issued_after_approval");
  });

  it("an approve on A racing a reject on B: exactly one wins, and CertPoll on both replicas gives its answer", async () => {
    for (let round = 0; round < 4; round++) {
      const d = await device(`CN=race-${round}`, "pending-secret");
      const { tid, rep } = await pkcsReq(round % 2 ? b : a, ca, d);
      expect(rep?.status).toBe("PENDING");
      const [approve, reject] = await Promise.all([admin(a, `approve/${encodeURIComponent(tid)}`), admin(b, `reject/${encodeURIComponent(tid)}`)]);
      // The loser finds the transaction decided, or being issued by the winner: 409 with its status, not 404.
      expect([approve.status, reject.status].sort()).toEqual([200, 409]);
      const won = approve.status === 200 ? "SUCCESS" : "FAILURE";
      const [pa, pb] = [await certPoll(a, ca, d, tid), await certPoll(b, ca, d, tid)];
      expect([pa.status, pb.status]).toEqual([won, won]);
      if (won === "SUCCESS") expect(pa.certificates[0]!.serialNumber).toEqual(pb.certificates[0]!.serialNumber);
    }
  });

  it("GET /admin/stats on either replica counts the requests of both (each replica writes its counts at the latest when it reads)", async () => {
    const statsOf = async (r: Replica) => ((await (await admin(r, "stats", "GET")).json()) as { stats: Array<{ profile: string; outcomes: Record<string, number> }> }).stats;
    await statsOf(b);
    const beforeA = await statsOf(a);
    await fetch(`${a.base}/scep?operation=GetCACaps`);
    await fetch(`${b.base}/scep?operation=GetCACaps`);
    await fetch(`${b.base}/scep?operation=GetCACaps`);
    await statsOf(b); // B writes its buffered counts
    const afterA = await statsOf(a);
    const afterB = await statsOf(b);
    expect(afterA[0]!.outcomes["success"]! - (beforeA[0]!.outcomes["success"] ?? 0)).toBe(3);
    expect(afterB[0]!.outcomes).toEqual(afterA[0]!.outcomes);
  });
});

describe("two replicas with one-time challenges", () => {
  let a: Replica;
  let b: Replica;
  let ca: Certificate;
  beforeAll(async () => {
    [a, b, ca] = await startPair("one-time", { SCEP_ONE_TIME_CHALLENGES: "true" });
  });
  afterAll(async () => {
    await Promise.all([a?.proc.terminate(), b?.proc.terminate()]);
  });

  it("50 concurrent enrollments with one challenge, spread over both replicas: exactly one is issued", async () => {
    const challenge = await issueChallenge(b);
    const devices = await Promise.all(Array.from({ length: 50 }, (_, i) => device(`CN=otp-${i}`, challenge)));
    const requests = await Promise.all(devices.map((d) => buildPkcsReq({ csr: d.csr, signer: d.signer, recipient: ca })));
    const results = await Promise.all(
      requests.map(async (req, i) => {
        const res = await post(i % 2 ? a : b, req.der);
        expect(res.status).toBe(200);
        return (await readCertRep(new Uint8Array(await res.arrayBuffer()), { decrypter: devices[i]!.signer, caCertificates: [ca], request: req })).status;
      }),
    );
    expect(results.filter((s) => s === "SUCCESS")).toHaveLength(1);
    expect(results.filter((s) => s === "FAILURE")).toHaveLength(49);
  });

  it("a challenge issued on A works once on B; no static challenge exists (none is generated) and a made-up one is refused", async () => {
    const challenge = await issueChallenge(a);
    const d = await device("CN=otp-once", challenge);
    const first = await pkcsReq(b, ca, d);
    expect(first.rep?.status).toBe("SUCCESS");
    // Another request with the used challenge is refused; the same request again (its reply lost) is the device's
    // re-send and gets the certificate it was issued, on the other replica too (RFC 8894 §3.3.3).
    expect((await pkcsReq(a, ca, await device("CN=otp-twice", challenge))).rep?.status).toBe("FAILURE");
    const again = await pkcsReq(a, ca, d);
    expect(again.rep?.certificate?.serialNumberHex).toBe(first.rep?.certificate?.serialNumberHex);
    expect(existsSync(join(tmp, "one-time", "challenge"))).toBe(false);
    expect((await pkcsReq(a, ca, await device("CN=static", "0123456789abcdef0123456789abcdef"))).rep?.status).toBe("FAILURE");
  });

  it("redis-server killed mid-load: 503 with Retry-After (never 500), GetCACaps/GetCACert still 200; enrollments succeed again after a restart", async () => {
    const challenges = await Promise.all(Array.from({ length: 24 }, (_, i) => issueChallenge(i % 2 ? a : b)));
    const devices = await Promise.all(challenges.map((c, i) => device(`CN=load-${i}`, c)));
    const statuses: number[] = [];
    const outcomes: string[] = [];
    // Lane 0 starts the kill when it reaches request 8; every request from 12 on waits for the kill to be done. The
    // promise exists from the start: a lane that reached 12 before lane 0 reached 8 (lanes 1-3 get there after three
    // requests, lane 0 after two: a loaded machine reorders them) used to await `undefined`, enroll against a live
    // Redis, and leave fewer than the 12 answers 503 asserted below.
    let startKill!: () => void;
    const killed = new Promise<void>((resolve) => (startKill = resolve)).then(() => redis.kill());
    await Promise.all(
      [0, 1, 2, 3].map(async (lane) => {
        for (let i = lane; i < devices.length; i += 4) {
          if (i === 8) startKill();
          if (i >= 12) await killed;
          const { res, rep } = await pkcsReq(i % 2 ? a : b, ca, devices[i]!);
          statuses.push(res.status);
          if (res.status === 503) {
            expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
            outcomes.push("503");
          } else outcomes.push(rep!.status);
        }
      }),
    );
    expect(statuses.every((s) => s === 200 || s === 503), statuses.join(",")).toBe(true);
    expect(outcomes.filter((o) => o === "SUCCESS").length).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o === "503").length).toBeGreaterThanOrEqual(12);
    expect(outcomes.filter((o) => o !== "SUCCESS" && o !== "503")).toEqual([]);
    for (const r of [a, b]) {
      expect((await fetch(`${r.base}/scep?operation=GetCACaps`)).status).toBe(200);
      expect((await fetch(`${r.base}/scep?operation=GetCACert`)).status).toBe(200);
      expect((await admin(r, "challenges")).status).toBe(503);
    }
    // The events say only store_unavailable; the operator finds the cause on a scep-error line (onError).
    const errorLines = [...a.proc.events("scep-error"), ...b.proc.events("scep-error")];
    expect(errorLines.length).toBeGreaterThanOrEqual(12);
    // Each names the request, so the cause can be tied to a device (transactionID, messageType).
    for (const l of errorLines) expect(l).toMatchObject({ operation: "PKCSReq", transactionId: expect.any(String), clientAddress: "127.0.0.1", reason: "store_unavailable", status: 503, code: "ERR_STORE_UNAVAILABLE", message: expect.any(String) });
    await redis.restart();
    for (const r of [a, b]) {
      // The clients reconnect by themselves; the first requests after the restart may still see 503.
      let status = 0;
      for (let attempt = 0; attempt < 100 && status !== 201; attempt++) {
        status = (await admin(r, "challenges")).status;
        if (status !== 201) await new Promise((done) => setTimeout(done, 100));
      }
      expect(status).toBe(201);
      const d = await device(`CN=after-restart-${r === a ? "a" : "b"}`, await issueChallenge(r));
      expect((await pkcsReq(r, ca, d)).rep?.status).toBe("SUCCESS");
    }
  });
});

describe("--pending with --workers 2 on Redis", () => {
  it("a request PENDING on one worker is approved and collected through whichever worker a connection lands on", async () => {
    const r = await startExample(EXAMPLE_DIR, {
      SCEP_DATA_DIR: join(tmp, "workers"), SCEP_REDIS_URL: redis.url, SCEP_REDIS_KEY_PREFIX: "workers:", SCEP_ADMIN_TOKEN: TOKEN, SCEP_PENDING: "true", SCEP_CHALLENGE: "workers-secret", SCEP_WORKERS: "2",
    });
    try {
      const ca = Certificate.from(readFileSync(r.listening.caCertificate, "utf8"));
      const d = await device("CN=worker-pending", "workers-secret");
      const first = await pkcsReq(r, ca, d);
      expect(first.rep?.status).toBe("PENDING");
      expect((await admin(r, `approve/${encodeURIComponent(first.tid)}`)).status).toBe(200);
      // A new connection per CertPoll (no keep-alive), so node:cluster spreads them over both workers.
      const statuses: string[] = [];
      for (let i = 0; i < 8; i++) {
        const built = await buildCertPoll({ issuer: ca, subject: d.subjectDer, transactionId: first.tid, signer: d.signer, recipient: ca });
        const res = await httpGet(`${r.base}/scep?operation=PKIOperation`, { method: "POST", body: built.der, timeoutMs: 15_000 });
        expect(res.status).toBe(200);
        statuses.push((await readCertRep(res.body, { decrypter: d.signer, caCertificates: [ca], request: built })).status);
      }
      expect(statuses).toEqual(Array(8).fill("SUCCESS"));
      const polledBy = new Set(
        r.proc
          .events("scep")
          .filter((e) => e.reason === "issued_after_approval" && e.worker !== undefined)
          .map((e) => e.worker),
      );
      expect([...polledBy].sort()).toEqual([1, 2]);
    } finally {
      await r.proc.terminate();
    }
  });
});

describe("a Redis that cannot be reached at start", () => {
  // The wait for a Redis that starts later (default 30 s) is example.redis-start-wait.redis.test.ts's: 0 is no wait.
  it("with SCEP_REDIS_START_TIMEOUT=0 exits 2 at once with one line that names the URL without its password", async () => {
    const port = await freeStablePort(); // no listen(0) elsewhere can be given it (see freeStablePort)
    const proc = new ExampleProcess(EXAMPLE_DIR, { SCEP_DATA_DIR: join(tmp, "no-redis"), SCEP_REDIS_URL: `redis://:s3cret-pw@127.0.0.1:${port}`, SCEP_REDIS_START_TIMEOUT: "0" });
    expect(await proc.exited).toEqual({ code: 2, signal: null });
    expect(proc.stderr).toMatch(new RegExp(`^express-server: cannot reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.*\\n$`));
    expect(proc.stderr).not.toContain("s3cret-pw");
  });
});
