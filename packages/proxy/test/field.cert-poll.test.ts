/**
 * Field reports about polling an enrollment that waits for approval (RFC 8894 §3.3.3), rebuilt through our proxy
 * (a `custom` CA, one-time challenge in the URL) in front of a @scep/core server whose requests wait for an operator,
 * with the real strongSwan `pki --scep` and with the SDK's ScepClient.
 *
 * - A client polls a PENDING request with CertPoll (GetCertInitial) under the same transactionID until the CA
 *   answers SUCCESS or FAILURE; OpenXPKI needs exactly that to deliver a certificate approved by hand
 *   (certnanny/sscep#136, https://github.com/certnanny/sscep/issues/136), micromdm's client was asked to do it instead
 *   of re-sending its PKCSReq (micromdm/scep#171, https://github.com/micromdm/scep/issues/171), and a server that kept
 *   answering the polls with PENDING, then FAILURE, stranded a certificate it had issued (OmniTrustILM/core#1834,
 *   https://github.com/OmniTrustILM/core/issues/1834).
 * - Through our proxy every poll was refused: the poll comes to the device's one-time URL, whose challenge the
 *   PKCSReq had spent, so the proxy answered 400 "challenge failed" and requeued the profile; the device never
 *   collected the certificate the operator approved. Fixed: a CertPoll is forwarded without the challenge check (it
 *   carries no challenge and spends none; the CA answers it from its own transaction). A re-sent PKCSReq (same
 *   transactionID and signer key as the one that spent the challenge) is forwarded too
 *   (rfc8894.proxy.pkcsreq-resend.test.ts); another request through the URL is still refused. An NDES challenge's
 *   57-minute window no longer ends the polls of an approval that takes longer either.
 */
import { createServer, type Server } from "node:http";
import { X509Certificate } from "node:crypto";
import { getRequestListener } from "@hono/node-server";
import { MemoryTransactionStore, ScepClient, buildCertPoll, buildPkcsReq, createScepServer, createSelfSignedSigner, generateCsr, generateRsaKeyPair, type ScepEvent, type ScepServer } from "@scep/core";
import { manualClock } from "@scep/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runStrongswanGen, runStrongswanScep } from "../../../test-support/peers";
import { close, listen } from "../../core/test/support/adapter-fixture.js";
import { createTestPki, type TestPki } from "../../core/test/support/pki.js";
import { MemoryCaRegistry, MemoryProfileStore, buildProxyUrl, createScepProxy, type ProxyEvent } from "../src/index.js";
import { customCaProxy, type CustomCaProxy } from "./support/custom-ca-proxy.js";

const CHALLENGE = "field-cert-poll";
let pki: TestPki;
let core: ScepServer;
const coreEvents: ScepEvent[] = [];
/** Called with each event of the core server (the tests approve from here). */
let onCoreEvent: (e: ScepEvent) => void = () => {};
let upstreamHttp: Server;
let upstreamUrl: string;
let px: CustomCaProxy;
let proxyHttp: Server;
let base: string;

beforeAll(async () => {
  pki = await createTestPki();
  let serial = 0x5000;
  core = createScepServer({
    profiles: [
      {
        name: "manual",
        path: "/scep",
        caCertificate: pki.ca.certificate,
        signer: pki.ca,
        challenge: { type: "static", password: CHALLENGE },
        transactions: new MemoryTransactionStore(),
        // Every request waits for an operator; an approved one is issued.
        issue: async (ctx) => (ctx.approved ? { status: "SUCCESS", certificate: await pki.issue(ctx.csr.der, (serial++).toString(16)) } : { status: "PENDING" }),
      },
    ],
    onEvent: (e) => {
      coreEvents.push(e);
      onCoreEvent(e);
    },
  });
  upstreamHttp = createServer(getRequestListener((req) => core.fetch(req)));
  upstreamUrl = `${await listen(upstreamHttp)}/scep`;
  px = customCaProxy({ url: upstreamUrl });
  proxyHttp = createServer(getRequestListener((req) => px.proxy.fetch(req)));
  base = `${await listen(proxyHttp)}/mdm/scep`;
});
afterAll(async () => {
  await close(proxyHttp);
  await close(upstreamHttp);
});

describe("RFC 8894 §3.3.3: CertPoll through the proxy's one-time URL (sscep#136, micromdm#171, OmniTrustILM#1834)", () => {
  it("strongSwan: PKCSReq → PENDING, CertPoll → PENDING, approved, CertPoll → SUCCESS; the profile is not requeued", async () => {
    const key = { hostId: "router-7", profileId: "vpn", caName: "core" };
    const url = await px.oneTimeUrl(base, key);
    let approved: Promise<unknown> | undefined;
    onCoreEvent = (e) => {
      // Approve once strongSwan has polled: approval before its first CertPoll would prove nothing about the polls.
      if (e.operation === "CertPoll" && e.outcome === "pending") approved ??= core.approve("manual", e.transactionId!);
    };
    const since = coreEvents.length;
    const r = await runStrongswanScep({
      url,
      key: (await runStrongswanGen({ size: 2048 })).keyDer,
      dn: "C=US, O=scep-sdk tests, CN=router-7",
      password: CHALLENGE,
      caCertEnc: pki.ca.certificate.toPem(),
      caCertSig: pki.ca.certificate.toPem(),
      cipher: "aes",
      pollIntervalSeconds: 1,
      maxPollSeconds: 60,
      timeoutMs: 90_000,
    });
    onCoreEvent = () => {};
    await approved;
    expect(r.ok, r.messages.join("\n")).toBe(true);
    const cert = new X509Certificate(r.certPem!);
    expect(cert.subject).toContain("CN=router-7");
    expect(cert.checkIssued(new X509Certificate(Buffer.from(pki.ca.certificate.der)))).toBe(true);

    const seen = coreEvents.slice(since).filter((e) => e.operation === "PKCSReq" || e.operation === "CertPoll");
    expect(seen[0]).toMatchObject({ operation: "PKCSReq", outcome: "pending" });
    expect(seen.at(-1)).toMatchObject({ operation: "CertPoll", outcome: "success", reason: "issued_after_approval" });
    expect(seen.filter((e) => e.operation === "CertPoll").length).toBeGreaterThanOrEqual(2);
    const proxied = px.events.filter((e) => e.hostId === key.hostId && e.operation === "PKIOperation");
    expect(proxied.every((e) => e.reason === "forwarded")).toBe(true);
    expect(proxied).toHaveLength(seen.length);
    expect(await px.profiles.get(key)).toMatchObject({ status: "pending" });
    expect((await px.profiles.get(key))?.requeueCount).toBeUndefined();
  }, 120_000);

  it("ScepClient polls to SUCCESS through the URL; its re-sent PKCSReq gets the same certificate; a PKCSReq of another transaction through it is refused (its challenge was spent)", async () => {
    const key = { hostId: "laptop-9", profileId: "wifi", caName: "core" };
    const url = await px.oneTimeUrl(base, key);
    const r = pki.requesters.rsa;
    const csr = await generateCsr({ keys: r.keys, subject: "CN=laptop-9, O=scep-sdk tests", challengePassword: CHALLENGE, san: { dns: ["laptop-9.example.test"] } });
    const rep = await new ScepClient({ url }).enroll({
      csr,
      signer: r.signer,
      pollIntervalMs: 1,
      maxPollMs: 10,
      sleep: async () => {},
      onPending: (pending) => void core.approve("manual", pending.transactionId).catch(() => {}),
    });
    expect(rep.status).toBe("SUCCESS");
    expect(rep.certificates[0]!.subject).toBe("CN=laptop-9, O=scep-sdk tests");
    expect(rep.certificates[0]!.isIssuedBy(pki.ca.certificate)).toBe(true);

    const resent = await new ScepClient({ url }).enroll({ csr, signer: r.signer });
    expect(resent.status).toBe("SUCCESS");
    expect(Buffer.from(resent.certificates[0]!.der)).toEqual(Buffer.from(rep.certificates[0]!.der));
    expect(px.events.at(-1)).toMatchObject({ operation: "PKIOperation", reason: "forwarded", resend: true });

    const other = await buildPkcsReq({ csr, signer: r.signer, recipient: pki.ca.certificate, transactionId: "ANOTHER-TRANSACTION" });
    const again = await fetch(`${url}?operation=PKIOperation`, { method: "POST", body: other.der as Uint8Array<ArrayBuffer> });
    expect([again.status, await again.text()]).toEqual([400, "challenge failed"]);
    expect(px.events.at(-1)).toMatchObject({ operation: "PKIOperation", reason: "challenge_failed", requeued: true });
  });

  it("a CertPoll for a transaction the CA does not hold is the CA's FAILURE badCertId; the challenge is not spent", async () => {
    const key = { hostId: "phone-3", profileId: "wifi", caName: "core" };
    const url = await px.oneTimeUrl(base, key);
    const r = pki.requesters.rsa;
    const poll = await buildCertPoll({ signer: r.signer, recipient: pki.ca.certificate, issuer: pki.ca.certificate, subject: r.signer.certificate.subjectDer, transactionId: "NO-SUCH-TRANSACTION" });
    const res = await fetch(`${url}?operation=PKIOperation`, { method: "POST", body: poll.der as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/x-pki-message" } });
    expect(res.status).toBe(200);
    expect(coreEvents.at(-1)).toMatchObject({ operation: "CertPoll", outcome: "failure", failInfo: "badCertId" });
    // The URL's challenge is untouched: the device's enrollment still passes.
    const csr = await generateCsr({ keys: r.keys, subject: "CN=phone-3, O=scep-sdk tests", challengePassword: CHALLENGE, san: { dns: ["phone-3.example.test"] } });
    const rep = await new ScepClient({ url }).enroll({ csr, signer: r.signer });
    expect(rep.status).toBe("PENDING");
  });
});

describe("RFC 8894 §3.3.3: an NDES CA's CertPoll is not held to the challenge's 57-minute window", () => {
  it("PKCSReq at minute 1 → PENDING; approved two hours later; the CertPoll then → forwarded, SUCCESS; the profile not requeued", async () => {
    const clock = manualClock(new Date());
    const profiles = new MemoryProfileStore({ now: clock.now });
    const events: ProxyEvent[] = [];
    const ndes = createScepProxy({ basePath: "/mdm/scep", profiles, cas: new MemoryCaRegistry([{ name: "ndes", type: "ndes", url: upstreamUrl }]), now: clock.now, onEvent: (e) => events.push(e) });
    const key = { hostId: "mac-21", profileId: "wifi", caName: "ndes" };
    await profiles.put({ ...key, status: "pending", challengeRetrievedAt: clock.now().getTime(), updatedAt: clock.now().getTime() });
    const url = buildProxyUrl("http://proxy.test/mdm/scep", key);
    const post = (der: Uint8Array) => ndes.fetch(new Request(`${url}?operation=PKIOperation`, { method: "POST", body: der as Uint8Array<ArrayBuffer> }));
    // A key of its own: the shared requester's key (so its transactionID) is held by phone-3's request, still PENDING
    // from the test before, and the core refuses a transactionID a pending request of another subject holds.
    const keys = await generateRsaKeyPair(2048);
    const r = { keys, signer: await createSelfSignedSigner({ keys, subject: "CN=mac-21, O=scep-sdk tests" }) };
    const csr = await generateCsr({ keys: r.keys, subject: "CN=mac-21, O=scep-sdk tests", challengePassword: CHALLENGE, san: { dns: ["mac-21.example.test"] } });

    clock.advance(60_000);
    const req = await buildPkcsReq({ csr, signer: r.signer, recipient: pki.ca.certificate });
    expect((await post(req.der)).status).toBe(200);
    expect(coreEvents.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "pending" });

    clock.advance(2 * 3_600_000);
    await core.approve("manual", req.transactionId);
    const poll = await buildCertPoll({ signer: r.signer, recipient: pki.ca.certificate, issuer: pki.ca.certificate, subject: r.signer.certificate.subjectDer, transactionId: req.transactionId });
    expect((await post(poll.der)).status).toBe(200);
    expect(coreEvents.at(-1)).toMatchObject({ operation: "CertPoll", outcome: "success", reason: "issued_after_approval" });
    expect(events.map((e) => e.reason)).toEqual(["forwarded", "forwarded"]);
    expect(await profiles.get(key)).toMatchObject({ status: "pending" });
  });
});
