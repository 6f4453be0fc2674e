/**
 * `peekMessageType` (RFC 8894 §3.2.1.2): the messageType a PKIMessage's signed attributes name, read without a key,
 * for a relay that routes on it (`@scep/proxy` lets a CertPoll through without a challenge). DER and BER alike; any
 * byte string that is no PKIMessage gives undefined, never a throw.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Certificate, MessageType, buildCertPoll, buildGetCrl, buildPkcsReq, fromBase64Lenient, peekCertRepStatus, peekMessageType } from "../src/index.js";
import { attribute, parseSignedData } from "../src/cms/signed-data.js";
import { LIMITS } from "../src/limits.js";
import { readScepAttributesOf } from "../src/message/attributes.js";
import * as der from "../src/lib/der.js";
import * as oids from "../src/oids.js";
import { constructedOctets, signedDataToBer } from "./support/ber.js";
import { NOW, createDevice, createTestCa, postPki, staticScep } from "./support/server-pki.js";
import { thrown } from "./support/thrown.js";
import { vector, vectorText } from "./support/vectors.js";

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

  describe("a peek, not a parse: the answer of the full parse it replaced, without decoding what it skips", () => {
    /**
     * What `peekMessageType` answered until it became a peek: the full `parseSignedData` (every embedded certificate a
     * `Certificate`, the eContent joined, every SignerInfo read), then every SCEP attribute read. The oracle here.
     */
    const fullParse = (bytes: Uint8Array): number => {
      const sd = parseSignedData(bytes);
      const si = sd.signerInfos.length === 1 ? sd.signerInfos[0] : undefined;
      if (!si?.signedAttrs || !si.attributes.has(oids.id_messageType)) throw new Error("no single SignerInfo with a messageType");
      return readScepAttributesOf(si.attributes, "", { senderNonceOptional: true }).messageType;
    };
    const fullParsePeek = (bytes: Uint8Array): number | undefined => {
      try {
        return fullParse(bytes);
      } catch {
        return undefined;
      }
    };
    // Every real peer's message in test/vectors (the copies of /work/shared/fixtures/scep), and what it is.
    const fixtures: [string, Uint8Array, number | undefined][] = [
      ["captured/pkcsreq.micromdm-scepclient.des-sha1.der", 19],
      ["captured/pkcsreq.micromdm-scepclient.wrong-challenge.der", 19],
      ["captured/pkcsreq.strongswan.des3-sha1.der", 19],
      ["captured/pkcsreq.strongswan.des3-sha256.der", 19],
      ["captured/pkcsreq.strongswan.des3-sha256-pss.der", 19],
      ["captured/pkcsreq.strongswan.des3-sha512.der", 19],
      ["captured/certrep-success.micromdm-scepserver.to-micromdm-client.der", 3],
      ["captured/certrep-success.micromdm-scepserver.to-strongswan.der", 3],
      ["captured/certrep-failure-badrequest.micromdm-scepserver.der", 3],
      ["captured/getcacert.micromdm-scepserver.der", undefined], // a bare certificate
      ["public/apple-ios.pkcsreq.des3-sha1.der", 19],
      ["public/micromdm.certrep-success.to-apple-ios.der", 3],
      ["public/ndes.certrep-success.oaep-aes128.der", 3],
      ["public/cryptlib.req1.der", undefined], // the EnvelopedData layer alone
      ["public/cryptlib.req2.der", 19],
      ["public/cryptlib.resp0.der", undefined], // degenerate SignedData: no SignerInfo
      ["public/cryptlib.resp1.der", undefined],
      ["public/cryptlib.resp2.der", 3],
    ].map(([name, type]) => [name as string, vector(name as string), type as number | undefined]);
    fixtures.push(["public/libscep.pkcsreq.md5.pem (base64)", fromBase64Lenient(vectorText("public/libscep.pkcsreq.md5.pem"))!, 19]);
    const signed = fixtures.filter(([, , type]) => type !== undefined);
    // The iOS wire form (indefinite lengths, a constructed eContent) of each.
    const corpus = [...fixtures.map(([, bytes]) => bytes), ...signed.map(([, bytes]) => signedDataToBer(bytes, 64))];

    it("every real peer's message, DER and BER, and every truncation of one: the full parse's answer", () => {
      expect(fixtures.map(([name, bytes]) => [name, peekMessageType(bytes)])).toEqual(fixtures.map(([name, bytes, type]) => [name, type]));
      for (const bytes of corpus) expect(peekMessageType(bytes)).toBe(fullParsePeek(bytes));
      for (const bytes of [signed[0]![1], signedDataToBer(signed[0]![1], 64)]) {
        for (let n = 0; n < bytes.length; n++) expect(peekMessageType(bytes.subarray(0, n))).toBe(fullParsePeek(bytes.subarray(0, n)));
      }
    });

    it("mutated messages (bytes changed, cut out, put in): every number the full parse read is read the same; where the peek reads one it did not, the full parse failed on a part the peek skips, never on the messageType", () => {
      const mutation = fc.record({
        source: fc.nat({ max: corpus.length - 1 }),
        edits: fc.array(fc.record({ at: fc.nat(), kind: fc.constantFrom("set", "cut", "insert"), byte: fc.integer({ min: 0, max: 255 }), length: fc.integer({ min: 1, max: 4 }) }), { minLength: 1, maxLength: 3 }),
      });
      let skipped = 0;
      fc.assert(
        fc.property(mutation, ({ source, edits }) => {
          let bytes = corpus[source]!;
          for (const { at, kind, byte, length } of edits) {
            const i = at % bytes.length;
            if (kind === "set") bytes = Uint8Array.from(bytes, (b, j) => (j === i ? byte : b));
            else if (kind === "cut") bytes = der.concat([bytes.subarray(0, i), bytes.subarray(i + length)]);
            else bytes = der.concat([bytes.subarray(0, i), new Uint8Array(length).fill(byte), bytes.subarray(i)]);
          }
          const peeked = peekMessageType(bytes);
          const full = fullParsePeek(bytes);
          if (full !== undefined) return peeked === full;
          if (peeked === undefined) return true;
          skipped++;
          const why = thrown(() => fullParse(bytes)) as Error;
          return !/messageType|2\.16\.840\.1\.113733\.1\.9\.2/.test(why.message);
        }),
        { numRuns: 3000 },
      );
      // The mutations did reach the parts the peek skips (certificates make up most of a message).
      expect(skipped).toBeGreaterThan(0);
    });

    /** `message` with its `certificates [0]` and eContent replaced (each a function of the old one). */
    const rebuilt = (message: Uint8Array, parts: { certificates?: (certs: der.Tlv[]) => der.Der[]; eContent?: (octets: Uint8Array) => Uint8Array }): Uint8Array => {
      const [, content] = der.children(der.parse(message));
      const [version, digestAlgs, encap, ...rest] = der.children(der.children(content)[0]);
      const [eType, eContentT] = der.children(encap);
      const octets = der.octets(der.explicit(eContentT, 0, "eContent"));
      const newEncap = der.seq(der.raw(eType), der.ctx(0, parts.eContent ? parts.eContent(octets) : der.encode(der.octetString(octets))));
      const fields = rest.map((t) => (t.tag === 0xa0 && parts.certificates ? der.ctx(0, ...parts.certificates(der.children(t))) : der.raw(t)));
      return der.encode(der.seq(der.oid(oids.id_signedData), der.ctx(0, der.seq(der.raw(version), der.raw(digestAlgs), newEncap, ...fields))));
    };

    it("a certificate that does not parse inside a well-formed certificates SET still gives the messageType (the full parse gave undefined: new Certificate threw ERR_ASN1)", () => {
      const [, pkcsReq] = signed.find(([name]) => name === "captured/pkcsreq.strongswan.des3-sha256.der")!;
      // The surgery alone changes nothing: the same certificates, re-encoded, peek and parse as before.
      expect(fullParsePeek(rebuilt(pkcsReq, { certificates: (certs) => certs.map((c) => der.raw(c)) }))).toBe(19);
      const garbage = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]); // a SEQUENCE, but no Certificate
      const message = rebuilt(pkcsReq, { certificates: (certs) => [...certs.map((c) => der.raw(c)), garbage] });
      expect((thrown(() => new Certificate(garbage)) as { code?: string }).code).toBe("ERR_ASN1");
      expect((thrown(() => parseSignedData(message)) as { code?: string }).code).toBe("ERR_ASN1");
      expect(fullParsePeek(message)).toBeUndefined();
      expect(peekMessageType(message)).toBe(MessageType.PKCSReq);
      // Every certificate garbage, of the signer too: still a PKCSReq to a peek.
      const allGarbage = rebuilt(pkcsReq, { certificates: (certs) => certs.map((c) => Uint8Array.from(der.raw(c), (b, i) => (i < 4 ? b : 0xff))) });
      expect(fullParsePeek(allGarbage)).toBeUndefined();
      expect(peekMessageType(allGarbage)).toBe(MessageType.PKCSReq);
    });

    it("a constructed eContent whose segments do not join is stepped over too (the full parse gave undefined); more certificates than LIMITS.signedDataCertificates still give undefined", () => {
      const [, pkcsReq] = signed.find(([name]) => name === "captured/pkcsreq.strongswan.des3-sha256.der")!;
      // A constructed OCTET STRING nested ten deep: der.octets refuses past eight.
      let nested = constructedOctets(new Uint8Array([1, 2, 3]), 3);
      for (let i = 0; i < 10; i++) nested = der.concat([new Uint8Array([0x24, 0x80]), nested, new Uint8Array([0, 0])]);
      const message = rebuilt(pkcsReq, { eContent: () => nested });
      expect((thrown(() => parseSignedData(message)) as { code?: string }).code).toBe("ERR_ASN1");
      expect(peekMessageType(message)).toBe(MessageType.PKCSReq);
      const tooMany = rebuilt(pkcsReq, { certificates: (certs) => Array.from({ length: LIMITS.signedDataCertificates + 1 }, () => der.raw(certs[0])) });
      expect(fullParsePeek(tooMany)).toBeUndefined();
      expect(peekMessageType(tooMany)).toBeUndefined();
    });
  });
});

/**
 * `peekCertRepStatus` (RFC 8894 §3.2.1.3, §3.2.1.4): a relay's read of the verdict inside a CA's 200 (`@scep/proxy`
 * reports it, fleetdm/fleet#45550, https://github.com/fleetdm/fleet/issues/45550). Real peers' replies; no key, no CA
 * certificate (NDES's reply carries none).
 */
describe("peekCertRepStatus", () => {
  it("NDES's SUCCESS, micromdm's SUCCESS and FAILURE badRequest, each DER and BER; our server's PENDING", async () => {
    const replies = ["public/ndes.certrep-success.oaep-aes128.der", "captured/certrep-success.micromdm-scepserver.to-micromdm-client.der", "captured/certrep-failure-badrequest.micromdm-scepserver.der"].map(vector);
    const expected = [{ status: "SUCCESS" }, { status: "SUCCESS" }, { status: "FAILURE", failInfo: "badRequest" }];
    expect(replies.map(peekCertRepStatus)).toEqual(expected);
    expect(replies.map((r) => peekCertRepStatus(signedDataToBer(r)))).toEqual(expected);
    const s = await staticScep({ caName: "Peek Pending CA", deviceCn: "peek-pending", challenge: "pw", profile: { issue: async () => ({ status: "PENDING" }) } });
    const server = s.server;
    const built = await buildPkcsReq({ csr: s.device.csr, signer: s.device.signer, recipient: s.ca.cert, now: NOW });
    const res = await postPki(server, "/scep", built.der);
    expect(peekCertRepStatus(new Uint8Array(await res.arrayBuffer()))).toEqual({ status: "PENDING" });
  });

  it("no CertRep → undefined: a PKCSReq (messageType 19), a certificate, a pkiStatus that is no RFC 8894 value, any byte string", async () => {
    expect(peekCertRepStatus((await buildPkcsReq({ ...common, csr: device.csr })).der)).toBeUndefined();
    expect(peekCertRepStatus(ca.cert.der)).toBeUndefined();
    // The captured FAILURE with its pkiStatus "2" changed to "1" (no such status): same length, signature now wrong.
    const failure = vector("captured/certrep-failure-badrequest.micromdm-scepserver.der");
    const statusOid = der.oid(oids.id_pkiStatus);
    const at = Buffer.from(failure).indexOf(Buffer.from(statusOid));
    const bent = failure.slice();
    const digit = bent.indexOf(0x32, at + statusOid.length); // PrintableString "2" inside the attribute's SET
    bent[digit] = 0x31;
    expect(peekCertRepStatus(bent)).toBeUndefined();
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => peekCertRepStatus(bytes) === undefined));
  });
});
