/**
 * One spelling per certificate serial number (RFC 5280 §4.1.2.2: CertificateSerialNumber ::= INTEGER): every
 * spelling of one INTEGER gives one text, and two different INTEGERs never share one — above all a negative
 * serial (DER content 80 01, −32767, which old CAs issued) and the positive 0x8001 (00 80 01).
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Certificate, normalizeSerialNumber, serialNumberOctets, isScepError } from "../src/index.js";
import { x509 } from "../src/lib/x509.js";
import { createTestCa, createDevice, hex } from "./support/server-pki.js";

const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, "hex"));

describe("normalizeSerialNumber: text", () => {
  it.each([
    ["0A:1B:2C", "0a1b2c"],
    ["8001", "008001"],
    ["00:80:01", "008001"],
    ["0000008001", "008001"],
    ["FF01", "00ff01"],
    ["00 7f", "7f"],
    ["0", "00"],
    ["-7FFF", "-7fff"],
    ["-7f:ff", "-7fff"],
    ["-0080", "-80"],
    ["-1", "-01"],
    ["-0", "00"],
  ])("%s → %s", (text, canonical) => {
    expect(normalizeSerialNumber(text)).toBe(canonical);
  });

  it.each([["xyz"], [""], ["-"], ["--01"], ["0x8001"], ["12-34"], ["ab".repeat(21) + "ab"]])("%j → InvalidArgumentError ERR_INVALID_ARGUMENT", (text) => {
    let error: unknown;
    try {
      normalizeSerialNumber(text);
    } catch (e) {
      error = e;
    }
    expect(isScepError(error) && error.code).toBe("ERR_INVALID_ARGUMENT");
  });

  it("at most 21 content octets (20, and the 00 before a first octet of 0x80 or more), as before; one more is refused", () => {
    expect(normalizeSerialNumber("ff".repeat(20))).toBe("00" + "ff".repeat(20));
    expect(normalizeSerialNumber("7f" + "ff".repeat(20))).toBe("7f" + "ff".repeat(20));
    expect(() => normalizeSerialNumber("80" + "ff".repeat(20))).toThrow(/longer than 20 octets/);
    expect(() => normalizeSerialNumber(new Uint8Array(22).fill(0x11))).toThrow(/longer than 20 octets/);
  });
});

describe("normalizeSerialNumber: the INTEGER's content octets", () => {
  it.each([
    ["80 01 (−32767)", "8001", "-7fff"],
    ["00 80 01 (0x8001)", "008001", "008001"],
    ["ff 80 01 (BER's redundant ff: −32767)", "ff8001", "-7fff"],
    ["00 00 80 01 (BER's redundant 00: 0x8001)", "00008001", "008001"],
    ["ff (−1)", "ff", "-01"],
    ["80 (−128)", "80", "-80"],
    ["ff 7f (−129)", "ff7f", "-81"],
    ["00", "00", "00"],
  ])("%s → %s", (_label, content, canonical) => {
    expect(normalizeSerialNumber(bytes(content))).toBe(canonical);
  });

  it("empty content → InvalidArgumentError", () => {
    expect(() => normalizeSerialNumber(new Uint8Array(0))).toThrow(/at least one/);
  });
});

describe("serialNumberOctets: back to the DER content octets", () => {
  it.each([
    ["-7fff", "8001"],
    ["8001", "008001"],
    ["-01", "ff"],
    ["-80", "80"],
    ["-81", "ff7f"],
    ["00", "00"],
  ])("%s → %s", (text, content) => {
    expect(hex(serialNumberOctets(text))).toBe(content);
  });

  it("property: content octets → text → content octets is the DER (minimal) form, and text is a fixed point", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 21 }), (content) => {
        const text = normalizeSerialNumber(content);
        expect(normalizeSerialNumber(text)).toBe(text);
        const der = serialNumberOctets(text);
        expect(normalizeSerialNumber(der)).toBe(text);
        // The same number: two's complement of both sides.
        const value = (b: Uint8Array): bigint => BigInt.asIntN(b.length * 8, BigInt("0x" + hex(b)));
        expect(value(der)).toBe(value(content));
      }),
    );
  });

  it("property: two different INTEGERs never share a spelling", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 159n), max: 1n << 159n }), fc.bigInt({ min: -(1n << 159n), max: 1n << 159n }), (a, b) => {
        const spell = (v: bigint): string => (v < 0n ? `-${(-v).toString(16)}` : v.toString(16));
        fc.pre(a !== b);
        expect(normalizeSerialNumber(spell(a))).not.toBe(normalizeSerialNumber(spell(b)));
      }),
    );
  });
});

describe("a certificate with a negative serial (content 80 01, as OpenSSL's -set_serial -32767 writes it)", () => {
  it("Certificate.serialNumberHex prints -7fff as `openssl x509 -serial` does (-7FFF), 0x8001 prints 8001; their keys differ", async () => {
    const ca = await createTestCa("Serial CA");
    const device = await createDevice({ cn: "serial-device" });
    const negative = await ca.issue(device.csr, { serialOctets: Uint8Array.from([0x80, 0x01]) });
    const positive = await ca.issue(device.csr, { serial: "008001" });
    expect(hex(negative.serialNumber)).toBe("8001");
    expect(hex(positive.serialNumber)).toBe("008001");
    expect([negative.serialNumberHex, positive.serialNumberHex]).toEqual(["-7fff", "8001"]);
    expect([normalizeSerialNumber(negative.serialNumber), normalizeSerialNumber(positive.serialNumber)]).toEqual(["-7fff", "008001"]);
    expect([normalizeSerialNumber(negative.serialNumberHex), normalizeSerialNumber(positive.serialNumberHex)]).toEqual(["-7fff", "008001"]);
    // @peculiar/x509 2.2's serialNumber text is "8001" for both: why the key is taken from the bytes.
    expect(new x509.X509Certificate(negative.der as Uint8Array<ArrayBuffer>).serialNumber).toBe("8001");
    expect(new x509.X509Certificate(positive.der as Uint8Array<ArrayBuffer>).serialNumber).toBe("8001");
    expect(new Certificate(negative.der).serialNumberHex).toBe("-7fff");
  });
});
