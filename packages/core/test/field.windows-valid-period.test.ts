/**
 * The validity a Windows or Intune device asks for in its CSR (MS-WCCE §2.2.2.7.10 enrollment name-value pairs).
 *
 * Windows' ClientCertificateInstall CSP has `SCEP/{UniqueID}/Install/ValidPeriod` (Days, Months, Years) and
 * `ValidPeriodUnits`; the device only sends them in its request and the server decides
 * (https://learn.microsoft.com/windows/client-management/mdm/clientcertificateinstall-csp). They ride in the PKCS#10
 * attribute szOID_ENROLLMENT_NAME_VALUE_PAIR 1.3.6.1.4.1.311.13.2.1 as `ValidityPeriod` (unit) and
 * `ValidityPeriodUnits` (count), BMPStrings, and Intune's Android clients swap the two values
 * (microsoft/Intune-Resource-Access#162, https://github.com/microsoft/Intune-Resource-Access/issues/162; MS-WCCE
 * https://learn.microsoft.com/openspecs/windows_protocols/ms-wcce/92f07a54-2889-45e3-afd0-94b60daa80ec). Before,
 * `CertificationRequest` dropped the attribute: an issue hook had to walk the DER itself to honour an Intune profile's
 * "Certificate validity period". The CSR here is shaped as Windows' certenroll writes one: its OS version, client
 * information and key provider attributes, keyUsage, EKU and a UPN SAN requested, an RSA-4096 key.
 */
import { describe, expect, it } from "vitest";
import { x509 } from "../src/lib/x509.js";
import * as der from "../src/lib/der.js";
import { addValidity, buildPkcsReq, createSelfSignedSigner, generateRsaKeyPair, type IssueContext } from "../src/index.js";
import { DAY, NOW, createTestCa, postPki, readReply } from "./support/server-pki.js";
import { createScepServer } from "../src/index.js";

const CHALLENGE = "Windows-Valid-Period";
const bmp = (s: string): der.DerElement => der.tlv(0x1e, new Uint8Array([...s].flatMap((c) => [c.charCodeAt(0) >> 8, c.charCodeAt(0) & 0xff])));
const utf8 = (s: string): der.DerElement => der.tlv(0x0c, new TextEncoder().encode(s));
const value = (t: der.Der): ArrayBuffer => (der.encode(t) as Uint8Array<ArrayBuffer>).slice().buffer;
const pairs = (...p: [string, string][]): der.DerElement => der.seq(...p.map(([n, v]) => der.seq(bmp(n), bmp(v))));

/** A certenroll-shaped CSR; `nameValuePairs`: the 1.3.6.1.4.1.311.13.2.1 attribute's value, if any. */
async function windowsCsr(keys: CryptoKeyPair, nameValuePairs?: der.DerElement): Promise<Uint8Array> {
  const attributes = [
    new x509.Attribute("1.3.6.1.4.1.311.13.2.3", [value(der.tlv(0x16, new TextEncoder().encode("10.0.26100.2")))]), // szOID_OS_VERSION
    new x509.Attribute("1.3.6.1.4.1.311.21.20", [value(der.seq(der.tlv(der.Tag.INTEGER, new Uint8Array([5])), utf8("WIN-DEVICE"), utf8("CONTOSO\\dev"), utf8("dmcertinst.exe")))]), // szOID_REQUEST_CLIENT_INFO
    new x509.Attribute("1.3.6.1.4.1.311.13.2.2", [value(der.seq(der.tlv(der.Tag.INTEGER, new Uint8Array([1])), bmp("Microsoft Platform Crypto Provider"), der.tlv(der.Tag.BIT_STRING, new Uint8Array([0]))))]), // szOID_ENROLLMENT_CSP_PROVIDER
    ...(nameValuePairs ? [new x509.Attribute("1.3.6.1.4.1.311.13.2.1", [value(nameValuePairs)])] : []),
    new x509.Attribute("1.2.840.113549.1.9.7", [value(der.tlv(0x13, new TextEncoder().encode(CHALLENGE)))]), // PrintableString, as Windows
  ];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: "CN=win-device",
    keys,
    signingAlgorithm: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension(["1.3.6.1.5.5.7.3.2"]),
      new x509.SubjectAlternativeNameExtension([{ type: "upn", value: "dev@contoso.example" }]),
    ],
    attributes,
  });
  return new Uint8Array(csr.rawData);
}

const keys = await generateRsaKeyPair(4096);
const signer = await createSelfSignedSigner({ keys, subject: "CN=win-device", now: NOW });
const ca = await createTestCa("Windows Valid Period CA");
const calls: IssueContext[] = [];
// The hook the CHANGELOG describes: the requested validity, never past notAfterMax.
const server = createScepServer({
  profiles: [
    {
      path: "/scep",
      caCertificate: ca.cert,
      signer: ca.key,
      challenge: { type: "static", password: CHALLENGE },
      issue: async (ctx) => {
        calls.push(ctx);
        const asked = ctx.csr.requestedValidity;
        const notAfter = asked ? new Date(Math.min(addValidity(NOW, asked).getTime(), ctx.notAfterMax.getTime())) : ctx.notAfterMax;
        return { status: "SUCCESS", certificate: await ca.issue(ctx.csr.der, { notAfter }) };
      },
    },
  ],
  now: () => NOW,
});

let sent = 0;
async function enroll(csr: Uint8Array): Promise<{ status: string; notAfter: Date | undefined; ctx: IssueContext }> {
  // A transactionID of its own each: the same key and subject asking again under the key's transactionID is a re-send
  // of the issued request (RFC 8894 §3.3.3), answered with the certificate already issued.
  const built = await buildPkcsReq({ csr, signer, recipient: ca.cert, now: NOW, transactionId: `valid-period-${++sent}` });
  const rep = await readReply(await postPki(server, "/scep", built.der), built, { decrypter: signer, caCertificates: [ca.cert] });
  return { status: rep.status, notAfter: rep.certificate?.notAfter, ctx: calls.at(-1)! };
}

describe("field.windows-valid-period: Windows' ValidPeriod / ValidPeriodUnits in the CSR (ClientCertificateInstall CSP, MS-WCCE §2.2.2.7.10, Intune-Resource-Access#162)", () => {
  it("Windows: ValidityPeriod Days, ValidityPeriodUnits 30 → the hook reads 30 days and the certificate ends 30 days on; the other Microsoft attributes change nothing", async () => {
    const r = await enroll(await windowsCsr(keys, pairs(["ValidityPeriod", "Days"], ["ValidityPeriodUnits", "30"])));
    expect(r.status).toBe("SUCCESS");
    expect(r.ctx.csr.enrollmentNameValuePairs).toEqual([
      { name: "ValidityPeriod", value: "Days" },
      { name: "ValidityPeriodUnits", value: "30" },
    ]);
    expect(r.ctx.csr.requestedValidity).toEqual({ count: 30, unit: "days" });
    expect(r.notAfter?.toISOString()).toBe(new Date(NOW.getTime() + 30 * DAY).toISOString());
  });

  it("Intune's Android order (ValidityPeriod 2, ValidityPeriodUnits Years) reads as 2 years; the hook clamps it to notAfterMax (365 days)", async () => {
    const r = await enroll(await windowsCsr(keys, pairs(["ValidityPeriod", "2"], ["ValidityPeriodUnits", "Years"])));
    expect(r.ctx.csr.requestedValidity).toEqual({ count: 2, unit: "years" });
    expect(r.notAfter?.toISOString()).toBe(r.ctx.notAfterMax.toISOString());
    expect(r.notAfter?.toISOString()).toBe(new Date(NOW.getTime() + 365 * DAY).toISOString());
  });

  it("no pairs, a unit MS-WCCE does not name, a count of 0, or an attribute value that is no SEQUENCE OF pairs: nothing requested, and still SUCCESS", async () => {
    for (const attribute of [undefined, pairs(["ValidityPeriod", "Fortnights"], ["ValidityPeriodUnits", "2"]), pairs(["ValidityPeriod", "Days"], ["ValidityPeriodUnits", "0"]), der.tlv(der.Tag.INTEGER, new Uint8Array([30]))]) {
      const r = await enroll(await windowsCsr(keys, attribute));
      expect([r.status, r.ctx.csr.requestedValidity]).toEqual(["SUCCESS", undefined]);
      expect(r.notAfter?.toISOString()).toBe(r.ctx.notAfterMax.toISOString());
    }
  });

  it("addValidity: calendar months in UTC (31 January + 1 month = 28 February), weeks and hours by length", () => {
    const jan31 = new Date("2026-01-31T10:00:00Z");
    expect(addValidity(jan31, { count: 1, unit: "months" }).toISOString()).toBe("2026-02-28T10:00:00.000Z");
    expect(addValidity(jan31, { count: 1, unit: "years" }).toISOString()).toBe("2027-01-31T10:00:00.000Z");
    expect(addValidity(jan31, { count: 2, unit: "weeks" }).toISOString()).toBe("2026-02-14T10:00:00.000Z");
    expect(addValidity(jan31, { count: 5, unit: "hours" }).toISOString()).toBe("2026-01-31T15:00:00.000Z");
  });
});

describe("addValidity: a count past what a Date holds", () => {
  it.each(["years", "months", "weeks", "seconds"] as const)("4294967295 %s ends at the last time a Date holds, never an Invalid Date", (unit) => {
    const end = addValidity(new Date("2026-12-04T00:00:00Z"), { count: 4294967295, unit });
    expect(Number.isNaN(end.getTime())).toBe(false);
    expect(end.getTime()).toBeLessThanOrEqual(8.64e15);
    expect(end.getTime()).toBeGreaterThan(Date.parse("2026-12-04T00:00:00Z"));
  });
});
