/**
 * Challenge passwords (RFC 8894 §2.3): a static secret, one-time challenges
 * from a MemoryChallengeStore (with an injected clock for expiry), and a
 * custom validator. A refused challenge is a FAILURE CertRep with failInfo
 * badRequest and event reason `bad_challenge`; the issue hook is not called.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  MemoryChallengeStore,
  buildPkcsReq,
  createScepServer,
  type ChallengeContext,
  type ChallengePolicy,
  type ChallengeVerdict,
  type IssueContext,
  type ScepServer,
} from "../src/index.js";
import { DAY, NOW, createDevice, createTestCa, csrFor, eventLog, hex, issuingHook, postPki, readReply, type Device, type TestCa } from "./support/server-pki.js";

let ca: TestCa;
let keys: CryptoKeyPair;
let signerDevice: Device;

beforeAll(async () => {
  ca = await createTestCa("Challenge CA");
  signerDevice = await createDevice({ cn: "challenge-device" });
  keys = signerDevice.keys;
});

function setup(challenge: ChallengePolicy): { server: ScepServer; calls: IssueContext[]; log: ReturnType<typeof eventLog> } {
  const calls: IssueContext[] = [];
  const log = eventLog();
  const server = createScepServer({
    profiles: [{ name: "devices", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge, issue: issuingHook(ca, calls) }],
    onEvent: log.onEvent,
    now: () => NOW,
  });
  return { server, calls, log };
}

let enrollments = 0;

async function enroll(server: ScepServer, challengePassword: string | undefined): Promise<{ status: string; failInfo?: string; failInfoText?: string; transactionId: string }> {
  const csr = await csrFor(keys, "challenge-device", challengePassword);
  // A transactionID of its own: each call is a new enrollment, not a re-send of the last (RFC 8894 §3.3.3), although
  // every call uses the same key (the default transactionID is the key's hash).
  const built = await buildPkcsReq({ csr, signer: signerDevice.signer, recipient: ca.cert, now: NOW, transactionId: `challenge-${++enrollments}` });
  const rep = await readReply(await postPki(server, "/scep", built.der), built, { decrypter: signerDevice.signer });
  return { status: rep.status, ...(rep.failInfo ? { failInfo: rep.failInfo } : {}), ...(rep.failInfoText ? { failInfoText: rep.failInfoText } : {}), transactionId: built.transactionId };
}

describe("static challenge", () => {
  let s: ReturnType<typeof setup>;
  beforeAll(() => {
    s = setup({ type: "static", password: "correct horse" });
  });

  it("the right password is issued", async () => {
    expect(await enroll(s.server, "correct horse")).toMatchObject({ status: "SUCCESS" });
    expect(s.calls.length).toBe(1);
    expect(s.log.events.at(-1)).toMatchObject({ outcome: "success", reason: "issued", profile: "devices" });
  });

  for (const [name, presented] of [
    ["a wrong password", "correct horse!"],
    ["a prefix of the password", "correct"],
    ["an empty password", ""],
  ] as const) {
    it(`${name} → FAILURE badRequest, bad_challenge`, async () => {
      const before = s.calls.length;
      const rep = await enroll(s.server, presented);
      expect(rep).toEqual({ status: "FAILURE", failInfo: "badRequest", failInfoText: "challenge password mismatch", transactionId: rep.transactionId });
      expect(s.calls.length).toBe(before);
      expect(s.log.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "failure", reason: "bad_challenge", failInfo: "badRequest", status: 200, subject: "CN=challenge-device, O=scep-sdk server tests" });
    });
  }

  it("no challengePassword attribute → FAILURE badRequest that says none was sent (reason missing_challenge), not a mismatch", async () => {
    const before = s.calls.length;
    const rep = await enroll(s.server, undefined);
    expect(rep).toEqual({ status: "FAILURE", failInfo: "badRequest", failInfoText: "no challenge password in the CSR", transactionId: rep.transactionId });
    expect(s.calls.length).toBe(before);
    expect(s.log.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "failure", reason: "missing_challenge", failInfo: "badRequest" });
  });
});

describe("MemoryChallengeStore: one-time challenges", () => {
  let clock: Date;
  let store: MemoryChallengeStore;
  let s: ReturnType<typeof setup>;
  beforeAll(() => {
    clock = NOW;
    store = new MemoryChallengeStore({ now: () => clock });
    s = setup({ type: "store", store });
  });

  it("a fresh challenge is issued once; its second use fails", async () => {
    const challenge = await store.issue({ profile: "devices", ttlMs: 3_600_000 });
    expect(challenge).toMatch(/^[A-Za-z0-9_-]{32}$/); // 24 random bytes, base64url
    expect(await enroll(s.server, challenge)).toMatchObject({ status: "SUCCESS" });
    const again = await enroll(s.server, challenge);
    expect(again).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "challenge password invalid or already used" });
    expect(s.log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "bad_challenge", failInfo: "badRequest" });
  });

  it("an expired challenge fails (clock moved past its TTL)", async () => {
    const challenge = await store.issue({ profile: "devices", ttlMs: 60_000 });
    clock = new Date(NOW.getTime() + 60_001);
    try {
      expect(await enroll(s.server, challenge)).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "challenge password invalid or already used" });
    } finally {
      clock = NOW;
    }
  });

  it("a challenge just inside its TTL succeeds", async () => {
    const challenge = await store.issue({ profile: "devices", ttlMs: DAY });
    clock = new Date(NOW.getTime() + DAY - 1);
    try {
      expect(await enroll(s.server, challenge)).toMatchObject({ status: "SUCCESS" });
    } finally {
      clock = NOW;
    }
  });

  it("a challenge issued for another profile fails", async () => {
    const challenge = await store.issue({ profile: "other" });
    expect(await enroll(s.server, challenge)).toMatchObject({ status: "FAILURE", failInfoText: "challenge password invalid or already used" });
  });

  it("a missing or unknown challenge fails", async () => {
    expect(await enroll(s.server, undefined)).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "no challenge password in the CSR" });
    expect(await enroll(s.server, "0123456789abcdef0123456789abcdef")).toMatchObject({ status: "FAILURE", failInfoText: "challenge password invalid or already used" });
  });
});

describe("custom validator", () => {
  const seen: ChallengeContext[] = [];
  let verdict: ChallengeVerdict;
  let s: ReturnType<typeof setup>;
  beforeAll(() => {
    s = setup({
      type: "custom",
      validate: async (ctx) => {
        seen.push(ctx);
        return verdict;
      },
    });
  });

  it("is told the challenge, the CSR, the request and the profile", async () => {
    verdict = true;
    const rep = await enroll(s.server, "intune-blob");
    expect(rep.status).toBe("SUCCESS");
    const ctx = seen.at(-1)!;
    expect(ctx.challenge).toBe("intune-blob");
    expect(ctx.profile).toBe("devices");
    expect(ctx.csr.subject).toBe("CN=challenge-device, O=scep-sdk server tests");
    expect(ctx.request.transactionId).toBe(rep.transactionId);
    expect(ctx.request.messageTypeName).toBe("PKCSReq");
    expect(hex(ctx.request.signerCertificate.der)).toBe(hex(signerDevice.signer.certificate.der));
  });

  it("a rejection with failInfoText is sent as the failInfoText", async () => {
    verdict = { ok: false, failInfoText: "device is not compliant" };
    expect(await enroll(s.server, "intune-blob")).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "device is not compliant" });
    expect(s.log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "bad_challenge", failInfo: "badRequest" });
  });

  it("false, or a rejection without text, says `challenge rejected`", async () => {
    verdict = false;
    expect(await enroll(s.server, "x")).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "challenge rejected" });
    verdict = { ok: false };
    expect(await enroll(s.server, "x")).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "challenge rejected" });
  });

  it("a rejection with a reason label and failInfo: the event reason is the validator's label", async () => {
    verdict = { ok: false, reason: "intune_not_compliant", failInfo: "badMessageCheck", failInfoText: "device is not compliant" };
    const before = s.calls.length;
    expect(await enroll(s.server, "intune-blob")).toMatchObject({ status: "FAILURE", failInfo: "badMessageCheck", failInfoText: "device is not compliant" });
    expect(s.log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "intune_not_compliant", failInfo: "badMessageCheck" });
    expect(s.calls.length).toBe(before);
  });

  // RFC 8894 §3.2.1.4.5 defines five failInfo names; a validator is JavaScript and may name another ("denied"), or give
  // a failInfoText or reason that is not a string. The CertRep could not be built from such a verdict (HTTP 500), and a
  // failInfoText of 42 went to the device as "42". Each field is read as the issue hook's FAILURE is: the default when
  // it is not what the field holds.
  it("a rejection with a failInfo RFC 8894 does not define, or fields that are not strings: FAILURE badRequest with the defaults, never a 500", async () => {
    verdict = { ok: false, failInfo: "denied", failInfoText: "device unknown" } as unknown as ChallengeVerdict;
    expect(await enroll(s.server, "x")).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "device unknown" });
    expect(s.log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "bad_challenge", failInfo: "badRequest", status: 200 });
    verdict = { ok: false, failInfo: 2, failInfoText: 42, reason: { code: 7 } } as unknown as ChallengeVerdict;
    expect(await enroll(s.server, "x")).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "challenge rejected" });
    expect(s.log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "bad_challenge", failInfo: "badRequest", status: 200 });
    // A label may be CamelCase (@scep/intune names Microsoft's codes: ChallengeExpired); free text is not a label.
    verdict = { ok: false, reason: "ChallengeExpired", failInfo: "badTime" };
    expect(await enroll(s.server, "x")).toMatchObject({ status: "FAILURE", failInfo: "badTime", failInfoText: "challenge rejected" });
    expect(s.log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "ChallengeExpired", failInfo: "badTime" });
    verdict = { ok: false, reason: "Not Compliant!", failInfo: "badTime" };
    expect(await enroll(s.server, "x")).toMatchObject({ status: "FAILURE", failInfo: "badTime", failInfoText: "challenge rejected" });
    expect(s.log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "bad_challenge", failInfo: "badTime" });
  });

  it("{ ok: true, data } passes data to the issue hook as challengeData; plain true passes none", async () => {
    verdict = { ok: true, data: { deviceId: "d-42" } };
    expect(await enroll(s.server, "intune-blob")).toMatchObject({ status: "SUCCESS" });
    expect(s.calls.at(-1)!.challengeData).toEqual({ deviceId: "d-42" });
    verdict = true;
    expect(await enroll(s.server, "intune-blob")).toMatchObject({ status: "SUCCESS" });
    expect("challengeData" in s.calls.at(-1)!).toBe(false);
  });

  it("a synchronous validator works too", async () => {
    const sync = setup({ type: "custom", validate: (ctx) => ctx.challenge === "sync-ok" });
    expect(await enroll(sync.server, "sync-ok")).toMatchObject({ status: "SUCCESS" });
    expect(await enroll(sync.server, "sync-no")).toMatchObject({ status: "FAILURE", failInfoText: "challenge rejected" });
  });
});
