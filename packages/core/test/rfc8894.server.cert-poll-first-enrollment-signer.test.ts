/**
 * RFC 8894 §3.3.3: a CertPoll for a first enrollment signed with a key that is not the CSR's. A PKCSReq that is not a
 * renewal is a first enrollment whatever signed it: a manufacturer's IDevID from another CA, this CA's expired, not
 * yet valid or revoked certificate of an old key, a self-signed certificate of an old key, or an RA signing for other
 * names (openxpki#337). Such a device polls with the key it signed the request with; the server matches a CertPoll by
 * its signer's key (the CSR's, or the recorded signer certificate's: `cert-poll.ts`), so the transaction must keep
 * that signer certificate while it is being issued (the claim, ISSUING), once issued (ISSUED) and while it waits
 * (PENDING). A CertPoll signed by any other key still gets FAILURE badCertId `signer_mismatch`.
 */
import { describe, expect, it } from "vitest";
import {
  CertificationRequest,
  LocalKey,
  MemoryTransactionStore,
  buildCertPoll,
  buildPkcsReq,
  createScepServer,
  createSelfSignedSigner,
  type IssueContext,
  type IssueHook,
  type ScepProfile,
  type ScepServer,
} from "../src/index.js";
import { DAY, NOW, baseProfile, createDevice, createTestCa, eventLog, hex, issuingHook, postPki, readReply, type Device } from "./support/server-pki.js";

const ca = await createTestCa("Poll Signer CA");
const maker = await createTestCa("Poll Signer Manufacturer CA");
const CHALLENGE = "poll-signer";

/** The FAILURE a CertPoll from another key gets: the same as for an unknown transactionID. */
const MISMATCH = { status: "FAILURE", failInfo: "badCertId", failInfoText: "no pending request with this transactionID" };

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** An issuing hook (calls in `calls`) that, when `hold`, holds its first call until `held.open()`; `entered` opens then. */
function hook(calls: IssueContext[], o: { hold?: boolean; answer?: Parameters<typeof issuingHook>[2] } = {}) {
  const held = gate();
  const entered = gate();
  const issue = issuingHook(ca, calls, o.answer);
  let armed = o.hold ?? false;
  const run: IssueHook = async (ctx) => {
    if (armed) {
      armed = false;
      entered.open();
      await held.promise;
    }
    return issue(ctx);
  };
  return { run, held, entered };
}

function setup(issue: IssueHook, extra: Partial<ScepProfile> = {}) {
  const transactions = new MemoryTransactionStore({ now: () => NOW });
  const log = eventLog();
  const server = createScepServer({ profiles: [{ ...baseProfile(ca, CHALLENGE), transactions, issue, ...extra }], onEvent: log.onEvent, now: () => NOW });
  return { server, transactions, log };
}

/** The device's CSR in a PKCSReq signed by `signer` (the reply is encrypted to it); transactionID from the CSR's key unless given. */
async function send(server: ScepServer, device: Device, signer: LocalKey, transactionId?: string) {
  const built = await buildPkcsReq({ csr: device.csr, signer, recipient: ca.cert, now: NOW, ...(transactionId ? { transactionId } : {}) });
  return { built, rep: await readReply(await postPki(server, "/scep", built.der), built, { decrypter: signer, caCertificates: [ca.cert] }) };
}

/** A CertPoll for the device's request, signed by `signer` (the reply is encrypted to it). */
async function certPoll(server: ScepServer, device: Device, signer: LocalKey, transactionId: string) {
  const subject = CertificationRequest.from(device.csr).subjectDer;
  const built = await buildCertPoll({ signer, recipient: ca.cert, issuer: ca.cert, subject, transactionId, now: NOW });
  return readReply(await postPki(server, "/scep", built.der), built, { decrypter: signer, caCertificates: [ca.cert] });
}

/** A certificate and key that are not the device's: anyone else's self-signed one. */
async function stranger(): Promise<LocalKey> {
  return (await createDevice({ cn: "poll-signer-stranger" })).signer;
}

/** What signs the first enrollment, never with the CSR's key; and what the profile needs for it to be no renewal. */
interface SignerCase {
  name: string;
  make(device: Device): Promise<{ signer: LocalKey; extra?: Partial<ScepProfile> }>;
}

/** A certificate from this CA of the device's old key pair, with these validity bounds. */
async function oldKeyCertificate(options: { notBefore?: Date; notAfter?: Date } = {}) {
  const old = await createDevice({ cn: "poll-signer-old-key" });
  return LocalKey.from(await ca.issue(old.csr, options), old.keys.privateKey);
}

const SIGNERS: SignerCase[] = [
  {
    name: "a manufacturer's IDevID (another CA's certificate, the IDevID key)",
    async make() {
      const idevid = await createDevice({ cn: "poll-signer-idevid-0001" });
      return { signer: LocalKey.from(await maker.issue(idevid.csr), idevid.keys.privateKey) };
    },
  },
  {
    name: "this CA's expired certificate of the device's old key",
    make: async () => ({ signer: await oldKeyCertificate({ notBefore: new Date(NOW.getTime() - 30 * DAY), notAfter: new Date(NOW.getTime() - DAY) }) }),
  },
  {
    name: "this CA's not yet valid certificate of the device's old key",
    make: async () => ({ signer: await oldKeyCertificate({ notBefore: new Date(NOW.getTime() + DAY), notAfter: new Date(NOW.getTime() + 30 * DAY) }) }),
  },
  {
    name: "this CA's revoked certificate of the device's old key (isRevoked)",
    async make() {
      const signer = await oldKeyCertificate();
      const serial = signer.certificate.serialNumberHex;
      return { signer, extra: { isRevoked: (c) => c.serialNumberHex === serial } };
    },
  },
  {
    name: "a self-signed certificate of the device's old key",
    async make(device) {
      const old = await createDevice({ cn: "poll-signer-old-self-signed" });
      return { signer: await createSelfSignedSigner({ keys: old.keys, subject: device.subject, now: NOW }) };
    },
  },
  {
    name: "an RA signing on behalf of the device (this CA's valid certificate for other names, openxpki#337)",
    make: async () => ({ signer: await ca.ra("CN=Poll Signer RA, O=scep-sdk server tests") }),
  },
];

describe("RFC 8894 §3.3.3: a CertPoll signed by the key that signed a first enrollment, once it was issued", () => {
  for (const c of SIGNERS) {
    it(`signed by ${c.name}: the CertPoll signed with that key gets SUCCESS with the same certificate (issued_resent); another key gets signer_mismatch`, async () => {
      const device = await createDevice({ cn: "poll-signer-issued", challengePassword: CHALLENGE });
      const { signer, extra } = await c.make(device);
      expect(hex(signer.certificate.spki)).not.toBe(hex(device.signer.certificate.spki));
      const calls: IssueContext[] = [];
      const s = setup(hook(calls).run, extra);
      const first = await send(s.server, device, signer);
      expect([first.rep.status, first.rep.failInfoText]).toEqual(["SUCCESS", undefined]);
      const tid = first.built.transactionId;
      const polled = await certPoll(s.server, device, signer, tid);
      // Before: FAILURE badCertId signer_mismatch (the record kept no signer certificate).
      expect([polled.status, polled.failInfoText]).toEqual(["SUCCESS", undefined]);
      expect(hex(polled.certificate!.der)).toBe(hex(first.rep.certificate!.der));
      // The record keeps the signer certificate: its key is not the CSR's.
      const tx = (await s.transactions.get("p", tid))!;
      expect([tx.status, tx.direct, tx.renewal, hex(tx.signerCertificate)]).toEqual(["ISSUED", true, false, hex(signer.certificate.der)]);
      // The CSR's own key polls as before; anyone else's key is told nothing.
      expect(hex((await certPoll(s.server, device, device.signer, tid)).certificate?.der)).toBe(hex(first.rep.certificate!.der));
      expect(await certPoll(s.server, device, await stranger(), tid)).toMatchObject(MISMATCH);
      expect(calls.map((x) => x.renewal)).toEqual([false]);
      expect(s.log.events.map((e) => [e.operation, e.outcome, e.reason])).toEqual([
        ["PKCSReq", "success", "issued"],
        ["CertPoll", "success", "issued_resent"],
        ["CertPoll", "success", "issued_resent"],
        ["CertPoll", "failure", "signer_mismatch"],
      ]);
    });
  }
});

describe("RFC 8894 §3.3.3: a CertPoll signed by the key that signed a first enrollment, while its issue hook runs (its claim, ISSUING)", () => {
  for (const c of [SIGNERS[0]!, SIGNERS.at(-1)!]) {
    it(`signed by ${c.name}: the CertPoll signed with that key gets PENDING (still_pending), then the certificate once issued; another key gets signer_mismatch`, async () => {
      const device = await createDevice({ cn: "poll-signer-issuing", challengePassword: CHALLENGE });
      const { signer, extra } = await c.make(device);
      const calls: IssueContext[] = [];
      const h = hook(calls, { hold: true });
      const s = setup(h.run, extra);
      const first = send(s.server, device, signer);
      await h.entered.promise;
      const [claim] = await s.transactions.list("p", { status: "ISSUING" });
      const tid = claim!.transactionId;
      const waiting = await certPoll(s.server, device, signer, tid);
      // Before: FAILURE badCertId signer_mismatch (the claim kept no signer certificate).
      expect([waiting.status, waiting.failInfoText]).toEqual(["PENDING", undefined]);
      expect([claim?.direct, hex(claim?.csr), hex(claim?.signerCertificate)]).toEqual([true, hex(device.csr), hex(signer.certificate.der)]);
      expect(await certPoll(s.server, device, await stranger(), tid)).toMatchObject(MISMATCH);

      h.held.open();
      const issued = (await first).rep;
      expect(issued.status).toBe("SUCCESS");
      const polled = await certPoll(s.server, device, signer, tid);
      expect([polled.status, hex(polled.certificate?.der)]).toEqual(["SUCCESS", hex(issued.certificate!.der)]);
      expect(calls).toHaveLength(1);
      expect(s.log.events.map((e) => [e.operation, e.outcome, e.reason])).toEqual([
        ["CertPoll", "pending", "still_pending"],
        ["CertPoll", "failure", "signer_mismatch"],
        ["PKCSReq", "success", "issued"],
        ["CertPoll", "success", "issued_resent"],
      ]);
    });
  }
});

describe("RFC 8894 §3.3.3: a CertPoll signed by the key that signed a first enrollment that waits for approval (PENDING)", () => {
  for (const c of [SIGNERS[0]!, SIGNERS.at(-1)!]) {
    it(`signed by ${c.name}: the CertPoll signed with that key gets PENDING, then the certificate once approved; another key gets signer_mismatch`, async () => {
      const device = await createDevice({ cn: "poll-signer-pending", challengePassword: CHALLENGE });
      const { signer, extra } = await c.make(device);
      const calls: IssueContext[] = [];
      const s = setup(hook(calls, { answer: (ctx) => (ctx.approved ? undefined : { status: "PENDING" }) }).run, extra);
      const first = await send(s.server, device, signer);
      expect(first.rep.status).toBe("PENDING");
      const tid = first.built.transactionId;
      const tx = (await s.transactions.get("p", tid))!;
      expect([tx.status, tx.direct, tx.renewal, hex(tx.signerCertificate)]).toEqual(["PENDING", undefined, false, hex(signer.certificate.der)]);

      expect((await certPoll(s.server, device, signer, tid)).status).toBe("PENDING");
      expect(await certPoll(s.server, device, await stranger(), tid)).toMatchObject(MISMATCH);
      await s.server.approve("p", tid);
      // The approve's issue context: no renewal, the request's signer (as at the first call).
      expect(calls.map((x) => [x.approved, x.renewal, x.renewalOf, hex(x.signerCertificate.der)])).toEqual([
        [false, false, undefined, hex(signer.certificate.der)],
        [true, false, undefined, hex(signer.certificate.der)],
      ]);
      const polled = await certPoll(s.server, device, signer, tid);
      expect(polled.status).toBe("SUCCESS");
      expect(hex(polled.certificate!.spki)).toBe(hex(device.signer.certificate.spki));
      expect(await certPoll(s.server, device, await stranger(), tid)).toMatchObject(MISMATCH);
      expect(s.log.events.map((e) => [e.operation, e.outcome, e.reason])).toEqual([
        ["PKCSReq", "pending", "pending_approval"],
        ["CertPoll", "pending", "still_pending"],
        ["CertPoll", "failure", "signer_mismatch"],
        ["CertPoll", "success", "issued_after_approval"],
        ["CertPoll", "failure", "signer_mismatch"],
      ]);
    });
  }
});

describe("RFC 8894 §3.3.3: a first enrollment that replaces another request's finished record (no claim: the record is created whole)", () => {
  it("an IDevID-signed request under the transactionID of another device's ISSUED record: its CertPoll signed with the IDevID key gets its own certificate; the other device's key now gets signer_mismatch", async () => {
    const calls: IssueContext[] = [];
    const s = setup(hook(calls).run);
    const earlier = await createDevice({ cn: "poll-signer-earlier", challengePassword: CHALLENGE });
    const device = await createDevice({ cn: "poll-signer-replacing", challengePassword: CHALLENGE });
    const { signer } = await SIGNERS[0]!.make(device);
    const before = await send(s.server, earlier, earlier.signer);
    const tid = before.built.transactionId;
    const first = await send(s.server, device, signer, tid);
    expect([before.rep.status, first.rep.status]).toEqual(["SUCCESS", "SUCCESS"]);
    const polled = await certPoll(s.server, device, signer, tid);
    // Before: FAILURE badCertId signer_mismatch (the record created whole kept no signer certificate).
    expect([polled.status, hex(polled.certificate?.der)]).toEqual(["SUCCESS", hex(first.rep.certificate!.der)]);
    const tx = (await s.transactions.get("p", tid))!;
    expect([tx.status, hex(tx.csr), hex(tx.signerCertificate)]).toEqual(["ISSUED", hex(device.csr), hex(signer.certificate.der)]);
    expect(await certPoll(s.server, earlier, earlier.signer, tid)).toMatchObject(MISMATCH);
    expect(calls).toHaveLength(2);
  });
});

describe("RFC 8894 §3.3.3: a self-signed first enrollment (the CSR's key) still records no signer certificate (issue 13, goal 4)", () => {
  it("neither the claim while the hook runs nor the ISSUED record keeps one; the CertPoll signed with the CSR's key gets PENDING, then the certificate", async () => {
    const calls: IssueContext[] = [];
    const h = hook(calls, { hold: true });
    const s = setup(h.run);
    const device = await createDevice({ cn: "poll-signer-self-signed", challengePassword: CHALLENGE });
    const first = send(s.server, device, device.signer);
    await h.entered.promise;
    const [claim] = await s.transactions.list("p", { status: "ISSUING" });
    expect(claim?.signerCertificate).toHaveLength(0);
    expect((await certPoll(s.server, device, device.signer, claim!.transactionId)).status).toBe("PENDING");
    h.held.open();
    const issued = (await first).rep;
    expect((await s.transactions.get("p", claim!.transactionId))?.signerCertificate).toHaveLength(0);
    expect(hex((await certPoll(s.server, device, device.signer, claim!.transactionId)).certificate?.der)).toBe(hex(issued.certificate!.der));
  });
});
