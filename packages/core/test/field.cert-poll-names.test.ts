/**
 * Field reports about the IssuerAndSubject a CertPoll (GetCertInitial) carries (RFC 8894 §3.3.3: the CertPoll repeats
 * the PKCSReq's transactionID, which the server matches; its IssuerAndSubject names the issuing CA and the requested
 * subject), rebuilt against our server.
 *
 * - sscep put the CA certificate's issuer, not its subject, in the CertPoll, which a CA under a root answered with
 *   nothing (certnanny/sscep#42, https://github.com/certnanny/sscep/issues/42), and jscep did the same to VeriSign's
 *   Managed PKI (seize-the-dave/jscep#9, https://github.com/seize-the-dave/jscep/issues/9).
 * - sscep wrote issuer and subject the wrong way round, so a responder never picked up the PENDING certificate
 *   (certnanny/sscep#94, https://github.com/certnanny/sscep/issues/94).
 *
 * Our server answers a CertPoll from its transactionID, so each of these clients gets its certificate once approved;
 * a CertPoll whose transactionID the server does not hold is FAILURE badCertId whatever names it carries. What ties the
 * CertPoll to the recorded request is its signer's key (the request's key, or the key of the certificate that signed
 * the request), not its names: a CertPoll for another device's transactionID signed with another key gets the same
 * FAILURE badCertId as an unknown transactionID, whatever subject it names (certnanny/sscep#167 sent one transactionID
 * for every key).
 */
import { describe, expect, it } from "vitest";
import { CertificationRequest, LocalKey, MemoryTransactionStore, buildCertPoll, buildPkcsReq, createScepServer, createSelfSignedSigner, type ScepEvent } from "../src/index.js";
import { NOW, createDevice, createTestCa, enrollAt, hex, manualProfile, postPki, readReply } from "./support/server-pki.js";

const CHALLENGE = "cert-poll-names";
const root = await createTestCa("CertPoll Names Root");
const ca = await createTestCa("CertPoll Names Issuing CA");
const events: ScepEvent[] = [];
const server = createScepServer({
  profiles: [manualProfile(ca, { challenge: CHALLENGE, transactions: new MemoryTransactionStore({ now: () => NOW }) })],
  onEvent: (e) => events.push(e),
  now: () => NOW,
});

async function pendingDevice(cn: string) {
  const device = await createDevice({ cn, challengePassword: CHALLENGE });
  const { built, rep } = await enrollAt(server, "/scep", ca, device);
  expect(rep.status).toBe("PENDING");
  return { device, transactionId: built.transactionId, subject: CertificationRequest.from(device.csr).subjectDer };
}

async function poll(device: { signer: LocalKey }, transactionId: string, issuerName: Uint8Array, subject: Uint8Array) {
  const built = await buildCertPoll({ signer: device.signer, recipient: ca.cert, issuerName, subject, transactionId, now: NOW });
  return readReply(await postPki(server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.cert] });
}

describe("RFC 8894 §3.3.3: a CertPoll is matched by its transactionID, whatever IssuerAndSubject it names", () => {
  it("sscep#42, jscep#9: the issuer named is the CA's issuer (here: a root's name), not the CA → PENDING, then the certificate once approved", async () => {
    const { device, transactionId, subject } = await pendingDevice("cert-poll-names-42");
    expect((await poll(device, transactionId, root.cert.subjectDer, subject)).status).toBe("PENDING");
    await server.approve("manual", transactionId);
    const rep = await poll(device, transactionId, root.cert.subjectDer, subject);
    expect(rep.status).toBe("SUCCESS");
    expect(hex(rep.certificates[0]!.spki)).toBe(hex(device.signer.certificate.spki));
  });

  it("sscep#94: issuer and subject swapped → the certificate once approved", async () => {
    const { device, transactionId, subject } = await pendingDevice("cert-poll-names-94");
    await server.approve("manual", transactionId);
    const rep = await poll(device, transactionId, subject, ca.cert.subjectDer);
    expect(rep.status).toBe("SUCCESS");
    expect(hex(rep.certificates[0]!.spki)).toBe(hex(device.signer.certificate.spki));
  });

  it("correct names but a transactionID the server does not hold → FAILURE badCertId", async () => {
    const { device, subject } = await pendingDevice("cert-poll-names-unknown");
    expect(await poll(device, "NOT-A-TRANSACTION", ca.cert.subjectDer, subject)).toMatchObject({ status: "FAILURE", failInfo: "badCertId" });
  });

  it("another device polls this device's transactionID naming this device's own subject → FAILURE badCertId before and after approval, as an unknown one; the owner still gets its certificate", async () => {
    const owner = await pendingDevice("cert-poll-names-owner");
    const intruder = await createDevice({ cn: "cert-poll-names-intruder", challengePassword: CHALLENGE });
    const before = events.length;
    const refused = { status: "FAILURE", failInfo: "badCertId", failInfoText: "no pending request with this transactionID" };
    expect(await poll(intruder, owner.transactionId, ca.cert.subjectDer, owner.subject)).toMatchObject(refused);
    await server.approve("manual", owner.transactionId);
    expect(await poll(intruder, owner.transactionId, ca.cert.subjectDer, owner.subject)).toMatchObject(refused);
    expect(await poll(intruder, owner.transactionId, owner.subject, ca.cert.subjectDer)).toMatchObject(refused);
    expect(events.slice(before).map((e) => [e.operation, e.outcome, e.reason, e.status])).toEqual([
      ["CertPoll", "failure", "signer_mismatch", 200],
      ["CertPoll", "failure", "signer_mismatch", 200],
      ["CertPoll", "failure", "signer_mismatch", 200],
    ]);
    const rep = await poll(owner.device, owner.transactionId, ca.cert.subjectDer, owner.subject);
    expect(rep.status).toBe("SUCCESS");
    expect(hex(rep.certificates[0]!.spki)).toBe(hex(owner.device.signer.certificate.spki));
  });

  it("a renewal signed by the old certificate: polled with the old certificate or with a self-signed certificate of the new key → the certificate", async () => {
    const old = await createDevice({ cn: "cert-poll-names-renew" });
    const oldCert = await ca.issue(old.csr);
    const oldSigner = { signer: LocalKey.from(oldCert, old.keys.privateKey) };
    const next = await createDevice({ cn: "cert-poll-names-renew", challengePassword: CHALLENGE });
    const built = await buildPkcsReq({ csr: next.csr, signer: oldSigner.signer, recipient: ca.cert, now: NOW });
    const first = await readReply(await postPki(server, "/scep", built.der), built, { decrypter: oldSigner.signer, caCertificates: [ca.cert] });
    expect(first.status).toBe("PENDING");
    await server.approve("manual", built.transactionId);
    const subject = CertificationRequest.from(next.csr).subjectDer;
    for (const device of [oldSigner, next]) {
      const rep = await poll(device, built.transactionId, ca.cert.subjectDer, subject);
      expect(rep.status).toBe("SUCCESS");
      expect(hex(rep.certificates[0]!.spki)).toBe(hex(next.signer.certificate.spki));
    }
    // A fresh self-signed certificate of the request's key (a client that makes one per run, as sscep does) is the same key.
    const again = { signer: await createSelfSignedSigner({ keys: next.keys, subject: "CN=another self-signed, O=x", now: NOW }) };
    expect((await poll(again, built.transactionId, ca.cert.subjectDer, subject)).status).toBe("SUCCESS");
  });

  it("no 5xx", () => {
    expect(events.filter((e) => e.status >= 500 || e.outcome === "error")).toEqual([]);
  });
});
