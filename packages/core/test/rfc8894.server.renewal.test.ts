/**
 * Renewal authenticated by the old certificate's chain (RFC 8894 §3.3.1.2,
 * INTEROP quirk 9): a RenewalReq, or a PKCSReq (macOS, Cisco, sscep, jscep)
 * signed by a certificate this CA issued, is a renewal and needs no challenge;
 * a RenewalReq signed by anything else is refused (`renewal_not_chained`); a
 * RenewalReq with an expired old certificate is badTime, a PKCSReq signed by
 * one is a first enrollment that its challenge authenticates (§2.3), badTime
 * without it; `renewalRequiresChallenge` demands the challenge as well.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { LocalKey, buildPkcsReq, createScepServer, type Certificate, type RevocationVerdict, type RevokedCertificate, type IssueContext, type ScepProfile, type ScepServer } from "../src/index.js";
import { DAY, NOW, createDevice, createTestCa, csrFor, eventLog, hex, issuingHook, postPki, readReply, type Device, type TestCa, baseProfile } from "./support/server-pki.js";

const CHALLENGE = "renewal-secret";
let ca: TestCa;
let foreign: TestCa;
/** A CA with the same name as `ca` but another key: its certificates must not pass as ca's. */
let lookalike: TestCa;
let device: Device;
/** The device's certificate from `ca`, valid NOW-10d .. NOW+20d, with its key. */
let old: LocalKey;
let oldCert: Certificate;

beforeAll(async () => {
  [ca, foreign, lookalike] = await Promise.all([createTestCa("Renewal CA"), createTestCa("Foreign Renewal CA"), createTestCa("Renewal CA")]);
  device = await createDevice({ cn: "renewal-device", challengePassword: CHALLENGE });
  oldCert = await ca.issue(device.csr, { notBefore: new Date(NOW.getTime() - 10 * DAY), notAfter: new Date(NOW.getTime() + 20 * DAY) });
  old = LocalKey.from(oldCert, device.keys.privateKey);
});

function setup(extra: Partial<ScepProfile> = {}, clock: () => Date = () => NOW): { server: ScepServer; calls: IssueContext[]; log: ReturnType<typeof eventLog> } {
  const calls: IssueContext[] = [];
  const log = eventLog();
  const server = createScepServer({
    profiles: [{ path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: CHALLENGE }, issue: issuingHook(ca, calls), ...extra }],
    onEvent: log.onEvent,
    now: clock,
  });
  return { server, calls, log };
}

async function send(server: ScepServer, signer: LocalKey, options: { renewal: boolean; challenge?: string; csr?: Uint8Array }) {
  const csr = options.csr ?? (await csrFor(device.keys, "renewal-device", options.challenge));
  const built = await buildPkcsReq({ csr, signer, recipient: ca.cert, renewal: options.renewal, now: NOW });
  const rep = await readReply(await postPki(server, "/scep", built.der), built, { decrypter: signer, caCertificates: [ca.cert] });
  return { built, rep };
}

describe("accepted renewals", () => {
  it("a RenewalReq signed by a certificate this CA issued needs no challenge", async () => {
    const s = setup();
    const newKeys = await createDevice({ cn: "renewal-device" });
    const { built, rep } = await send(s.server, old, { renewal: true, csr: await csrFor(newKeys.keys, "renewal-device") });
    expect(rep.status).toBe("SUCCESS");
    expect(rep.certificates[0]!.issuer).toBe(ca.cert.subject);
    expect(hex(rep.certificates[0]!.spki)).toBe(hex(newKeys.signer.certificate.spki));
    expect(s.calls.length).toBe(1);
    const ctx = s.calls[0]!;
    expect(ctx.renewal).toBe(true);
    expect(hex(ctx.renewalOf?.der)).toBe(hex(oldCert.der));
    expect(hex(ctx.signerCertificate.der)).toBe(hex(oldCert.der));
    expect(ctx.request?.messageTypeName).toBe("RenewalReq");
    expect(s.log.events.at(-1)).toMatchObject({ operation: "RenewalReq", outcome: "success", reason: "issued", transactionId: built.transactionId, serial: rep.certificates[0]!.serialNumberHex });
  });

  it("a PKCSReq signed by a certificate this CA issued is treated as a renewal (macOS, Cisco, sscep)", async () => {
    const s = setup();
    const { rep } = await send(s.server, old, { renewal: false });
    expect(rep.status).toBe("SUCCESS");
    expect(s.calls[0]!.renewal).toBe(true);
    expect(hex(s.calls[0]!.renewalOf?.der)).toBe(hex(oldCert.der));
    expect(s.calls[0]!.request?.messageTypeName).toBe("PKCSReq");
    expect(s.log.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "success", reason: "issued" });
  });

  it("a renewal with a wrong challenge is still accepted (the old certificate authenticates it)", async () => {
    const s = setup();
    expect((await send(s.server, old, { renewal: true, challenge: "wrong" })).rep.status).toBe("SUCCESS");
  });

  it("renewal works on the first day of the old certificate and on its last", async () => {
    for (const t of [oldCert.notBefore, oldCert.notAfter]) {
      const s = setup({}, () => t);
      expect((await send(s.server, old, { renewal: true })).rep.status).toBe("SUCCESS");
    }
  });
});

describe("refused renewals", () => {
  it("a RenewalReq signed by a foreign CA's certificate → FAILURE badRequest renewal_not_chained", async () => {
    const s = setup();
    const foreignCert = await foreign.issue(device.csr);
    const { rep } = await send(s.server, LocalKey.from(foreignCert, device.keys.privateKey), { renewal: true, challenge: CHALLENGE });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "the renewal is not signed by a certificate of this CA" });
    expect(s.calls).toEqual([]);
    expect(s.log.events.at(-1)).toMatchObject({ operation: "RenewalReq", outcome: "failure", reason: "renewal_not_chained", failInfo: "badRequest" });
  });

  it("a RenewalReq signed by a certificate naming this CA as issuer but signed by another key → renewal_not_chained", async () => {
    const s = setup();
    const forged = await lookalike.issue(device.csr);
    expect(forged.issuer).toBe(ca.cert.subject);
    const { rep } = await send(s.server, LocalKey.from(forged, device.keys.privateKey), { renewal: true, challenge: CHALLENGE });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest" });
    expect(s.log.events.at(-1)).toMatchObject({ reason: "renewal_not_chained" });
  });

  it("a RenewalReq signed by a self-signed certificate → renewal_not_chained, even with the right challenge", async () => {
    const s = setup();
    const { rep } = await send(s.server, device.signer, { renewal: true, challenge: CHALLENGE });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest" });
    expect(s.log.events.at(-1)).toMatchObject({ reason: "renewal_not_chained" });
  });

  it("a PKCSReq signed by a foreign CA's certificate is an initial enrollment: the challenge decides", async () => {
    const s = setup();
    const foreignSigner = LocalKey.from(await foreign.issue(device.csr), device.keys.privateKey);
    expect((await send(s.server, foreignSigner, { renewal: false })).rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "no challenge password in the CSR" });
    expect(s.log.events.at(-1)).toMatchObject({ reason: "missing_challenge" });
    expect((await send(s.server, foreignSigner, { renewal: false, challenge: CHALLENGE })).rep.status).toBe("SUCCESS");
    expect(s.calls[0]!.renewal).toBe(false);
    expect(s.calls[0]!.renewalOf).toBeUndefined();
  });

  it("a RenewalReq signed by an expired old certificate → FAILURE badTime, even with the right challenge", async () => {
    const s = setup({}, () => new Date(oldCert.notAfter.getTime() + 1000));
    for (const challenge of [CHALLENGE, undefined]) {
      const { rep } = await send(s.server, old, { renewal: true, ...(challenge ? { challenge } : {}) });
      expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badTime", failInfoText: "the certificate being renewed is expired or not yet valid" });
      expect(s.log.events.at(-1)).toMatchObject({ operation: "RenewalReq", outcome: "failure", reason: "renewal_expired", failInfo: "badTime", renewal: true });
    }
    expect(s.calls).toEqual([]);
  });

  it("RFC 8894 §2.3: a PKCSReq signed by an expired certificate of this CA with a valid challenge is a first enrollment", async () => {
    const s = setup({}, () => new Date(oldCert.notAfter.getTime() + 1000));
    const { rep } = await send(s.server, old, { renewal: false, challenge: CHALLENGE });
    expect(rep.status).toBe("SUCCESS");
    expect(hex(rep.certificates[0]!.spki)).toBe(hex(oldCert.spki));
    expect(s.calls.length).toBe(1);
    expect(s.calls[0]).toMatchObject({ renewal: false, approved: false });
    expect(s.calls[0]!.renewalOf).toBeUndefined();
    expect(s.log.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "success", reason: "issued" });
  });

  it("a PKCSReq signed by an expired certificate of this CA without a valid challenge → FAILURE badTime", async () => {
    const s = setup({}, () => new Date(oldCert.notAfter.getTime() + 1000));
    for (const challenge of ["wrong", undefined]) {
      const { rep } = await send(s.server, old, { renewal: false, ...(challenge ? { challenge } : {}) });
      expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badTime", failInfoText: "the certificate being renewed is expired or not yet valid" });
      // taken as a first enrollment, so the event's reason and `renewal` agree: not "renewal_expired" with renewal: false
      expect(s.log.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "failure", reason: "signer_expired", failInfo: "badTime", renewal: false });
    }
    expect(s.calls).toEqual([]);
  });

  it("an old certificate not yet valid → FAILURE badTime", async () => {
    const s = setup({}, () => new Date(oldCert.notBefore.getTime() - 1000));
    expect((await send(s.server, old, { renewal: true })).rep).toMatchObject({ status: "FAILURE", failInfo: "badTime" });
  });
});

describe("a revoked old certificate (isRevoked hook) authenticates nothing", () => {
  const revokedSetup = () => {
    const asked: string[] = [];
    const s = setup({
      isRevoked: (cert) => {
        asked.push(cert.serialNumberHex);
        return cert.serialNumberHex === oldCert.serialNumberHex;
      },
    });
    return { ...s, asked };
  };

  it("a RenewalReq signed by it → FAILURE badCertId renewal_revoked, even with the right challenge; hook not called", async () => {
    const s = revokedSetup();
    const { rep } = await send(s.server, old, { renewal: true, challenge: CHALLENGE });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badCertId", failInfoText: "the certificate being renewed was revoked" });
    expect(s.log.events.at(-1)).toMatchObject({ operation: "RenewalReq", outcome: "failure", reason: "renewal_revoked", failInfo: "badCertId", renewal: true });
    expect(s.asked).toEqual([oldCert.serialNumberHex]);
    expect(s.calls).toEqual([]);
  });

  it("a PKCSReq signed by it is a first enrollment: SUCCESS with a valid challenge (not a renewal), badCertId without", async () => {
    const s = revokedSetup();
    expect((await send(s.server, old, { renewal: false })).rep).toMatchObject({ status: "FAILURE", failInfo: "badCertId", failInfoText: "the certificate being renewed was revoked" });
    expect(s.log.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "failure", reason: "signer_revoked", failInfo: "badCertId", renewal: false });
    expect(s.calls).toEqual([]);
    const { rep } = await send(s.server, old, { renewal: false, challenge: CHALLENGE });
    expect(rep.status).toBe("SUCCESS");
    expect(s.calls[0]).toMatchObject({ renewal: false });
    expect(s.calls[0]!.renewalOf).toBeUndefined();
  });

  it("the hook's RFC 5280 §5.3.1 reason (a name or a store entry) ends the text in parentheses; true or an unknown name gives none", async () => {
    const entry: RevokedCertificate = { serialNumber: oldCert.serialNumberHex, reason: "cessationOfOperation", revokedAt: NOW };
    const answers: [RevocationVerdict, string][] = [
      ["keyCompromise", "the certificate being renewed was revoked (keyCompromise)"],
      [{ reason: "superseded" }, "the certificate being renewed was revoked (superseded)"],
      [entry, "the certificate being renewed was revoked (cessationOfOperation)"],
      [true, "the certificate being renewed was revoked"],
      ["toString" as never, "the certificate being renewed was revoked"],
      ["keyCompromise) and more (" as never, "the certificate being renewed was revoked"],
    ];
    for (const [answer, text] of answers) {
      const s = setup({ isRevoked: async () => answer });
      expect((await send(s.server, old, { renewal: true })).rep).toMatchObject({ status: "FAILURE", failInfo: "badCertId", failInfoText: text });
      expect(s.log.events.at(-1)).toMatchObject({ reason: "renewal_revoked" });
      // A PKCSReq signed by it without a challenge gets the same text.
      expect((await send(s.server, old, { renewal: false })).rep).toMatchObject({ status: "FAILURE", failInfo: "badCertId", failInfoText: text });
    }
  });

  it("a certificate the hook does not report revoked renews as before", async () => {
    const s = setup({ isRevoked: () => false });
    expect((await send(s.server, old, { renewal: true })).rep.status).toBe("SUCCESS");
    expect((await send(setup({ isRevoked: () => undefined }).server, old, { renewal: true })).rep.status).toBe("SUCCESS");
  });
});

describe("renewalRequiresChallenge", () => {
  it("demands the challenge on renewals too", async () => {
    const s = setup({ renewalRequiresChallenge: true });
    expect((await send(s.server, old, { renewal: true })).rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "no challenge password in the CSR" });
    expect(s.log.events.at(-1)).toMatchObject({ operation: "RenewalReq", reason: "missing_challenge" });
    expect((await send(s.server, old, { renewal: false, challenge: "wrong" })).rep).toMatchObject({ status: "FAILURE", failInfoText: "challenge password mismatch" });
    expect(s.calls).toEqual([]);
    expect((await send(s.server, old, { renewal: true, challenge: CHALLENGE })).rep.status).toBe("SUCCESS");
    expect(s.calls[0]!.renewal).toBe(true);
    expect(hex(s.calls[0]!.renewalOf?.der)).toBe(hex(oldCert.der));
  });
});

describe("renewal through PENDING", () => {
  it("keeps the renewal flag on the stored transaction and on approval", async () => {
    const calls: IssueContext[] = [];
    const server = createScepServer({
      profiles: [
        {
          ...baseProfile(ca, CHALLENGE),
          issue: issuingHook(ca, calls, (ctx) => (ctx.approved ? undefined : { status: "PENDING" })),
        },
      ],
      now: () => NOW,
    });
    const { built, rep } = await send(server, old, { renewal: true });
    expect(rep.status).toBe("PENDING");
    const tx = await server.approve("p", built.transactionId);
    expect(tx.renewal).toBe(true);
    expect(calls.at(-1)).toMatchObject({ approved: true, renewal: true });
    expect(hex(calls.at(-1)!.renewalOf?.der)).toBe(hex(oldCert.der));
  });
});
