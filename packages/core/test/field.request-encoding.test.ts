/**
 * Field reports about how a client encodes and signs its PKIOperation,
 * rebuilt against our server (RFC 8894 §3.2, RFC 5652 §5/§6, X.690 §8.1.3).
 * The requests are built with our own CMS writer, then re-encoded or signed
 * the way the reported client did; the CSR, the envelope and the RSA
 * signatures are real.
 *
 * - BouncyCastle (jscep) writes the whole PKIMessage in BER: the EnvelopedData
 *   inside the signed content too, with indefinite lengths and its
 *   encryptedContent as a constructed [0] of OCTET STRING segments. micromdm's
 *   server answered "ber2der: Invalid BER format" (micromdm/scep#20,
 *   https://github.com/micromdm/scep/issues/20; micromdm/scep#79,
 *   https://github.com/micromdm/scep/issues/79), and macOS 10.12's request got
 *   "invalid data len 0" and an HTTP 500 (micromdm/micromdm#436,
 *   https://github.com/micromdm/micromdm/issues/436).
 * - iOS and Android clients make the self-signed signer certificate a few
 *   milliseconds after the signingTime they then write; jscep's server refused
 *   "verifier not valid at signingTime" (seize-the-dave/jscep#157,
 *   https://github.com/seize-the-dave/jscep/issues/157). A client whose clock
 *   is off got "CMS signingTime is out of permitted period" (xipki/xipki#88,
 *   https://github.com/xipki/xipki/issues/88). RFC 8894 §2.3: the self-signed
 *   certificate only carries the key; the challenge authenticates.
 * - Cisco IOS puts unstructuredName next to CN in the CSR's subject but only
 *   CN in its self-signed signer certificate (openxpki/openxpki#360,
 *   https://github.com/openxpki/openxpki/issues/360): the two subjects differ,
 *   and that is no reason to refuse.
 * - `sscep enroll -S sha1 -E aes` against pfpki: the certificate was issued but
 *   never reached the client (inverse-inc/packetfence#6523,
 *   https://github.com/inverse-inc/packetfence/issues/6523). The reply must
 *   come back in the request's digest and content cipher.
 * - Chromebook enrollments through Google's connector failed on payload size
 *   with 4096-bit keys and worked with 1024-bit ones (smallstep/certificates#908,
 *   https://github.com/smallstep/certificates/issues/908). A 4096-bit request
 *   with 50 SANs enrolls by POST and by GET; a CSR past the SAN bound gets a
 *   FAILURE naming it, and a message past the size limit a 413, never a 5xx.
 * - OpenXPKI refused micromdm's client ("400 Unable to parse request") until it sent
 *   sscep's `application/pkcs7` Content-Type, and its base64 transactionIDs
 *   (micromdm/scep#225, https://github.com/micromdm/scep/issues/225): the POST
 *   body's type decides nothing, and a base64 transactionID is echoed.
 */
import { describe, expect, it } from "vitest";
import * as der from "../src/lib/der.js";
import { buildSignedData } from "../src/cms/signed-data.js";
import { buildEnvelopedData } from "../src/cms/enveloped-data.js";
import { encodeScepAttributes } from "../src/message/attributes.js";
import { MessageType } from "../src/message/types.js";
import { buildPkcsReq, createSelfSignedSigner, generateCsr, importKeyPairPem, toBase64, type BuiltRequest, type LocalKey } from "../src/index.js";
import { constructedOctets, signedDataToBer } from "./support/ber.js";
import { withScratch } from "./support/openssl.js";
import { DAY, NOW, createDevice, getPki, hex, postPki, readReply, staticScep } from "./support/server-pki.js";

const CHALLENGE = "field-encoding";
const { ca, device, calls, log, server } = await staticScep({ caName: "Field Encoding CA", deviceCn: "field-encoding-device", challenge: CHALLENGE });

const EOC = new Uint8Array([0, 0]);
const indefinite = (tag: number, ...body: Uint8Array[]): Uint8Array => der.concat([new Uint8Array([tag, 0x80]), ...body, EOC]);

/**
 * The BER form BouncyCastle writes of a DER ContentInfo(EnvelopedData): indefinite lengths down to the
 * EncryptedContentInfo, and `encryptedContent [0] IMPLICIT OCTET STRING` constructed from `segment`-byte pieces.
 *
 * ```asn
 * EncryptedContentInfo ::= SEQUENCE { contentType ContentType,
 *   contentEncryptionAlgorithm ContentEncryptionAlgorithmIdentifier,
 *   encryptedContent [0] IMPLICIT EncryptedContent OPTIONAL }
 * ```
 */
function envelopeToBer(envelope: Uint8Array, segment: number): Uint8Array {
  const [typeT, contentT] = der.children(der.parse(envelope));
  const [version, recipients, eci] = der.children(der.explicit(contentT!, 0, "content"));
  const [eType, algorithm, encrypted] = der.children(eci!);
  expect(encrypted!.tag).toBe(0x80); // our writer's primitive [0]
  const pieces = constructedOctets(der.content(encrypted!), segment); // 24 80 (04 …)* 00 00
  const constructedZero = der.concat([new Uint8Array([0xa0]), pieces.subarray(1)]);
  return indefinite(0x30, der.raw(typeT!), indefinite(0xa0, indefinite(0x30, der.raw(version!), der.raw(recipients!), indefinite(0x30, der.raw(eType!), der.raw(algorithm!), constructedZero))));
}

/** A PKCSReq from `signer` whose pkcsPKIEnvelope is `envelope` as given (any encoding). */
async function pkcsReqWithEnvelope(envelope: Uint8Array, signer: LocalKey, transactionId: string): Promise<BuiltRequest> {
  const senderNonce = new Uint8Array(16).fill(0x3c);
  const bytes = await buildSignedData({
    content: envelope,
    certificates: [signer.certificate.der],
    signer,
    digest: "sha256",
    attributes: encodeScepAttributes({ messageType: MessageType.PKCSReq, transactionId, senderNonce, signingTime: NOW }),
  });
  return { der: bytes, transactionId, senderNonce, messageType: MessageType.PKCSReq } as BuiltRequest;
}

async function expectIssued(built: BuiltRequest, signer: LocalKey = device.signer, body: Uint8Array = built.der): Promise<void> {
  const rep = await readReply(await postPki(server, "/scep", body), built, { decrypter: signer, caCertificates: [ca.cert] });
  expect([rep.status, rep.failInfo, rep.failInfoText]).toEqual(["SUCCESS", undefined, undefined]);
  expect(hex(rep.certificates[0]!.spki)).toBe(hex(signer.certificate.spki));
}

describe("X.690 §8.1.3.6 / RFC 5652 §6.1: a BER EnvelopedData inside the signed content (micromdm#20, #79, micromdm/micromdm#436)", () => {
  it("indefinite lengths and a constructed encryptedContent [0] of 16-byte segments → SUCCESS", async () => {
    const ber = envelopeToBer(buildEnvelopedData({ content: device.csr, recipient: ca.cert, cipher: "aes128" }), 16);
    expect(hex(ber.subarray(0, 2))).toBe("3080");
    await expectIssued(await pkcsReqWithEnvelope(ber, device.signer, "FIELD-BER-ENVELOPE"));
  });

  it("the same inside a BER SignedData (the whole message as BouncyCastle streams it) → SUCCESS", async () => {
    const ber = envelopeToBer(buildEnvelopedData({ content: device.csr, recipient: ca.cert, cipher: "des3" }), 8);
    const built = await pkcsReqWithEnvelope(ber, device.signer, "FIELD-BER-WHOLE");
    const whole = signedDataToBer(built.der, 100);
    expect(hex(whole.subarray(0, 2))).toBe("3080");
    await expectIssued(built, device.signer, whole);
  });
});

describe("RFC 8894 §2.3 / §3.2.1: the signer's own dates and signingTime decide nothing (jscep#157, xipki#88)", () => {
  it("a self-signed signer certificate made after the signingTime the request carries → SUCCESS", async () => {
    // createSelfSignedSigner backdates notBefore by a minute: made "now + 61 s", it starts a second after NOW.
    const late = await createSelfSignedSigner({ keys: device.keys, subject: device.subject, now: new Date(NOW.getTime() + 61_000) });
    expect(late.certificate.notBefore.getTime()).toBeGreaterThan(NOW.getTime());
    await expectIssued(await buildPkcsReq({ csr: device.csr, signer: late, recipient: ca.cert, now: NOW }), late);
  });

  it("a self-signed signer certificate that expired a year ago → SUCCESS (the challenge authenticates a first enrollment)", async () => {
    const stale = await createSelfSignedSigner({ keys: device.keys, subject: device.subject, now: new Date(NOW.getTime() - 400 * DAY), days: 30 });
    expect(stale.certificate.notAfter.getTime()).toBeLessThan(NOW.getTime());
    await expectIssued(await buildPkcsReq({ csr: device.csr, signer: stale, recipient: ca.cert, now: NOW }), stale);
  });

  for (const [name, offset] of [
    ["a day behind", -DAY],
    ["a day ahead", DAY],
  ] as const) {
    it(`a signingTime ${name} of the server's clock → SUCCESS`, async () => {
      const signer = await createSelfSignedSigner({ keys: device.keys, subject: device.subject, now: new Date(NOW.getTime() + offset) });
      const built = await buildPkcsReq({ csr: device.csr, signer, recipient: ca.cert, now: new Date(NOW.getTime() + offset) });
      await expectIssued(built, signer);
    });
  }
});

describe("RFC 8894 §3.3.1: the CSR's subject need not be the signer certificate's (openxpki#360)", () => {
  it("CSR subject CN + unstructuredName (IA5String), self-signed signer with CN only → SUCCESS, issued for the CSR's subject", async () => {
    const cn = "router-7.example.net";
    const text = new TextEncoder().encode(cn);
    const rdn = (type: string, value: der.Der): der.Der => der.tlv(der.Tag.SET, der.seq(der.oid(type), value));
    const ciscoSubject = der.encode(der.seq(rdn("2.5.4.3", der.utf8(cn)), rdn("1.2.840.113549.1.9.2", der.tlv(0x16, text))));
    const router = await createDevice({ cn });
    const csr = await generateCsr({ keys: router.keys, subject: ciscoSubject, challengePassword: CHALLENGE });
    const signer = await createSelfSignedSigner({ keys: router.keys, subject: `CN=${cn}`, now: NOW });
    expect(hex(signer.certificate.subjectDer)).not.toBe(hex(ciscoSubject));
    await expectIssued(await buildPkcsReq({ csr, signer, recipient: ca.cert, now: NOW }), signer);
    expect(hex(calls.at(-1)!.csr.subjectDer)).toBe(hex(ciscoSubject));
  });
});

describe("RFC 8894 §3.3.2: sscep -S sha1 -E aes gets its certificate back in SHA-1 and AES-128 (packetfence#6523)", () => {
  it("the SUCCESS CertRep is signed with SHA-1 and its envelope is AES-128-CBC, readable by the requester's key", async () => {
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW, digest: "sha1", cipher: "aes128" });
    const rep = await readReply(await postPki(server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.cert] });
    expect([rep.status, rep.digestAlgorithm, rep.contentCipher]).toEqual(["SUCCESS", "sha1", "aes128"]);
    expect(hex(rep.certificates[0]!.spki)).toBe(hex(device.signer.certificate.spki));
  });
});

describe("RFC 8894 §4.3 / §3.3.1: big requests (smallstep#908)", () => {
  /** An RSA-4096 key, and a PKCSReq from it for each count of DNS SANs, the CSRs made by `openssl req`. */
  async function bigRequests(counts: readonly number[]): Promise<{ signer: LocalKey; csrLength: number; built: BuiltRequest }[]> {
    return withScratch(async (s) => {
      await s.run(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096", "-out", "key.pem"]);
      const keys = await importKeyPairPem(s.readText("key.pem"));
      const signer = await createSelfSignedSigner({ keys, subject: "CN=field-big", now: NOW });
      const out = [];
      for (const n of counts) {
        const sans = Array.from({ length: n }, (_, i) => `DNS:host-${i}.a-rather-long-subdomain.example.com`).join(",");
        s.write("req.cnf", `[req]\nprompt = no\ndistinguished_name = dn\nattributes = attrs\nreq_extensions = ext\n[dn]\nCN = field-big\n[attrs]\nchallengePassword = ${CHALLENGE}\n[ext]\nsubjectAltName = ${sans}\n`);
        await s.run(["req", "-new", "-key", "key.pem", "-config", "req.cnf", "-outform", "DER", "-out", "csr.der"]);
        const csr = s.read("csr.der");
        // Built from our CMS pieces: buildPkcsReq itself refuses a CSR past the SAN bound.
        out.push({ signer, csrLength: csr.length, built: await pkcsReqWithEnvelope(buildEnvelopedData({ content: csr, recipient: ca.cert, cipher: "aes256" }), signer, `FIELD-BIG-${n}`) });
      }
      return out;
    });
  }

  it("RSA-4096 and 50 SANs by POST and by GET → SUCCESS; 400 SANs → FAILURE (a bad padding's answer, the event naming the limit), nothing issued; ~100 kB → 413", async () => {
    const [fifty, fourHundred, twoThousand] = await bigRequests([50, 400, 2000]);
    expect(fifty!.csrLength).toBeGreaterThan(3000);
    await expectIssued(fifty!.built, fifty!.signer);
    const viaGet = await readReply(await getPki(server, "/scep", encodeURIComponent(toBase64(fifty!.built.der))), fifty!.built, { decrypter: fifty!.signer, caCertificates: [ca.cert] });
    expect(viaGet.status).toBe("SUCCESS");

    const before = calls.length;
    const refused = await readReply(await postPki(server, "/scep", fourHundred!.built.der), fourHundred!.built, { caCertificates: [ca.cert] });
    // Refused before its signature is checked, so answered as a bad padding is (no padding oracle,
    // server.padding-oracle.test.ts); the operator's event says why.
    expect(refused).toMatchObject({ status: "FAILURE", failInfo: "badMessageCheck", failInfoText: "could not decrypt the envelope" });
    expect(log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "csr_invalid" });
    expect(calls.length).toBe(before);

    expect(twoThousand!.built.der.length).toBeGreaterThan(90_000);
    const tooLarge = await postPki(server, "/scep", twoThousand!.built.der);
    expect([tooLarge.status, await tooLarge.text()]).toEqual([413, "message too large\n"]);
  }, 60_000);
});

describe("RFC 8894 §4.3: a POST body's Content-Type decides nothing (micromdm/scep#225)", () => {
  // OpenXPKI answered micromdm's client "400 Unable to parse request" until the user made it send sscep's
  // `application/pkcs7` type, and base64 transactionIDs failed its pattern (micromdm/scep#225,
  // https://github.com/micromdm/scep/issues/225). Each type clients send, with a base64 transactionID, issues.
  const types: (string | null)[] = ["application/pkcs7", "application/pkcs7-mime", "application/x-pki-message", "application/octet-stream", "application/x-www-form-urlencoded", null];
  for (const contentType of types) {
    it(`${contentType ?? "no Content-Type"} → SUCCESS, the base64 transactionID echoed`, async () => {
      const transactionId = `${toBase64(new Uint8Array(20).fill(contentType?.length ?? 0xfb))}`;
      expect(transactionId).toMatch(/[+/=]/);
      const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW, transactionId });
      const rep = await readReply(await postPki(server, "/scep", built.der, contentType), built, { decrypter: device.signer, caCertificates: [ca.cert] });
      expect([rep.status, rep.transactionId]).toEqual(["SUCCESS", transactionId]);
    });
  }
});

describe("none of the above", () => {
  it("ended in a 5xx", () => {
    expect(log.events.filter((e) => e.status >= 500 || e.outcome === "error")).toEqual([]);
  });
});

