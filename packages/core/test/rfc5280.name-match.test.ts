/**
 * sameName: two distinguished names, as DER or strings, compared as RFC 5280 §7.1 asks (attribute types by OID,
 * values after RFC 4518 preparation), RDNs in the same or the reverse order.
 */
import { describe, expect, it } from "vitest";
import { createSelfSignedSigner, formatName, generateRsaKeyPair, sameName } from "../src/index.js";

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

  // A Name's DER by hand: RDNs of [OID bytes, value TLV] (CN 2.5.4.3 = 55 04 03, O 2.5.4.10 = 55 04 0a).
  const CN = [0x55, 0x04, 0x03];
  const O = [0x55, 0x04, 0x0a];
  const tlv = (tag: number, body: number[]): number[] => [tag, ...(body.length < 0x80 ? [body.length] : [0x82, body.length >> 8, body.length & 0xff]), ...body];
  const utf8 = (s: string): number[] => tlv(0x0c, [...Buffer.from(s, "utf8")]);
  const nameDer = (...rdns: [number[], number[]][][]): Uint8Array =>
    Uint8Array.from(tlv(0x30, rdns.flatMap((rdn) => tlv(0x31, rdn.flatMap(([oid, value]) => tlv(0x30, [...tlv(0x06, oid), ...value]))))));

  it("no value can spell another attribute: O=b+CN=a ≢ O=\"b+2.5.4.3=a\"", () => {
    expect(sameName("O=b+CN=a", "O=b\\+2.5.4.3\\=a")).toBe(false);
    expect(sameName("CN=a+O=b", "O=b\\+2.5.4.3\\=a")).toBe(false);
    expect(sameName(nameDer([[O, utf8("b")], [CN, utf8("a")]]), nameDer([[O, utf8('b+2.5.4.3=a')]]))).toBe(false);
  });

  it("a value that is no string matches only its own DER, not a string spelling that DER in hex", () => {
    const octets = nameDer([[CN, tlv(0x04, [0x41])]]);
    const integer = nameDer([[CN, tlv(0x02, [0x41])]]);
    expect(sameName(integer, nameDer([[CN, utf8("#020141")]]))).toBe(false);
    expect(sameName(integer, nameDer([[CN, tlv(0x02, [0x41])]]))).toBe(true);
    expect(sameName(integer, nameDer([[CN, tlv(0x02, [0x42])]]))).toBe(false);
    expect(sameName(octets, octets)).toBe(true);
  });

  it("UTF-8 that does not decode is compared as bytes: 0xFF ≢ 0xFE", () => {
    expect(sameName(nameDer([[CN, tlv(0x0c, [0xff])]]), nameDer([[CN, tlv(0x0c, [0xfe])]]))).toBe(false);
    expect(sameName(nameDer([[CN, tlv(0x0c, [0xff])]]), nameDer([[CN, tlv(0x0c, [0xff])]]))).toBe(true);
  });

  it("two DER Names match only in the same RDN order (RFC 5280 §7.1); a string matches either order", () => {
    const cnFirst = nameDer([[CN, utf8("a")]], [[O, utf8("b")]]);
    const oFirst = nameDer([[O, utf8("b")]], [[CN, utf8("a")]]);
    expect(sameName(cnFirst, oFirst)).toBe(false);
    expect(sameName(cnFirst, nameDer([[CN, utf8("A")]], [[O, utf8(" b ")]]))).toBe(true);
    expect(sameName(cnFirst, "CN=a, O=b")).toBe(true);
    expect(sameName(cnFirst, "O=b, CN=a")).toBe(true);
  });

  it.each(["CN=a, =b", "CN=a, b", "CN=a,", "CN=a, , O=b", "CN=a+", "CN"])("%s: a part that is no type=value → ERR_INVALID_ARGUMENT, not a shorter name", (text) => {
    expect(() => sameName("CN=a", text)).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: expect.stringMatching(/^the second name is not a distinguished name: /) }));
  });

  it("an empty Name's DER matches nothing, not even the empty string", () => {
    expect(sameName(Uint8Array.from([0x30, 0x00]), "")).toBe(false);
    expect(sameName(Uint8Array.from([0x30, 0x00]), Uint8Array.from([0x30, 0x00]))).toBe(false);
  });
  it("a Name with every attribute formatName prints matches its formatName string (a CA's Certificate.subject is comparable)", () => {
    const oid = (dotted: string): number[] => {
      const [a, b, ...rest] = dotted.split(".").map(Number);
      const out = [a! * 40 + b!];
      for (const n of rest) {
        const bytes = [n & 0x7f];
        for (let v = n >>> 7; v > 0; v >>>= 7) bytes.unshift((v & 0x7f) | 0x80);
        out.push(...bytes);
      }
      return out;
    };
    const types = ["2.5.4.3", "2.5.4.4", "2.5.4.5", "2.5.4.6", "2.5.4.7", "2.5.4.8", "2.5.4.9", "2.5.4.10", "2.5.4.11", "2.5.4.12", "2.5.4.42", "0.9.2342.19200300.100.1.1", "0.9.2342.19200300.100.1.25", "1.2.840.113549.1.9.1"];
    const name = nameDer(...types.map((t, i): [number[], number[]][] => [[oid(t), utf8(t === "2.5.4.6" ? "US" : `v${i}`)]]));
    const text = formatName(name);
    expect(text).toContain("serialNumber=v2");
    expect(sameName(name, text)).toBe(true);
    expect(sameName(name, text.replace("serialNumber=v2", "SERIALNUMBER=v2").replace("ST=v5", "S=v5"))).toBe(true); // Microsoft's spelling
    expect(sameName(name, text.replace("serialNumber=v2", "serialNumber=v9"))).toBe(false);
  });

  it.each([
    ["SERIALNUMBER=0042", "2.5.4.5=0042"],
    ["STREET=1 Main St", "2.5.4.9=1 Main St"],
    ["PostalCode=98052", "2.5.4.17=98052"],
    ["title=CA", "T=CA"],
    ["GN=Ann", "G=Ann"],
    ["UID=ca1", "0.9.2342.19200300.100.1.1=ca1"],
    ["emailAddress=ca@contoso.com", "E=ca@contoso.com"],
  ])("CN=a, %s ≡ CN=a, %s (OpenSSL's, Microsoft's and formatName's attribute names)", (a, b) => {
    expect(sameName(`CN=a, ${a}`, `CN=a, ${b}`)).toBe(true);
  });
});
