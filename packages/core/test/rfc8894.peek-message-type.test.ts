/**
 * `peekMessageType` (RFC 8894 §3.2.1.2): the messageType a PKIMessage's signed attributes name, read without a key,
 * for a relay that routes on it (`@scep/proxy` lets a CertPoll through without a challenge). DER and BER alike; any
 * byte string that is no PKIMessage gives undefined, never a throw.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MessageType, buildCertPoll, buildGetCrl, buildPkcsReq, peekMessageType } from "../src/index.js";
import { signedDataToBer } from "./support/ber.js";
import { NOW, createDevice, createTestCa } from "./support/server-pki.js";

const ca = await createTestCa("Peek CA");
const device = await createDevice({ cn: "peek-device", challengePassword: "pw" });
const common = { signer: device.signer, recipient: ca.cert, now: NOW };

describe("peekMessageType", () => {
  it("PKCSReq 19, RenewalReq 17, CertPoll 20, GetCRL 22; the BER re-encoding of each reads the same", async () => {
    const built = [
      await buildPkcsReq({ ...common, csr: device.csr }),
      await buildPkcsReq({ ...common, csr: device.csr, renewal: true }),
      await buildCertPoll({ ...common, issuer: ca.cert, subject: device.signer.certificate.subjectDer, transactionId: "PEEK-1" }),
      await buildGetCrl({ ...common, issuer: ca.cert.subjectDer, serialNumber: ca.cert.serialNumber }),
    ];
    expect(built.map((b) => peekMessageType(b.der))).toEqual([MessageType.PKCSReq, MessageType.RenewalReq, MessageType.CertPoll, MessageType.GetCRL]);
    expect(built.map((b) => peekMessageType(signedDataToBer(b.der)))).toEqual([19, 17, 20, 22]);
  });

  it("bytes that are no PKIMessage give undefined (a certificate, empty, any random string)", () => {
    expect(peekMessageType(ca.cert.der)).toBeUndefined();
    expect(peekMessageType(new Uint8Array())).toBeUndefined();
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => peekMessageType(bytes) === undefined || typeof peekMessageType(bytes) === "number"));
  });
});
