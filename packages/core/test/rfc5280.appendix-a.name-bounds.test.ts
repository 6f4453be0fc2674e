/**
 * RFC 5280 Appendix A: each subject attribute's upper bound (counted in characters), the attributes typed
 * PrintableString (countryName SIZE (2), serialNumber, dnQualifier) or IA5String (emailAddress; domainComponent,
 * RFC 4519), and X.680 §41.4's PrintableString set. nameProblem refuses what cannot be fixed without changing the
 * name (too long, wrong characters for the type); certificateName re-encodes what can (a PrintableString holding
 * '@' → UTF8String, an ASCII emailAddress in a UTF8String → IA5String). Through the server: FAILURE badRequest
 * naming the attribute and the bound, before any issue hook runs.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as der from "../src/lib/der.js";
import { buildPkcsReq, certificateName, createScepServer, createSelfSignedSigner, generateCsr, generateRsaKeyPair, nameProblem, type IssueContext, type ScepServer } from "../src/index.js";
import { NOW, createTestCa, issuingHook, postPki, readReply, type TestCa } from "./support/server-pki.js";

const enc = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const value = (tag: number, text: string): Uint8Array => der.encode(tag === der.Tag.UTF8_STRING ? der.utf8(text) : der.tlv(tag, enc(text)));
/** A Name with one RDN per [oid, tag, text]. */
const name = (...atvs: [string, number, string][]): Uint8Array =>
  der.encode(der.seq(...atvs.map(([oid, tag, text]) => der.setOf([der.seq(der.oid(oid), value(tag, text))]))));
const P = der.Tag.PRINTABLE_STRING;
const U = der.Tag.UTF8_STRING;
const I = der.Tag.IA5_STRING;

describe("RFC 5280 Appendix A upper bounds (nameProblem)", () => {
  it.each([
    ["CN", "2.5.4.3", 64, "ub-common-name"],
    ["O", "2.5.4.10", 64, "ub-organization-name"],
    ["OU", "2.5.4.11", 64, "ub-organizational-unit-name"],
    ["title", "2.5.4.12", 64, "ub-title"],
    ["L", "2.5.4.7", 128, "ub-locality-name"],
    ["ST", "2.5.4.8", 128, "ub-state-name"],
    ["2.5.4.65", "2.5.4.65", 128, "ub-pseudonym"],
    ["serialNumber", "2.5.4.5", 64, "ub-serial-number"],
  ])("%s: %i characters pass, one more is refused naming %s", (short, oid, max, bound) => {
    expect(nameProblem(name([oid, P, "a".repeat(max)]))).toBeUndefined();
    expect(nameProblem(name([oid, P, "a".repeat(max + 1)]))).toBe(`${short}: ${max + 1} characters, above RFC 5280 Appendix A's ${bound} (${max})`);
  });

  it("counts characters, not octets: 64 two-octet UTF-8 characters pass in a CN, 65 do not", () => {
    expect(nameProblem(name(["2.5.4.3", U, "é".repeat(64)]))).toBeUndefined();
    expect(nameProblem(name(["2.5.4.3", U, "é".repeat(65)]))).toBe("CN: 65 characters, above RFC 5280 Appendix A's ub-common-name (64)");
  });

  it("emailAddress: 255 characters pass, 256 do not (ub-emailaddress-length); a non-ASCII one is refused (IA5String)", () => {
    const local = "a".repeat(255 - "@example.com".length);
    expect(nameProblem(name(["1.2.840.113549.1.9.1", I, `${local}@example.com`]))).toBeUndefined();
    expect(nameProblem(name(["1.2.840.113549.1.9.1", I, `a${local}@example.com`]))).toBe("E: 256 characters, above RFC 5280 Appendix A's ub-emailaddress-length (255)");
    expect(nameProblem(name(["1.2.840.113549.1.9.1", U, "jürgen@example.com"]))).toBe("E: holds a non-ASCII character (RFC 5280 Appendix A and RFC 4519 type it IA5String)");
  });

  it("domainComponent: a non-ASCII one is refused (IA5String, RFC 4519)", () => {
    expect(nameProblem(name(["0.9.2342.19200300.100.1.25", U, "bücher"]))).toBe("DC: holds a non-ASCII character (RFC 5280 Appendix A and RFC 4519 type it IA5String)");
  });

  it("countryName: exactly 2 characters of PrintableString's set", () => {
    expect(nameProblem(name(["2.5.4.6", P, "DE"]))).toBeUndefined();
    expect(nameProblem(name(["2.5.4.6", P, "DEU"]))).toBe("C: 3 characters, not the 2 of RFC 5280 Appendix A's ub-country-name-alpha-length");
    expect(nameProblem(name(["2.5.4.6", P, "D"]))).toBe("C: 1 characters, not the 2 of RFC 5280 Appendix A's ub-country-name-alpha-length");
    expect(nameProblem(name(["2.5.4.6", U, "D_"]))).toBe("C: holds a character outside PrintableString's set (RFC 5280 Appendix A types it PrintableString; X.680 §41.4)");
  });

  it("serialNumber outside PrintableString's set is refused (Appendix A types it PrintableString)", () => {
    expect(nameProblem(name(["2.5.4.5", U, "SN_42"]))).toBe("serialNumber: holds a character outside PrintableString's set (RFC 5280 Appendix A types it PrintableString; X.680 §41.4)");
  });

  it("an empty value is let through, countryName's too (an MDM profile's empty subject variable makes `OU=` or `C=`; OpenSSL and Go read it, micromdm issues it)", () => {
    expect(nameProblem(name(["2.5.4.3", U, ""]))).toBeUndefined();
    expect(nameProblem(name(["2.5.4.11", P, ""]))).toBeUndefined();
    expect(nameProblem(name(["2.5.4.6", P, ""]))).toBeUndefined();
    // In a UTF8String it is written as the PrintableString Appendix A types countryName with.
    expect(certificateName(name(["2.5.4.6", U, ""], ["2.5.4.3", U, "device"]))).toEqual(name(["2.5.4.6", P, ""], ["2.5.4.3", U, "device"]));
  });

  it("a checked Name changed in place afterwards is read again (the check is remembered by its bytes, not by its array)", () => {
    const subject = name(["2.5.4.3", P, "aaaa"]);
    expect(nameProblem(subject)).toBeUndefined();
    subject[subject.length - 1] = 0x00; // "aaa\0": a NUL, the null-prefix attack
    expect(nameProblem(subject)).toBe("CN: a PrintableString holds a control or non-ASCII character");
    expect(() => certificateName(subject)).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }));
    const reencoded = name(["2.5.4.3", P, "a-b"]);
    expect(certificateName(reencoded)).toBe(reencoded);
    reencoded[reencoded.length - 2] = 0x40; // "a@b": now written as a UTF8String
    expect(certificateName(reencoded)).toEqual(name(["2.5.4.3", U, "a@b"]));
  });

  it("a PrintableString holding '@', '_', '*' is not refused (certificateName re-encodes it)", () => {
    expect(nameProblem(name(["2.5.4.3", P, "ops@example_1*"]))).toBeUndefined();
  });
});

describe("certificateName: the string type each attribute is written in (RFC 5280 §4.1.2.4, Appendix A)", () => {
  it("a PrintableString holding '@', '_', '*' becomes a UTF8String with the same text; other values keep their bytes", () => {
    const input = name(["2.5.4.6", P, "DE"], ["2.5.4.10", P, "Acme"], ["2.5.4.3", P, "ops@example_1*"]);
    expect(certificateName(input)).toEqual(name(["2.5.4.6", P, "DE"], ["2.5.4.10", P, "Acme"], ["2.5.4.3", U, "ops@example_1*"]));
  });

  it("C and serialNumber in a UTF8String become PrintableString; emailAddress and DC become IA5String", () => {
    const input = name(["2.5.4.6", U, "DE"], ["2.5.4.5", U, "SN-42"], ["0.9.2342.19200300.100.1.25", U, "example"], ["1.2.840.113549.1.9.1", P, "ops.example"]);
    expect(certificateName(input)).toEqual(name(["2.5.4.6", P, "DE"], ["2.5.4.5", P, "SN-42"], ["0.9.2342.19200300.100.1.25", I, "example"], ["1.2.840.113549.1.9.1", I, "ops.example"]));
  });

  it("a name that needs no change is returned as given (the same bytes)", () => {
    const input = name(["2.5.4.3", U, "ops@example"], ["2.5.4.10", P, "Acme"]);
    expect(certificateName(input)).toBe(input);
  });

  it("re-sorts a multi-valued RDN whose value changed tag (DER SET OF order, X.690 §11.6)", () => {
    const atv = (oid: string, tag: number, text: string): Uint8Array => der.encode(der.seq(der.oid(oid), value(tag, text)));
    const input = der.encode(der.seq(der.setOf([atv("2.5.4.3", P, "a@b"), atv("2.5.4.3", U, "a-b")])));
    const out = certificateName(input);
    expect(out).toEqual(der.encode(der.seq(der.setOf([atv("2.5.4.3", U, "a@b"), atv("2.5.4.3", U, "a-b")]))));
    expect(nameProblem(out)).toBeUndefined();
  });

  it("refuses a name nameProblem refuses (ERR_INVALID_ARGUMENT, with its reason)", () => {
    expect(() => certificateName(name(["2.5.4.3", P, "a".repeat(65)]))).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: "the name is not one a certificate can carry (RFC 5280 §4.1.2.4): CN: 65 characters, above RFC 5280 Appendix A's ub-common-name (64)" }));
  });
});

describe("through the server: FAILURE badRequest naming the attribute and the bound, before the issue hook (RFC 8894 §3.3.2.2)", () => {
  let ca: TestCa;
  let server: ScepServer;
  const calls: IssueContext[] = [];
  beforeAll(async () => {
    ca = await createTestCa("Appendix A CA");
    server = createScepServer({
      profiles: [{ name: "devices", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: "pw" }, issue: issuingHook(ca, calls) }],
      now: () => NOW,
    });
  });

  it.each([
    ["a 65-character CN", name(["2.5.4.3", U, "x".repeat(65)]), "CN: 65 characters, above RFC 5280 Appendix A's ub-common-name (64)"],
    ["a 3-letter countryName", name(["2.5.4.6", P, "DEU"], ["2.5.4.3", P, "device"]), "C: 3 characters, not the 2 of RFC 5280 Appendix A's ub-country-name-alpha-length"],
    ["a 129-character locality", name(["2.5.4.7", U, "l".repeat(129)], ["2.5.4.3", P, "device"]), "L: 129 characters, above RFC 5280 Appendix A's ub-locality-name (128)"],
    ["a non-ASCII emailAddress", name(["2.5.4.3", P, "device"], ["1.2.840.113549.1.9.1", U, "jürgen@example.com"]), "E: holds a non-ASCII character (RFC 5280 Appendix A and RFC 4519 type it IA5String)"],
  ])("%s", async (_what, subject, reason) => {
    const keys = await generateRsaKeyPair();
    const csr = await generateCsr({ keys, subject, challengePassword: "pw" });
    const signer = await createSelfSignedSigner({ keys, subject: "CN=device", now: NOW });
    const built = await buildPkcsReq({ csr, signer, recipient: ca.cert, now: NOW });
    const before = calls.length;
    const rep = await readReply(await postPki(server, "/scep", built.der), built, { decrypter: signer });
    expect(rep.status).toBe("FAILURE");
    expect(rep.failInfo).toBe("badRequest");
    expect(rep.failInfoText).toBe(`the subject cannot be certified: ${reason}`);
    expect(calls.length).toBe(before);
  });
});
