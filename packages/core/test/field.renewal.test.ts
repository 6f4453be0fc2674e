/**
 * Field reports about renewal, rebuilt against our server (RFC 8894 §2.3,
 * §3.3.1.2). The same store-backed server answers every case, so a renewal is
 * also checked not to be mistaken for a re-sent request.
 *
 * - A server advertised `Renewal` but answered RenewalReq (17) "Unsupported
 *   Operation" (OmniTrustILM/core#1901, https://github.com/OmniTrustILM/core/issues/1901).
 * - A renewal PKCSReq without challengePassword crashed a server into an HTTP
 *   500 (OmniTrustILM/core#1904, https://github.com/OmniTrustILM/core/pull/1904).
 * - MS NDES answered sscep's same-key renewal with the existing certificate
 *   (same serial, same dates) instead of a new one (certnanny/sscep#189,
 *   https://github.com/certnanny/sscep/issues/189).
 * - A renewal signed by a certificate from another CA was accepted
 *   (micromdm/scep#117, https://github.com/micromdm/scep/issues/117).
 */
import { describe, expect, it } from "vitest";
import { LocalKey, MemoryTransactionStore, buildPkcsReq } from "../src/index.js";
import { DAY, NOW, createDevice, createTestCa, csrFor, hex, postPki, readReply, staticScep } from "./support/server-pki.js";

const CHALLENGE = "field-renewal";
const [{ ca, device, calls, log, server }, foreign] = await Promise.all([
  staticScep({ caName: "Field Renewal CA", deviceCn: "field-renewal-device", challenge: CHALLENGE, profile: { transactions: new MemoryTransactionStore({ now: () => NOW }) } }),
  createTestCa("Field Foreign CA"),
]);
const oldCert = await ca.issue(device.csr, { notBefore: new Date(NOW.getTime() - 30 * DAY), notAfter: new Date(NOW.getTime() + 5 * DAY) });
const old = LocalKey.from(oldCert, device.keys.privateKey);

async function renew(signer: LocalKey, options: { renewal: boolean; csr: Uint8Array; transactionId?: string }) {
  const built = await buildPkcsReq({ csr: options.csr, signer, recipient: ca.cert, renewal: options.renewal, now: NOW, ...(options.transactionId ? { transactionId: options.transactionId } : {}) });
  return readReply(await postPki(server, "/scep", built.der), built, { decrypter: signer, caCertificates: [ca.cert] });
}

describe("RFC 8894 §3.3.1.2: renewal authenticated by the old certificate", () => {
  it("RenewalReq (17) without a challenge, new key → SUCCESS, the hook told it is a renewal of the old certificate (OmniTrustILM#1901)", async () => {
    const next = await createDevice({ cn: "field-renewal-device" });
    const rep = await renew(old, { renewal: true, csr: await csrFor(next.keys, "field-renewal-device"), transactionId: "FIELD-RENEW-17" });
    expect(rep.status).toBe("SUCCESS");
    expect(hex(rep.certificates[0]!.spki)).toBe(hex(next.signer.certificate.spki));
    expect(calls.at(-1)).toMatchObject({ renewal: true });
    expect(hex(calls.at(-1)!.renewalOf?.der)).toBe(hex(oldCert.der));
  });

  it("PKCSReq signed by the old certificate with no challengePassword attribute → SUCCESS, not a 500 (OmniTrustILM#1904)", async () => {
    const next = await createDevice({ cn: "field-renewal-device" });
    const rep = await renew(old, { renewal: false, csr: await csrFor(next.keys, "field-renewal-device"), transactionId: "FIELD-RENEW-19" });
    expect(rep.status).toBe("SUCCESS");
    expect(calls.at(-1)).toMatchObject({ renewal: true });
  });

  it("same-key renewal gets a new certificate: a new serial and new dates, not the old one back (sscep#189)", async () => {
    const rep = await renew(old, { renewal: false, csr: await csrFor(device.keys, "field-renewal-device"), transactionId: "FIELD-RENEW-SAMEKEY" });
    expect(rep.status).toBe("SUCCESS");
    const issued = rep.certificates[0]!;
    expect(hex(issued.spki)).toBe(hex(oldCert.spki));
    expect(issued.serialNumberHex).not.toBe(oldCert.serialNumberHex);
    expect(issued.notAfter.getTime()).toBeGreaterThan(oldCert.notAfter.getTime());
  });

  it("RenewalReq signed by another CA's certificate → FAILURE badRequest, nothing issued (micromdm#117)", async () => {
    const stranger = LocalKey.from(await foreign.issue(device.csr), device.keys.privateKey);
    const before = calls.length;
    const rep = await renew(stranger, { renewal: true, csr: await csrFor(device.keys, "field-renewal-device"), transactionId: "FIELD-RENEW-FOREIGN" });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest" });
    expect(calls.length).toBe(before);
  });

  it("none of these requests ended in a 5xx", () => {
    expect(log.events.filter((e) => e.status >= 500 || e.outcome === "error")).toEqual([]);
  });
});
