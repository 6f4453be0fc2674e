/**
 * A subject that holds two commonNames (RFC 5280 §4.1.2.4 allows it) is read two ways: OpenSSL
 * (`X509_NAME_get_index_by_NID` from the start) and this SDK's `CertificationRequest.commonName` take the first, Go's
 * crypto/x509 (`pkix.Name.FillFromRDNSequence` overwrites `CommonName`) the last. `@scep/intune`'s signed-token
 * validator binds the token's device_name to the CN it reads, and a webhook gets `commonName`; a certificate issued
 * for `CN=<checked>, CN=<other>` would then name, to a Go relying party, a device nothing checked. The server's CSR
 * policy now refuses such a subject (FAILURE badRequest, event reason `csr_policy`) before any challenge validator or
 * issue hook runs; the same attribute repeated otherwise (two OUs) is still issued.
 */
import { describe, expect, it } from "vitest";
import * as der from "../src/lib/der.js";
import { CertificationRequest, buildPkcsReq, createScepServer, generateCsr, type ChallengeContext, type IssueContext } from "../src/index.js";
import { NOW, baseProfile, createDevice, createTestCa, issuingHook, postPki, readReply } from "./support/server-pki.js";

const CHALLENGE = "cn-once";
const ca = await createTestCa("CN Once CA");
const calls: IssueContext[] = [];
const validated: ChallengeContext[] = [];
const server = createScepServer({
  profiles: [
    {
      ...baseProfile(ca, {
        type: "custom",
        validate: (ctx) => {
          validated.push(ctx);
          return ctx.challenge === CHALLENGE ? { ok: true } : { ok: false, reason: "wrong" };
        },
      }),
      issue: issuingHook(ca, calls),
    },
  ],
  now: () => NOW,
});
const device = await createDevice({ cn: "cn-once-device" });

/** Enrolls a CSR for `subject` (text, or a DER Name copied byte for byte) with the right challenge. */
async function enroll(subject: string | Uint8Array) {
  const before = { calls: calls.length, validated: validated.length };
  const csr = await generateCsr({ keys: device.keys, subject, challengePassword: CHALLENGE });
  const built = await buildPkcsReq({ csr, signer: device.signer, recipient: ca.cert, now: NOW });
  const rep = await readReply(await postPki(server, "/scep", built.der), built, { decrypter: device.signer });
  return { csr: CertificationRequest.from(csr), rep, issued: calls.length - before.calls, validated: validated.length - before.validated };
}

describe("RFC 5280 §4.1.2.4: a CSR subject with two commonNames is refused before anything reads one of them", () => {
  it("CN=checked, CN=other (two RDNs) → FAILURE badRequest from the CSR policy; no validator, no issue hook", async () => {
    const { csr, rep, issued, validated: v } = await enroll("CN=checked-device, CN=other-device, O=scep-sdk");
    expect(csr.commonName).toBe("checked-device"); // the first, as OpenSSL reads it
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "the subject holds 2 commonNames (CN): readers differ on which one names the device" });
    expect([issued, v]).toEqual([0, 0]);
  });

  it("two CNs in one multi-valued RDN → the same", async () => {
    const cn = (s: string): der.Der => der.seq(der.oid("2.5.4.3"), der.utf8(s));
    const subject = der.encode(der.seq(der.setOf([cn("checked-device"), cn("other-device")])));
    const { csr, rep, issued, validated: v } = await enroll(subject);
    expect(der.children(der.children(der.parse(csr.subjectDer))[0])).toHaveLength(2);
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "the subject holds 2 commonNames (CN): readers differ on which one names the device" });
    expect([issued, v]).toEqual([0, 0]);
  });

  it("one CN with another attribute repeated (two OUs) is issued, and so is a subject without a CN", async () => {
    const twoOus = await enroll("CN=one-device, OU=a, OU=b, O=scep-sdk");
    expect(twoOus.rep.status).toBe("SUCCESS");
    expect(twoOus.issued).toBe(1);
    const noCn = await enroll("O=scep-sdk, OU=no-cn");
    expect(noCn.rep.status).toBe("SUCCESS");
  });
});
