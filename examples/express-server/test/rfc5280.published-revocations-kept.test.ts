/**
 * RFC 5280 §3.3 / §5.3.1: a certificate once on a published CRL stays revoked (an entry leaves only when the
 * certificate expires; removeFromCRL exists only in delta CRLs, which this CA does not issue). The last published CRL
 * (`<data-dir>/ca.crl.json`) is the record: whatever it lists that the revocation store lost goes back into the store,
 * so the next CRL lists it again and its certificate no longer renews (RFC 8894 §3.3.1.2: FAILURE badCertId), with one
 * `revocations-restored` line. Before, a data directory switched from Redis to files, a Redis restarted empty, or a lost
 * `revocations.jsonl` published an empty CRL over the one that listed the revocation, and the certificate renewed.
 * With --workers and Redis the entries go into Redis (the primary restores nothing into a revocations.jsonl no worker
 * reads). A ca.crl.json whose signature does not verify with the CA's key is not restored from: one
 * `published-crl-ignored` line, and the server starts.
 * Real server processes, a real redis-server (no persistence), `openssl crl` to read the CRLs.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { LocalKey, ScepClient, generateCsr, generateRsaKeyPair } from "@scep/core";
import { startRedisServer, type RedisServer } from "../../../test-support/peers";
import { TrackedExamples, type ExampleProcess } from "../../server-kit/test/support/example-process.js";
import { pkcsReqAndPoll } from "../../server-kit/test/support/pkcs-req.js";

const EXAMPLE_DIR = fileURLToPath(new URL("..", import.meta.url));
const TOKEN = "admin-token-for-published-revocations-4e2a";
const CHALLENGE = "published-revocations-challenge";
const tmp = mkdtempSync(join(tmpdir(), "scep-published-revocations-"));
const examples = new TrackedExamples(EXAMPLE_DIR);
const redises: RedisServer[] = [];
afterAll(async () => {
  await examples.terminateAll();
  await Promise.all(redises.map((r) => r.stop()));
  rmSync(tmp, { recursive: true, force: true });
});

const start = (dataDir: string, extra: Record<string, string> = {}) => examples.start({ SCEP_DATA_DIR: dataDir, SCEP_CHALLENGE: CHALLENGE, SCEP_ADMIN_TOKEN: TOKEN, SCEP_KEY_WORKERS: "0", ...extra });

async function killHard(proc: ExampleProcess): Promise<void> {
  proc.child.kill("SIGKILL");
  expect((await proc.exited).signal).toBe("SIGKILL");
}

/** `openssl crl -text` of GET /scep/ca.crl. */
async function crlText(base: string, name: string): Promise<string> {
  const res = await fetch(`${base}/scep/ca.crl`);
  expect(res.status).toBe(200);
  writeFileSync(join(tmp, name), new Uint8Array(await res.arrayBuffer()));
  return new Promise((resolve, reject) =>
    execFile("openssl", ["crl", "-inform", "DER", "-in", name, "-noout", "-text"], { cwd: tmp, timeout: 60_000 }, (error, stdout, stderr) => (error ? reject(new Error(`openssl crl: ${stderr}`)) : resolve(stdout))),
  );
}
const crlNumber = (text: string): bigint => BigInt(/X509v3 CRL Number:\s*\n\s*(\d+)/.exec(text)![1]!);

async function enroll(base: string, subject: string) {
  const e = await pkcsReqAndPoll(`${base}/scep`, { subject, challenge: CHALLENGE });
  expect(e.first.status).toBe("SUCCESS");
  const certificate = e.first.certificate!;
  return { ...e, certificate, serial: Buffer.from(certificate.serialNumber).toString("hex") };
}

async function revoke(base: string, serialNumber: string): Promise<void> {
  const res = await fetch(`${base}/admin/scep/revoke`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ serialNumber, reason: "keyCompromise" }) });
  expect(res.status).toBe(200);
}

/** A RenewalReq signed by the device's certificate: [status, failInfo]. */
async function renew(base: string, device: Awaited<ReturnType<typeof enroll>>, subject: string): Promise<[string, string | undefined]> {
  const csr = await generateCsr({ keys: await generateRsaKeyPair(2048), subject });
  const rep = await new ScepClient({ url: `${base}/scep` }).enroll({ signer: LocalKey.from(device.certificate, device.keys.privateKey), csr, renewal: true });
  return [rep.status, rep.status === "FAILURE" ? rep.failInfo : undefined];
}

const restoredLines = (proc: ExampleProcess): Record<string, unknown>[] => proc.events("revocations-restored");
/** Whether `dataDir/revocations.jsonl` names `serial`. */
const inRevocationsFile = (dataDir: string, serial: string): boolean => {
  const path = join(dataDir, "revocations.jsonl");
  return existsSync(path) && readFileSync(path, "utf8").includes(serial);
};

describe("RFC 5280 §3.3: revocations on the published CRL survive the loss of the revocation store", () => {
  it("two replicas on Redis, a revocation, kill -9 of both; one server on the same data directory without Redis: the CRL lists it again (keyCompromise), the certificate does not renew, one revocations-restored line", async () => {
    const redis = await startRedisServer();
    redises.push(redis);
    const dataDir = join(tmp, "redis-to-files");
    const one = await start(dataDir, { SCEP_REDIS_URL: redis.url });
    const two = await start(dataDir, { SCEP_REDIS_URL: redis.url });
    const device = await enroll(one.base, "CN=revoked-on-redis");
    await revoke(two.base, device.serial);
    const before = await crlText(one.base, "redis.crl");
    expect(before).toContain(`Serial Number: ${device.serial.toUpperCase()}`);
    await killHard(one.proc);
    await killHard(two.proc);

    const files = await start(dataDir); // takes over the stale server.lock, file store empty
    const after = await crlText(files.base, "files.crl");
    expect(after).toContain(`Serial Number: ${device.serial.toUpperCase()}`);
    expect(after).toMatch(/X509v3 CRL Reason Code:\s*\n\s+Key Compromise/);
    expect(crlNumber(after) >= crlNumber(before)).toBe(true);
    expect(await renew(files.base, device, "CN=revoked-on-redis")).toEqual(["FAILURE", "badCertId"]);
    expect(restoredLines(files.proc)).toEqual([{ time: expect.any(String), type: "revocations-restored", restored: 1, skipped: 0, crlNumber: String(crlNumber(before)), dataDir }]);
    expect(await files.proc.terminate()).toEqual({ code: 0, signal: null });
  }, 240_000);

  it("a Redis without persistence restarted empty under a running server: the revoked certificate does not renew, the restore is one line, and the next CRL lists it", async () => {
    const redis = await startRedisServer();
    redises.push(redis);
    const dataDir = join(tmp, "redis-restarted");
    const s = await start(dataDir, { SCEP_REDIS_URL: redis.url });
    const device = await enroll(s.base, "CN=revoked-before-redis-restart");
    await revoke(s.base, device.serial);
    const before = await crlText(s.base, "before-restart.crl");
    expect(before).toContain(`Serial Number: ${device.serial.toUpperCase()}`);
    await redis.kill();
    await redis.restart();
    expect(await redis.command("DBSIZE")).toMatch(/^:?0\s*$/);
    for (let i = 0; (await fetch(`${s.base}/readyz`)).status !== 200; i++) {
      expect(i).toBeLessThan(300);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await renew(s.base, device, "CN=revoked-before-redis-restart")).toEqual(["FAILURE", "badCertId"]);
    expect(restoredLines(s.proc).map((e) => [e.restored, e.crlNumber])).toEqual([[1, String(crlNumber(before))]]);
    const after = await crlText(s.base, "after-restart.crl");
    expect(after).toContain(`Serial Number: ${device.serial.toUpperCase()}`);
    expect(crlNumber(after) >= crlNumber(before)).toBe(true);
  }, 240_000);

  it("--workers 2 on a Redis restarted empty: the published entry goes back into Redis, not into the data directory's unused revocations.jsonl; one revocations-restored line; the certificate does not renew", async () => {
    const redis = await startRedisServer();
    redises.push(redis);
    const dataDir = join(tmp, "workers-redis");
    const first = await start(dataDir, { SCEP_REDIS_URL: redis.url });
    const device = await enroll(first.base, "CN=revoked-before-workers");
    await revoke(first.base, device.serial);
    const before = await crlText(first.base, "workers-before.crl");
    expect(before).toContain(`Serial Number: ${device.serial.toUpperCase()}`);
    expect(await first.proc.terminate()).toEqual({ code: 0, signal: null });
    await redis.kill();
    await redis.restart(); // no persistence: empty
    expect(inRevocationsFile(dataDir, device.serial)).toBe(false);

    const workers = await start(dataDir, { SCEP_REDIS_URL: redis.url, SCEP_WORKERS: "2" });
    expect(await redis.command(`HGET scep:revoked:{ca} ${device.serial}`)).toMatch(/^\d+:keyCompromise$/);
    expect(inRevocationsFile(dataDir, device.serial)).toBe(false);
    expect(restoredLines(workers.proc).map((e) => [e.restored, e.skipped, e.crlNumber])).toEqual([[1, 0, String(crlNumber(before))]]);
    expect(await renew(workers.base, device, "CN=revoked-before-workers")).toEqual(["FAILURE", "badCertId"]);
    expect(await workers.proc.terminate()).toEqual({ code: 0, signal: null });
  }, 240_000);

  it("a ca.crl.json whose signature does not verify with the CA's key (--workers 2, revocations.jsonl lost): nothing is restored from it, one published-crl-ignored line, the server starts and signs a new CRL", async () => {
    const dataDir = join(tmp, "forged-crl");
    const first = await start(dataDir);
    const device = await enroll(first.base, "CN=revoked-forged-crl");
    await revoke(first.base, device.serial);
    const before = await crlText(first.base, "forged-before.crl");
    expect(await first.proc.terminate()).toEqual({ code: 0, signal: null });
    rmSync(join(dataDir, "revocations.jsonl"));
    const state = JSON.parse(readFileSync(join(dataDir, "ca.crl.json"), "utf8")) as { der: string };
    const der = Buffer.from(state.der, "base64");
    der[der.length - 5]! ^= 0x01; // inside the signature
    writeFileSync(join(dataDir, "ca.crl.json"), `${JSON.stringify({ ...state, der: der.toString("base64") })}\n`);
    writeFileSync(join(dataDir, "ca.crl"), der);

    const second = await start(dataDir, { SCEP_WORKERS: "2" });
    expect(second.proc.events("published-crl-ignored")).toEqual([
      { time: expect.any(String), type: "published-crl-ignored", crlNumber: String(crlNumber(before)), reason: "its signature does not verify with the CA's key", dataDir },
    ]);
    expect(restoredLines(second.proc)).toEqual([]);
    expect(inRevocationsFile(dataDir, device.serial)).toBe(false);
    const after = await crlText(second.base, "forged-after.crl");
    expect(after).not.toContain(`Serial Number: ${device.serial.toUpperCase()}`);
    expect(crlNumber(after) > crlNumber(before)).toBe(true);
    expect(await second.proc.terminate()).toEqual({ code: 0, signal: null });
  }, 240_000);

  it("without Redis, revocations.jsonl lost while the server was down: the next start restores it from ca.crl.json", async () => {
    const dataDir = join(tmp, "files-lost");
    const first = await start(dataDir);
    const device = await enroll(first.base, "CN=revoked-then-file-lost");
    await revoke(first.base, device.serial);
    expect(await crlText(first.base, "file-before.crl")).toContain(`Serial Number: ${device.serial.toUpperCase()}`);
    expect(await first.proc.terminate()).toEqual({ code: 0, signal: null });
    rmSync(join(dataDir, "revocations.jsonl"));

    const second = await start(dataDir);
    expect(await crlText(second.base, "file-after.crl")).toContain(`Serial Number: ${device.serial.toUpperCase()}`);
    expect(await renew(second.base, device, "CN=revoked-then-file-lost")).toEqual(["FAILURE", "badCertId"]);
    expect(restoredLines(second.proc).map((e) => e.restored)).toEqual([1]);
  }, 240_000);
});
