/**
 * sameName: two distinguished names, as DER or strings, compared as RFC 5280 §7.1 asks (attribute types by OID,
 * values after RFC 4518 preparation), RDNs in the same or the reverse order.
 */
import { describe, expect, it } from "vitest";
import { createSelfSignedSigner, generateRsaKeyPair, sameName } from "../src/index.js";

describe("sameName (RFC 5280 §7.1)", () => {
  it.each([
    ["CN=Contoso Issuing CA, O=Contoso", "CN=Contoso Issuing CA, O=Contoso"],
    ["CN=Contoso Issuing CA, O=Contoso", "o=contoso,  cn=CONTOSO  issuing ca"],
    ["CN=Contoso CA, ST=Washington", "CN=Contoso CA, S=washington"],
    ['CN=Contoso CA, O=Contoso\\, Ltd', 'CN=Contoso CA, O="Contoso, Ltd"'],
    ["CN=Contoso CA, O=Contoso", "CN = Contoso CA; O = Contoso"],
    ["CN=Contoso CA, O=Contoso", "OID.2.5.4.3=Contoso CA, 2.5.4.10=Contoso"],
    ["CN=a+OU=b, O=c", "OU=B+CN=A, O=C"],
  ])("%s ≡ %s", (a, b) => {
    expect(sameName(a, b)).toBe(true);
    expect(sameName(b, a)).toBe(true);
  });

  it.each([
    ["CN=Contoso CA", "CN=Contoso CA 2"],
    ["CN=Contoso CA, O=Contoso", "CN=Contoso CA"],
    ["CN=Contoso CA, O=Contoso", "O=Contoso CA, CN=Contoso"],
    ["CN=a, O=b, C=US", "O=b, CN=a, C=US"],
  ])("%s ≢ %s", (a, b) => {
    expect(sameName(a, b)).toBe(false);
  });

  it("compares a Name's DER with its string", async () => {
    const { certificate } = await createSelfSignedSigner({ keys: await generateRsaKeyPair(2048), subject: "CN=Contoso Issuing CA, O=Contoso, ST=Washington" });
    expect(sameName(certificate.subjectDer, "cn=contoso issuing ca, o=CONTOSO, s=Washington")).toBe(true);
    expect(sameName(certificate.subjectDer, certificate.subject)).toBe(true);
    expect(sameName(certificate.subjectDer, "CN=Contoso Issuing CA")).toBe(false);
  });

  it.each([
    ["Contoso CA", 'the first name is not a distinguished name: "Contoso CA" is not type=value (RFC 4514: CN=Contoso CA, O=Contoso)'],
    ["CN=Contoso CA, O=Contoso, junk", 'the first name is not a distinguished name: "junk" is not type=value (RFC 4514: CN=Contoso CA, O=Contoso)'],
    ["CN=Contoso CA,,O=Contoso", "the first name is not a distinguished name: an empty attribute (two separators in a row, or one at an end)"],
    ["CN=Contoso CA, O=Contoso;", "the first name is not a distinguished name: an empty attribute (two separators in a row, or one at an end)"],
    ["CN=Contoso CA, XX=Contoso", 'the first name is not a distinguished name: unknown attribute type "XX" (a name such as CN, O, OU, C, ST or S, or an OID)'],
    ["/CN=Contoso CA/O=Contoso", `the first name is not a distinguished name: unknown attribute type "/CN" (OpenSSL's /CN=…/O=… form is not read: write CN=…, O=…)`],
  ])("a string that is no RFC 4514 name, %j → InvalidArgumentError naming the part, never a match on what was read of it", (bad, message) => {
    expect(() => sameName(bad, "CN=Contoso CA, O=Contoso")).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message }));
    expect(() => sameName("CN=Contoso CA, O=Contoso", bad)).toThrow(expect.objectContaining({ message: message.replace("the first", "the second") }));
  });

  it("the empty string is the empty Name, which names nothing", () => {
    expect(sameName("", "CN=Contoso CA")).toBe(false);
    expect(sameName("  ", "")).toBe(false);
  });

  it("bytes that are no Name → InvalidArgumentError (ERR_INVALID_ARGUMENT)", () => {
    expect(() => sameName(Uint8Array.from([1, 2, 3]), "CN=a")).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: expect.stringMatching(/^the first name is not the DER of a Name: /) }));
  });
});
