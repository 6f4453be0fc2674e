/**
 * Mode A end to end at library level: createScepServer with an
 * IntuneValidator, the SDK's ScepClient enrolling through server.fetch, and a
 * loopback Entra ID / Graph / Intune double. A CSR Intune approves is issued
 * (Intune saw exactly the client's CSR and transactionID); a refusal is a
 * FAILURE CertRep with the mapped failInfo and no certificate; an Intune
 * that is down is FAILURE `intune_unavailable`, not a 5xx; an issuance that
 * fails after validation is reported with failureNotification; an issued
 * certificate is delivered only after Intune acknowledged it
 * (successNotification in the confirm phase), else FAILURE and onUndelivered.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { ScepClient, createScepServer, generateCsr, type IssueContext, type IssueResult, type ScepServer, type UndeliveredCertificate } from "@scep/core";
import { IntuneValidator, type IntuneError } from "../src/index.js";
import { NOW, createDevice, createTestCa, eventLog, issuingHook, type Device, type TestCa } from "../../core/test/support/server-pki.js";
import { startFakeIntune, fakeIntuneConnection, type FakeIntune } from "./support/fake-intune.js";

let ca: TestCa;
let device: Device;
let fake: FakeIntune;
let errors: IntuneError[];

beforeAll(async () => {
  ca = await createTestCa("Intune API CA");
  device = await createDevice({ cn: "intune-device-01" });
});
beforeEach(async () => {
  fake = await startFakeIntune();
  errors = [];
});
afterEach(() => fake.close());

function setup(answer?: (ctx: IssueContext) => IssueResult | undefined): { server: ScepServer; calls: IssueContext[]; log: ReturnType<typeof eventLog>; client: ScepClient; undelivered: UndeliveredCertificate[] } {
  const intune = new IntuneValidator({
    ...fakeIntuneConnection(fake),
    timeoutMs: 30_000, // generous: nothing here tests the deadline
    onError: (e) => void errors.push(e),
  });
  const calls: IssueContext[] = [];
  const undelivered: UndeliveredCertificate[] = [];
  const log = eventLog();
  const server = createScepServer({
    profiles: [
      {
        name: "intune",
        path: "/certsrv/mscep/mscep.dll",
        caCertificate: ca.cert,
        signer: ca.key,
        challenge: { type: "custom", validate: (ctx) => intune.validate(ctx) },
        issue: intune.withFailureNotification(issuingHook(ca, calls, answer)),
        confirm: intune.confirmHook(),
        onUndelivered: (info) => void undelivered.push(info),
      },
    ],
    onEvent: log.onEvent,
    now: () => NOW,
  });
  const client = new ScepClient({ url: "http://scep.test/certsrv/mscep/mscep.dll", fetch: (input, init) => server.fetch(new Request(input, init)) });
  return { server, calls, log, client, undelivered };
}

async function enroll(client: ScepClient) {
  const csr = await generateCsr({ keys: device.keys, subject: device.subject, challengePassword: "intune-encrypted-challenge-blob" });
  return { csr, rep: await client.enroll({ csr, signer: device.signer }) };
}

describe("Mode A through createScepServer and ScepClient", () => {
  it("a CSR Intune approves is issued; Intune saw the client's transactionID and its CSR byte for byte", async () => {
    const { client, calls, log } = setup();
    const { csr, rep } = await enroll(client);
    expect(rep.status).toBe("SUCCESS");
    expect(rep.certificate?.subject).toBe(device.subject);
    const body = JSON.parse(fake.of("validateRequest")[0]!.body);
    expect(body.request.transactionId).toBe(rep.request.transactionId);
    expect(body.request.certificateRequest).toBe(Buffer.from(csr).toString("base64"));
    expect(calls).toHaveLength(1);
    expect(calls[0]!.challengeData).toEqual({ intune: { activityId: fake.of("validateRequest")[0]!.headers["client-request-id"] } });
    expect(log.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "success", reason: "issued" });
  });

  it("issue, notify, then deliver: successNotification names the delivered certificate's SHA-1 thumbprint, serial and expiry", async () => {
    const { client, undelivered } = setup();
    const { csr, rep } = await enroll(client);
    expect(rep.status).toBe("SUCCESS");
    const cert = rep.certificate!;
    const calls = fake.requests.filter((r) => r.path.includes("/ScepActions/")).map((r) => r.path.split("/").pop());
    expect(calls).toEqual(["validateRequest", "successNotification"]);
    expect(JSON.parse(fake.of("successNotification")[0]!.body).notification).toEqual({
      transactionId: rep.request.transactionId,
      certificateRequest: Buffer.from(csr).toString("base64"),
      certificateThumbprint: createHash("sha1").update(cert.der).digest("hex").toUpperCase(),
      certificateSerialNumber: cert.serialNumberHex.toUpperCase(),
      certificateExpirationDateUtc: cert.notAfter.toISOString(),
      issuingCertificateAuthority: ca.cert.subject,
      callerInfo: expect.stringMatching(/^scep-sdk @scep\/intune\//),
    });
    expect(undelivered).toEqual([]);
  });

  it("a failing successNotification means no certificate is delivered: FAILURE badRequest, onUndelivered names it for revocation", async () => {
    const { client, calls, log, undelivered } = setup();
    fake.next("successNotification", { json: { code: "Unknown", errorDescription: "" } });
    const { rep } = await enroll(client);
    expect([rep.status, rep.failInfo, rep.failInfoText, rep.certificate]).toEqual(["FAILURE", "badRequest", "Intune did not acknowledge the issued certificate", undefined]);
    expect(calls).toHaveLength(1); // it was issued…
    expect(undelivered).toHaveLength(1); // …and the issuer is told to revoke it
    expect(undelivered[0]).toMatchObject({ profile: "intune", transactionId: rep.request.transactionId, reason: "intune_notification_failed" });
    expect(undelivered[0]!.certificate.subject).toBe(device.subject);
    expect(log.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "failure", reason: "intune_notification_failed", status: 200 });
    expect(errors.map((e) => e.code)).toEqual(["ERR_INTUNE_REJECTED"]);
  });

  it("Intune unreachable for the notification (HTTP 502 twice) → the same: FAILURE, onUndelivered, never a 5xx", async () => {
    const { client, undelivered, log } = setup();
    fake.next("successNotification", { json: {}, status: 502 }, { json: {}, status: 502 });
    const { rep } = await enroll(client);
    expect(rep.status).toBe("FAILURE");
    expect(undelivered.map((u) => u.reason)).toEqual(["intune_notification_failed"]);
    expect(log.events.at(-1)).toMatchObject({ reason: "intune_notification_failed", status: 200 });
  });

  it.each([
    ["ChallengeExpired", "badTime"],
    ["SubjectNameMismatch", "badRequest"],
    ["SignatureValidationFailed", "badMessageCheck"],
  ] as const)("Intune answers %s → FAILURE %s, no certificate, the event names the code", async (code, failInfo) => {
    const { client, calls, log } = setup();
    fake.next("validateRequest", { json: { code, errorDescription: "" } });
    const { rep } = await enroll(client);
    expect([rep.status, rep.failInfo, rep.failInfoText, rep.certificate]).toEqual(["FAILURE", failInfo, `Intune refused the challenge: ${code}`, undefined]);
    expect(calls).toHaveLength(0);
    expect(log.events.at(-1)).toMatchObject({ outcome: "failure", reason: code, failInfo, status: 200 });
  });

  it("Intune down (HTTP 503 twice) → FAILURE badRequest intune_unavailable over HTTP 200, not a 5xx; nothing issued", async () => {
    const { client, calls, log } = setup();
    fake.next("validateRequest", { json: {}, status: 503 }, { json: {}, status: 503 });
    const { rep } = await enroll(client);
    expect([rep.status, rep.failInfo]).toEqual(["FAILURE", "badRequest"]);
    expect(calls).toHaveLength(0);
    expect(log.events.at(-1)).toMatchObject({ reason: "intune_unavailable", status: 200 });
    expect(errors.map((e) => e.code)).toEqual(["ERR_INTUNE_TRANSPORT"]);
  });

  it("the issue hook refuses after Intune validated → failureNotification names the transaction and the CA's text", async () => {
    const { client } = setup(() => ({ status: "FAILURE", failInfo: "badRequest", failInfoText: "template does not allow this key size" }));
    const { rep } = await enroll(client);
    expect([rep.status, rep.failInfoText]).toEqual(["FAILURE", "template does not allow this key size"]);
    const n = JSON.parse(fake.of("failureNotification")[0]!.body).notification;
    expect(n).toMatchObject({ transactionId: rep.request.transactionId, hResult: 0x80004005, errorDescription: "template does not allow this key size" });
  });
});

describe("RFC 8894 §3.3.3: a PENDING Intune enrollment approved later", () => {
  /** Enrolls; the issue hook answers PENDING, the operator approves while the client waits, the client's CertPoll gets the outcome. */
  async function enrollApprovedLater(s: ReturnType<typeof setup>) {
    const csr = await generateCsr({ keys: device.keys, subject: device.subject, challengePassword: "intune-encrypted-challenge-blob" });
    let approved: Awaited<ReturnType<ScepServer["approve"]>> | undefined;
    let notifiedBeforeApproval = -1;
    const rep = await s.client.enroll({
      csr,
      signer: device.signer,
      maxPollMs: 1,
      pollIntervalMs: 1,
      onPending: () => void (notifiedBeforeApproval = fake.of("successNotification").length),
      sleep: async () => {
        const [pending] = await s.server.pending("intune");
        approved = await s.server.approve("intune", pending!.transactionId);
      },
    });
    return { rep, approved: approved!, notifiedBeforeApproval };
  }

  it("approve sends successNotification for the certificate it issued (challengeData kept with the request); the CertPoll gets it", async () => {
    const s = setup((ctx) => (ctx.approved ? undefined : { status: "PENDING" }));
    const { rep, approved, notifiedBeforeApproval } = await enrollApprovedLater(s);
    expect(notifiedBeforeApproval).toBe(0);
    expect(approved.status).toBe("ISSUED");
    expect(rep.status).toBe("SUCCESS");
    const cert = rep.certificate!;
    const n = JSON.parse(fake.of("successNotification")[0]!.body).notification;
    expect([n.transactionId, n.certificateSerialNumber, n.certificateThumbprint]).toEqual([rep.request.transactionId, cert.serialNumberHex.toUpperCase(), createHash("sha1").update(cert.der).digest("hex").toUpperCase()]);
    expect(s.calls.map((c) => [c.approved, c.challengeData])).toEqual([
      [false, { intune: { activityId: fake.of("validateRequest")[0]!.headers["client-request-id"] } }],
      [true, { intune: { activityId: fake.of("validateRequest")[0]!.headers["client-request-id"] } }],
    ]);
  });

  it("approve with a failing successNotification: REJECTED intune_notification_failed, onUndelivered told, the CertPoll gets FAILURE", async () => {
    const s = setup((ctx) => (ctx.approved ? undefined : { status: "PENDING" }));
    fake.next("successNotification", { json: { code: "Unknown", errorDescription: "" } });
    const { rep, approved } = await enrollApprovedLater(s);
    expect(approved).toMatchObject({ status: "REJECTED", failInfo: "badRequest", failInfoText: "Intune did not acknowledge the issued certificate", reason: "intune_notification_failed" });
    expect(s.undelivered.map((u) => [u.reason, u.transactionId])).toEqual([["intune_notification_failed", rep.request.transactionId]]);
    expect([rep.status, rep.failInfo, rep.failInfoText, rep.certificate]).toEqual(["FAILURE", "badRequest", "Intune did not acknowledge the issued certificate", undefined]);
    expect(s.log.events.at(-1)).toMatchObject({ operation: "CertPoll", outcome: "failure", reason: "intune_notification_failed" });
  });
});
