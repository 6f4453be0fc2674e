/**
 * CSR policy on the server: weak keys, SAN patterns and SAN types are refused
 * with a FAILURE CertRep (failInfo badRequest, event reason `csr_policy`)
 * before the issue hook runs; `maxValidityDays` reaches the hook as
 * `maxValidityDays` and `notAfterMax`, and the issued certificate honours it.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { buildPkcsReq, createScepServer, generateCsr, type CsrPolicy, type IssueContext, type SanInput, type ScepServer } from "../src/index.js";
import { DAY, NOW, createDevice, createTestCa, eventLog, issuingHook, postPki, readReply, type Device, type TestCa } from "./support/server-pki.js";

const CHALLENGE = "policy-secret";
let ca: TestCa;
let base: Device;

beforeAll(async () => {
  ca = await createTestCa("Policy CA");
  base = await createDevice({ cn: "policy-device", challengePassword: CHALLENGE });
});

function setup(csrPolicy: CsrPolicy | undefined): { server: ScepServer; calls: IssueContext[]; log: ReturnType<typeof eventLog> } {
  const calls: IssueContext[] = [];
  const log = eventLog();
  const server = createScepServer({
    profiles: [{ path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: CHALLENGE }, issue: issuingHook(ca, calls), ...(csrPolicy ? { csrPolicy } : {}) }],
    onEvent: log.onEvent,
    now: () => NOW,
  });
  return { server, calls, log };
}

async function enroll(server: ScepServer, device: Device): Promise<Awaited<ReturnType<typeof readReply>>> {
  const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
  return readReply(await postPki(server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.cert] });
}

async function withSan(san: SanInput): Promise<Device> {
  return createDevice({ cn: "policy-device", challengePassword: CHALLENGE, san, keys: base.keys });
}

describe("key size", () => {
  it("refuses RSA-1024 by default", async () => {
    const s = setup(undefined);
    const weak = await createDevice({ cn: "weak-device", challengePassword: CHALLENGE, bits: 1024 });
    const rep = await enroll(s.server, weak);
    expect(rep.status).toBe("FAILURE");
    expect(rep.failInfo).toBe("badRequest");
    expect(rep.failInfoText).toBe("RSA-1024 is below the minimum of 2048 bits");
    expect(s.calls).toEqual([]);
    expect(s.log.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "failure", reason: "csr_policy", failInfo: "badRequest", status: 200, subject: "CN=weak-device, O=scep-sdk server tests" });
  });

  it("refuses RSA-2048 when the profile asks for 3072", async () => {
    const rep = await enroll(setup({ minRsaBits: 3072 }).server, base);
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "RSA-2048 is below the minimum of 3072 bits" });
  });

  it("refuses RSA when only EC keys are allowed", async () => {
    const rep = await enroll(setup({ keyTypes: ["ec"] }).server, base);
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "key type rsa is not allowed" });
  });

  it("refuses a CSR without CN when a CN is required", async () => {
    const s = setup({ requireCommonName: true });
    // The base device's key and signer, with a subject that has no CN.
    const csr = await generateCsr({ keys: base.keys, subject: "O=scep-sdk server tests", challengePassword: CHALLENGE });
    const rep = await enroll(s.server, { ...base, csr });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "the subject has no CN" });
  });
});

describe("subject alternative names", () => {
  const policy: CsrPolicy = { sanTypes: ["dns", "ip"], sanPatterns: { dns: [/^[a-z0-9-]+\.corp\.example$/] } };

  it("accepts SANs matching the patterns", async () => {
    const s = setup(policy);
    const rep = await enroll(s.server, await withSan({ dns: ["laptop-1.corp.example"], ip: ["10.0.0.7"] }));
    expect(rep.status).toBe("SUCCESS");
    expect(s.calls[0]!.csr.subjectAltNames.dns).toEqual(["laptop-1.corp.example"]);
  });

  it("refuses a SAN that matches no pattern", async () => {
    const s = setup(policy);
    const rep = await enroll(s.server, await withSan({ dns: ["laptop-1.corp.example", "evil.example"] }));
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "SAN dns:evil.example is not allowed" });
    expect(s.calls).toEqual([]);
    expect(s.log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "csr_policy", failInfo: "badRequest" });
  });

  for (const [type, san] of [
    ["email", { email: ["someone@corp.example"] }],
    ["uri", { uri: ["https://corp.example/device"] }],
    ["upn", { upn: ["someone@corp.example"] }],
  ] as const) {
    it(`refuses a SAN of type ${type} the profile does not allow`, async () => {
      const s = setup(policy);
      const rep = await enroll(s.server, await withSan(san));
      expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: `SAN type ${type} is not allowed` });
      expect(s.log.events.at(-1)).toMatchObject({ reason: "csr_policy" });
    });
  }

  // A pattern with the g (or y) flag keeps a lastIndex between test() calls: the second SAN checked against it (in
  // this request or the next) was matched from where the first match ended, and refused. Every SAN is judged alone.
  for (const flags of ["g", "gi", "y"]) {
    it(`a pattern with the ${flags} flag judges every SAN from its start: two SANs in one request, then one in the next, all accepted`, async () => {
      const s = setup({ sanTypes: ["dns"], sanPatterns: { dns: [new RegExp("^[a-z0-9-]+\\.corp\\.example$", flags)] } });
      const device = await withSan({ dns: ["laptop-1.corp.example", "laptop-2.corp.example"] });
      expect((await enroll(s.server, device)).status).toBe("SUCCESS");
      expect((await enroll(s.server, await withSan({ dns: ["laptop-3.corp.example"] }))).status).toBe("SUCCESS");
      expect(s.log.events.map((e) => e.reason)).toEqual(["issued", "issued"]);
    });
  }

  it("the CSR policy is checked before the challenge", async () => {
    const s = setup(policy);
    const device = await createDevice({ cn: "policy-device", challengePassword: "wrong", san: { email: ["a@b.example"] }, keys: base.keys });
    expect(await enroll(s.server, device)).toMatchObject({ status: "FAILURE", failInfoText: "SAN type email is not allowed" });
    expect(s.log.events.at(-1)).toMatchObject({ reason: "csr_policy" });
  });
});

describe("maxValidityDays", () => {
  it("reaches the hook as maxValidityDays and notAfterMax, and bounds the issued certificate", async () => {
    const s = setup({ maxValidityDays: 30 });
    const rep = await enroll(s.server, base);
    expect(rep.status).toBe("SUCCESS");
    expect(s.calls.length).toBe(1);
    expect(s.calls[0]!.maxValidityDays).toBe(30);
    expect(s.calls[0]!.notAfterMax).toEqual(new Date(NOW.getTime() + 30 * DAY));
    expect(s.calls[0]!.approved).toBe(false);
    expect(s.calls[0]!.renewal).toBe(false);
    expect(rep.certificates[0]!.notAfter).toEqual(new Date(NOW.getTime() + 30 * DAY));
  });

  it("defaults to 365 days", async () => {
    const s = setup(undefined);
    await enroll(s.server, base);
    expect(s.calls[0]!.maxValidityDays).toBe(365);
    expect(s.calls[0]!.notAfterMax).toEqual(new Date(NOW.getTime() + 365 * DAY));
  });
});
