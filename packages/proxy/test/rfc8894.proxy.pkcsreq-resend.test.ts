/**
 * RFC 8894 §3.3.1 / §3.3.3: a client re-sends the PKCSReq it sent (same transactionID) when the CA answered PENDING
 * or the reply was lost. Through the proxy's one-time URL (a `custom` CA) that re-send used to be refused: the
 * PKCSReq had spent the challenge, so the proxy answered 400 "challenge failed" and requeued the profile; the device
 * never got its certificate and the MDM was told to start over. Now the consume records a binding (the signed
 * transactionID and the signer key) and a re-send with the same binding and a signature that verifies is forwarded,
 * without requeue; anything else through the spent URL is refused as before.
 *
 * Real peers on loopback: a @scep/core server as the upstream CA (over HTTP), micromdm `scepclient` 2.1.0 (on PENDING
 * it sleeps 30 s and sends a new PKCSReq for the same key: new senderNonce, new self-signed certificate, same
 * transactionID), and the SDK's own requests.
 */
import { createServer, type Server } from "node:http";
import { X509Certificate } from "node:crypto";
import { getRequestListener } from "@hono/node-server";
import {
  MemoryChallengeStore,
  ScepClient,
  StoreUnavailableError,
  buildPkcsReq,
  generateCsr,
  readCertRep,
  type ChallengeStore,
  type ScepEvent,
  type ScepServer,
} from "@scep/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomChallenge, runScepclient } from "../../../test-support/peers";
import { parseSignedData } from "../../core/src/cms/signed-data.js";
import { close, listen } from "../../core/test/support/adapter-fixture.js";
import type { Requester, TestPki } from "../../core/test/support/pki.js";
import { MemoryCaRegistry, MemoryProfileStore, buildProxyUrl, createScepProxy, type ProxyEvent, type ScepProxy } from "../src/index.js";
import { coreServerUpstream, manualAndAutoCore } from "./support/core-server-upstream.js";
import { customCaProxy, type CustomCaProxy } from "./support/custom-ca-proxy.js";

const CHALLENGE = randomChallenge();
/** Called with each event of the core server (the scepclient test approves from here). */
let onCoreEvent: (e: ScepEvent) => void = () => {};
/** The upstream CA over HTTP: requests under /manual wait for an operator; under /auto they are issued at once. */
const upstream = coreServerUpstream(() => manualAndAutoCore({ challenge: CHALLENGE, onEvent: (e) => onCoreEvent(e) }));
let pki: TestPki;
let core: ScepServer;
let coreEvents: ScepEvent[];
let manual: CustomCaProxy;
let auto: CustomCaProxy;
let proxyHttp: Server[] = [];
let manualBase: string;
let autoBase: string;
let devices = 0;

beforeAll(async () => {
  ({ pki, server: core, events: coreEvents } = upstream.fx);
  manual = customCaProxy({ url: `${upstream.origin}/manual` });
  auto = customCaProxy({ url: `${upstream.origin}/auto` });
  const mount = async (px: CustomCaProxy): Promise<string> => {
    const http = createServer(getRequestListener((req) => px.proxy.fetch(req)));
    proxyHttp.push(http);
    return `${await listen(http)}/mdm/scep`;
  };
  manualBase = await mount(manual);
  autoBase = await mount(auto);
});
afterAll(async () => {
  for (const http of proxyHttp) await close(http);
  proxyHttp = [];
});

/** A device: a profile PENDING at the proxy with a one-time URL, and a CSR of its own (a SAN of its own). */
async function device(px: CustomCaProxy, base: string, requester: Requester = pki.requesters.rsa) {
  const n = ++devices;
  const key = { hostId: `dev-${n}`, profileId: "wifi", caName: "core" };
  const url = await px.oneTimeUrl(base, key);
  const csr = await generateCsr({ keys: requester.keys, subject: `CN=dev-${n}, O=scep-sdk tests`, challengePassword: CHALLENGE, san: { dns: [`dev-${n}.example.test`] } });
  const post = async (der: Uint8Array) => {
    const res = await fetch(`${url}?operation=PKIOperation`, { method: "POST", body: der as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/x-pki-message" } });
    return { status: res.status, retryAfter: res.headers.get("retry-after"), body: new Uint8Array(await res.arrayBuffer()) };
  };
  const read = (body: Uint8Array) => readCertRep(body, { decrypter: requester.signer, caCertificates: [pki.ca.certificate] });
  return { key, url, csr, post, read, requester, events: () => px.events.filter((e) => e.hostId === key.hostId && e.operation === "PKIOperation") };
}

const outcomes = (since: number): string[] => coreEvents.slice(since).filter((e) => e.operation === "PKCSReq" || e.operation === "CertPoll").map((e) => `${e.operation} ${e.outcome}`);

describe("RFC 8894 §3.3.1: a PKCSReq answered PENDING, re-sent through the spent one-time URL", () => {
  it("micromdm scepclient: PENDING, its re-send 30 s later → PENDING, approved, its next re-send → SUCCESS; never refused, never requeued", async () => {
    const key = { hostId: `scepclient-${++devices}`, profileId: "wifi", caName: "core" };
    const url = await manual.oneTimeUrl(manualBase, key);
    const since = coreEvents.length;
    let pendings = 0;
    let approved: Promise<unknown> | undefined;
    onCoreEvent = (e) => {
      // Approve after the first re-send was answered PENDING: the re-send after that must bring the certificate.
      if (e.operation === "PKCSReq" && e.outcome === "pending" && ++pendings === 2) approved ??= core.approve("manual", e.transactionId!);
    };
    const r = await runScepclient({ url, challenge: CHALLENGE, cn: key.hostId, timeoutMs: 150_000 });
    onCoreEvent = () => {};
    await approved;
    expect(r.ok, r.stdout + r.stderr).toBe(true);
    expect(r.messageType).toBe("PKCSReq");
    const cert = new X509Certificate(r.certPem!);
    expect(cert.subject).toContain(`CN=${key.hostId}`);
    expect(cert.checkIssued(new X509Certificate(Buffer.from(pki.ca.certificate.der)))).toBe(true);

    expect(outcomes(since)).toEqual(["PKCSReq pending", "PKCSReq pending", "PKCSReq success"]);
    const tids = coreEvents.slice(since).filter((e) => e.operation === "PKCSReq").map((e) => e.transactionId);
    expect(new Set(tids).size).toBe(1);
    const proxied = manual.events.filter((e) => e.hostId === key.hostId && e.operation === "PKIOperation");
    expect(proxied.map((e) => [e.reason, e.resend ?? false, e.requeued ?? false])).toEqual([
      ["forwarded", false, false],
      ["forwarded", true, false],
      ["forwarded", true, false],
    ]);
    expect(await manual.profiles.get(key)).toMatchObject({ status: "pending" });
    expect((await manual.profiles.get(key))?.requeueCount).toBeUndefined();
  }, 180_000);

  it("the SDK's identical re-send: PENDING, PENDING, approved, SUCCESS with the certificate for the CSR's key", async () => {
    const d = await device(manual, manualBase);
    const req = await buildPkcsReq({ csr: d.csr, signer: d.requester.signer, recipient: pki.ca.certificate });
    const since = coreEvents.length;
    const first = await d.post(req.der);
    expect(first.status).toBe(200);
    expect((await d.read(first.body)).status).toBe("PENDING");
    const again = await d.post(req.der);
    expect(again.status).toBe(200);
    expect((await d.read(again.body)).status).toBe("PENDING");
    await core.approve("manual", req.transactionId);
    const last = await d.post(req.der);
    expect(last.status).toBe(200);
    const rep = await d.read(last.body);
    expect(rep.status).toBe("SUCCESS");
    expect(rep.certificates[0]!.subject).toBe(`CN=${d.key.hostId}, O=scep-sdk tests`);
    expect(rep.certificates[0]!.isIssuedBy(pki.ca.certificate)).toBe(true);
    expect(outcomes(since)).toEqual(["PKCSReq pending", "PKCSReq pending", "PKCSReq success"]);
    expect(d.events().map((e) => e.resend ?? false)).toEqual([false, true, true]);
    expect(d.events().some((e) => e.requeued)).toBe(false);
    expect(manual.proxy.stats().cas.core?.resends).toBeGreaterThanOrEqual(2);
  });
});

describe("RFC 8894 §3.3.1: a reply lost on the way, the PKCSReq re-sent", () => {
  it("the same bytes again get the same certificate; a rebuilt PKCSReq (new senderNonce, same transactionID and key) too; the CA issued once", async () => {
    const d = await device(auto, autoBase);
    const req = await buildPkcsReq({ csr: d.csr, signer: d.requester.signer, recipient: pki.ca.certificate });
    const before = upstream.fx.issued;
    const lost = await d.post(req.der); // the device never reads this reply (a timeout on its side)
    expect(lost.status).toBe(200);
    const resent = await d.post(req.der);
    expect(resent.status).toBe(200);
    const a = await d.read(lost.body);
    const b = await d.read(resent.body);
    expect([a.status, b.status]).toEqual(["SUCCESS", "SUCCESS"]);
    expect(Buffer.from(b.certificates[0]!.der)).toEqual(Buffer.from(a.certificates[0]!.der));

    const rebuilt = await new ScepClient({ url: d.url }).enroll({ csr: d.csr, signer: d.requester.signer });
    expect(rebuilt.status).toBe("SUCCESS");
    expect(Buffer.from(rebuilt.certificates[0]!.der)).toEqual(Buffer.from(a.certificates[0]!.der));
    expect(upstream.fx.issued - before).toBe(1);
    expect(d.events().map((e) => [e.reason, e.resend ?? false])).toEqual([
      ["forwarded", false],
      ["forwarded", true],
      ["forwarded", true],
    ]);
    expect(await auto.profiles.get(d.key)).toMatchObject({ status: "pending" });
    expect((await auto.profiles.get(d.key))?.requeueCount).toBeUndefined();
  });
});

describe("what the spent URL still refuses (requeue + 400, as before)", () => {
  /** A device whose PKCSReq spent its URL's challenge (issued), and a way to send another message through that URL. */
  async function spent() {
    const d = await device(auto, autoBase);
    const req = await buildPkcsReq({ csr: d.csr, signer: d.requester.signer, recipient: pki.ca.certificate });
    expect((await d.post(req.der)).status).toBe(200);
    return { ...d, req };
  }
  async function refused(d: Awaited<ReturnType<typeof spent>>, der: Uint8Array) {
    const seen = coreEvents.length;
    const res = await d.post(der);
    expect(res.status).toBe(400);
    expect(new TextDecoder().decode(res.body)).toBe("challenge failed");
    expect(d.events().at(-1)).toMatchObject({ reason: "challenge_failed", requeued: true });
    expect(d.events().at(-1)?.resend).toBeUndefined();
    expect(await auto.profiles.get(d.key)).toMatchObject({ status: "none", requeueCount: 1 });
    expect(coreEvents.length).toBe(seen); // the CA never saw it
  }

  it("the same signer with another transactionID", async () => {
    const d = await spent();
    await refused(d, (await buildPkcsReq({ csr: d.csr, signer: d.requester.signer, recipient: pki.ca.certificate, transactionId: `${d.req.transactionId}-2` })).der);
  });

  it("another signer key under the same transactionID", async () => {
    const d = await spent();
    const other = pki.requesters.p256;
    const csr = await generateCsr({ keys: other.keys, subject: `CN=${d.key.hostId}, O=scep-sdk tests`, challengePassword: CHALLENGE });
    await refused(d, (await buildPkcsReq({ csr, signer: other.signer, recipient: pki.ca.certificate, transactionId: d.req.transactionId })).der);
  });

  it("the first message with its signature altered (same transactionID, same signer certificate): the proxy verifies it, it does not leave that to the CA", async () => {
    const d = await spent();
    const forged = d.req.der.slice();
    forged[forged.length - 1]! ^= 0x01; // the SignerInfo's signature is the message's last field
    await refused(d, forged);
  });

  it("the first message with another envelope (its signed messageDigest no longer matches)", async () => {
    const d = await spent();
    const envelope = parseSignedData(d.req.der).content!;
    const at = Buffer.from(d.req.der).indexOf(Buffer.from(envelope));
    expect(at).toBeGreaterThan(0);
    const forged = d.req.der.slice();
    forged[at + envelope.length - 1]! ^= 0x01; // the last ciphertext byte
    await refused(d, forged);
  });

  it("a RenewalReq through the spent URL spends nothing and is refused as before (renewals keep their path)", async () => {
    const d = await spent();
    const renewal = await buildPkcsReq({ csr: d.csr, signer: d.requester.signer, recipient: pki.ca.certificate, renewal: true });
    expect(renewal.transactionId).toBe(d.req.transactionId);
    await refused(d, renewal.der);
  });
});

describe("stores: an older ChallengeStore without isSpentBy, and a store that is down", () => {
  /** A proxy in front of the auto profile over `challenges`; the device's PKCSReq has spent its URL's challenge. */
  async function setup(challenges: ChallengeStore, issue: MemoryChallengeStore, options: { forwardResends?: boolean } = {}) {
    const profiles = new MemoryProfileStore();
    const events: ProxyEvent[] = [];
    const proxy: ScepProxy = createScepProxy({
      ...options,
      basePath: "/mdm/scep",
      profiles,
      challenges,
      cas: new MemoryCaRegistry([{ name: "core", type: "custom", url: `${upstream.origin}/auto` }]),
      onEvent: (e) => events.push(e),
      logger: { error: () => undefined },
    });
    const n = ++devices;
    const key = { hostId: `store-${n}`, profileId: "wifi", caName: "core" };
    await profiles.put({ ...key, status: "pending", updatedAt: Date.now() });
    const url = buildProxyUrl("http://proxy.test/mdm/scep", { ...key, challenge: await issue.issue({ profile: "core", ttlMs: 3_600_000 }) });
    const r = pki.requesters.rsa;
    const csr = await generateCsr({ keys: r.keys, subject: `CN=store-${n}, O=scep-sdk tests`, challengePassword: CHALLENGE, san: { dns: [`store-${n}.example.test`] } });
    const req = await buildPkcsReq({ csr, signer: r.signer, recipient: pki.ca.certificate });
    const post = () => proxy.fetch(new Request(`${url}?operation=PKIOperation`, { method: "POST", body: req.der as Uint8Array<ArrayBuffer> }));
    expect((await post()).status).toBe(200);
    return { profiles, key, events, post };
  }

  it("a store without isSpentBy (written before it existed) keeps today's behaviour: the re-send is refused and requeued; it is given no binding (no signature is checked for one it cannot match)", async () => {
    const memory = new MemoryChallengeStore();
    const consumed: object[] = [];
    const older: ChallengeStore = {
      issue: (o) => memory.issue(o),
      consume: (c, o) => {
        consumed.push(o);
        return memory.consume(c, o);
      },
      release: (c, o) => memory.release(c, o),
    };
    const s = await setup(older, memory);
    const res = await s.post();
    expect([res.status, await res.text()]).toEqual([400, "challenge failed"]);
    expect(s.events.at(-1)).toMatchObject({ reason: "challenge_failed", requeued: true });
    expect(consumed).toHaveLength(2);
    for (const o of consumed) expect(Object.keys(o).sort()).toEqual(["consumption", "profile"]);
  });

  it("a store with isSpentBy: each consume of a PKCSReq names its binding (transactionID and signer key thumbprint)", async () => {
    const memory = new MemoryChallengeStore();
    const bindings: (string | undefined)[] = [];
    const recording: ChallengeStore = {
      issue: (o) => memory.issue(o),
      consume: (c, o) => {
        bindings.push(o.binding);
        return memory.consume(c, o);
      },
      release: (c, o) => memory.release(c, o),
      isSpentBy: (c, o) => memory.isSpentBy(c, o),
    };
    const s = await setup(recording, memory);
    expect((await s.post()).status).toBe(200);
    expect(bindings).toHaveLength(2);
    expect(bindings[0]).toMatch(/^pkcsreq:\["[^"]+","[A-Za-z0-9_-]{43}"\]$/);
    expect(bindings[1]).toBe(bindings[0]);
    expect(s.events.at(-1)).toMatchObject({ reason: "forwarded", resend: true });
  });

  it("forwardResends: false keeps the one-time URL to one PKCSReq: its re-send is refused and requeued, with a store that has isSpentBy", async () => {
    const memory = new MemoryChallengeStore();
    const s = await setup(memory, memory, { forwardResends: false });
    const res = await s.post();
    expect([res.status, await res.text()]).toEqual([400, "challenge failed"]);
    expect(s.events.at(-1)).toMatchObject({ reason: "challenge_failed", requeued: true });
    expect(s.events.at(-1)?.resend).toBeUndefined();
    expect(await s.profiles.get(s.key)).toMatchObject({ status: "none", requeueCount: 1 });
  });

  it("forwardResends that is not a boolean (a string \"false\" from an environment variable) is ERR_PROXY_CONFIG at construction, not a silent true", () => {
    for (const [value, kind] of [["false", "a string"], [0, "a number"], [null, "null"]] as const) {
      expect(() =>
        createScepProxy({ profiles: new MemoryProfileStore(), cas: new MemoryCaRegistry([]), forwardResends: value as unknown as boolean }),
      ).toThrow(expect.objectContaining({ name: "ProxyConfigError", code: "ERR_PROXY_CONFIG", message: `forwardResends must be true or false (got ${kind})` }));
    }
  });

  it("by default (forwardResends unset) the same re-send through the same kind of store is forwarded", async () => {
    const memory = new MemoryChallengeStore();
    const s = await setup(memory, memory);
    const res = await s.post();
    expect(res.status).toBe(200);
    expect(s.events.at(-1)).toMatchObject({ reason: "forwarded", resend: true });
  });

  it("isSpentBy failing with StoreUnavailableError → 503 with Retry-After, no requeue, nothing written; once the store is back the re-send is forwarded", async () => {
    const memory = new MemoryChallengeStore();
    let down = false;
    const flaky: ChallengeStore = {
      issue: (o) => memory.issue(o),
      consume: (c, o) => memory.consume(c, o),
      release: (c, o) => memory.release(c, o),
      isSpentBy: async (c, o) => {
        if (down) throw new StoreUnavailableError("challenge store down", { retryAfterSeconds: 7 });
        return memory.isSpentBy(c, o);
      },
    };
    const s = await setup(flaky, memory);
    down = true;
    const res = await s.post();
    expect([res.status, res.headers.get("retry-after")]).toEqual([503, "7"]);
    expect(s.events.at(-1)).toMatchObject({ outcome: "unavailable", reason: "store_unavailable", status: 503 });
    expect(s.events.at(-1)?.requeued).toBeUndefined();
    expect(await s.profiles.get(s.key)).toMatchObject({ status: "pending" });
    expect((await s.profiles.get(s.key))?.requeueCount).toBeUndefined();
    down = false;
    const retry = await s.post();
    expect(retry.status).toBe(200);
    expect(s.events.at(-1)).toMatchObject({ reason: "forwarded", resend: true });
  });
});
