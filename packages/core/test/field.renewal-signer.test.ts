/**
 * Field reports about who may sign a renewal (RFC 8894 §3.3.1.2: "the request is signed with the existing
 * certificate"; §2.3: the CA authenticates a renewal by that certificate), rebuilt against our server.
 *
 * - After the CA was replaced (new key, same name), a renewal signed by a certificate of the old CA was still looked up
 *   by its DN and went on (micromdm/scep#235, https://github.com/micromdm/scep/issues/235). A name is no proof: the
 *   old certificate must verify under the CA's key, else the RenewalReq is refused `renewal_not_chained`.
 * - Cisco renews with a PKCSReq (19) signed by the certificate this CA issued, not a RenewalReq (17); Dogtag's
 *   renewal support takes such a request as a renewal and wants the signer still valid and not revoked
 *   (dogtagpki/pki#3413, https://github.com/dogtagpki/pki/pull/3413; the same rules in EJBCA's renewal plug-in,
 *   Keyfactor/ejbca-ce#811, https://github.com/Keyfactor/ejbca-ce/pull/811).
 * - jscep's servlet did not hand the signer certificate to the enrolment code, so a renewal could not be
 *   authenticated by it (seize-the-dave/jscep#74, https://github.com/seize-the-dave/jscep/issues/74): our issue hook
 *   is told which certificate is renewed.
 */
import { describe, expect, it } from "vitest";
import { LocalKey, buildPkcsReq } from "../src/index.js";
import { DAY, NOW, createDevice, createTestCa, csrFor, hex, postPki, readReply, staticScep } from "./support/server-pki.js";

const CHALLENGE = "renewal-signer";
const CA_NAME = "Renewal Signer CA";
const revokedSerials = new Set<string>();
const [{ ca, device, calls, log, server }, replaced] = await Promise.all([
  staticScep({ caName: CA_NAME, deviceCn: "renewal-signer-device", challenge: CHALLENGE, profile: { isRevoked: (cert) => revokedSerials.has(cert.serialNumberHex) } }),
  createTestCa(CA_NAME), // the CA before it was replaced: the same name, another key
]);

async function send(signer: LocalKey, options: { renewal: boolean; csr: Uint8Array; transactionId: string }) {
  const built = await buildPkcsReq({ csr: options.csr, signer, recipient: ca.cert, renewal: options.renewal, now: NOW, transactionId: options.transactionId });
  return readReply(await postPki(server, "/scep", built.der), built, { decrypter: signer, caCertificates: [ca.cert] });
}

const lastEvent = () => log.events.at(-1)!;

describe("micromdm/scep#235: a renewal signed by a certificate of the replaced CA (RFC 8894 §3.3.1.2)", () => {
  it("the old CA had the same name: the old certificate does not verify under the new CA's key, so the RenewalReq is FAILURE badRequest renewal_not_chained and nothing is issued", async () => {
    const fromOldCa = await replaced.issue(device.csr);
    expect(fromOldCa.issuer).toBe(ca.cert.subject); // the DN matches: only the signature tells them apart
    const before = calls.length;
    const rep = await send(LocalKey.from(fromOldCa, device.keys.privateKey), { renewal: true, csr: await csrFor(device.keys, "renewal-signer-device"), transactionId: "RS-235-17" });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest" });
    expect(lastEvent()).toMatchObject({ reason: "renewal_not_chained" });
    expect(calls.length).toBe(before);
  });

  it("the same certificate signing a PKCSReq (19) with the challenge is a first enrollment, not a renewal of it", async () => {
    const fromOldCa = await replaced.issue(device.csr);
    const rep = await send(LocalKey.from(fromOldCa, device.keys.privateKey), { renewal: false, csr: await csrFor(device.keys, "renewal-signer-device", CHALLENGE), transactionId: "RS-235-19" });
    expect(rep.status).toBe("SUCCESS");
    expect(calls.at(-1)).toMatchObject({ renewal: false });
    expect(calls.at(-1)!.renewalOf).toBeUndefined();
  });
});

describe("dogtagpki/pki#3413, Keyfactor/ejbca-ce#811: Cisco's PKCSReq signed by the issued certificate (RFC 8894 §3.3.1.2)", () => {
  it("signed by a valid certificate of this CA, without a challenge: a renewal, and the issue hook gets that certificate (jscep#74)", async () => {
    const current = await ca.issue(device.csr, { notBefore: new Date(NOW.getTime() - 300 * DAY), notAfter: new Date(NOW.getTime() + 65 * DAY) });
    const next = await createDevice({ cn: "renewal-signer-device" });
    const rep = await send(LocalKey.from(current, device.keys.privateKey), { renewal: false, csr: await csrFor(next.keys, "renewal-signer-device"), transactionId: "RS-3413-OK" });
    expect(rep.status).toBe("SUCCESS");
    expect(hex(rep.certificates[0]!.spki)).toBe(hex(next.signer.certificate.spki));
    expect(calls.at(-1)).toMatchObject({ renewal: true });
    expect(hex(calls.at(-1)!.renewalOf?.der)).toBe(hex(current.der));
  });

  it("signed by an expired certificate of this CA, without a challenge: FAILURE badTime, nothing issued", async () => {
    const expired = await ca.issue(device.csr, { notBefore: new Date(NOW.getTime() - 400 * DAY), notAfter: new Date(NOW.getTime() - DAY) });
    const before = calls.length;
    const rep = await send(LocalKey.from(expired, device.keys.privateKey), { renewal: false, csr: await csrFor(device.keys, "renewal-signer-device"), transactionId: "RS-3413-EXPIRED" });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badTime" });
    expect(lastEvent()).toMatchObject({ reason: "signer_expired", renewal: false });
    expect(calls.length).toBe(before);
  });

  it("the same as a RenewalReq (17): FAILURE badTime renewal_expired", async () => {
    const expired = await ca.issue(device.csr, { notBefore: new Date(NOW.getTime() - 400 * DAY), notAfter: new Date(NOW.getTime() - DAY) });
    const rep = await send(LocalKey.from(expired, device.keys.privateKey), { renewal: true, csr: await csrFor(device.keys, "renewal-signer-device"), transactionId: "RS-3413-EXPIRED-17" });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badTime" });
    expect(lastEvent()).toMatchObject({ reason: "renewal_expired" });
  });

  it("signed by a revoked certificate of this CA: FAILURE badCertId renewal_revoked, nothing issued", async () => {
    const revoked = await ca.issue(device.csr);
    revokedSerials.add(revoked.serialNumberHex);
    const before = calls.length;
    const rep = await send(LocalKey.from(revoked, device.keys.privateKey), { renewal: true, csr: await csrFor(device.keys, "renewal-signer-device"), transactionId: "RS-811-REVOKED" });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badCertId" });
    expect(lastEvent()).toMatchObject({ reason: "renewal_revoked" });
    expect(calls.length).toBe(before);
  });

  it("none of these requests ended in a 5xx", () => {
    expect(log.events.filter((e) => e.status >= 500 || e.outcome === "error")).toEqual([]);
  });
});
