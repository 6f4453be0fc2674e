/**
 * RFC 8894 §3.3.3: a device whose PKCSReq went PENDING upstream (NDES or Smallstep waiting for an operator) collects
 * its certificate with CertPoll, or by sending the same PKCSReq again, through the same one-time URL. When something
 * else used that URL in between (another key, another transaction), the proxy refuses it and requeues the profile
 * (Fleet's rule, PROXY.md check 5): status `none`. The device's poll then met check 3 and got 400 `profile status is
 * not pending: none`, so it never collected the certificate the operator approved.
 *
 * Now, at status `none`, a PKCSReq or CertPoll through a `custom` CA's spent URL whose signature verifies and whose
 * transactionID and signer key are those of the PKCSReq that spent the challenge (`ChallengeStore.isSpentBy`) is
 * forwarded; anything else still gets `not pending: none`, without a second requeue. The other key's PKCSReq is still
 * refused and requeued, as Fleet pins.
 *
 * Real upstream: a @scep/core server over loopback HTTP whose requests wait for an operator (PENDING until approved).
 */
import { MemoryChallengeStore, buildCertPoll, buildPkcsReq, generateCsr, readCertRep, type ScepEvent } from "@scep/core";
import { getRequestListener } from "@hono/node-server";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomChallenge } from "../../../test-support/peers";
import { close, listen } from "../../core/test/support/adapter-fixture.js";
import type { Requester } from "../../core/test/support/pki.js";
import { MemoryCaRegistry, MemoryProfileStore, buildProxyUrl, createScepProxy, type ProxyEvent } from "../src/index.js";
import { coreServerUpstream, manualAndAutoCore } from "./support/core-server-upstream.js";
import { customCaProxy, type CustomCaProxy } from "./support/custom-ca-proxy.js";

const CHALLENGE = randomChallenge();
const upstream = coreServerUpstream(() => manualAndAutoCore({ challenge: CHALLENGE }));
let px: CustomCaProxy;
let http: Server;
let base: string;
let devices = 0;

beforeAll(async () => {
  px = customCaProxy({ url: `${upstream.origin}/manual` });
  http = createServer(getRequestListener((req) => px.proxy.fetch(req)));
  base = `${await listen(http)}/mdm/scep`;
});
afterAll(() => close(http));

const text = (body: Uint8Array): string => new TextDecoder().decode(body);
const pkiEvents = (from: number): string[] =>
  upstream.fx.events.slice(from).filter((e: ScepEvent) => e.operation === "PKCSReq" || e.operation === "CertPoll").map((e) => `${e.operation} ${e.outcome}`);

/** A profile PENDING with a one-time URL; its device's PKCSReq (requester rsa) sent once → PENDING upstream. */
async function pendingDevice() {
  const n = ++devices;
  const key = { hostId: `poll-${n}`, profileId: "wifi", caName: "core" };
  const url = await px.oneTimeUrl(base, key);
  const post = async (der: Uint8Array) => {
    const res = await fetch(`${url}?operation=PKIOperation`, { method: "POST", body: der as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/x-pki-message" } });
    return { status: res.status, body: new Uint8Array(await res.arrayBuffer()) };
  };
  const { pki } = upstream.fx;
  const device = pki.requesters.rsa;
  const csr = await generateCsr({ keys: device.keys, subject: `CN=${key.hostId}, O=scep-sdk tests`, challengePassword: CHALLENGE, san: { dns: [`${key.hostId}.example.test`] } });
  const req = await buildPkcsReq({ csr, signer: device.signer, recipient: pki.ca.certificate, transactionId: `TX-${key.hostId}` });
  const read = (body: Uint8Array, r: Requester = device) => readCertRep(body, { decrypter: r.signer, caCertificates: [pki.ca.certificate] });
  const poll = (r: Requester = device, transactionId = req.transactionId) =>
    buildCertPoll({ signer: r.signer, recipient: pki.ca.certificate, issuer: pki.ca.certificate, subject: r.signer.certificate.subjectDer, transactionId }).then((p) => p.der);
  const first = await post(req.der);
  expect(first.status).toBe(200);
  expect((await read(first.body)).status).toBe("PENDING");
  const events = () => px.events.filter((e) => e.hostId === key.hostId && e.operation === "PKIOperation");
  return { key, url, post, read, poll, req, device, events };
}

/** Another key's PKCSReq (its own transaction) through the device's spent URL: refused and requeued (Fleet's rule). */
async function otherKeyUses(d: Awaited<ReturnType<typeof pendingDevice>>) {
  const { pki } = upstream.fx;
  const other = pki.requesters.p256;
  const csr = await generateCsr({ keys: other.keys, subject: `CN=${d.key.hostId}, O=scep-sdk tests`, challengePassword: CHALLENGE });
  const res = await d.post((await buildPkcsReq({ csr, signer: other.signer, recipient: pki.ca.certificate, transactionId: `TX-other-${d.key.hostId}` })).der);
  expect([res.status, text(res.body)]).toEqual([400, "challenge failed"]);
  expect(d.events().at(-1)).toMatchObject({ reason: "challenge_failed", requeued: true });
  expect(await px.profiles.get(d.key)).toMatchObject({ status: "none", requeueCount: 1 });
  return other;
}

describe("RFC 8894 §3.3.3: the genuine device still polls after another key's use requeued its profile", () => {
  it("PKCSReq → PENDING; another key's PKCSReq → 400, requeued; approved; the device's CertPoll → SUCCESS with its certificate; no second requeue", async () => {
    const d = await pendingDevice();
    const since = upstream.fx.events.length - 1;
    await otherKeyUses(d);

    // Still waiting: the poll reaches the CA, which answers PENDING.
    const waiting = await d.post(await d.poll());
    expect(waiting.status).toBe(200);
    expect((await d.read(waiting.body)).status).toBe("PENDING");

    await upstream.fx.server.approve("manual", d.req.transactionId);
    const res = await d.post(await d.poll());
    expect(res.status).toBe(200);
    const rep = await d.read(res.body);
    expect(rep.status).toBe("SUCCESS");
    expect(rep.certificates[0]!.subject).toBe(`CN=${d.key.hostId}, O=scep-sdk tests`);
    expect(rep.certificates[0]!.isIssuedBy(upstream.fx.pki.ca.certificate)).toBe(true);

    expect(pkiEvents(since)).toEqual(["PKCSReq pending", "CertPoll pending", "CertPoll success"]);
    expect(d.events().map((e) => [e.reason, e.resend ?? false, e.requeued ?? false])).toEqual([
      ["forwarded", false, false],
      ["challenge_failed", false, true],
      ["forwarded", true, false],
      ["forwarded", true, false],
    ]);
    expect(await px.profiles.get(d.key)).toMatchObject({ status: "none", requeueCount: 1 });
  });

  it("the device's re-send of the same PKCSReq after the requeue → forwarded, SUCCESS once approved", async () => {
    const d = await pendingDevice();
    await otherKeyUses(d);
    await upstream.fx.server.approve("manual", d.req.transactionId);
    const res = await d.post(d.req.der);
    expect(res.status).toBe(200);
    const rep = await d.read(res.body);
    expect(rep.status).toBe("SUCCESS");
    expect(rep.certificates[0]!.subject).toBe(`CN=${d.key.hostId}, O=scep-sdk tests`);
    expect(d.events().at(-1)).toMatchObject({ reason: "forwarded", resend: true });
    expect(await px.profiles.get(d.key)).toMatchObject({ status: "none", requeueCount: 1 });
  });

  it("at status none the spent URL refuses everything else with not pending (no second requeue, nothing reaches the CA): the other key again, its CertPoll, a poll of the device's transaction signed by the other key", async () => {
    const d = await pendingDevice();
    const other = await otherKeyUses(d);
    const seen = upstream.fx.events.length;
    const { pki } = upstream.fx;
    const csr = await generateCsr({ keys: other.keys, subject: `CN=${d.key.hostId}, O=scep-sdk tests`, challengePassword: CHALLENGE });
    const attempts = [
      (await buildPkcsReq({ csr, signer: other.signer, recipient: pki.ca.certificate, transactionId: `TX-other-${d.key.hostId}` })).der,
      await d.poll(other, `TX-other-${d.key.hostId}`),
      await d.poll(other),
      await d.poll(d.device, `${d.req.transactionId}-2`),
      new Uint8Array([0x30, 0x00]),
    ];
    for (const der of attempts) {
      const res = await d.post(der);
      expect([res.status, text(res.body)]).toEqual([400, "profile status is not pending: none"]);
      expect(d.events().at(-1)).toMatchObject({ reason: "not_pending" });
    }
    expect(upstream.fx.events.length).toBe(seen);
    expect(await px.profiles.get(d.key)).toMatchObject({ status: "none", requeueCount: 1 });
  });

  it("forwardResends: false keeps the URL to one PKCSReq: after the requeue the device's CertPoll gets not pending", async () => {
    const profiles = new MemoryProfileStore();
    const challenges = new MemoryChallengeStore();
    const events: ProxyEvent[] = [];
    const strict = createScepProxy({ basePath: "/mdm/scep", profiles, challenges, forwardResends: false, cas: new MemoryCaRegistry([{ name: "core", type: "custom", url: `${upstream.origin}/manual` }]), onEvent: (e) => events.push(e) });
    const key = { hostId: `strict-${++devices}`, profileId: "wifi", caName: "core" };
    await profiles.put({ ...key, status: "pending", updatedAt: Date.now() });
    const url = buildProxyUrl("http://proxy.test/mdm/scep", { ...key, challenge: await challenges.issue({ profile: "core", ttlMs: 3_600_000 }) });
    const post = (der: Uint8Array) => strict.fetch(new Request(`${url}?operation=PKIOperation`, { method: "POST", body: der as Uint8Array<ArrayBuffer> }));
    const { pki } = upstream.fx;
    const device = pki.requesters.rsa;
    const csr = await generateCsr({ keys: device.keys, subject: `CN=${key.hostId}, O=scep-sdk tests`, challengePassword: CHALLENGE });
    const req = await buildPkcsReq({ csr, signer: device.signer, recipient: pki.ca.certificate, transactionId: `TX-${key.hostId}` });
    expect((await post(req.der)).status).toBe(200);
    expect((await post(req.der)).status).toBe(400); // its own re-send: refused and requeued (forwardResends: false)
    const poll = await buildCertPoll({ signer: device.signer, recipient: pki.ca.certificate, issuer: pki.ca.certificate, subject: device.signer.certificate.subjectDer, transactionId: req.transactionId });
    const res = await post(poll.der);
    expect([res.status, await res.text()]).toEqual([400, "profile status is not pending: none"]);
    expect(events.map((e) => e.reason)).toEqual(["forwarded", "challenge_failed", "not_pending"]);
  });
});
