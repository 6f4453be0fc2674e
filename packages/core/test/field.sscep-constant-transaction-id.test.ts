/**
 * certnanny/sscep#167 (https://github.com/certnanny/sscep/issues/167): sscep sent transactionID
 * `D41D8CD98F00B204E9800998ECF8427E`, the MD5 of nothing (it hashed an empty key), with a CSR for a 1024-bit key, and
 * the server (SCEPman) answered HTTP 500 with no MIME type, which sscep cannot read.
 *
 * RFC 8894 §3.2.1.1 makes the transactionID a hash of the key, but a server cannot trust that: every such sscep sends
 * the same one. Held here: two devices sending that transactionID each get a certificate for their own key (and the
 * second is not answered with the first one's certificate as a re-send, §3.3.3), and a 1024-bit key is refused with a
 * FAILURE CertRep (badRequest, the minimum named in failInfoText, §3.3.2), never a 5xx.
 *
 * Fixed here: while the first device's request waits for approval (PENDING, §3.3.3), the second device's PKCSReq with
 * that transactionID was answered PENDING on the first one's transaction (`still_pending`), its own request dropped
 * after the issue hook had run, and once approved it got the first device's certificate. It is now FAILURE badRequest
 * (`transaction_id_in_use`), refused before the issue hook runs, and the waiting device is unaffected. (A second device the hook issues to at once still
 * gets its certificate, not recorded: rfc8894.server.resend-after-success.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { CertificationRequest, MemoryChallengeStore, MemoryTransactionStore, StoreUnavailableError, buildCertPoll, buildPkcsReq, createScepServer, type IssueContext, type ScepEvent } from "../src/index.js";
import { NOW, createDevice, createTestCa, hex, manualProfile, postPki, readReply, staticScep } from "./support/server-pki.js";

const CHALLENGE = "sscep-167";
const MD5_OF_NOTHING = "D41D8CD98F00B204E9800998ECF8427E";
const { ca, log, server } = await staticScep({ caName: "sscep 167 CA", deviceCn: "sscep-167", challenge: CHALLENGE, profile: { transactions: new MemoryTransactionStore({ now: () => NOW }) } });

async function enrollWithConstantId(cn: string, bits = 2048) {
  const device = await createDevice({ cn, challengePassword: CHALLENGE, bits });
  const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW, transactionId: MD5_OF_NOTHING, cipher: "des3", digest: "sha1" });
  const res = await postPki(server, "/scep", built.der);
  return { device, rep: await readReply(res, built, { decrypter: device.signer, caCertificates: [ca.cert] }) };
}

describe("sscep#167: the MD5-of-nothing transactionID and a 1024-bit key (RFC 8894 §3.2.1.1, §3.3.2)", () => {
  it("two devices with the same transactionID each get a certificate for their own key", async () => {
    const first = await enrollWithConstantId("sscep-167-a");
    const second = await enrollWithConstantId("sscep-167-b");
    expect([first.rep.status, second.rep.status]).toEqual(["SUCCESS", "SUCCESS"]);
    expect(hex(first.rep.certificates[0]!.spki)).toBe(hex(first.device.signer.certificate.spki));
    expect(hex(second.rep.certificates[0]!.spki)).toBe(hex(second.device.signer.certificate.spki));
    expect(first.rep.certificates[0]!.serialNumberHex).not.toBe(second.rep.certificates[0]!.serialNumberHex);
  });

  it("a 1024-bit key: FAILURE badRequest naming the 2048-bit minimum, as a CertRep (200, x-pki-message), not a 500", async () => {
    const { rep } = await enrollWithConstantId("sscep-167-small", 1024);
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest" });
    expect(rep.failInfoText).toMatch(/RSA-1024 is below the minimum of 2048 bits/);
  });

  it("the first device's request is PENDING: the second's (the hook answers PENDING too) is FAILURE badRequest transaction_id_in_use, not PENDING on the first one's, and the first one still gets its own certificate", async () => {
    const pendingCa = await createTestCa("sscep 167 manual CA");
    const calls: IssueContext[] = [];
    const events: ScepEvent[] = [];
    const manual = createScepServer({ profiles: [manualProfile(pendingCa, { challenge: CHALLENGE, calls, transactions: new MemoryTransactionStore({ now: () => NOW }) })], onEvent: (e) => events.push(e), now: () => NOW });
    const send = async (cn: string) => {
      const device = await createDevice({ cn, challengePassword: CHALLENGE });
      const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: pendingCa.cert, now: NOW, transactionId: MD5_OF_NOTHING });
      return { device, rep: await readReply(await postPki(manual, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [pendingCa.cert] }) };
    };
    const a = await send("sscep-167-waiting");
    expect(a.rep.status).toBe("PENDING");
    const b = await send("sscep-167-second");
    expect(b.rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest" });
    expect(b.rep.failInfoText).toMatch(/send a new transactionID/);
    expect(events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "failure", reason: "transaction_id_in_use" });
    // Refused before its challenge is checked or the issue hook runs: only the waiting device's request reached it.
    expect(calls.map((c) => c.csr.subject)).toEqual([expect.stringContaining("sscep-167-waiting")]);
    await manual.approve("manual", MD5_OF_NOTHING);
    const pollA = await buildCertPoll({ signer: a.device.signer, recipient: pendingCa.cert, issuer: pendingCa.cert, subject: CertificationRequest.from(a.device.csr).subjectDer, transactionId: MD5_OF_NOTHING, now: NOW });
    const repA = await readReply(await postPki(manual, "/scep", pollA.der), pollA, { decrypter: a.device.signer, caCertificates: [pendingCa.cert] });
    expect(repA.status).toBe("SUCCESS");
    expect(hex(repA.certificates[0]!.spki)).toBe(hex(a.device.signer.certificate.spki));
  });

  it("transaction_id_in_use with a one-time challenge: refused before the challenge is spent (no release needed, none reported), so it stays usable even when the store could not give it back", async () => {
    const pendingCa = await createTestCa("sscep 167 one-time CA");
    const store = new MemoryChallengeStore({ now: () => NOW });
    let releases = 0;
    store.release = async () => (releases++, Promise.reject(new StoreUnavailableError("challenge store down")));
    const events: ScepEvent[] = [];
    const profile = manualProfile(pendingCa, { challenge: { type: "store", store }, transactions: new MemoryTransactionStore({ now: () => NOW }) });
    const manual = createScepServer({ profiles: [profile], onEvent: (e) => events.push(e), now: () => NOW });
    const send = async (cn: string, challengePassword: string) => {
      const device = await createDevice({ cn, challengePassword });
      const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: pendingCa.cert, now: NOW, transactionId: MD5_OF_NOTHING });
      return readReply(await postPki(manual, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [pendingCa.cert] });
    };
    expect((await send("sscep-167-holder", await store.issue({ profile: "manual" }))).status).toBe("PENDING");

    const kept = await store.issue({ profile: "manual" });
    const rep = await send("sscep-167-kept", kept);
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest" });
    expect(rep.failInfoText).toMatch(/send a new transactionID/);
    expect(events.at(-1)).toMatchObject({ outcome: "failure", reason: "transaction_id_in_use", status: 200 });
    expect(events.at(-1)).not.toHaveProperty("challengeReleased");
    expect(releases).toBe(0);
    expect(await store.consume(kept, { profile: "manual" })).toBe(true); // never spent: usable once more
  });

  it("no 5xx", () => {
    expect(log.events.filter((e) => e.status >= 500 || e.outcome === "error")).toEqual([]);
  });
});
