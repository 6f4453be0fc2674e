/**
 * `--ca-identifier TEXT` on every command: sent, percent-encoded, as the `message` of GetCACaps and GetCACert (RFC 8894
 * §3.5.1, §4.2; ScepClient's `caIdentifier`), which a multi-CA server (EJBCA in CA mode) needs to pick the CA; without
 * the flag no `message` at all. The CLI runs in this process (`main`) against a @scep/core server on loopback that
 * records each request line, through a whole enroll → renew → getcert → getcrl run.
 */
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHALLENGE, createFixture, type Fixture } from "../../../packages/core/test/support/adapter-fixture.js";
import { MemoryCaRegistry, MemoryProfileStore, buildProxyUrl, createScepProxy } from "../../../packages/proxy/src/index.js";
import { CHECK_PROXY_CA_IDENTIFIER } from "../src/lib/exit.js";
import { runInProcess as scep, serveFetch, type Loopback } from "./support/in-process.js";

const CA_ID = "Management CA/ü&x=1";
const ENCODED = "Management%20CA%2F%C3%BC%26x%3D1";

let dir: string;
let fx: Fixture;
let http: Loopback;
let url: string;
/** The request target (path and raw query) of each GetCACaps and GetCACert, in order. */
const seen: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-cli-ca-id-"));
  fx = await createFixture();
  http = await serveFetch((request) => {
    const target = request.url.slice(request.url.indexOf("/", 8));
    if (/[?&]operation=GetCA(Caps|Cert)(&|$)/.test(target)) seen.push(target);
    return fx.server.fetch(request);
  });
  url = `${http.base}/scep`;
});
afterAll(async () => {
  await http?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs one command and returns its exit code and the GetCACaps/GetCACert requests it sent. */
async function run(args: readonly string[], cwd: string): Promise<{ code: number; err: string[]; sent: string[] }> {
  seen.length = 0;
  const r = await scep([...args, "--url", url], cwd);
  return { code: r.code, err: r.err, sent: [...seen] };
}

describe("--ca-identifier: the message of GetCACaps and GetCACert (RFC 8894 §3.5.1, §4.2)", () => {
  it.each([
    ["with", ["--ca-identifier", CA_ID]],
    ["without", []],
  ] as const)("%s the flag: every command that talks to the CA sends it percent-encoded on each GetCACaps/GetCACert, or none", async (_, flag) => {
    const cwd = mkdtempSync(join(dir, "run-"));
    const enroll = await run(["enroll", "--challenge", CHALLENGE, "--cn", "device", "--out", "d.pem", ...flag], cwd);
    expect([enroll.code, enroll.err]).toEqual([0, []]);
    const serial = new X509Certificate(readFileSync(join(cwd, "d.pem"))).serialNumber;
    const runs = {
      getcacaps: await run(["getcacaps", ...flag], cwd),
      getcacert: await run(["getcacert", ...flag], cwd),
      enroll,
      renew: await run(["renew", "--cert", "d.pem", "--key", "d.key", "--out", "n.pem", ...flag], cwd),
      getcert: await run(["getcert", "--serial", serial, ...flag], cwd),
      getcrl: await run(["getcrl", "--cert", "d.pem", ...flag], cwd),
    };
    // renew is served (exit 0); this server has no GetCert or GetCRL hook (a FAILURE each, exit 2), after GetCACert.
    expect(Object.fromEntries(Object.entries(runs).map(([name, r]) => [name, r.code]))).toEqual({ getcacaps: 0, getcacert: 0, enroll: 0, renew: 0, getcert: 2, getcrl: 2 });
    for (const [name, r] of Object.entries(runs)) {
      const operations = r.sent.map((target) => /operation=(\w+)/.exec(target)![1]);
      expect([name, operations]).toEqual([name, name === "getcacaps" ? ["GetCACaps"] : name === "enroll" || name === "renew" ? ["GetCACaps", "GetCACert"] : ["GetCACert"]]);
      const messages = r.sent.map((target) => [...target.matchAll(/[?&]message=([^&]*)/g)].map((m) => m[1]));
      expect([name, messages]).toEqual([name, r.sent.map(() => (flag.length > 0 ? [ENCODED] : []))]);
    }
  });

  it("an empty --ca-identifier is a usage error (exit 64) and nothing is sent", async () => {
    const r = await run(["getcacaps", "--ca-identifier="], mkdtempSync(join(dir, "empty-")));
    expect([r.code, r.err[0], r.sent]).toEqual([64, "scep: getcacaps: --ca-identifier is empty (leave it out to send no CA identifier)", []]);
  });
});

describe("--ca-identifier through a SCEP proxy whose CA does not know it", () => {
  it("@scep/proxy's 404 unknown CA identifier (its CA serves the default CA): exit 4, and the hint names --ca-identifier, not the path", async () => {
    // A multi-CA server (as EJBCA): GetCACert with a CA name it does not have → 404; without one, its default CA.
    const upstream = await serveFetch(async (request) => {
      const ident = new URL(request.url).searchParams.get("message");
      if (ident !== null && ident !== "Management CA" && new URL(request.url).searchParams.get("operation") === "GetCACert") return new Response("no such CA", { status: 404 });
      return fx.server.fetch(request);
    });
    const profiles = new MemoryProfileStore();
    const key = { hostId: "host-1", profileId: "wifi", caName: "ndes" };
    await profiles.put({ ...key, status: "pending", challengeRetrievedAt: Date.now(), updatedAt: Date.now() });
    const proxy = createScepProxy({ profiles, cas: new MemoryCaRegistry([{ name: "ndes", type: "ndes", url: `${upstream.base}/scep` }]) });
    const proxied = await serveFetch((request) => proxy.fetch(request));
    try {
      const proxyUrl = buildProxyUrl(`${proxied.base}/scep`, key);
      const cwd = mkdtempSync(join(dir, "proxy-ca-id-"));
      const known = await scep(["getcacert", "--url", proxyUrl, "--ca-identifier", "Management CA"], cwd);
      expect([known.code, known.err]).toEqual([0, []]);
      const unknown = await scep(["getcacert", "--url", proxyUrl, "--ca-identifier", "Other CA"], cwd);
      expect([unknown.code, unknown.err]).toEqual([4, [`scep: GetCACert: HTTP 404 (unknown CA identifier): ${CHECK_PROXY_CA_IDENTIFIER}`]]);
    } finally {
      await proxied.close();
      await upstream.close();
    }
  });
});
