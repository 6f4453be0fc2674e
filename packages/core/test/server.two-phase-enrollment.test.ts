/**
 * The two-phase enrollment (issue 9) for any validator: a custom challenge
 * policy's own `confirm` runs after the issue hook issued and after the
 * profile's `confirm`, before delivery; its `onIssueFailure` runs when
 * issuance fails after it accepted the request. Both also run when a PENDING
 * request (RFC 8894 §3.3.3) is completed later: `approve` runs the same
 * confirm phase (a veto: the next CertPoll gets FAILURE, onUndelivered is
 * told), `reject` runs the failure phase.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  Certificate,
  CertificationRequest,
  MemoryTransactionStore,
  buildCertPoll,
  buildPkcsReq,
  createScepServer,
  type ConfirmContext,
  type ConfirmResult,
  type CustomChallengePolicy,
  type IssueContext,
  type IssueFailureContext,
  type IssueResult,
  type ScepProfile,
  type UndeliveredCertificate,
} from "../src/index.js";
import { NOW, createDevice, createTestCa, eventLog, issuingHook, postPki, readReply, type Device, type TestCa } from "./support/server-pki.js";

let ca: TestCa;
beforeAll(async () => {
  ca = await createTestCa("Two-phase CA");
});

interface Options {
  /** What the policy's confirm answers. */
  policyConfirm?: ConfirmResult;
  /** What the profile's confirm answers (none when undefined). */
  profileConfirm?: ConfirmResult;
  /** What the issue hook answers a first request (undefined: issue). */
  firstAnswer?: IssueResult | "throw";
  /** What the issue hook answers an approval (undefined: issue). */
  approvedAnswer?: IssueResult;
}

function setup(o: Options = {}) {
  const order: string[] = [];
  const confirms: ConfirmContext[] = [];
  const failures: IssueFailureContext[] = [];
  const undelivered: UndeliveredCertificate[] = [];
  const calls: IssueContext[] = [];
  const log = eventLog();
  const transactions = new MemoryTransactionStore({ now: () => NOW });
  const challenge: CustomChallengePolicy = {
    type: "custom",
    status: { challengeStatus: () => ({ kind: "mdm" }) },
    validate: ({ challenge: c }) => (c === "good" ? { ok: true, data: { device: "D-42", groups: ["vpn"] } } : { ok: false, reason: "mdm_refused" }),
    confirm: (ctx) => {
      order.push("policy");
      confirms.push(ctx);
      return o.policyConfirm ?? { ok: true };
    },
    onIssueFailure: (ctx) => {
      order.push(`failure:${ctx.reason}`);
      failures.push(ctx);
    },
  };
  const hook = issuingHook(ca, calls, (ctx) => (ctx.approved ? o.approvedAnswer : o.firstAnswer === "throw" ? undefined : o.firstAnswer));
  const profile: ScepProfile = {
    name: "p",
    path: "/scep",
    caCertificate: ca.cert,
    signer: ca.key,
    challenge,
    transactions,
    issue: async (ctx) => {
      if (o.firstAnswer === "throw" && !ctx.approved) throw new Error("CA offline");
      return hook(ctx);
    },
    onUndelivered: (u) => void undelivered.push(u),
    ...(o.profileConfirm
      ? {
          confirm: () => {
            order.push("profile");
            return o.profileConfirm!;
          },
        }
      : {}),
  };
  const server = createScepServer({ profiles: [profile], onEvent: log.onEvent, now: () => NOW });
  return { server, order, confirms, failures, undelivered, calls, log, transactions };
}

type Setup = ReturnType<typeof setup>;

async function enroll(s: Setup, device: Device) {
  const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
  const res = await postPki(s.server, "/scep", built.der);
  return { built, status: res.status, rep: res.status === 200 ? await readReply(res, built, { decrypter: device.signer }) : undefined };
}

async function poll(s: Setup, device: Device, transactionId: string) {
  const built = await buildCertPoll({ signer: device.signer, recipient: ca.cert, issuer: ca.cert, subject: CertificationRequest.from(device.csr).subjectDer, transactionId, now: NOW });
  return readReply(await postPki(s.server, "/scep", built.der), built, { decrypter: device.signer });
}

describe("a custom policy's confirm and failure phases at immediate issuance", () => {
  it("accepted and issued: the policy's confirm runs after the profile's, with challengeData and the certificate; SUCCESS; no failure phase", async () => {
    const s = setup({ profileConfirm: { ok: true } });
    const { rep } = await enroll(s, await createDevice({ cn: "both-ok", challengePassword: "good" }));
    expect(rep!.status).toBe("SUCCESS");
    expect(s.order).toEqual(["profile", "policy"]);
    const c = s.confirms[0]!;
    expect([c.transactionId, c.approved, c.challengeData, c.certificate.serialNumberHex]).toEqual([rep!.transactionId, false, { device: "D-42", groups: ["vpn"] }, rep!.certificate!.serialNumberHex]);
    expect(s.failures).toEqual([]);
    expect(s.server.stats()[0]!.challengeType).toBe("mdm");
  });

  it("the policy's confirm vetoes: FAILURE badRequest with its text, event reason its label, onUndelivered told, its own failure phase not called", async () => {
    const s = setup({ policyConfirm: { ok: false, reason: "mdm_not_told", failInfoText: "the MDM was not told" } });
    const { rep } = await enroll(s, await createDevice({ cn: "policy-veto", challengePassword: "good" }));
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "the MDM was not told" });
    expect(s.undelivered.map((u) => [u.reason, u.certificate.subject])).toEqual([["mdm_not_told", "CN=policy-veto, O=scep-sdk server tests"]]);
    expect(s.failures).toEqual([]);
    expect(s.log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "mdm_not_told", failInfo: "badRequest" });
  });

  it("the profile's confirm vetoes: the policy's confirm is not asked; its failure phase gets the reason and the undelivered certificate", async () => {
    const s = setup({ profileConfirm: { ok: false, reason: "inventory_mismatch", failInfoText: "not in the inventory" } });
    const { rep } = await enroll(s, await createDevice({ cn: "profile-veto", challengePassword: "good" }));
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "not in the inventory" });
    expect(s.order).toEqual(["profile", "failure:inventory_mismatch"]);
    const f = s.failures[0]!;
    expect([f.reason, f.failInfo, f.failInfoText, f.certificate?.subject, f.challengeData]).toEqual(["inventory_mismatch", "badRequest", "not in the inventory", "CN=profile-veto, O=scep-sdk server tests", { device: "D-42", groups: ["vpn"] }]);
  });

  it("the issue hook answers FAILURE: the failure phase gets issuer_rejected with the hook's failInfo and text; no confirm", async () => {
    const s = setup({ firstAnswer: { status: "FAILURE", failInfo: "badCertId", failInfoText: "serial pool exhausted" } });
    const { rep } = await enroll(s, await createDevice({ cn: "ca-refuses", challengePassword: "good" }));
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badCertId", failInfoText: "serial pool exhausted" });
    expect(s.order).toEqual(["failure:issuer_rejected"]);
    expect(s.failures[0]).toMatchObject({ reason: "issuer_rejected", failInfo: "badCertId", failInfoText: "serial pool exhausted", transactionId: rep!.transactionId });
    expect(s.failures[0]!.certificate).toBeUndefined();
  });

  it("the issue hook throws: the failure phase gets issue_failed, the client HTTP 500 (a server fault), as before", async () => {
    const s = setup({ firstAnswer: "throw" });
    const { status } = await enroll(s, await createDevice({ cn: "ca-throws", challengePassword: "good" }));
    expect(status).toBe(500);
    expect(s.order).toEqual(["failure:issue_failed"]);
  });

  it("a refused challenge: neither phase runs (the validator did not accept this request)", async () => {
    const s = setup({ firstAnswer: { status: "FAILURE" } });
    const { rep } = await enroll(s, await createDevice({ cn: "bad-challenge", challengePassword: "bad" }));
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest" });
    expect(s.log.events.at(-1)).toMatchObject({ reason: "mdm_refused" });
    expect(s.order).toEqual([]);
  });
});

describe("RFC 8894 §3.3.3: approve runs the same confirm phase, reject the failure phase", () => {
  it("PENDING keeps challengeData; approve confirms with it (approved: true), records ISSUED; the CertPoll gets the certificate", async () => {
    const s = setup({ firstAnswer: { status: "PENDING" }, profileConfirm: { ok: true } });
    const device = await createDevice({ cn: "approve-ok", challengePassword: "good" });
    const { rep } = await enroll(s, device);
    expect(rep!.status).toBe("PENDING");
    const stored = (await s.transactions.get("p", rep!.transactionId))!;
    expect([stored.challengeValidated, stored.challengeData]).toEqual([true, '{"device":"D-42","groups":["vpn"]}']);
    expect(s.order).toEqual([]);
    const tx = await s.server.approve("p", rep!.transactionId);
    expect(tx.status).toBe("ISSUED");
    expect(s.order).toEqual(["profile", "policy"]);
    const c = s.confirms[0]!;
    expect([c.approved, c.challengeData, c.certificate.serialNumberHex, c.csr.subject]).toEqual([true, { device: "D-42", groups: ["vpn"] }, new Certificate(tx.certificate!).serialNumberHex, "CN=approve-ok, O=scep-sdk server tests"]);
    expect(s.calls.at(-1)!.challengeData).toEqual({ device: "D-42", groups: ["vpn"] });
    const polled = await poll(s, device, rep!.transactionId);
    expect(polled.status).toBe("SUCCESS");
    expect(polled.certificate!.serialNumberHex).toBe(c.certificate.serialNumberHex);
  });

  it("approve with the policy's confirm vetoing: REJECTED with the veto's text and reason, onUndelivered told, the CertPoll gets FAILURE badRequest (event reason the veto's)", async () => {
    const s = setup({ firstAnswer: { status: "PENDING" }, policyConfirm: { ok: false, reason: "mdm_not_told", failInfoText: "the MDM was not told" } });
    const device = await createDevice({ cn: "approve-veto", challengePassword: "good" });
    const { rep } = await enroll(s, device);
    const tx = await s.server.approve("p", rep!.transactionId);
    expect(tx).toMatchObject({ status: "REJECTED", failInfo: "badRequest", failInfoText: "the MDM was not told", reason: "mdm_not_told" });
    expect(tx.certificate).toBeUndefined();
    expect(s.undelivered.map((u) => [u.reason, u.transactionId, u.certificate.subject])).toEqual([["mdm_not_told", rep!.transactionId, "CN=approve-veto, O=scep-sdk server tests"]]);
    expect(s.failures).toEqual([]);
    const polled = await poll(s, device, rep!.transactionId);
    expect(polled).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "the MDM was not told" });
    expect(s.log.events.at(-1)).toMatchObject({ operation: "CertPoll", outcome: "failure", reason: "mdm_not_told" });
    expect(await s.server.pending("p")).toEqual([]);
  });

  it("approve with the profile's confirm throwing: REJECTED reason confirm_failed, onUndelivered gets the error, the failure phase the certificate", async () => {
    const boom = new Error("inventory down");
    const s = setup({ firstAnswer: { status: "PENDING" } });
    const device = await createDevice({ cn: "approve-throws", challengePassword: "good" });
    const { rep } = await enroll(s, device);
    const server = createScepServer({
      profiles: [
        {
          name: "p",
          path: "/scep",
          caCertificate: ca.cert,
          signer: ca.key,
          challenge: { type: "custom", validate: () => true, onIssueFailure: (ctx) => void s.failures.push(ctx) },
          transactions: s.transactions,
          issue: issuingHook(ca),
          confirm: () => {
            throw boom;
          },
          onUndelivered: (u) => void s.undelivered.push(u),
        },
      ],
      now: () => NOW,
    });
    const tx = await server.approve("p", rep!.transactionId);
    expect(tx).toMatchObject({ status: "REJECTED", failInfoText: "the certificate was issued but could not be delivered", reason: "confirm_failed" });
    expect(s.undelivered.map((u) => [u.reason, u.error])).toEqual([["confirm_failed", boom]]);
    expect(s.failures.map((f) => [f.reason, f.approved, f.certificate?.subject])).toEqual([["confirm_failed", true, "CN=approve-throws, O=scep-sdk server tests"]]);
  });

  it("approve whose issue hook answers FAILURE: REJECTED, and the failure phase is told it came from approve (approved: true, as for a confirm failure there), with the hook's reason", async () => {
    const s = setup({ firstAnswer: { status: "PENDING" }, approvedAnswer: { status: "FAILURE", failInfoText: "this key was revoked as compromised", reason: "key_compromised" } });
    const { rep } = await enroll(s, await createDevice({ cn: "approve-refused", challengePassword: "good" }));
    const tx = await s.server.approve("p", rep!.transactionId);
    expect(tx).toMatchObject({ status: "REJECTED", reason: "key_compromised" });
    expect(s.order).toEqual(["failure:key_compromised"]);
    expect(s.failures.map((f) => [f.reason, f.approved, f.failInfo, f.failInfoText, f.challengeData])).toEqual([["key_compromised", true, "badRequest", "this key was revoked as compromised", { device: "D-42", groups: ["vpn"] }]]);
  });

  it("reject: the failure phase gets reason rejected with the operator's failInfo and text", async () => {
    const s = setup({ firstAnswer: { status: "PENDING" } });
    const { rep } = await enroll(s, await createDevice({ cn: "rejected", challengePassword: "good" }));
    await s.server.reject("p", rep!.transactionId, { failInfo: "badCertId", failInfoText: "unknown device" });
    expect(s.failures.map((f) => [f.reason, f.failInfo, f.failInfoText, f.transactionId, f.challengeData])).toEqual([["rejected", "badCertId", "unknown device", rep!.transactionId, { device: "D-42", groups: ["vpn"] }]]);
  });
});
