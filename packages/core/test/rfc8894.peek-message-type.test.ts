/**
 * `peekMessageType` (RFC 8894 §3.2.1.2): the messageType a PKIMessage's signed attributes name, read without a key,
 * for a relay that routes on it (`@scep/proxy` lets a CertPoll through without a challenge). DER and BER alike; any
 * byte string that is no PKIMessage gives undefined, never a throw.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MessageType, buildCertPoll, buildGetCrl, buildPkcsReq, peekMessageType } from "../src/index.js";
import { attribute } from "../src/cms/signed-data.js";
import * as der from "../src/lib/der.js";
import * as oids from "../src/oids.js";
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

  it("an ambiguous messageType gives undefined, so a relay never routes on one the CA may read otherwise: two SignerInfos, the messageType attribute twice, two values in it", async () => {
    const poll = (await buildCertPoll({ ...common, issuer: ca.cert, subject: device.signer.certificate.subjectDer, transactionId: "PEEK-2" })).der;
    const req = (await buildPkcsReq({ ...common, csr: device.csr })).der;
    /** `message`'s ContentInfo with its SignerInfos replaced (signatures are not checked by a peek). */
    const withSignerInfos = (message: Uint8Array, signerInfos: (sis: der.Tlv[]) => der.Der[]): Uint8Array => {
      const [, content] = der.children(der.parse(message));
      const sd = der.children(der.children(content)[0]);
      const rest = sd.slice(0, -1).map((t) => der.raw(t));
      return der.encode(der.seq(der.oid(oids.id_signedData), der.ctx(0, der.seq(...rest, der.tlv(der.Tag.SET, ...signerInfos(der.children(sd.at(-1))))))));
    };
    const signerInfosOf = (message: Uint8Array): der.Tlv[] => {
      let out: der.Tlv[] = [];
      withSignerInfos(message, (sis) => ((out = sis), []));
      return out;
    };
    /** A SignerInfo whose signed attributes get `extra` appended (and the messageType left out when `drop`). */
    const withAttributes = (si: der.Tlv, extra: der.Der[], drop = false): der.Der => {
      const fields = der.children(si);
      const at = fields.findIndex((f) => f.tag === 0xa0);
      const attrs = der.children(fields[at]).filter((a) => !drop || der.readOid(der.children(a)[0], "type") !== oids.id_messageType);
      return der.seq(...fields.map((f, i) => (i === at ? der.tlv(0xa0, ...attrs.map((a) => der.raw(a)), ...extra) : der.raw(f))));
    };
    // The rebuilt CertPoll still peeks as one: the surgery alone changes nothing.
    expect(peekMessageType(withSignerInfos(poll, (sis) => sis.map((t) => der.raw(t))))).toBe(MessageType.CertPoll);
    const pkcsReqSignerInfo = signerInfosOf(req)[0]!;
    const twoSigners = withSignerInfos(poll, (sis) => [...sis.map((t) => der.raw(t)), der.raw(pkcsReqSignerInfo)]);
    const twice = withSignerInfos(poll, (sis) => [withAttributes(sis[0]!, [attribute(oids.id_messageType, der.printable("19"))])]);
    const twoValues = withSignerInfos(poll, (sis) => [withAttributes(sis[0]!, [der.seq(der.oid(oids.id_messageType), der.tlv(der.Tag.SET, der.printable("20"), der.printable("19")))], true)]);
    expect([twoSigners, twice, twoValues].map((m) => peekMessageType(m))).toEqual([undefined, undefined, undefined]);
  });
});
