/**
 * Windows SIDs in certificate requests (issue 9; Microsoft KB5014754 strong
 * certificate mapping): a CSR carrying Intune's URI SAN tag
 * `tag:microsoft.com,2022-09-14:sid:<SID>`, a SAN otherName
 * 1.3.6.1.4.1.311.25.2.1, or the SID extension 1.3.6.1.4.1.311.25.2 is
 * refused by the CSR policy unless the profile sets `allowSid`, and
 * `endEntityExtensions` never copies a SID into a certificate unless
 * `allowSid` is passed (the issue hook gets it from the profile). The CSRs
 * are made by OpenSSL (`openssl req -addext`).
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  Certificate,
  CertificationRequest,
  buildCertificate,
  buildPkcsReq,
  checkCsrPolicy,
  createScepServer,
  endEntityExtensions,
  exportPrivateKeyPem,
  type CsrPolicy,
  type IssueContext,
  type ScepServer,
} from "../src/index.js";
import * as der from "../src/lib/der.js";
import { withScratch } from "./support/openssl.js";
import { NOW, createDevice, createTestCa, eventLog, hex, postPki, readReply, type Device, type TestCa } from "./support/server-pki.js";

const CHALLENGE = "sid-secret";
const SID = "S-1-5-21-1004336348-1177238915-682003330-512";
const SID_URI = `tag:microsoft.com,2022-09-14:sid:${SID}`;
const SID_EXT_OID = "1.3.6.1.4.1.311.25.2";

/** szOID_NTDS_CA_SECURITY_EXT value as AD CS writes it: SEQUENCE { [0] { OID 1.3.6.1.4.1.311.25.2.1, [0] { OCTET STRING "S-1-…" } } }. */
const SID_EXT_VALUE = der.encode(der.seq(der.tlv(0xa0, der.oid("1.3.6.1.4.1.311.25.2.1"), der.tlv(0xa0, der.octetString(new TextEncoder().encode(SID))))));

let ca: TestCa;
let base: Device;
/** OpenSSL-made CSRs (DER) for `base`'s key, each with the challenge. */
const csrs: Record<"uriSid" | "extSid" | "otherNameSid" | "badUriSid" | "plain", Uint8Array> = {} as never;

beforeAll(async () => {
  ca = await createTestCa("SID CA");
  base = await createDevice({ cn: "sid-device" });
  const keyPem = await exportPrivateKeyPem(base.keys.privateKey);
  await withScratch(async (s) => {
    s.write("key.pem", keyPem);
    /** `ext`: lines of the request's extension section; `alt`: lines of the [alt] SAN section (`subjectAltName = @alt`). */
    const make = async (name: keyof typeof csrs, ext: string[], alt: string[] = []) => {
      // A config file per CSR: a SAN value with a comma (the tag URI's) cannot go through -addext or a one-line SAN.
      s.write(`${name}.cnf`, `[req]\nprompt = no\ndistinguished_name = dn\nattributes = attrs\nreq_extensions = ext\n[dn]\nCN = sid-device\nO = scep-sdk server tests\n[attrs]\nchallengePassword = ${CHALLENGE}\n[ext]\n${ext.join("\n")}\n[alt]\n${alt.join("\n")}\n`);
      await s.run(["req", "-new", "-key", "key.pem", "-config", `${name}.cnf`, "-sha256", "-outform", "DER", "-out", `${name}.der`]);
      csrs[name] = s.read(`${name}.der`);
    };
    await make("uriSid", ["subjectAltName = @alt"], ["DNS.1 = laptop-42.corp.example", `URI.1 = ${SID_URI}`]);
    await make("extSid", ["subjectAltName = DNS:laptop-42.corp.example", `${SID_EXT_OID} = DER:${hex(SID_EXT_VALUE)}`]);
    await make("otherNameSid", ["subjectAltName = @alt"], ["DNS.1 = laptop-42.corp.example", `otherName.1 = 1.3.6.1.4.1.311.25.2.1;UTF8:${SID}`]);
    await make("badUriSid", ["subjectAltName = @alt"], ["URI.1 = tag:microsoft.com,2022-09-14:sid:Administrator"]);
    await make("plain", ["subjectAltName = DNS:laptop-42.corp.example"]);
  });
});

function setup(csrPolicy?: CsrPolicy): { server: ScepServer; calls: IssueContext[]; log: ReturnType<typeof eventLog> } {
  const calls: IssueContext[] = [];
  const log = eventLog();
  const server = createScepServer({
    profiles: [
      {
        path: "/scep",
        caCertificate: ca.cert,
        signer: ca.key,
        challenge: { type: "static", password: CHALLENGE },
        ...(csrPolicy ? { csrPolicy } : {}),
        // The issue hook every example uses: endEntityExtensions with the profile's allowSid.
        issue: async (ctx) => {
          calls.push(ctx);
          const certificate = await buildCertificate({
            issuer: ca.key,
            subject: ctx.csr.subjectDer,
            publicKey: ctx.csr.spki,
            serialNumber: Uint8Array.of(0x51, calls.length),
            now: NOW,
            notAfter: ctx.notAfterMax,
            extensions: endEntityExtensions({ csr: ctx.csr, issuer: ca.key, allowSid: ctx.allowSid }),
          });
          return { status: "SUCCESS", certificate };
        },
      },
    ],
    onEvent: log.onEvent,
    now: () => NOW,
  });
  return { server, calls, log };
}

async function enroll(server: ScepServer, csr: Uint8Array) {
  const built = await buildPkcsReq({ csr, signer: base.signer, recipient: ca.cert, now: NOW });
  return readReply(await postPki(server, "/scep", built.der), built, { decrypter: base.signer, caCertificates: [ca.cert] });
}

describe("the OpenSSL CSRs carry what they should", () => {
  it("URI SAN tag, SAN otherName and SID extension are where a DC looks for them", () => {
    expect(CertificationRequest.from(csrs.uriSid).subjectAltNames.uri).toEqual([SID_URI]);
    expect(CertificationRequest.from(csrs.otherNameSid).subjectAltNames.other).toHaveLength(1);
    expect(hex(CertificationRequest.from(csrs.extSid).extensions.find((e) => e.oid === SID_EXT_OID)?.value)).toBe(hex(SID_EXT_VALUE));
    expect(CertificationRequest.from(csrs.uriSid).challengePassword).toBe(CHALLENGE);
  });
});

describe("CSR policy: a requested SID is refused unless the profile sets allowSid", () => {
  it.each([
    ["uriSid", `SAN uri:${SID_URI} carries a Windows SID; this profile does not allow SIDs (csrPolicy.allowSid)`],
    ["extSid", "the request asks for a Windows SID extension (1.3.6.1.4.1.311.25.2); this profile does not allow SIDs (csrPolicy.allowSid)"],
    ["otherNameSid", "a SAN otherName (1.3.6.1.4.1.311.25.2.1) carries a Windows SID; this profile does not allow SIDs (csrPolicy.allowSid)"],
  ] as const)("%s → FAILURE badRequest csr_policy, the issue hook not called", async (name, text) => {
    const s = setup();
    const rep = await enroll(s.server, csrs[name]);
    expect([rep.status, rep.failInfo, rep.failInfoText]).toEqual(["FAILURE", "badRequest", text]);
    expect(s.calls).toEqual([]);
    expect(s.log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "csr_policy", failInfo: "badRequest" });
  });

  it("a CSR without a SID is unaffected; the hook gets allowSid: false", async () => {
    const s = setup();
    expect((await enroll(s.server, csrs.plain)).status).toBe("SUCCESS");
    expect(s.calls.map((c) => c.allowSid)).toEqual([false]);
  });

  it("allowSid: Intune's URI SAN tag is issued as requested (byte for byte), the hook gets allowSid: true", async () => {
    const s = setup({ allowSid: true });
    const rep = await enroll(s.server, csrs.uriSid);
    expect(rep.status).toBe("SUCCESS");
    expect(s.calls.map((c) => c.allowSid)).toEqual([true]);
    expect(rep.certificate!.subjectAltNames.uri).toEqual([SID_URI]);
    expect(rep.certificate!.subjectAltNames.dns).toEqual(["laptop-42.corp.example"]);
  });

  it("allowSid: the requested SID extension is copied into the certificate unchanged", async () => {
    const rep = await enroll(setup({ allowSid: true }).server, csrs.extSid);
    expect(rep.status).toBe("SUCCESS");
    const ext = rep.certificate!.extensions.find((e) => e.oid === SID_EXT_OID);
    expect([hex(ext?.value), ext?.critical]).toEqual([hex(SID_EXT_VALUE), false]);
  });

  it("allowSid with sanTypes [dns]: the SID tag is judged by allowSid alone (not a URL), still well-formedness-checked", async () => {
    const s = setup({ allowSid: true, sanTypes: ["dns"] });
    expect((await enroll(s.server, csrs.uriSid)).status).toBe("SUCCESS");
    expect((await enroll(s.server, csrs.otherNameSid)).status).toBe("SUCCESS");
    const bad = await enroll(s.server, csrs.badUriSid);
    expect([bad.status, bad.failInfoText]).toEqual(["FAILURE", "SAN uri:tag:microsoft.com,2022-09-14:sid:Administrator is not a well-formed SID tag (tag:microsoft.com,2022-09-14:sid:S-1-…)"]);
  });

  it("checkCsrPolicy on its own says the same", () => {
    expect(checkCsrPolicy(CertificationRequest.from(csrs.uriSid))).toBe(`SAN uri:${SID_URI} carries a Windows SID; this profile does not allow SIDs (csrPolicy.allowSid)`);
    expect(checkCsrPolicy(CertificationRequest.from(csrs.uriSid), { allowSid: true })).toBeUndefined();
  });
});

describe("endEntityExtensions never copies a requested SID unless allowSid", () => {
  it("a SID in the subjectAltName (URI tag or otherName) → ERR_INVALID_ARGUMENT naming it", () => {
    expect(() => endEntityExtensions({ csr: CertificationRequest.from(csrs.uriSid), issuer: ca.key })).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: `the request's subjectAltName carries a Windows SID (${SID_URI}); pass allowSid: true only where the SID was verified` }),
    );
    expect(() => endEntityExtensions({ csr: CertificationRequest.from(csrs.otherNameSid), issuer: ca.key })).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: "the request's subjectAltName carries a Windows SID (otherName 1.3.6.1.4.1.311.25.2.1); pass allowSid: true only where the SID was verified" }),
    );
  });

  it("the SID extension is left out by default (the rest as always) and copied with allowSid", async () => {
    const csr = CertificationRequest.from(csrs.extSid);
    expect(endEntityExtensions({ csr, issuer: ca.key }).map((e) => e.oid)).toEqual(["2.5.29.19", "2.5.29.15", "2.5.29.37", "2.5.29.14", "2.5.29.35", "2.5.29.17"]);
    expect(endEntityExtensions({ csr, issuer: ca.key, allowSid: true }).map((e) => e.oid)).toEqual(["2.5.29.19", "2.5.29.15", "2.5.29.37", "2.5.29.14", "2.5.29.35", "2.5.29.17", SID_EXT_OID]);
    const issued = await buildCertificate({ issuer: ca.key, subject: csr.subjectDer, publicKey: csr.spki, serialNumber: Uint8Array.of(7), now: NOW, notAfter: new Date(NOW.getTime() + 86_400_000), extensions: endEntityExtensions({ csr, issuer: ca.key }) });
    expect(new Certificate(issued.der).extensions.some((e) => e.oid === SID_EXT_OID)).toBe(false);
  });
});
