/**
 * smallstep/certificates#381 (https://github.com/smallstep/certificates/issues/381): step-ca signed certificates whose
 * notAfter lay past its intermediate's, also through its SCEP provisioner; AD CS truncates the validity to
 * min(requested, issuing CA's notAfter). RFC 5280 §6.1.3 (a)(2) checks every certificate of the path at the same
 * time, so a leaf is useless past its CA's notAfter, and a device (iOS schedules renewal from notAfter) waits for a
 * date the certificate never reaches.
 *
 * Our issue hook is told `notAfterMax`, and the documented hook (quick-start, README) issues with exactly that: it was
 * now + maxValidityDays whatever the CA's own notAfter. It is now never past the issuing CA certificate's notAfter,
 * at first issuance and when an operator approves a PENDING request (RFC 8894 §3.3.3).
 */
import { describe, expect, it } from "vitest";
import { buildPkcsReq, createScepServer, MemoryTransactionStore, type IssueContext, type ScepProfile } from "../src/index.js";
import { x509 } from "../src/lib/x509.js";
import { Certificate, LocalKey, generateRsaKeyPair } from "../src/index.js";
import { DAY, NOW, createDevice, nextSerial, postPki, readReply, readmeIssueHook } from "./support/server-pki.js";

const CHALLENGE = "validity-within-ca";

/** A CA that expires `days` after NOW. */
async function caExpiringIn(days: number): Promise<LocalKey> {
  const keys = await generateRsaKeyPair(2048);
  const made = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(),
    name: `CN=Expiring In ${days} Days CA, O=scep-sdk field tests`,
    notBefore: new Date(NOW.getTime() - 700 * DAY),
    notAfter: new Date(NOW.getTime() + days * DAY),
    keys,
    signingAlgorithm: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true)],
  });
  return LocalKey.from(new Certificate(new Uint8Array(made.rawData)), keys.privateKey);
}

/** A profile whose hook issues as the README's does: `notAfter: notAfterMax`. */
function documentedProfile(ca: LocalKey, calls: IssueContext[], extra: Partial<ScepProfile> = {}): ScepProfile {
  return {
    path: "/scep",
    caCertificate: ca.certificate,
    signer: ca,
    challenge: { type: "static", password: CHALLENGE },
    issue: readmeIssueHook(ca, calls, { pendingFirst: extra.transactions !== undefined }),
    ...extra,
  };
}

describe("smallstep/certificates#381: notAfterMax never passes the issuing CA's notAfter (RFC 5280 §6.1.3, RFC 8894 §3.3.1)", () => {
  it("a CA expiring in 30 days, maxValidityDays 365 (the default): the hook is told the CA's notAfter, and the leaf ends with its CA", async () => {
    const ca = await caExpiringIn(30);
    const calls: IssueContext[] = [];
    const server = createScepServer({ profiles: [documentedProfile(ca, calls)], now: () => NOW });
    const device = await createDevice({ cn: "validity-within-ca", challengePassword: CHALLENGE });
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.certificate, now: NOW });
    const rep = await readReply(await postPki(server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.certificate] });
    expect(rep.status).toBe("SUCCESS");
    expect(calls[0]!.maxValidityDays).toBe(365);
    expect(calls[0]!.notAfterMax.getTime()).toBe(ca.certificate.notAfter.getTime());
    expect(rep.certificates[0]!.notAfter.getTime()).toBeLessThanOrEqual(ca.certificate.notAfter.getTime());
  });

  it("a CA with years left: notAfterMax is still now + maxValidityDays", async () => {
    const ca = await caExpiringIn(3000);
    const calls: IssueContext[] = [];
    const server = createScepServer({ profiles: [documentedProfile(ca, calls, { csrPolicy: { maxValidityDays: 90 } })], now: () => NOW });
    const device = await createDevice({ cn: "validity-within-ca-long", challengePassword: CHALLENGE });
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.certificate, now: NOW });
    expect((await readReply(await postPki(server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.certificate] })).status).toBe("SUCCESS");
    expect(calls[0]!.notAfterMax.getTime()).toBe(NOW.getTime() + 90 * DAY);
  });

  it("approved later (PENDING, then ScepServer.approve): the approval's notAfterMax is clamped too", async () => {
    const ca = await caExpiringIn(20);
    const calls: IssueContext[] = [];
    const server = createScepServer({ profiles: [documentedProfile(ca, calls, { name: "manual", transactions: new MemoryTransactionStore({ now: () => NOW }) })], now: () => NOW });
    const device = await createDevice({ cn: "validity-within-ca-approved", challengePassword: CHALLENGE });
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.certificate, now: NOW });
    expect((await readReply(await postPki(server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [ca.certificate] })).status).toBe("PENDING");
    await server.approve("manual", built.transactionId);
    const approval = calls.find((c) => c.approved)!;
    expect(approval.notAfterMax.getTime()).toBe(ca.certificate.notAfter.getTime());
  });
});
