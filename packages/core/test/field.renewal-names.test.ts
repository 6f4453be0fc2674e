/**
 * Field reports about what a renewal may ask for, rebuilt against our server (RFC 8894 §2.3, §3.3.1.2). A renewal
 * is authenticated by the certificate being renewed instead of a challenge, so it may only ask again for what that
 * certificate names: its subject (RFC 5280 §7.1 comparison) and no subjectAltName it does not hold.
 *
 * - OpenXPKI took an RA's "on behalf" signature (an RA certificate of the same CA signing a device's request that
 *   carries the device's challenge) for a renewal of the RA's own certificate (openxpki/openxpki#337,
 *   https://github.com/openxpki/openxpki/issues/337): such a request is a first enrollment, authenticated by its
 *   challenge, and the issue hook is not told it renews the RA's certificate.
 * - OpenXPKI and EJBCA only renew for the entity the old certificate was issued to (openxpki/openxpki#360,
 *   https://github.com/openxpki/openxpki/issues/360, compares the subjects, relaxed for Cisco's spelling;
 *   Keyfactor/ejbca-ce#811, https://github.com/Keyfactor/ejbca-ce/pull/811, "previously issued to the end entity
 *   identified in the request"). Our server took any request signed by any valid certificate of the CA as a renewal
 *   of it, without a challenge, whatever subject and subjectAltNames its CSR asked for: a device could renew its way
 *   to a VPN gateway's name.
 */
import { describe, expect, it } from "vitest";
import { CertificationRequest, LocalKey, MemoryTransactionStore, buildPkcsReq, createScepServer, generateCsr, generateRsaKeyPair } from "../src/index.js";
import { DAY, NOW, createDevice, csrFor, eventLog, hex, issuingHook, postPki, readReply, staticScep, type TestCa } from "./support/server-pki.js";
import type { IssueContext, ScepServer } from "../src/index.js";

const CHALLENGE = "field-renewal-names";
const { ca, device, calls, log, server } = await staticScep({
  caName: "Field Renewal Names CA",
  deviceCn: "laptop-17",
  challenge: CHALLENGE,
  profile: { transactions: new MemoryTransactionStore({ now: () => NOW }) },
});
const oldCert = await ca.issue(device.csr, { notBefore: new Date(NOW.getTime() - 30 * DAY), notAfter: new Date(NOW.getTime() + 5 * DAY) });
const old = LocalKey.from(oldCert, device.keys.privateKey);

async function send(s: ScepServer, testCa: TestCa, signer: LocalKey, csr: Uint8Array, renewal: boolean, transactionId: string) {
  const built = await buildPkcsReq({ csr, signer, recipient: testCa.cert, renewal, now: NOW, transactionId });
  return readReply(await postPki(s, "/scep", built.der), built, { decrypter: signer, caCertificates: [testCa.cert] });
}

const newKeys = () => generateRsaKeyPair(2048);

describe("RFC 8894 §3.3.1.2: a renewal asks again for the names of the certificate it renews (openxpki#337, #360, ejbca-ce#811)", () => {
  it("RenewalReq signed by laptop-17's certificate for CN=vpn-gateway → FAILURE badRequest naming the mismatch, the hook never called", async () => {
    const before = calls.length;
    const rep = await send(server, ca, old, await csrFor(await newKeys(), "vpn-gateway"), true, "NAMES-17-OTHER-CN");
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "the request asks for another subject or subjectAltName than the certificate being renewed" });
    expect(calls.length).toBe(before);
    expect(log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "renewal_names_differ", renewal: true });
  });

  it("RenewalReq for laptop-17's own subject plus a dNSName it was never issued → FAILURE badRequest, the hook never called", async () => {
    const before = calls.length;
    const csr = await generateCsr({ keys: await newKeys(), subject: "CN=laptop-17, O=scep-sdk server tests", san: { dns: ["vpn.corp.example"] } });
    const rep = await send(server, ca, old, csr, true, "NAMES-17-NEW-SAN");
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest" });
    expect(calls.length).toBe(before);
  });

  it("PKCSReq (19) signed by laptop-17's certificate for CN=vpn-gateway without a challenge → FAILURE badRequest, nothing issued", async () => {
    const before = calls.length;
    const rep = await send(server, ca, old, await csrFor(await newKeys(), "vpn-gateway"), false, "NAMES-19-NO-CHALLENGE");
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "the request asks for another subject or subjectAltName than the certificate being renewed" });
    expect(calls.length).toBe(before);
    expect(log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "signer_names_differ", renewal: false });
  });

  it("PKCSReq signed by an RA certificate of this CA on behalf of a device, with the device's challenge → a first enrollment: SUCCESS, the hook not told it renews the RA's certificate (openxpki#337)", async () => {
    const ra = await createDevice({ cn: "MDM RA" });
    const raCert = LocalKey.from(await ca.issue(ra.csr), ra.keys.privateKey);
    const csr = await csrFor(await newKeys(), "phone-4711", CHALLENGE);
    const rep = await send(server, ca, raCert, csr, false, "NAMES-ON-BEHALF");
    expect(rep.status).toBe("SUCCESS");
    expect(calls.at(-1)).toMatchObject({ renewal: false });
    expect(calls.at(-1)!.renewalOf).toBeUndefined();
    expect(hex(rep.certificates[0]!.spki)).toBe(hex(CertificationRequest.from(csr).spki));
  });

  it("the same subject spelled another way (other case and string type, RFC 5280 §7.1) and a new key → still a renewal: SUCCESS without a challenge", async () => {
    // The certificate names CN=laptop-17 as the test CA (@peculiar/x509) writes it; this CSR in upper case, as generateCsr writes it.
    const csr = await generateCsr({ keys: await newKeys(), subject: "CN=LAPTOP-17, O=SCEP-SDK SERVER TESTS" });
    expect(hex(CertificationRequest.from(csr).subjectDer)).not.toBe(hex(oldCert.subjectDer));
    const rep = await send(server, ca, old, csr, true, "NAMES-17-SPELLING");
    expect(rep.status).toBe("SUCCESS");
    expect(calls.at(-1)).toMatchObject({ renewal: true });
    expect(hex(calls.at(-1)!.renewalOf?.der)).toBe(hex(oldCert.der));
  });

  it("none of these requests ended in a 5xx", () => {
    expect(log.events.filter((e) => e.status >= 500 || e.outcome === "error")).toEqual([]);
  });
});

describe("renewalSameNames: false leaves the names of a renewal to the issue hook (as before)", () => {
  it("RenewalReq for CN=vpn-gateway → SUCCESS, the hook told it renews laptop-17's certificate", async () => {
    const seen: IssueContext[] = [];
    const log2 = eventLog();
    const loose = createScepServer({
      profiles: [{ path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: CHALLENGE }, issue: issuingHook(ca, seen), renewalSameNames: false }],
      onEvent: log2.onEvent,
      now: () => NOW,
    });
    const rep = await send(loose, ca, old, await csrFor(await newKeys(), "vpn-gateway"), true, "NAMES-LOOSE");
    expect(rep.status).toBe("SUCCESS");
    expect(seen.at(-1)).toMatchObject({ renewal: true });
    expect(hex(seen.at(-1)!.renewalOf?.der)).toBe(hex(oldCert.der));
  });
});
