/**
 * GetCert and GetCRL (RFC 8894 §3.3.4) through the profile's hooks, and
 * GetNextCACert (§4.7) for a CA rollover: unsupported without hooks
 * (FAILURE badRequest / HTTP 404), SUCCESS with the certificate or CRL when
 * the hooks know it, badCertId when they do not.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { x509 } from "../src/lib/x509.js";
import {
  CertRepError,
  MAX_CRL_NUMBER,
  MemoryRevocationStore,
  buildGetCert,
  buildGetCrl,
  createScepServer,
  parseCaCaps,
  parseGetNextCaCertResponse,
  type Certificate,
  type ScepProfile,
  type ScepServer,
} from "../src/index.js";
import { NOW, createDevice, createTestCa, eventLog, getOp, hex, issuingHook, postPki, readReply, type Device, type TestCa } from "./support/server-pki.js";

let ca: TestCa;
let next: TestCa;
let device: Device;
let issued: Certificate;
let crl: Uint8Array;
const lookups: { kind: string; issuer: string | undefined; serial: string | undefined }[] = [];

beforeAll(async () => {
  [ca, next] = await Promise.all([createTestCa("GetCert CA"), createTestCa("GetCert CA G2")]);
  device = await createDevice({ cn: "getcert-device" });
  issued = await ca.issue(device.csr, { serial: "0badc0de" });
  crl = await ca.crl(["0badc0de", "1234"]);
});

function setup(extra: Partial<ScepProfile>): { server: ScepServer; log: ReturnType<typeof eventLog> } {
  const log = eventLog();
  const server = createScepServer({
    profiles: [{ name: "p", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: "unused" }, issue: issuingHook(ca), ...extra }],
    onEvent: log.onEvent,
    now: () => NOW,
  });
  return { server, log };
}

const withHooks: Partial<ScepProfile> = {
  getCert: async ({ issuer, serialNumber }) => {
    lookups.push({ kind: "cert", issuer: hex(issuer), serial: hex(serialNumber) });
    return hex(issuer) === hex(ca.cert.subjectDer) && hex(serialNumber) === hex(issued.serialNumber) ? issued : undefined;
  },
  getCrl: async ({ issuer, serialNumber }) => {
    lookups.push({ kind: "crl", issuer: hex(issuer), serial: hex(serialNumber) });
    return hex(issuer) === hex(ca.cert.subjectDer) ? crl : undefined;
  },
};

async function getCert(server: ScepServer, issuer: Uint8Array, serialNumber: Uint8Array) {
  const built = await buildGetCert({ signer: device.signer, recipient: ca.cert, issuer, serialNumber, now: NOW });
  return { built, rep: await readReply(await postPki(server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.cert] }) };
}

async function getCrl(server: ScepServer, issuer: Uint8Array, serialNumber: Uint8Array) {
  const built = await buildGetCrl({ signer: device.signer, recipient: ca.cert, issuer, serialNumber, now: NOW });
  return { built, rep: await readReply(await postPki(server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.cert] }) };
}

describe("without hooks", () => {
  it("GetCert → FAILURE badRequest", async () => {
    const s = setup({});
    const { rep, built } = await getCert(s.server, ca.cert.subjectDer, issued.serialNumber);
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "GetCert is not supported", transactionId: built.transactionId });
    expect(s.log.events.at(-1)).toMatchObject({ operation: "GetCert", outcome: "failure", reason: "getcert_unsupported", failInfo: "badRequest", status: 200 });
  });

  it("GetCRL → FAILURE badRequest", async () => {
    const s = setup({});
    const { rep } = await getCrl(s.server, ca.cert.subjectDer, issued.serialNumber);
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "GetCRL is not supported" });
    expect(s.log.events.at(-1)).toMatchObject({ operation: "GetCRL", outcome: "failure", reason: "getcrl_unsupported", failInfo: "badRequest" });
  });
});

describe("with hooks", () => {
  it("GetCert returns the certificate, and the hook is asked by issuer and serial", async () => {
    const s = setup(withHooks);
    lookups.length = 0;
    const { rep } = await getCert(s.server, ca.cert.subjectDer, issued.serialNumber);
    expect(rep.status).toBe("SUCCESS");
    expect(rep.certificates.map((c) => hex(c.der))).toEqual([hex(issued.der)]);
    expect(rep.certificates[0]!.serialNumberHex).toBe("0badc0de");
    expect(lookups).toEqual([{ kind: "cert", issuer: hex(ca.cert.subjectDer), serial: "0badc0de" }]);
    expect(s.log.events.at(-1)).toMatchObject({ operation: "GetCert", outcome: "success", reason: "certificate_returned", status: 200 });
  });

  it("GetCert of an unknown serial → FAILURE badCertId", async () => {
    const s = setup(withHooks);
    const { rep } = await getCert(s.server, ca.cert.subjectDer, Uint8Array.from([0x7f, 0xff]));
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badCertId", failInfoText: "no such certificate" });
    expect(s.log.events.at(-1)).toMatchObject({ operation: "GetCert", outcome: "failure", reason: "unknown_certificate", failInfo: "badCertId" });
  });

  it("GetCRL returns the CRL (made with @peculiar/x509) that revokes the serials", async () => {
    const s = setup(withHooks);
    const { rep } = await getCrl(s.server, ca.cert.subjectDer, issued.serialNumber);
    expect(rep.status).toBe("SUCCESS");
    expect(rep.certificates).toEqual([]);
    expect(rep.crls.map(hex)).toEqual([hex(crl)]);
    const parsed = new x509.X509Crl(rep.crls[0]! as Uint8Array<ArrayBuffer>);
    expect(parsed.issuer).toBe(ca.cert.subject);
    expect(parsed.entries.map((e) => e.serialNumber)).toEqual(["0badc0de", "1234"]);
    expect(await parsed.verify({ publicKey: await new x509.X509Certificate(ca.cert.der as Uint8Array<ArrayBuffer>).publicKey.export() })).toBe(true);
    expect(s.log.events.at(-1)).toMatchObject({ operation: "GetCRL", outcome: "success", reason: "crl_returned" });
  });

  it("GetCRL for an unknown issuer → FAILURE badCertId", async () => {
    const s = setup(withHooks);
    const { rep } = await getCrl(s.server, next.cert.subjectDer, issued.serialNumber);
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badCertId", failInfoText: "no CRL for this certificate" });
    expect(s.log.events.at(-1)).toMatchObject({ operation: "GetCRL", outcome: "failure", reason: "unknown_crl", failInfo: "badCertId" });
  });
});

describe("the serial of IssuerAndSerialNumber reaches the hooks as the INTEGER's DER content octets, sign kept (RFC 5280 §4.1.2.2, RFC 8894 §3.3.3)", () => {
  // 0x80c0ffee is DER 00 80 c0 ff ee; the content 80 c0 ff ee is the NEGATIVE INTEGER −0x7f3f0012, which old CAs
  // issued as a serial. The two must never share a spelling: a GetCert for one must not answer the other.
  let high: Certificate;
  let negative: Certificate;
  const seen: string[] = [];
  const byBytes: Partial<ScepProfile> = {
    getCert: async ({ serialNumber }) => {
      seen.push(hex(serialNumber)!);
      return [high, negative].find((c) => hex(c.serialNumber) === hex(serialNumber));
    },
    getCrl: async ({ serialNumber }) => ([high, negative].some((c) => hex(c.serialNumber) === hex(serialNumber)) ? crl : undefined),
  };
  beforeAll(async () => {
    high = await ca.issue(device.csr, { serial: "0080c0ffee" });
    negative = await ca.issue(device.csr, { serialOctets: Buffer.from("80c0ffee", "hex") });
  });

  it("the two certificates hold different INTEGERs: 00 80 c0 ff ee (0x80c0ffee) and 80 c0 ff ee (−0x7f3f0012)", () => {
    expect([hex(high.serialNumber), high.serialNumberHex]).toEqual(["0080c0ffee", "80c0ffee"]);
    expect([hex(negative.serialNumber), negative.serialNumberHex]).toEqual(["80c0ffee", "-7f3f0012"]);
  });

  it.each([
    ["0080c0ffee (DER of 0x80c0ffee)", "0080c0ffee", "0080c0ffee"],
    ["000080c0ffee (BER's redundant zero)", "000080c0ffee", "0080c0ffee"],
    ["80c0ffee (DER of the negative serial)", "80c0ffee", "80c0ffee"],
    ["ff80c0ffee (BER's redundant ff)", "ff80c0ffee", "80c0ffee"],
  ])("GetCert %s → SUCCESS with the certificate whose serial is that INTEGER", async (_label, asked, expected) => {
    const s = setup(byBytes);
    seen.length = 0;
    const { rep } = await getCert(s.server, ca.cert.subjectDer, Buffer.from(asked, "hex"));
    expect(seen).toEqual([expected]);
    expect(rep.status).toBe("SUCCESS");
    expect(rep.certificates.map((c) => hex(c.serialNumber))).toEqual([expected]);
  });

  it("GetCert 00000badc0de (redundant zeros before a first octet under 0x80) → the certificate of 0badc0de", async () => {
    const s = setup(withHooks);
    const { rep } = await getCert(s.server, ca.cert.subjectDer, Buffer.from("00000badc0de", "hex"));
    expect(rep.status).toBe("SUCCESS");
    expect(rep.certificates.map((c) => hex(c.der))).toEqual([hex(issued.der)]);
  });

  it("GetCert 80 c0 ff ef (a negative serial nobody holds) → FAILURE badCertId, not 0x80c0ffef's or anyone's certificate", async () => {
    const s = setup(byBytes);
    seen.length = 0;
    const { rep } = await getCert(s.server, ca.cert.subjectDer, Buffer.from("80c0ffef", "hex"));
    expect(seen).toEqual(["80c0ffef"]);
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badCertId" });
  });

  it("GetCRL 80c0ffee → SUCCESS with the CRL", async () => {
    const s = setup(byBytes);
    const { rep } = await getCrl(s.server, ca.cert.subjectDer, Buffer.from("80c0ffee", "hex"));
    expect(rep.status).toBe("SUCCESS");
    expect(rep.crls.map(hex)).toEqual([hex(crl)]);
  });
});

describe("GetNextCACert", () => {
  it("is 404 when no next CA is configured, and not advertised", async () => {
    const s = setup({});
    const res = await getOp(s.server, "/scep", "GetNextCACert");
    expect(res.status).toBe(404);
    expect(await res.text()).toBe("no next CA certificate is configured\n");
    expect(s.log.events.at(-1)).toMatchObject({ operation: "GetNextCACert", outcome: "rejected", reason: "no_next_ca", status: 404 });
    expect(parseCaCaps(await (await getOp(s.server, "/scep", "GetCACaps")).text()).has("GetNextCACert")).toBe(false);
  });

  it("answers the next CA signed by the current one, as application/x-x509-next-ca-cert", async () => {
    const s = setup({ nextCaCertificates: [next.cert] });
    const res = await getOp(s.server, "/scep", "GetNextCACert", "CAIdentifier");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-x509-next-ca-cert");
    const body = new Uint8Array(await res.arrayBuffer());
    expect(parseGetNextCaCertResponse(body, [ca.cert]).map((c) => hex(c.der))).toEqual([hex(next.cert.der)]);
    expect(() => parseGetNextCaCertResponse(body, [next.cert])).toThrow(CertRepError);
    expect(s.log.events.at(-1)).toMatchObject({ operation: "GetNextCACert", outcome: "success", reason: "next_ca_cert", status: 200 });
  });

  it("GetCACaps then advertises GetNextCACert", async () => {
    const s = setup({ nextCaCertificates: [next.cert] });
    const text = await (await getOp(s.server, "/scep", "GetCACaps")).text();
    expect(text).toBe("AES\nDES3\nPOSTPKIOperation\nRenewal\nSHA-1\nSHA-256\nSHA-384\nSHA-512\nSCEPStandard\nGetNextCACert");
  });

  it("a next CA that is already the CA in service (a rollover done, its next file left in place) announces nothing: no GetNextCACert in GetCACaps, 404 no_next_ca", async () => {
    // After the switch the operator's configuration still names the new CA as "next": a client told that the CA it
    // already uses is the next one learns nothing true (RFC 8894 §4.7: the certificate to use once the current one
    // expires).
    for (const nextCaCertificates of [[ca.cert], [ca.cert, ca.cert], []]) {
      const s = setup({ nextCaCertificates });
      const caps = await (await getOp(s.server, "/scep", "GetCACaps")).text();
      expect(caps.split("\n")).not.toContain("GetNextCACert");
      const res = await getOp(s.server, "/scep", "GetNextCACert");
      expect(res.status).toBe(404);
      expect(s.log.events.at(-1)).toMatchObject({ operation: "GetNextCACert", outcome: "rejected", reason: "no_next_ca", status: 404 });
    }
    // A next set with anything GetCACert does not serve yet is a rollover, and is announced.
    const s = setup({ nextCaCertificates: [next.cert, ca.cert] });
    expect((await (await getOp(s.server, "/scep", "GetCACaps")).text()).split("\n")).toContain("GetNextCACert");
    expect((await getOp(s.server, "/scep", "GetNextCACert")).status).toBe(200);
  });
});

describe("GetCRL when the CA's CRL numbers are used up (RFC 5280 §5.2.3)", () => {
  it("a getCrl hook whose store is past 2^159 - 1 (ERR_CRL_NUMBER_EXHAUSTED): HTTP 500 internal error, event reason crl_number_exhausted, onError told; no FAILURE CertRep, no crash", async () => {
    const revocations = new MemoryRevocationStore();
    await revocations.nextCrlNumber({ atLeast: MAX_CRL_NUMBER });
    const errors: unknown[] = [];
    const log = eventLog();
    const server = createScepServer({
      profiles: [{ name: "p", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: "unused" }, issue: issuingHook(ca), getCrl: async () => (await revocations.nextCrlNumber(), crl) }],
      onEvent: log.onEvent,
      onError: (e) => void errors.push(e),
      now: () => NOW,
    });
    const built = await buildGetCrl({ signer: device.signer, recipient: ca.cert, issuer: ca.cert.subjectDer, serialNumber: issued.serialNumber, now: NOW });
    const res = await postPki(server, "/scep", built.der);
    expect([res.status, await res.text()]).toEqual([500, "internal error\n"]);
    expect(log.events.at(-1)).toMatchObject({ operation: "GetCRL", outcome: "error", reason: "crl_number_exhausted", status: 500 });
    expect(errors).toEqual([expect.objectContaining({ name: "CrlNumberExhaustedError", code: "ERR_CRL_NUMBER_EXHAUSTED" })]);
  });
});
