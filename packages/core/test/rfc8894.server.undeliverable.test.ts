/**
 * Nothing is issued that cannot be delivered, and no 5xx for a well-formed
 * request (issue 6 §4). A requester whose signer key is not RSA cannot receive
 * the CertRep's RSA key transport (RFC 8894 §3.3.2, RFC 5652 §6.2.1): FAILURE
 * badAlg before the issue hook runs. Once the hook has issued, any later
 * failure (a confirm veto, a confirm that throws, a CertRep that cannot be
 * built, approve unable to record it) becomes FAILURE badRequest and the
 * profile's `onUndelivered` hook is told, so the issuer can revoke.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  MemoryTransactionStore,
  StoreUnavailableError,
  buildCertPoll,
  buildPkcsReq,
  createScepServer,
  createSelfSignedSigner,
  generateCsr,
  type ConfirmResult,
  type IssueContext,
  type ScepProfile,
  type TransactionStore,
  type UndeliveredCertificate,
} from "../src/index.js";
import { NOW, createDevice, createTestCa, eventLog, issuingHook, postPki, readReply, type TestCa, baseProfile } from "./support/server-pki.js";

const CHALLENGE = "deliver-secret";
let ca: TestCa;

beforeAll(async () => {
  ca = await createTestCa("Delivery CA");
});

function setup(extra: Partial<ScepProfile> = {}) {
  const calls: IssueContext[] = [];
  const undelivered: UndeliveredCertificate[] = [];
  const log = eventLog();
  const server = createScepServer({
    profiles: [
      {
        ...baseProfile(ca, CHALLENGE),
        issue: issuingHook(ca, calls),
        onUndelivered: (info) => void undelivered.push(info),
        ...extra,
      },
    ],
    onEvent: log.onEvent,
    now: () => NOW,
  });
  return { server, calls, undelivered, log };
}

async function enrollRsa(server: ReturnType<typeof setup>["server"], cn: string) {
  const device = await createDevice({ cn, challengePassword: CHALLENGE });
  const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
  const res = await postPki(server, "/scep", built.der);
  expect(res.status).toBe(200);
  return readReply(res, built, { decrypter: device.signer });
}

describe("RFC 8894 §3.3.2 / RFC 5652 §6.2.1: a non-RSA requester gets FAILURE badAlg before anything is issued", () => {
  const EC_TEXT = "the reply is encrypted to the signer certificate with RSA key transport (RFC 8894 §3.3.2); the signer certificate holds an EC key, which cannot receive it: sign the request with an RSA key";

  it("a P-256 client (ECDSA signer and CSR, valid challenge): FAILURE badAlg, hook not called, event signer_key_not_rsa", async () => {
    const s = setup();
    const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const signer = await createSelfSignedSigner({ keys, subject: "CN=ec-device", now: NOW });
    const csr = await generateCsr({ keys, subject: "CN=ec-device", challengePassword: CHALLENGE });
    const built = await buildPkcsReq({ csr, signer, recipient: ca.cert, now: NOW });
    const res = await postPki(s.server, "/scep", built.der);
    expect(res.status).toBe(200);
    const rep = await readReply(res, built);
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badAlg", failInfoText: EC_TEXT });
    expect(s.calls).toEqual([]);
    expect(s.undelivered).toEqual([]);
    expect(s.log.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "failure", reason: "signer_key_not_rsa", failInfo: "badAlg", status: 200 });
  });

  it("an RSA signer with an EC CSR is fine (the envelope goes to the signer): SUCCESS", async () => {
    const s = setup();
    const rsa = await createDevice({ cn: "rsa-signer" });
    const ecKeys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const csr = await generateCsr({ keys: ecKeys, subject: "CN=ec-key", challengePassword: CHALLENGE });
    const built = await buildPkcsReq({ csr, signer: rsa.signer, recipient: ca.cert, now: NOW });
    expect((await readReply(await postPki(s.server, "/scep", built.der), built, { decrypter: rsa.signer })).status).toBe("SUCCESS");
  });

  it("a CertPoll signed with an EC key gets the same FAILURE badAlg (no 5xx on any PKIOperation)", async () => {
    const s = setup();
    const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const signer = await createSelfSignedSigner({ keys, subject: "CN=ec-poller", now: NOW });
    const built = await buildCertPoll({ signer, recipient: ca.cert, issuer: ca.cert, subject: signer.certificate.subjectDer, transactionId: "EC-POLL", now: NOW });
    expect(await readReply(await postPki(s.server, "/scep", built.der), built)).toMatchObject({ status: "FAILURE", failInfo: "badAlg", failInfoText: EC_TEXT });
  });
});

describe("issue 6 §4: after the issue hook issued, every failure is FAILURE badRequest and onUndelivered is told", () => {
  it("confirm vetoes: FAILURE badRequest with its text, event reason its label, onUndelivered with the certificate", async () => {
    const seen: string[] = [];
    const s = setup({
      confirm: async (ctx) => {
        seen.push(`${ctx.transactionId}:${ctx.certificate.subject}:${ctx.approved}`);
        return { ok: false, reason: "intune_notification_failed", failInfoText: "Intune did not accept the certificate" };
      },
    });
    const rep = await enrollRsa(s.server, "vetoed");
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "Intune did not accept the certificate" });
    expect(seen).toEqual([`${rep.transactionId}:CN=vetoed, O=scep-sdk server tests:false`]);
    expect(s.calls.length).toBe(1);
    expect(s.undelivered.length).toBe(1);
    const u = s.undelivered[0]!;
    expect([u.profile, u.transactionId, u.reason, u.certificate.subject, u.error]).toEqual(["p", rep.transactionId, "intune_notification_failed", "CN=vetoed, O=scep-sdk server tests", undefined]);
    expect(s.log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "intune_notification_failed", failInfo: "badRequest", status: 200, serial: u.certificate.serialNumberHex });
  });

  // A JavaScript confirm hook may answer a text or reason that is not a string; it is read as every hook's refusal is
  // (hook-refusal.ts): 42 as the text went to the device as "42", a free-form reason into events and stats.
  it("confirm vetoes with a text or reason that is not what the field holds: the defaults, still FAILURE badRequest", async () => {
    const s = setup({ confirm: () => ({ ok: false, reason: "Intune said: no", failInfoText: 42 }) as unknown as ConfirmResult });
    expect(await enrollRsa(s.server, "veto-odd")).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "the issued certificate was not confirmed" });
    expect(s.undelivered.map((u) => u.reason)).toEqual(["confirm_rejected"]);
    expect(s.log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "confirm_rejected", failInfo: "badRequest", status: 200 });
  });

  it("confirm { ok: true }: SUCCESS, onUndelivered not called", async () => {
    const s = setup({ confirm: () => ({ ok: true }) });
    expect((await enrollRsa(s.server, "confirmed")).status).toBe("SUCCESS");
    expect(s.undelivered).toEqual([]);
  });

  it("confirm throws: FAILURE badRequest 'the certificate was issued but could not be delivered', reason confirm_failed, the error passed on", async () => {
    const boom = new Error("notification endpoint down");
    const s = setup({
      confirm: async () => {
        throw boom;
      },
    });
    const rep = await enrollRsa(s.server, "confirm-throws");
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "the certificate was issued but could not be delivered" });
    expect(s.undelivered.map((u) => [u.reason, u.error])).toEqual([["confirm_failed", boom]]);
    expect(s.log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "confirm_failed", status: 200 });
  });

  it("the SUCCESS CertRep cannot be built (the response cipher is unusable): FAILURE badRequest, reason reply_failed, never a 5xx", async () => {
    const s = setup({ algorithmPolicy: { responseCipher: () => "rc4-bogus" as never } });
    const rep = await enrollRsa(s.server, "reply-fails");
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "the certificate was issued but could not be delivered" });
    expect(s.calls.length).toBe(1);
    expect(s.undelivered.map((u) => [u.reason, u.certificate.subject])).toEqual([["reply_failed", "CN=reply-fails, O=scep-sdk server tests"]]);
    expect(s.undelivered[0]!.error).toBeInstanceOf(Error);
    expect(s.log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "reply_failed", status: 200 });
  });

  it("an onUndelivered hook that throws does not change the client's answer", async () => {
    const s = setup({
      confirm: () => ({ ok: false, reason: "nope" }),
      onUndelivered: () => {
        throw new Error("revocation failed");
      },
    });
    expect(await enrollRsa(s.server, "hook-throws")).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "the issued certificate was not confirmed" });
  });

  it("approve cannot record the certificate (store down): onUndelivered not_recorded, approve rejects with ERR_STORE_UNAVAILABLE", async () => {
    const inner = new MemoryTransactionStore({ now: () => NOW });
    let failIssued = true;
    const store: TransactionStore = {
      get: (p, t) => inner.get(p, t),
      create: (tx) => inner.create(tx),
      list: (p, o) => inner.list(p, o),
      delete: (p, t) => inner.delete(p, t),
      transition: async (p, t, from, update) => {
        if (update.status === "ISSUED" && failIssued) throw new StoreUnavailableError("redis: connection reset");
        return inner.transition(p, t, from, update);
      },
    };
    const calls: IssueContext[] = [];
    const s = setup({ transactions: store, issue: issuingHook(ca, calls, (ctx) => (ctx.approved ? undefined : { status: "PENDING" })) });
    const rep = await enrollRsa(s.server, "approve-unrecorded");
    expect(rep.status).toBe("PENDING");
    await expect(s.server.approve("p", rep.transactionId)).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE", message: "redis: connection reset" });
    expect(s.undelivered.map((u) => [u.reason, u.transactionId, u.certificate.subject])).toEqual([["not_recorded", rep.transactionId, "CN=approve-unrecorded, O=scep-sdk server tests"]]);
    // The claim stays until its lease lapses; nothing was recorded as ISSUED.
    expect((await inner.get("p", rep.transactionId))!.status).toBe("ISSUING");
    failIssued = false;
  });
});
