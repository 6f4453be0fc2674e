/**
 * PENDING with CertPoll and manual approval (RFC 8894 §3.3.3): the issue hook
 * answers PENDING, CertPoll keeps answering PENDING, `approve` issues (the
 * hook runs again with `approved: true`), `reject` fails with its failInfo,
 * and a CertPoll for an unknown transactionID is FAILURE badCertId.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  CertificationRequest,
  InvalidArgumentError,
  TransactionStateError,
  LocalKey,
  MemoryChallengeStore,
  MemoryTransactionStore,
  buildCertPoll,
  buildPkcsReq,
  createScepServer,
  type IssueContext,
  type IssueResult,
  type ScepServer,
} from "../src/index.js";
import * as x509 from "@peculiar/x509";
import { NOW, createDevice, createTestCa, eventLog, hex, manualProfile, postPki, readReply, type Device, type TestCa } from "./support/server-pki.js";

const CHALLENGE = "pending-secret";
let ca: TestCa;
let server: ScepServer;
let store: MemoryTransactionStore;
const calls: IssueContext[] = [];
const log = eventLog();
/** What the hook answers a first request (not an approval). */
let firstAnswer: IssueResult = { status: "PENDING" };
/** What the hook answers an approval (undefined: it issues). */
let approvedAnswer: IssueResult | undefined;

beforeAll(async () => {
  ca = await createTestCa("Pending CA");
  store = new MemoryTransactionStore({ now: () => NOW });
  server = createScepServer({
    profiles: [manualProfile(ca, { challenge: CHALLENGE, calls, answer: (ctx) => (ctx.approved ? approvedAnswer : firstAnswer), transactions: store, csrPolicy: { maxValidityDays: 90 } })],
    onEvent: log.onEvent,
    now: () => NOW,
  });
});

async function submit(device: Device) {
  const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
  const rep = await readReply(await postPki(server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.cert] });
  return { built, rep };
}

async function poll(device: Device, transactionId: string) {
  const built = await buildCertPoll({
    signer: device.signer,
    recipient: ca.cert,
    issuer: ca.cert,
    subject: CertificationRequest.from(device.csr).subjectDer,
    transactionId,
    now: NOW,
  });
  const before = log.events.length;
  const rep = await readReply(await postPki(server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.cert] });
  expect(log.events.length).toBe(before + 1);
  return { built, rep, event: log.events.at(-1)! };
}

describe("PENDING, CertPoll, approve", () => {
  let device: Device;
  let tid: string;

  beforeAll(async () => {
    device = await createDevice({ cn: "pending-device", challengePassword: CHALLENGE });
  });

  it("a hook answering PENDING gives a PENDING CertRep and stores the transaction", async () => {
    const { built, rep } = await submit(device);
    tid = built.transactionId;
    expect(rep.status).toBe("PENDING");
    expect(rep.failInfo).toBeUndefined();
    expect(rep.certificates).toEqual([]);
    expect(rep.transactionId).toBe(tid);
    expect(hex(rep.recipientNonce)).toBe(hex(built.senderNonce));
    expect(log.events.at(-1)).toMatchObject({ operation: "PKCSReq", profile: "manual", outcome: "pending", reason: "pending_approval", status: 200, transactionId: tid, subject: "CN=pending-device, O=scep-sdk server tests" });
    expect((await store.list("manual", { status: "PENDING" })).map((t) => t.transactionId)).toEqual([tid]);
    expect((await server.pending("manual")).map((t) => t.transactionId)).toEqual([tid]);
    const tx = (await store.get("manual", tid))!;
    expect(tx).toMatchObject({ profile: "manual", transactionId: tid, status: "PENDING", renewal: false, createdAt: NOW, updatedAt: NOW, expiresAt: new Date(NOW.getTime() + 7 * 86_400_000) });
    expect(hex(tx.csr)).toBe(hex(device.csr));
    expect(hex(tx.signerCertificate)).toBe(hex(device.signer.certificate.der));
  });

  it("CertPoll before approval is PENDING again", async () => {
    const { rep, built, event } = await poll(device, tid);
    expect(rep.status).toBe("PENDING");
    expect(rep.transactionId).toBe(tid);
    expect(hex(rep.recipientNonce)).toBe(hex(built.senderNonce));
    expect(event).toMatchObject({ operation: "CertPoll", profile: "manual", outcome: "pending", reason: "still_pending", transactionId: tid, status: 200 });
  });

  it("approve runs the hook with approved: true and the next CertPoll is SUCCESS with the certificate", async () => {
    const before = calls.length;
    const tx = await server.approve("manual", tid);
    expect(calls.length).toBe(before + 1);
    const ctx = calls.at(-1)!;
    expect(ctx).toMatchObject({ profile: "manual", transactionId: tid, approved: true, renewal: false, maxValidityDays: 90 });
    expect(ctx.request).toBeUndefined();
    expect(hex(ctx.csr.der)).toBe(hex(device.csr));
    expect(hex(ctx.signerCertificate.der)).toBe(hex(device.signer.certificate.der));
    expect(tx).toMatchObject({ status: "ISSUED", updatedAt: NOW, expiresAt: new Date(NOW.getTime() + 86_400_000) });
    expect((await store.get("manual", tid))!.status).toBe("ISSUED");

    const { rep, event } = await poll(device, tid);
    expect(rep.status).toBe("SUCCESS");
    const cert = rep.certificates[0]!;
    expect(cert.subject).toBe("CN=pending-device, O=scep-sdk server tests");
    expect(cert.issuer).toBe(ca.cert.subject);
    expect(hex(cert.spki)).toBe(hex(CertificationRequest.from(device.csr).spki));
    expect(hex(rep.certificates[1]!.der)).toBe(hex(ca.cert.der));
    expect(hex(cert.der)).toBe(hex(tx.certificate));
    expect(event).toMatchObject({ operation: "CertPoll", outcome: "success", reason: "issued_after_approval", serial: cert.serialNumberHex, subject: cert.subject, transactionId: tid });
  });

  it("approving twice or an unknown transaction throws ERR_TRANSACTION_STATE; an unknown profile ERR_INVALID_ARGUMENT", async () => {
    await expect(server.approve("manual", tid)).rejects.toMatchObject({ name: "TransactionStateError", code: "ERR_TRANSACTION_STATE", message: `no pending transaction ${tid}` });
    await expect(server.approve("manual", "NOPE")).rejects.toBeInstanceOf(TransactionStateError);
    // A subclass of InvalidArgumentError: callers that caught that before still do.
    await expect(server.approve("manual", "NOPE")).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(server.approve("nobody", tid)).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT", message: "unknown profile nobody" });
    await expect(server.reject("manual", tid)).rejects.toMatchObject({ code: "ERR_TRANSACTION_STATE", message: `no pending transaction ${tid}` });
    await expect(server.pending("nobody")).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT", message: "unknown profile nobody" });
    expect((await server.pending()).map((t) => t.transactionId)).not.toContain(tid);
  });

  it("approve with an operator-supplied certificate does not call the hook", async () => {
    const other = await createDevice({ cn: "pending-supplied", challengePassword: CHALLENGE });
    const { built, rep } = await submit(other);
    expect(rep.status).toBe("PENDING");
    const supplied = await ca.issue(other.csr, { serial: "7e57" });
    const before = calls.length;
    await server.approve("manual", built.transactionId, { certificate: supplied });
    expect(calls.length).toBe(before);
    const polled = await poll(other, built.transactionId);
    expect(polled.rep.status).toBe("SUCCESS");
    expect(polled.rep.certificates[0]!.serialNumberHex).toBe("7e57");
    expect(polled.event).toMatchObject({ reason: "issued_after_approval", serial: "7e57" });
  });
});

describe("PENDING, reject", () => {
  it("reject with a failInfo: the next CertPoll is FAILURE with it", async () => {
    const device = await createDevice({ cn: "pending-rejected", challengePassword: CHALLENGE });
    const { built, rep } = await submit(device);
    expect(rep.status).toBe("PENDING");
    const tx = await server.reject("manual", built.transactionId, { failInfo: "badCertId", failInfoText: "denied by the helpdesk" });
    expect(tx).toMatchObject({ status: "REJECTED", failInfo: "badCertId", failInfoText: "denied by the helpdesk" });
    const polled = await poll(device, built.transactionId);
    expect(polled.rep).toMatchObject({ status: "FAILURE", failInfo: "badCertId", failInfoText: "denied by the helpdesk", transactionId: built.transactionId });
    expect(polled.event).toMatchObject({ operation: "CertPoll", outcome: "failure", reason: "rejected_by_operator", failInfo: "badCertId" });
  });

  it("reject without options: FAILURE badRequest", async () => {
    const device = await createDevice({ cn: "pending-rejected-default", challengePassword: CHALLENGE });
    const { built } = await submit(device);
    await server.reject("manual", built.transactionId);
    const polled = await poll(device, built.transactionId);
    expect(polled.rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "the request was rejected" });
  });
});

describe("PENDING, reject with options RFC 8894 cannot carry", () => {
  // A failInfo that is not one of §3.2.1.4.5's five, or a failInfoText that is no string (a JavaScript caller, an
  // admin form's field passed on as is), was recorded as given: every CertPoll and resend of the device then got an
  // HTTP 500 (the CertRep could not be built) until the record expired. Now reject throws and records nothing.
  for (const [name, opts, message] of [
    ["a failInfo that is not RFC 8894's", { failInfo: "badThing" }, 'reject: failInfo must be one of badAlg, badMessageCheck, badRequest, badTime, badCertId (got "badThing")'],
    ["a failInfo given as its number", { failInfo: "2" }, 'reject: failInfo must be one of badAlg, badMessageCheck, badRequest, badTime, badCertId (got "2")'],
    ["a failInfoText that is no string", { failInfoText: 42 }, "reject: failInfoText must be a string (got a number)"],
  ] as const) {
    it(`${name}: ERR_INVALID_ARGUMENT, nothing recorded; the device still polls PENDING, and a valid reject then works`, async () => {
      const device = await createDevice({ cn: `pending-reject-invalid-${name.length}`, challengePassword: CHALLENGE });
      const { built } = await submit(device);
      await expect(server.reject("manual", built.transactionId, opts as never)).rejects.toMatchObject({ name: "InvalidArgumentError", code: "ERR_INVALID_ARGUMENT", message });
      const polled = await poll(device, built.transactionId);
      expect(polled.rep.status).toBe("PENDING");
      expect(polled.event).toMatchObject({ operation: "CertPoll", outcome: "pending", status: 200 });
      await server.reject("manual", built.transactionId, { failInfo: "badCertId" });
      expect((await poll(device, built.transactionId)).rep).toMatchObject({ status: "FAILURE", failInfo: "badCertId" });
    });
  }
});

describe("CertPoll of a REJECTED record a CertRep cannot carry as stored", () => {
  // Written before reject checked its options (an older version, a store shared with another writer): its failInfo
  // is no RFC 8894 name, its failInfoText no string. Every CertPoll of the device was an HTTP 500 until it expired.
  it("answers FAILURE badRequest with the default text, never a 500", async () => {
    const device = await createDevice({ cn: "pending-rejected-mangled", challengePassword: CHALLENGE });
    const { built } = await submit(device);
    const stored = await store.transition("manual", built.transactionId, "PENDING", { status: "REJECTED", updatedAt: NOW, failInfo: "badThing", failInfoText: 42 } as never);
    expect(stored).toMatchObject({ status: "REJECTED", failInfo: "badThing" });
    const polled = await poll(device, built.transactionId);
    expect(polled.rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "the request was rejected" });
    expect(polled.event).toMatchObject({ operation: "CertPoll", outcome: "failure", reason: "rejected_by_operator", failInfo: "badRequest", status: 200 });
  });
});

describe("CertPoll for what the server does not know", () => {
  it("an unknown transactionID → FAILURE badCertId", async () => {
    const device = await createDevice({ cn: "pending-unknown" });
    const polled = await poll(device, "UNKNOWN-TRANSACTION-0001");
    expect(polled.rep).toMatchObject({ status: "FAILURE", failInfo: "badCertId", failInfoText: "no pending request with this transactionID", transactionId: "UNKNOWN-TRANSACTION-0001" });
    expect(hex(polled.rep.recipientNonce)).toBe(hex(polled.built.senderNonce));
    expect(polled.event).toMatchObject({ operation: "CertPoll", outcome: "failure", reason: "unknown_transaction", failInfo: "badCertId", transactionId: "UNKNOWN-TRANSACTION-0001" });
  });
});

describe("the hook's other answers", () => {
  it("FAILURE with failInfo and text is passed through", async () => {
    firstAnswer = { status: "FAILURE", failInfo: "badTime", failInfoText: "outside the enrollment window" };
    try {
      const device = await createDevice({ cn: "hook-failure", challengePassword: CHALLENGE });
      const { rep } = await submit(device);
      expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badTime", failInfoText: "outside the enrollment window" });
      expect(log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "issuer_rejected", failInfo: "badTime" });
    } finally {
      firstAnswer = { status: "PENDING" };
    }
  });

  it("FAILURE with a reason label: the event carries it; a label an event cannot carry is issuer_rejected", async () => {
    for (const [given, expected] of [["key_compromised", "key_compromised"], ["Not A Label!", "issuer_rejected"]] as const) {
      firstAnswer = { status: "FAILURE", failInfoText: "this key was revoked as compromised", reason: given };
      try {
        const device = await createDevice({ cn: `hook-failure-${expected}`, challengePassword: CHALLENGE });
        const { rep } = await submit(device);
        expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "this key was revoked as compromised" });
        expect(log.events.at(-1)).toMatchObject({ outcome: "failure", reason: expected, failInfo: "badRequest" });
      } finally {
        firstAnswer = { status: "PENDING" };
      }
    }
  });

  it("FAILURE to an approved request: recorded REJECTED with the hook's failInfo, text and reason; approve returns it and the next CertPoll is that FAILURE", async () => {
    approvedAnswer = { status: "FAILURE", failInfoText: "this key was revoked as compromised: generate a new key", reason: "key_compromised" };
    try {
      const device = await createDevice({ cn: "hook-failure-on-approve", challengePassword: CHALLENGE });
      const { built, rep } = await submit(device);
      expect(rep.status).toBe("PENDING");
      const tx = await server.approve("manual", built.transactionId);
      expect(tx).toMatchObject({ status: "REJECTED", failInfo: "badRequest", failInfoText: "this key was revoked as compromised: generate a new key", reason: "key_compromised" });
      const polled = await poll(device, built.transactionId);
      expect(polled.rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "this key was revoked as compromised: generate a new key" });
      expect(polled.event).toMatchObject({ operation: "CertPoll", outcome: "failure", reason: "key_compromised" });
      await expect(server.approve("manual", built.transactionId)).rejects.toMatchObject({ code: "ERR_TRANSACTION_STATE" });
    } finally {
      approvedAnswer = undefined;
    }
  });

  // A hook's failInfo that is not one of RFC 8894's five, or a failInfoText that is no string, was put in the CertRep
  // as given: building it threw (HTTP 500 for the device) and, on approve, the REJECTED record kept them, so every
  // later CertPoll was a 500 too. They are read as the reason label is (issueFailureReason): the defaults instead.
  it("FAILURE with a failInfo RFC 8894 does not define, or a failInfoText that is no string: badRequest and the default text, never a 500", async () => {
    firstAnswer = { status: "FAILURE", failInfo: "badThing", failInfoText: 42 } as unknown as IssueResult;
    try {
      const device = await createDevice({ cn: "hook-failure-invalid", challengePassword: CHALLENGE });
      const { rep } = await submit(device);
      expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "the issuer rejected the request" });
      expect(log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "issuer_rejected", failInfo: "badRequest", status: 200 });
    } finally {
      firstAnswer = { status: "PENDING" };
    }
  });

  it("the same FAILURE to an approved request: recorded REJECTED badRequest, and the next CertPoll is that FAILURE, never a 500", async () => {
    approvedAnswer = { status: "FAILURE", failInfo: "badThing", failInfoText: { text: "no" } } as unknown as IssueResult;
    try {
      const device = await createDevice({ cn: "hook-failure-invalid-on-approve", challengePassword: CHALLENGE });
      const { built } = await submit(device);
      expect(await server.approve("manual", built.transactionId)).toMatchObject({ status: "REJECTED", failInfo: "badRequest", failInfoText: "the issuer rejected the request" });
      const polled = await poll(device, built.transactionId);
      expect(polled.rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "the issuer rejected the request" });
      expect(polled.event).toMatchObject({ operation: "CertPoll", outcome: "failure", reason: "issuer_rejected", status: 200 });
    } finally {
      approvedAnswer = undefined;
    }
  });

  it("FAILURE without details is badRequest", async () => {
    firstAnswer = { status: "FAILURE" };
    try {
      const device = await createDevice({ cn: "hook-failure-bare", challengePassword: CHALLENGE });
      const { rep } = await submit(device);
      expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "the issuer rejected the request" });
    } finally {
      firstAnswer = { status: "PENDING" };
    }
  });
});

describe("a re-sent PKCSReq for a stored transaction is answered like a CertPoll", () => {
  it("PENDING again without calling the hook, SUCCESS with the approved certificate, FAILURE once rejected", async () => {
    const device = await createDevice({ cn: "pending-resend", challengePassword: CHALLENGE });
    const first = await submit(device);
    expect(first.rep.status).toBe("PENDING");
    const tid = first.built.transactionId;
    const before = calls.length;

    const again = await submit(device);
    expect(again.built.transactionId).toBe(tid);
    expect(again.rep.status).toBe("PENDING");
    expect(hex(again.rep.recipientNonce)).toBe(hex(again.built.senderNonce));
    expect(calls.length).toBe(before);
    expect(log.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "pending", reason: "still_pending", transactionId: tid });

    const tx = await server.approve("manual", tid);
    const afterApproval = await submit(device);
    expect(afterApproval.rep.status).toBe("SUCCESS");
    expect(hex(afterApproval.rep.certificates[0]!.der)).toBe(hex(tx.certificate));
    expect((await store.get("manual", tid))!.status).toBe("ISSUED");
    expect(log.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "success", reason: "issued_after_approval" });
    // The CertPoll still finds the certificate: the re-send did not reset the transaction.
    expect((await poll(device, tid)).rep.status).toBe("SUCCESS");
  });

  it("a rebuilt CSR (same key and subject, new bytes, as certmonger sends) is still a re-send", async () => {
    const device = await createDevice({ cn: "pending-rebuilt", challengePassword: CHALLENGE, san: { dns: ["a.example"] } });
    const first = await submit(device);
    expect(first.rep.status).toBe("PENDING");
    const tx = await server.approve("manual", first.built.transactionId);
    // Rebuilt as certmonger does: the same subject, SANs and challenge, plus a subjectKeyIdentifier it makes afresh
    // (other SANs or another challenge would be a new enrollment once the transaction is ISSUED:
    // rfc8894.server.resend-after-success.test.ts).
    const rebuiltCsr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: device.subject,
      keys: device.keys,
      signingAlgorithm: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "a.example" }]), await x509.SubjectKeyIdentifierExtension.create(device.keys.publicKey)],
      attributes: [new x509.ChallengePasswordAttribute(CHALLENGE)],
    });
    const rebuilt = { ...device, csr: new Uint8Array(rebuiltCsr.rawData) };
    expect(hex(rebuilt.csr)).not.toBe(hex(device.csr));
    const again = await submit(rebuilt);
    expect(again.built.transactionId).toBe(first.built.transactionId);
    expect(again.rep.status).toBe("SUCCESS");
    expect(hex(again.rep.certificates[0]!.der)).toBe(hex(tx.certificate));
    expect((await store.get("manual", first.built.transactionId))!.status).toBe("ISSUED");
  });

  it("a renewal signed by the issued certificate is not a re-send: it gets a new certificate", async () => {
    const device = await createDevice({ cn: "pending-then-renew", challengePassword: CHALLENGE });
    const first = await submit(device);
    const tx = await server.approve("manual", first.built.transactionId);
    const issued = LocalKey.from(tx.certificate!, device.keys.privateKey);
    const built = await buildPkcsReq({ csr: device.csr, signer: issued, recipient: ca.cert, now: NOW });
    expect(built.transactionId).toBe(first.built.transactionId); // same key → same default transactionID
    const before = calls.length;
    const rep = await readReply(await postPki(server, "/scep", built.der), built, { decrypter: issued, caCertificates: [ca.cert] });
    expect(calls.length).toBe(before + 1);
    expect(calls.at(-1)).toMatchObject({ renewal: true, approved: false });
    // The profile's hook answers PENDING to anything not yet approved, renewals included.
    expect(rep.status).toBe("PENDING");
  });

  it("FAILURE once rejected", async () => {
    const device = await createDevice({ cn: "pending-resend-rejected", challengePassword: CHALLENGE });
    const { built } = await submit(device);
    await server.reject("manual", built.transactionId, { failInfo: "badRequest", failInfoText: "no" });
    expect((await submit(device)).rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "no" });
  });

  it("does not consume a one-time challenge twice", async () => {
    const challenges = new MemoryChallengeStore({ now: () => NOW });
    const s = createScepServer({ profiles: [manualProfile(ca, { name: "otp", challenge: { type: "store", store: challenges } })], now: () => NOW });
    const otp = await challenges.issue({ profile: "otp" });
    const device = await createDevice({ cn: "pending-otp", challengePassword: otp });
    for (let i = 0; i < 2; i++) {
      const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
      expect((await readReply(await postPki(s, "/scep", built.der), built)).status).toBe("PENDING");
    }
  });
});
