/**
 * DirectoryString (RFC 2985 §5.4.1, RFC 5280 §4.1.2.4, X.680 §41): every
 * reader accepts every string type a peer may send (challengePassword,
 * subject/issuer attributes, UPN), including non-ASCII text; every writer
 * picks PrintableString only when its alphabet admits the text, else
 * UTF8String (a PrintableString holding `_` makes Go's asn1, and so micromdm's
 * scepserver, answer HTTP 500).
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as der from "../src/lib/der.js";
import * as oids from "../src/oids.js";
import { x509 } from "../src/lib/x509.js";
import { Asn1Error } from "../src/errors.js";
import { CertificationRequest, buildPkcsReq, createScepServer, createSelfSignedSigner, formatName, generateCsr, generateRsaKeyPair, type ScepServer } from "../src/index.js";
import { NOW, createTestCa, issuingHook, postPki, readReply, type TestCa } from "./support/server-pki.js";

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);
const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));
const ucs4 = (s: string): number[] => [...s].flatMap((c) => {
  const cp = c.codePointAt(0)!;
  return [cp >>> 24, (cp >> 16) & 0xff, (cp >> 8) & 0xff, cp & 0xff];
});
const ucs2 = (s: string): number[] => [...s].flatMap((c) => [c.charCodeAt(0) >> 8, c.charCodeAt(0) & 0xff]);
const utf8 = (s: string): number[] => [...new TextEncoder().encode(s)];
const tlv = (tag: number, content: number[]): Uint8Array => bytes(tag, content.length, ...content);
const read = (encoding: Uint8Array): string => der.readString(der.parse(encoding), "value");

describe("reading: every DirectoryString type (RFC 5280 §4.1.2.4, X.680 §41)", () => {
  it.each([
    ["PrintableString", 0x13, ascii("secret")],
    ["TeletexString", 0x14, ascii("secret")],
    ["UniversalString (UCS-4 BE)", 0x1c, ucs4("secret")],
    ["UTF8String", 0x0c, utf8("secret")],
    ["BMPString (UCS-2 BE)", 0x1e, ucs2("secret")],
    ["IA5String", 0x16, ascii("secret")],
    ["VisibleString", 0x1a, ascii("secret")],
  ])("%s reads as \"secret\"", (_name, tag, content) => {
    expect(read(tlv(tag, content))).toBe("secret");
  });

  it("UniversalString 1c 18 00 00 00 73 … reads byte for byte", () => {
    expect(read(bytes(0x1c, 0x18, 0, 0, 0, 0x73, 0, 0, 0, 0x65, 0, 0, 0, 0x63, 0, 0, 0, 0x72, 0, 0, 0, 0x65, 0, 0, 0, 0x74))).toBe("secret");
  });

  it("NumericString", () => {
    expect(read(tlv(0x12, ascii("0123 456")))).toBe("0123 456");
  });

  it("non-ASCII text in UTF8String, BMPString, UniversalString and TeletexString (Latin-1)", () => {
    expect(read(tlv(0x0c, utf8("Grüße aus 東京 😀")))).toBe("Grüße aus 東京 😀");
    expect(read(tlv(0x1e, ucs2("Grüße aus 東京")))).toBe("Grüße aus 東京");
    expect(read(tlv(0x1c, ucs4("Grüße aus 東京 😀")))).toBe("Grüße aus 東京 😀");
    expect(read(tlv(0x14, [0x47, 0x72, 0xfc, 0xdf, 0x65]))).toBe("Grüße");
  });

  it("a leading U+FEFF is a character of the value, kept in every type (X.680 §41: no byte order mark in these encodings)", () => {
    // TextDecoder strips a leading BOM unless told not to: "\uFEFFsecret" read as "secret", while the same text as a
    // BMPString kept it, so the two spellings of one value read differently.
    expect(read(tlv(0x0c, utf8("\uFEFFsecret")))).toBe("\uFEFFsecret");
    expect(read(tlv(0x0c, utf8("\uFEFF\uFEFF")))).toBe("\uFEFF\uFEFF");
    expect(read(tlv(0x1e, ucs2("\uFEFFsecret")))).toBe("\uFEFFsecret");
    expect(read(tlv(0x1c, ucs4("\uFEFFsecret")))).toBe("\uFEFFsecret");
  });

  it("a constructed (BER) UniversalString joins its segments", () => {
    const seg1 = tlv(0x1c, ucs4("sec"));
    const seg2 = tlv(0x1c, ucs4("ret"));
    expect(read(bytes(0x3c, 0x80, ...seg1, ...seg2, 0, 0))).toBe("secret");
  });

  it.each([
    ["a UniversalString of 5 octets", tlv(0x1c, [0, 0, 0, 0x73, 0]), "value: UniversalString length is not a multiple of 4"],
    ["a UniversalString above U+10FFFF", tlv(0x1c, [0, 0x11, 0, 0]), "value: UniversalString character out of range"],
    ["a BMPString of 3 octets", tlv(0x1e, [0, 0x73, 0]), "value: BMPString length is not a multiple of 2"],
    ["an INTEGER", tlv(0x02, [1]), "value: expected a string"],
    ["a SEQUENCE", bytes(0x30, 0x00), "value: expected a string"],
  ])("%s is an Asn1Error", (_name, encoding, message) => {
    expect(() => read(encoding)).toThrow(Asn1Error);
    expect(() => read(encoding)).toThrow(message);
  });
});

/** A Name with one CN whose value is `value` (a whole string TLV). */
const nameWithCn = (value: Uint8Array): Uint8Array => der.encode(der.seq(der.setOf([der.seq(der.oid("2.5.4.3"), value)])));

describe("reading names: formatName and commonName accept every type (RFC 5280 §4.1.2.4)", () => {
  it.each([
    [0x13, ascii("device-1"), "device-1"],
    [0x14, [0x47, 0x72, 0xfc, 0xdf, 0x65], "Grüße"],
    [0x1c, ucs4("Gerät 東京"), "Gerät 東京"],
    [0x0c, utf8("Gerät_1 😀"), "Gerät_1 😀"],
    [0x1e, ucs2("Gerät 東京"), "Gerät 東京"],
  ])("tag 0x%s", (tag, content, text) => {
    expect(formatName(nameWithCn(tlv(tag, content)))).toBe(`CN=${text}`);
  });
});

describe("reading the UPN in a subjectAltName otherName (any DirectoryString type, non-ASCII)", () => {
  const upnSan = (value: Uint8Array): Uint8Array =>
    der.encode(der.seq(der.ctx(0, der.oid("1.3.6.1.4.1.311.20.2.3"), der.ctx(0, value))));
  it.each([
    ["UTF8String", tlv(0x0c, utf8("jürgen@example.com"))],
    ["BMPString", tlv(0x1e, ucs2("jürgen@example.com"))],
    ["UniversalString", tlv(0x1c, ucs4("jürgen@example.com"))],
  ])("%s", async (_name, value) => {
    const { parseSubjectAltNames } = await import("../src/x509/extensions.js");
    expect(parseSubjectAltNames(upnSan(value)).upn).toEqual(["jürgen@example.com"]);
  });
});

async function csrWithChallengeValue(keys: CryptoKeyPair, value: Uint8Array): Promise<Uint8Array> {
  const ab = value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength) as ArrayBuffer;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: "CN=universal",
    keys,
    signingAlgorithm: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as Algorithm,
    attributes: [new x509.Attribute(oids.id_challengePassword, [ab])],
  });
  return new Uint8Array(csr.rawData);
}

/** The challengePassword attribute value's encoding in a CSR. */
function challengeValueOf(csrDer: Uint8Array): Uint8Array {
  const [info] = der.children(der.parse(csrDer));
  const attrs = der.children(info)[3]!;
  for (const a of der.children(attrs)) {
    const [type, values] = der.children(a);
    if (der.readOid(type) === oids.id_challengePassword) return der.raw(der.children(values)[0]).slice();
  }
  throw new Error("no challengePassword");
}

/** The encoding of the CN value in a Name. */
const cnValueOf = (name: Uint8Array): Uint8Array => der.raw(der.children(der.children(der.children(der.parse(name))[0])[0])[1]).slice();

describe("writing: PrintableString only when its alphabet admits the text, else UTF8String (X.680 §41.4)", () => {
  let keys: CryptoKeyPair;
  beforeAll(async () => {
    keys = await generateRsaKeyPair();
  });

  it.each([
    ["secret", bytes(0x13, 0x06, ...ascii("secret"))],
    ["A-Z a-z 0-9 '()+,-./:=?", bytes(0x13, 0x17, ...ascii("A-Z a-z 0-9 '()+,-./:=?"))],
    ["abc_def", bytes(0x0c, 0x07, 0x61, 0x62, 0x63, 0x5f, 0x64, 0x65, 0x66)],
    ["p@ss#word!", bytes(0x0c, 0x0a, ...ascii("p@ss#word!"))],
    ["Grüße", bytes(0x0c, 0x07, 0x47, 0x72, 0xc3, 0xbc, 0xc3, 0x9f, 0x65)],
    ["a*b", bytes(0x0c, 0x03, 0x61, 0x2a, 0x62)],
    ["", bytes(0x13, 0x00)],
  ])("generateCsr challengePassword %j is written as %s", async (password, expected) => {
    const csr = await generateCsr({ keys, subject: "CN=device", challengePassword: password });
    expect(challengeValueOf(csr)).toEqual(expected);
    expect(new CertificationRequest(csr).challengePassword).toBe(password);
    expect(new CertificationRequest(csr).verify()).toBe(true);
  });

  it.each([
    ["CN=device-1", bytes(0x13, 0x08, ...ascii("device-1"))],
    ["CN=device_1", bytes(0x0c, 0x08, ...ascii("device_1"))],
    ["CN=ops@example", bytes(0x0c, 0x0b, ...ascii("ops@example"))],
    ["CN=Gerät", bytes(0x0c, 0x06, 0x47, 0x65, 0x72, 0xc3, 0xa4, 0x74)],
  ])("generateCsr subject %s writes the CN as %s", async (subject, expected) => {
    const csr = new CertificationRequest(await generateCsr({ keys, subject }));
    expect(cnValueOf(csr.subjectDer)).toEqual(expected);
  });

  it("a subject given as DER is copied byte for byte (a renewal keeps a TeletexString CN)", async () => {
    const name = nameWithCn(tlv(0x14, [0x47, 0x72, 0xfc, 0xdf, 0x65]));
    const csr = new CertificationRequest(await generateCsr({ keys, subject: name, challengePassword: "x" }));
    expect(csr.subjectDer).toEqual(name);
    expect(csr.subject).toBe("CN=Grüße");
    const signer = await createSelfSignedSigner({ keys, subject: name });
    expect(signer.certificate.subjectDer).toEqual(name);
  });
});

describe("a server reads a UniversalString challengePassword (RFC 8894 §3.3.1, RFC 2985 §5.4.1)", () => {
  let ca: TestCa;
  let server: ScepServer;
  beforeAll(async () => {
    ca = await createTestCa("DirectoryString CA");
    server = createScepServer({
      profiles: [{ name: "devices", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: "Grüße_secret" }, issue: issuingHook(ca) }],
      now: () => NOW,
    });
  });

  it.each([
    ["UniversalString", tlv(0x1c, ucs4("Grüße_secret"))],
    ["BMPString", tlv(0x1e, ucs2("Grüße_secret"))],
    ["UTF8String", tlv(0x0c, utf8("Grüße_secret"))],
  ])("%s: SUCCESS", async (_name, value) => {
    const keys = await generateRsaKeyPair();
    const csr = await csrWithChallengeValue(keys, value);
    expect(new CertificationRequest(csr).challengePassword).toBe("Grüße_secret");
    const signer = await createSelfSignedSigner({ keys, subject: "CN=universal", now: NOW });
    const built = await buildPkcsReq({ csr, signer, recipient: ca.cert, now: NOW });
    const rep = await readReply(await postPki(server, "/scep", built.der), built, { decrypter: signer });
    expect(rep.status).toBe("SUCCESS");
  });
});
