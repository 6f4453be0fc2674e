/**
 * strongSwan 5.9.8 `pki --scep` (the real binary) enrolls against the Express
 * and the Hono example servers: 3DES with SHA-1/256/512, RSASSA-PSS, AES
 * (usable only because the examples advertise SHA-384, see
 * test-support/peers/strongswan.ts), a real RenewalReq, and PENDING followed
 * by an operator's approval through the admin endpoint while strongSwan polls
 * with CertPoll.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  runStrongswanGen,
  runStrongswanScep,
  type RecordingProxy,
  type StrongswanScepOptions,
} from "../../../test-support/peers";
import { EXAMPLE_KINDS, exampleBehindProxy } from "./support/example-server";
import { expectIssued } from "./support/issued";
import { csrFacts, csrOf, readExchange, type WireExchange } from "./support/wire";

const VALIDITY_DAYS = 30;
const O = "scep-sdk interop";

/** The PKIOperations the proxy saw, read by OpenSSL. */
async function pkiOperations(proxy: RecordingProxy): Promise<WireExchange[]> {
  return Promise.all(proxy.byOperation("PKIOperation").map(readExchange));
}

describe.each(EXAMPLE_KINDS)("strongSwan pki --scep against the %s example", (kind) => {
  const srv = exampleBehindProxy(kind, { validityDays: VALIDITY_DAYS });

  const enroll = async (cn: string, options: Partial<StrongswanScepOptions> = {}) => {
    const key = await runStrongswanGen({ size: 2048 });
    const r = await runStrongswanScep({
      url: srv.proxy.url,
      key: key.keyDer,
      dn: `C=US, O=${O}, CN=${cn}`,
      password: srv.ex.challenge,
      caCertEnc: srv.ex.caPem,
      caCertSig: srv.ex.caPem,
      ...options,
    });
    return { key, r };
  };

  it.each([
    ["sha1", "sha1"],
    ["sha256", "sha256"],
    ["sha512", "sha512"],
  ] as const)("enrolls with 3DES and %s", async (digest, opensslDigest) => {
    const cn = `ss-${kind}-des3-${digest}`;
    const { r } = await enroll(cn, { cipher: "des3", digest });
    expect(r.ok, r.messages.join("\n")).toBe(true);

    const ops = await pkiOperations(srv.proxy);
    expect(ops).toHaveLength(1);
    const [wire] = ops;
    expect(wire!.method).toBe("POST");
    // strongSwan signs with sha*WithRSAEncryption, yet accepts only rsaEncryption in the reply.
    expect(wire!.request).toMatchObject({
      messageType: 19,
      digest: opensslDigest,
      signatureAlgorithm: `${opensslDigest}WithRSAEncryption`,
      cipher: "des-ede3-cbc",
    });
    // Same algorithms back, and rsaEncryption in the SignerInfo (strongSwan < 5.9.11 accepts nothing else).
    expect(wire!.reply).toMatchObject({
      messageType: 3,
      pkiStatus: 0,
      transactionId: wire!.request.transactionId,
      digest: opensslDigest,
      signatureAlgorithm: "rsaEncryption",
      cipher: "des-ede3-cbc",
    });
    const csr = await csrFacts(await csrOf(wire!.request, srv.ex.caKeyPem));
    expect(csr.hasChallengePassword).toBe(true);
    await expectIssued(r.certPem, { caPem: srv.ex.caPem, subject: `CN=${cn},O=${O},C=US`, csr, validityDays: VALIDITY_DAYS });
  });

  // A client given the server's URL without a path asks for RFC 8894 §4.1's /cgi-bin/pkiclient.exe (Cisco IOS and
  // ASA, sscep); the examples' /scep profile answers it as an alias.
  it("enrolls at /cgi-bin/pkiclient.exe, the path a client given a bare server URL uses", async () => {
    const cn = `ss-${kind}-cgi-bin`;
    const { r } = await enroll(cn, { url: srv.proxy.url.replace(/\/scep$/, "/cgi-bin/pkiclient.exe"), cipher: "des3", digest: "sha256" });
    expect(r.ok, r.messages.join("\n")).toBe(true);
    // Every request strongSwan sent (GetCACaps and the PKIOperation) went to that path, and none was refused.
    expect(srv.proxy.exchanges.map((e) => [e.path.split("?")[0], e.status])).toEqual(srv.proxy.exchanges.map(() => ["/cgi-bin/pkiclient.exe", 200]));
    const ops = await pkiOperations(srv.proxy);
    expect(ops.map((o) => o.reply.pkiStatus)).toEqual([0]);
    await expectIssued(r.certPem, { caPem: srv.ex.caPem, subject: `CN=${cn},O=${O},C=US`, csr: await csrFacts(await csrOf(ops[0]!.request, srv.ex.caKeyPem)), validityDays: VALIDITY_DAYS });
  });

  it("enrolls with an RSASSA-PSS signed request (--rsa-padding pss)", async () => {
    const cn = `ss-${kind}-pss`;
    const { r } = await enroll(cn, { rsaPadding: "pss", digest: "sha256" });
    expect(r.ok, r.messages.join("\n")).toBe(true);
    const [wire] = await pkiOperations(srv.proxy);
    expect(wire!.request).toMatchObject({ messageType: 19, digest: "sha256", signatureAlgorithm: "rsassaPss" });
    // The example still answers with PKCS#1 v1.5 (rsaEncryption), which strongSwan 5.9.8 requires.
    expect(wire!.reply).toMatchObject({ pkiStatus: 0, signatureAlgorithm: "rsaEncryption", digest: "sha256" });
    const csr = await csrFacts(await csrOf(wire!.request, srv.ex.caKeyPem));
    await expectIssued(r.certPem, { caPem: srv.ex.caPem, subject: `CN=${cn},O=${O},C=US`, csr, validityDays: VALIDITY_DAYS });
  });

  it("enrolls with AES (--cipher aes), offered because SHA-384 is advertised", async () => {
    const cn = `ss-${kind}-aes`;
    const { r } = await enroll(cn, { cipher: "aes" });
    expect(r.ok, r.messages.join("\n")).toBe(true);
    const [wire] = await pkiOperations(srv.proxy);
    expect(wire!.request).toMatchObject({ messageType: 19, digest: "sha256", cipher: "aes-128-cbc" });
    expect(wire!.reply).toMatchObject({ pkiStatus: 0, digest: "sha256", cipher: "aes-128-cbc" });
    const csr = await csrFacts(await csrOf(wire!.request, srv.ex.caKeyPem));
    await expectIssued(r.certPem, { caPem: srv.ex.caPem, subject: `CN=${cn},O=${O},C=US`, csr, validityDays: VALIDITY_DAYS });
  });

  it("puts the requested subjectAltNames (--san) into the certificate", async () => {
    const cn = `ss-${kind}-san`;
    const { r } = await enroll(cn, {
      cipher: "aes",
      // pki 5.9.8 knows the dns: and email: prefixes; an IP address is given bare ("ip:…" is silently dropped).
      sans: [`dns:${cn}.interop.test`, "192.0.2.7", `email:${cn}@interop.test`],
    });
    expect(r.ok, r.messages.join("\n")).toBe(true);
    const [wire] = await pkiOperations(srv.proxy);
    const csr = await csrFacts(await csrOf(wire!.request, srv.ex.caKeyPem));
    expect(csr.subjectAltName).toBe(`DNS:${cn}.interop.test, IP Address:192.0.2.7, email:${cn}@interop.test`);
    await expectIssued(r.certPem, {
      caPem: srv.ex.caPem,
      subject: `CN=${cn},O=${O},C=US`,
      csr,
      sans: [`DNS:${cn}.interop.test`, "IP Address:192.0.2.7", `email:${cn}@interop.test`],
      validityDays: VALIDITY_DAYS,
    });
  });

  it("renews with a RenewalReq signed by the old certificate (--cert/--key), no challenge", async () => {
    const cn = `ss-${kind}-renew`;
    const first = await enroll(cn, { cipher: "des3", digest: "sha256" });
    expect(first.r.ok, first.r.messages.join("\n")).toBe(true);
    srv.proxy.exchanges.length = 0;
    const since = srv.ex.events().length;

    const { key: newKey, r } = await enroll(cn, {
      cipher: "aes",
      password: undefined,
      renewal: { cert: first.r.certDer!, key: first.key.keyDer },
    });
    expect(r.ok, r.messages.join("\n")).toBe(true);
    const [wire] = await pkiOperations(srv.proxy);
    // A real RenewalReq (17), signed by the CA-issued certificate, not a self-signed one.
    expect(wire!.request).toMatchObject({ messageType: 17, signerIssuer: "CN=SCEP Example CA, O=scep-sdk", cipher: "aes-128-cbc" });
    expect(wire!.reply).toMatchObject({ pkiStatus: 0, cipher: "aes-128-cbc" });
    const csr = await csrFacts(await csrOf(wire!.request, srv.ex.caKeyPem));
    expect(csr.hasChallengePassword).toBe(false);
    const renewed = await expectIssued(r.certPem, { caPem: srv.ex.caPem, subject: `CN=${cn},O=${O},C=US`, csr, validityDays: VALIDITY_DAYS });

    const old = new X509Certificate(first.r.certPem!);
    expect(renewed.serial).not.toBe(old.serialNumber);
    // The renewed certificate certifies the NEW key (--in), not the old one.
    expect(renewed.cert.publicKey.equals(old.publicKey)).toBe(false);
    expect(renewed.cert.checkPrivateKey(createPrivateKey(newKey.keyPem))).toBe(true);
    const event = await srv.ex.waitForEvent((e) => e.transactionId === wire!.request.transactionId, "the RenewalReq event", { since });
    expect(event).toMatchObject({ operation: "RenewalReq", outcome: "success", reason: "issued" });
  });

  it("with a wrong challenge is refused with FAILURE badRequest and exits 1", async () => {
    const { r } = await enroll(`ss-${kind}-bad`, { cipher: "aes", password: `${srv.ex.challenge}-wrong` });
    expect(r.ok).toBe(false);
    expect(r.code).toBe(1);
    expect(r.certDer).toBeUndefined();
    const [wire] = await pkiOperations(srv.proxy);
    expect(wire!.reply).toMatchObject({ messageType: 3, pkiStatus: 2, failInfo: 2 });
    expect(r.messages).toContain("failInfo:     badRequest - transaction not permitted or supported");
    expect(r.messages).toContain("reply status is not 'SUCCESS'");
  });
});

describe.each(EXAMPLE_KINDS)("strongSwan polls a PENDING request of the %s example until an operator approves it", (kind) => {
  const adminToken = `strongswan-${kind}-admin-token`;
  const srv = exampleBehindProxy(kind, { validityDays: VALIDITY_DAYS, pending: true, adminToken }, { clearBetweenTests: false });

  it("PKCSReq → PENDING, CertPoll → PENDING, approve, CertPoll → SUCCESS", async () => {
    const cn = `ss-${kind}-pending`;
    srv.proxy.exchanges.length = 0;
    const since = srv.ex.events().length;
    const key = await runStrongswanGen({ size: 2048 });
    const running = runStrongswanScep({
      url: srv.proxy.url,
      key: key.keyDer,
      dn: `C=US, O=${O}, CN=${cn}`,
      password: srv.ex.challenge,
      caCertEnc: srv.ex.caPem,
      caCertSig: srv.ex.caPem,
      cipher: "aes",
      pollIntervalSeconds: 1,
      maxPollSeconds: 60,
      timeoutMs: 90_000,
    });
    let failed: unknown;
    try {
      const pending = await srv.ex.waitForEvent((e) => e.operation === "PKCSReq", "the PENDING PKCSReq", { since });
      expect(pending).toMatchObject({ outcome: "pending", reason: "pending_approval", status: 200 });
      const tid = pending.transactionId!;
      expect(tid).toMatch(/^\S+$/);

      // Approval before strongSwan has polled would prove nothing about its CertPoll loop.
      await srv.ex.waitForEvent((e) => e.operation === "CertPoll" && e.transactionId === tid, "a first CertPoll", { since });
      expect(srv.ex.events().slice(since).filter((e) => e.operation === "CertPoll").every((e) => e.outcome === "pending" && e.reason === "still_pending")).toBe(true);

      const refused = await srv.ex.admin("approve", tid, "not-the-token");
      expect(refused.status).toBe(403);
      const unknown = await srv.ex.admin("approve", `${tid}-unknown`);
      expect(unknown.status).toBe(404);

      const approved = await srv.ex.admin("approve", tid);
      expect(approved.status).toBe(200);
      expect(JSON.parse(Buffer.from(approved.body).toString("utf8"))).toEqual({ profile: "/scep", transactionId: tid, status: "ISSUED", subject: expect.stringContaining("CN="), serialNumber: expect.stringMatching(/^[0-9a-f]+$/) });
    } catch (error) {
      failed = error;
    }
    // strongSwan gives up by itself after --maxpolltime; wait for it either way.
    const r = await running;
    if (failed !== undefined) throw failed;
    expect(r.ok, r.messages.join("\n")).toBe(true);
    const issuedEvent = await srv.ex.waitForEvent((e) => e.operation === "CertPoll" && e.outcome === "success", "the final CertPoll", { since });
    expect(issuedEvent).toMatchObject({ reason: "issued_after_approval", status: 200 });

    const ops = await pkiOperations(srv.proxy);
    expect(ops[0]!.request).toMatchObject({ messageType: 19 });
    expect(ops[0]!.reply).toMatchObject({ pkiStatus: 3, envelope: new Uint8Array() });
    const polls = ops.slice(1);
    expect(polls.length).toBeGreaterThanOrEqual(2);
    for (const poll of polls) expect(poll.request).toMatchObject({ messageType: 20, transactionId: ops[0]!.request.transactionId });
    expect(polls.slice(0, -1).every((p) => p.reply.pkiStatus === 3)).toBe(true);
    expect(polls.at(-1)!.reply).toMatchObject({ pkiStatus: 0, cipher: "aes-128-cbc" });

    const csr = await csrFacts(await csrOf(ops[0]!.request, srv.ex.caKeyPem));
    await expectIssued(r.certPem, { caPem: srv.ex.caPem, subject: `CN=${cn},O=${O},C=US`, csr, validityDays: VALIDITY_DAYS });
  });

  it("PKCSReq → PENDING, reject, CertPoll → FAILURE badRequest: strongSwan gives up with exit 1", async () => {
    const key = await runStrongswanGen({ size: 2048 });
    const since = srv.ex.events().length;
    srv.proxy.exchanges.length = 0;
    const running = runStrongswanScep({
      url: srv.proxy.url,
      key: key.keyDer,
      dn: `C=US, O=${O}, CN=ss-${kind}-rejected`,
      password: srv.ex.challenge,
      caCertEnc: srv.ex.caPem,
      caCertSig: srv.ex.caPem,
      cipher: "aes",
      pollIntervalSeconds: 1,
      maxPollSeconds: 60,
      timeoutMs: 90_000,
    });
    let failed: unknown;
    try {
      const pending = await srv.ex.waitForEvent((e) => e.operation === "PKCSReq" && e.outcome === "pending", "the PENDING PKCSReq", { since });
      await srv.ex.waitForEvent((e) => e.operation === "CertPoll" && e.transactionId === pending.transactionId, "a first CertPoll", { since });
      const rejected = await srv.ex.admin("reject", pending.transactionId!);
      expect(rejected.status).toBe(200);
      expect(JSON.parse(Buffer.from(rejected.body).toString("utf8"))).toEqual({ profile: "/scep", transactionId: pending.transactionId, status: "REJECTED", subject: expect.stringContaining("CN=") });
    } catch (error) {
      failed = error;
    }
    const r = await running;
    if (failed !== undefined) throw failed;
    expect(r.ok).toBe(false);
    expect(r.code).toBe(1);
    expect(r.certDer).toBeUndefined();
    expect(r.messages).toContain("failInfo:     badRequest - transaction not permitted or supported");
    const last = await srv.ex.waitForEvent((e) => e.operation === "CertPoll" && e.outcome === "failure", "the refused CertPoll", { since });
    expect(last).toMatchObject({ reason: "rejected_by_operator", failInfo: "badRequest" });
    const ops = await pkiOperations(srv.proxy);
    expect(ops.at(-1)!.request.messageType).toBe(20);
    expect(ops.at(-1)!.reply).toMatchObject({ pkiStatus: 2, failInfo: 2 });
  });
});
