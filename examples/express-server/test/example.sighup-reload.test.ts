/**
 * SIGHUP reloads the example server (issue 11), tested on a real child process
 * with `process.kill(pid, "SIGHUP")`: a bad file (the next-CA bundle, the CA
 * key) keeps the old state and logs why in one line without a secret; a CA
 * rollover (RFC 8894 §4.7: the next CA announced by GetNextCACert, then the
 * CA certificate and key replaced on disk) takes effect without a restart;
 * a request in flight during the reloads completes on the CA it started with,
 * and a keep-alive connection keeps its socket across them. CAs are made by
 * the real `openssl` CLI. With a configuration file, an Intune profile's
 * trust-anchor bundle is read again: a bad bundle keeps the old anchors.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Certificate, buildPkcsReq, createSelfSignedSigner, generateCsr, generateRsaKeyPair, parseCaCaps, parseGetNextCaCertResponse, readCertRep, type LocalKey } from "@scep/core";
import { anchor } from "../../../packages/intune/test/support/tokens.js";
import { type ExampleProcess, startExample } from "../../server-kit/test/support/example-process.js";

const EXAMPLE_DIR = new URL("..", import.meta.url).pathname;
const CHALLENGE = "sighup-reload-challenge-5150";

let tmp: string;
let proc: ExampleProcess;
let port: number;
const ca: Record<1 | 2 | 3, { pem: string; key: string; cert: Certificate }> = {} as never;

/** A self-signed RSA CA from the openssl CLI, files `<name>.pem` and `<name>.key`. */
function opensslCa(name: string, cn: string): { pem: string; key: string; cert: Certificate } {
  const pem = join(tmp, `${name}.pem`);
  const key = join(tmp, `${name}.key`);
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", pem, "-days", "3650", "-subj", `/CN=${cn}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature,keyEncipherment"], { stdio: "ignore" });
  return { pem, key, cert: Certificate.from(readFileSync(pem, "utf8")) };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
/** GET over the one keep-alive connection: status, body and the local port of the socket it used. */
function keepAliveGet(path: string): Promise<{ status: number; body: Buffer; localPort: number }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path, agent }, (res) => {
        const chunks: Buffer[] = [];
        const localPort = res.socket.localPort!; // (the socket goes back to the agent at the end)
        res.on("data", (c: Buffer) => chunks.push(c)).on("end", () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks), localPort }));
      })
      .on("error", reject);
  });
}

async function device(cn: string): Promise<{ csr: Uint8Array; signer: LocalKey }> {
  const keys = await generateRsaKeyPair(2048);
  return { csr: await generateCsr({ keys, subject: `CN=${cn}`, challengePassword: CHALLENGE }), signer: await createSelfSignedSigner({ keys, subject: `CN=${cn}` }) };
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "scep-sighup-"));
  ca[1] = opensslCa("ca1", "Reload CA 1");
  ca[2] = opensslCa("ca2", "Reload CA 2");
  ca[3] = opensslCa("ca3", "Reload CA 3");
  copyFileSync(ca[1].pem, join(tmp, "ca.pem"));
  copyFileSync(ca[1].key, join(tmp, "ca.key"));
  copyFileSync(ca[2].pem, join(tmp, "next.pem"));
  // The keep-alive connection and the request in flight below stay open across three reloads: long idle, request
  // and body timeouts (the defaults, 5 s and 10 s, are within reach of a loaded machine; none is tested here).
  const limits = { SCEP_KEEP_ALIVE_TIMEOUT_MS: "120000", SCEP_REQUEST_TIMEOUT_MS: "120000", SCEP_BODY_TIMEOUT_MS: "120000" };
  const started = await startExample(EXAMPLE_DIR, { SCEP_DATA_DIR: join(tmp, "data"), SCEP_CHALLENGE: CHALLENGE, SCEP_NEXT_CA_CERT: join(tmp, "next.pem"), ...limits }, ["--ca-cert", join(tmp, "ca.pem"), "--ca-key", join(tmp, "ca.key")]);
  proc = started.proc;
  port = started.listening.port;
}, 60_000);
afterAll(async () => {
  agent.destroy();
  await proc?.terminate();
  rmSync(tmp, { recursive: true, force: true });
});

const reloadLines = (): string[] => proc.lines.filter((l) => l.includes('"type":"reloaded"') || l.includes('"type":"reload-failed"'));
/** Sends SIGHUP and resolves with the next `reloaded` or `reload-failed` line. */
async function sighup(): Promise<Record<string, unknown>> {
  const before = reloadLines().length;
  process.kill(proc.child.pid!, "SIGHUP");
  await proc.waitForLine(() => reloadLines().length > before);
  return JSON.parse(reloadLines()[before]!) as Record<string, unknown>;
}

describe("SIGHUP", () => {
  it("before: GetCACert is CA 1, GetCACaps announces GetNextCACert, GetNextCACert is CA 2 signed by CA 1", async () => {
    const caps = await keepAliveGet("/scep?operation=GetCACaps");
    expect(parseCaCaps(caps.body.toString("utf8")).has("GetNextCACert")).toBe(true);
    const next = await keepAliveGet("/scep?operation=GetNextCACert");
    expect(next.status).toBe(200);
    expect(parseGetNextCaCertResponse(new Uint8Array(next.body), [ca[1].cert]).map((c) => c.subject)).toEqual(["CN=Reload CA 2"]);
  });

  it("a bad file keeps the old state and logs one line without a secret; a CA rollover applies; the in-flight request and the keep-alive socket survive", async () => {
    const d = await device("inflight-device");
    const built = await buildPkcsReq({ csr: d.csr, signer: d.signer, recipient: ca[1].cert });
    const before = await keepAliveGet("/scep?operation=GetCACert");
    expect(Certificate.from(new Uint8Array(before.body)).subject).toBe("CN=Reload CA 1");

    // A request in flight through every reload: headers and half the body now, the rest at the end.
    const half = Math.floor(built.der.length / 2);
    const inflight = http.request({ host: "127.0.0.1", port, method: "POST", path: "/scep?operation=PKIOperation", headers: { "content-type": "application/x-pki-message", "content-length": built.der.length } });
    const answered = new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      inflight.on("response", (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c)).on("end", () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks) }));
      });
      inflight.on("error", reject);
    });
    inflight.write(built.der.subarray(0, half));
    inflight.flushHeaders();

    // 1. A next-CA file that holds no certificate: refused, the old next CA stays.
    writeFileSync(join(tmp, "next.pem"), "not a certificate\n");
    const refused = await sighup();
    expect(refused).toMatchObject({ type: "reload-failed", trigger: "SIGHUP", error: `SCEP_NEXT_CA_CERT: ${join(tmp, "next.pem")} holds no certificate` });
    const stillNext = await keepAliveGet("/scep?operation=GetNextCACert");
    expect(parseGetNextCaCertResponse(new Uint8Array(stillNext.body), [ca[1].cert]).map((c) => c.subject)).toEqual(["CN=Reload CA 2"]);

    // 2. A CA key that is not a key: refused, CA 1 stays.
    copyFileSync(ca[2].pem, join(tmp, "ca.pem"));
    writeFileSync(join(tmp, "ca.key"), "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n");
    copyFileSync(ca[3].pem, join(tmp, "next.pem"));
    const refusedKey = await sighup();
    expect(refusedKey.type).toBe("reload-failed");
    expect(String(refusedKey.error)).toContain("ca.key");
    expect(Certificate.from(new Uint8Array((await keepAliveGet("/scep?operation=GetCACert")).body)).subject).toBe("CN=Reload CA 1");

    // 3. The rollover: CA 2's certificate and key in place, CA 3 announced next.
    copyFileSync(ca[2].key, join(tmp, "ca.key"));
    const reloaded = await sighup();
    expect(reloaded).toMatchObject({ type: "reloaded", trigger: "SIGHUP", ca: "CN=Reload CA 2", nextCa: true });
    const after = await keepAliveGet("/scep?operation=GetCACert");
    expect(Certificate.from(new Uint8Array(after.body)).subject).toBe("CN=Reload CA 2");
    expect(after.localPort).toBe(before.localPort); // the same keep-alive connection
    const next = await keepAliveGet("/scep?operation=GetNextCACert");
    expect(parseGetNextCaCertResponse(new Uint8Array(next.body), [ca[2].cert]).map((c) => c.subject)).toEqual(["CN=Reload CA 3"]);

    // The expiry gauges name the CA in service and the next one only (no stale series of CA 1).
    const gauges = (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).split("\n").filter((l) => l.startsWith("scep_certificate_time_to_expiry{"));
    expect(gauges.map((l) => /role="([^"]+)",scep_certificate_subject="([^"]+)"/.exec(l)!.slice(1).join(" ")).sort()).toEqual(["ca CN=Reload CA 2", "next_ca CN=Reload CA 3"]);

    // The request in flight since before the reloads completes, answered by CA 1 (the kit it started on).
    inflight.end(built.der.subarray(half));
    const res = await answered;
    expect(res.status).toBe(200);
    const rep = await readCertRep(new Uint8Array(res.body), { decrypter: d.signer, caCertificates: [ca[1].cert], request: built });
    expect(rep.status).toBe("SUCCESS");
    expect(rep.certificate!.issuer).toBe("CN=Reload CA 1");

    // A new enrollment is issued by CA 2.
    const d2 = await device("after-rollover");
    const built2 = await buildPkcsReq({ csr: d2.csr, signer: d2.signer, recipient: ca[2].cert });
    const res2 = await fetch(`http://127.0.0.1:${port}/scep?operation=PKIOperation`, { method: "POST", body: built2.der as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/x-pki-message" } });
    const rep2 = await readCertRep(new Uint8Array(await res2.arrayBuffer()), { decrypter: d2.signer, caCertificates: [ca[2].cert], request: built2 });
    expect([rep2.status, rep2.certificate!.issuer]).toEqual(["SUCCESS", "CN=Reload CA 2"]);

    // No reload line holds the challenge; the process is the same one, still serving.
    for (const l of proc.lines.filter((x) => x.includes('"type":"reload'))) expect(l).not.toContain(CHALLENGE);
    expect(proc.child.exitCode).toBeNull();
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
  }, 120_000);
});

describe("SIGHUP with a configuration file: Intune trust anchors", () => {
  const AUDIENCE = "https://scep.example.test/mdm";
  let dir: string;
  let ex: ExampleProcess;
  let base: string;
  const scrape = async (): Promise<string> => (await fetch(`${base}/metrics`)).text();
  const anchorGauges = (text: string): string[] => text.split("\n").filter((l) => l.startsWith("scep_trust_anchor_time_to_expiry{")).map((l) => /scep_trust_anchor_subject="([^"]+)"/.exec(l)![1]!);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "scep-sighup-anchors-"));
    const [one, two] = await Promise.all([anchor("p256", "CN=Connector 2026", new Date(), 30), anchor("p256", "CN=Connector 2027", new Date(), 60)]);
    writeFileSync(join(dir, "anchors.pem"), one.pem);
    writeFileSync(join(dir, "anchors-next.pem"), two.pem);
    writeFileSync(join(dir, "scep-config.json"), JSON.stringify({ profiles: [{ path: "/mdm", intune: { mode: "signed-token", trustAnchors: "anchors.pem", audience: AUDIENCE } }] }));
    ({ proc: ex, base } = await startExample(EXAMPLE_DIR, { SCEP_DATA_DIR: join(dir, "data"), SCEP_CONFIG: join(dir, "scep-config.json"), SCEP_CHALLENGE: CHALLENGE }));
  }, 60_000);
  afterAll(async () => {
    await ex?.terminate();
    rmSync(dir, { recursive: true, force: true });
  });

  const lines = (): string[] => ex.lines.filter((l) => l.includes('"type":"reloaded"') || l.includes('"type":"reload-failed"'));
  async function hup(): Promise<Record<string, unknown>> {
    const before = lines().length;
    process.kill(ex.child.pid!, "SIGHUP");
    await ex.waitForLine(() => lines().length > before);
    return JSON.parse(lines()[before]!) as Record<string, unknown>;
  }

  it("the profile is kind intune and its anchor's days to expiry is a metric", async () => {
    expect(anchorGauges(await scrape())).toEqual(["CN=Connector 2026"]);
  });

  it("a bundle that is not PEM: reload-failed naming the field, the old anchors stay; a new bundle: reloaded, its anchor in service", async () => {
    writeFileSync(join(dir, "anchors.pem"), "garbage\n");
    const refused = await hup();
    expect(refused).toMatchObject({ type: "reload-failed", trigger: "SIGHUP" });
    // Every configuration-file error names the file first (the same line a start would print).
    expect(String(refused.error)).toBe(`${join(dir, "scep-config.json")}: profiles[0].intune.trustAnchors: ${join(dir, "anchors.pem")}: the bundle holds no certificate`);
    expect(anchorGauges(await scrape())).toEqual(["CN=Connector 2026"]);

    writeFileSync(join(dir, "anchors.pem"), readFileSync(join(dir, "anchors-next.pem")));
    expect(await hup()).toMatchObject({ type: "reloaded", trigger: "SIGHUP" });
    expect(anchorGauges(await scrape())).toEqual(["CN=Connector 2027"]);
    expect(ex.child.exitCode).toBeNull();
  }, 60_000);
});

describe("SIGHUP to the primary of --workers 2", () => {
  let dir: string;
  let ex: ExampleProcess;
  let base: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "scep-sighup-cluster-"));
    copyFileSync(ca[2].pem, join(dir, "next.pem"));
    ({ proc: ex, base } = await startExample(EXAMPLE_DIR, { SCEP_DATA_DIR: join(dir, "data"), SCEP_CHALLENGE: CHALLENGE, SCEP_NEXT_CA_CERT: join(dir, "next.pem"), SCEP_WORKERS: "2" }));
  }, 90_000);
  afterAll(async () => {
    await ex?.terminate();
    rmSync(dir, { recursive: true, force: true });
  });

  it("is passed to every worker; each reloads (the next CA changes on both)", async () => {
    copyFileSync(ca[3].pem, join(dir, "next.pem"));
    process.kill(ex.child.pid!, "SIGHUP");
    expect(await ex.waitForJson("reload")).toMatchObject({ signal: "SIGHUP", workers: 2 });
    const w1 = await ex.waitForJson("reloaded", (e) => e.worker === 1);
    const w2 = await ex.waitForJson("reloaded", (e) => e.worker === 2);
    expect([w1.nextCa, w2.nextCa]).toEqual([true, true]);
    // Whichever worker answers, the next CA is CA 3 now (four requests: the primary spreads them round-robin).
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${base}/scep?operation=GetNextCACert`);
      const caCert = Certificate.from(new Uint8Array(await (await fetch(`${base}/scep?operation=GetCACert`)).arrayBuffer()));
      expect(parseGetNextCaCertResponse(new Uint8Array(await res.arrayBuffer()), [caCert]).map((c) => c.subject)).toEqual(["CN=Reload CA 3"]);
    }
    expect(ex.child.exitCode).toBeNull();
  }, 60_000);
});
