/**
 * micromdm `scepclient` 2.1.0 (the real binary) enrolls against the Express
 * and the Hono example servers. It always sends DES-CBC + SHA-1; the
 * examples must answer in kind, and the certificate must chain to their CA.
 */
import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { pemToDer, runScepclient } from "../../../test-support/peers";
import { EXAMPLE_KINDS, exampleBehindProxy } from "./support/example-server";
import { expectIssued } from "./support/issued";
import { csrFacts, csrOf, readExchange } from "./support/wire";

const VALIDITY_DAYS = 30;
const stripHex = (hex: string): string => hex.toLowerCase().replace(/[^0-9a-f]/g, "").replace(/^0+/, "");
const O = "scep-sdk interop";

describe.each(EXAMPLE_KINDS)("micromdm scepclient against the %s example", (kind) => {
  const srv = exampleBehindProxy(kind, { validityDays: VALIDITY_DAYS });

  it("enrolls with its default DES-CBC + SHA-1 and gets a certificate from the example's CA", async () => {
    const cn = `mm-${kind}-enroll`;
    const r = await runScepclient({ url: srv.proxy.url, challenge: srv.ex.challenge, cn, organization: O, country: "US" });
    expect(r.ok, r.stdout + r.stderr).toBe(true);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("pkiStatus=SUCCESS");

    // On the wire: GetCACert, GetCACaps, then one POSTed PKCSReq.
    expect(srv.proxy.exchanges.map((e) => `${e.method} ${new URL(e.path, "http://x").searchParams.get("operation")}`)).toEqual([
      "GET GetCACert",
      "GET GetCACaps",
      "POST PKIOperation",
    ]);
    const [op] = srv.proxy.byOperation("PKIOperation");
    const wire = await readExchange(op!);
    expect(wire.request).toMatchObject({ messageType: 19, digest: "sha1", cipher: "des-cbc" });
    // The example answers with the request's algorithms and rsaEncryption as the signature algorithm.
    expect(wire.reply).toMatchObject({
      messageType: 3,
      pkiStatus: 0,
      transactionId: wire.request.transactionId,
      digest: "sha1",
      signatureAlgorithm: "rsaEncryption",
      cipher: "des-cbc",
    });
    expect(wire.replyContentType).toBe("application/x-pki-message");

    const csr = await csrFacts(await csrOf(wire.request, srv.ex.caKeyPem));
    expect(csr.hasChallengePassword).toBe(true);
    expect(r.csrPem).toBeDefined();
    expect(await csrFacts(pemToDer(r.csrPem!))).toEqual(csr);
    const issued = await expectIssued(r.certPem, { caPem: srv.ex.caPem, subject: `CN=${cn},OU=MDM,O=${O},C=US`, csr, validityDays: VALIDITY_DAYS });

    const event = await srv.ex.waitForEvent((e) => e.transactionId === wire.request.transactionId, "the PKCSReq event");
    expect(event).toMatchObject({ operation: "PKCSReq", outcome: "success", reason: "issued", status: 200 });
    expect(stripHex(String(event.serial))).toBe(stripHex(issued.serial));
  });

  it("with a wrong challenge gets FAILURE badRequest and exits non-zero", async () => {
    const r = await runScepclient({ url: srv.proxy.url, challenge: `${srv.ex.challenge}-wrong`, cn: `mm-${kind}-bad`, organization: O });
    expect(r.ok).toBe(false);
    expect(r.code).toBe(1);
    expect(r.certPem).toBeUndefined();
    expect(r.failure).toEqual({ messageType: "PKCSReq", messageTypeCode: 19, failInfo: "badRequest", failInfoCode: 2 });

    const [op] = srv.proxy.byOperation("PKIOperation");
    const wire = await readExchange(op!);
    expect(wire.reply).toMatchObject({ messageType: 3, pkiStatus: 2, failInfo: 2, transactionId: wire.request.transactionId });
    expect(wire.reply.envelope.length).toBe(0);
    const event = await srv.ex.waitForEvent((e) => e.transactionId === wire.request.transactionId, "the rejected PKCSReq event");
    expect(event).toMatchObject({ operation: "PKCSReq", outcome: "failure", reason: "bad_challenge", failInfo: "badRequest", status: 200 });
  });

  it("renews with a RenewalReq signed by the certificate it got (no challenge)", async () => {
    const cn = `mm-${kind}-renew`;
    const first = await runScepclient({ url: srv.proxy.url, challenge: srv.ex.challenge, cn, organization: O });
    expect(first.ok, first.stdout + first.stderr).toBe(true);
    // scepclient derives the transactionID from the key, so the renewal reuses the enrollment's: the enrollment's
    // event line (the server may write it after scepclient has its certificate) must be in before `since` is taken.
    const enrollment = await readExchange(srv.proxy.byOperation("PKIOperation").at(-1)!);
    await srv.ex.waitForEvent((e) => e.transactionId === enrollment.request.transactionId && e.operation === "PKCSReq", "the enrollment's PKCSReq event");
    srv.proxy.exchanges.length = 0;
    const since = srv.ex.events().length;
    const renewed = await runScepclient({ url: srv.proxy.url, keyPem: first.keyPem, certPem: first.certPem!, cn, organization: O });
    expect(renewed.ok, renewed.stdout + renewed.stderr).toBe(true);
    const [op] = srv.proxy.byOperation("PKIOperation");
    const wire = await readExchange(op!);
    expect(wire.request).toMatchObject({ messageType: 17, digest: "sha1", cipher: "des-cbc", signerIssuer: "CN=SCEP Example CA, O=scep-sdk" });
    expect(wire.reply).toMatchObject({ pkiStatus: 0, cipher: "des-cbc" });
    const csr = await csrFacts(await csrOf(wire.request, srv.ex.caKeyPem));
    expect(csr.hasChallengePassword).toBe(false);
    const issued = await expectIssued(renewed.certPem, { caPem: srv.ex.caPem, subject: `CN=${cn},OU=MDM,O=${O},C=US`, csr, validityDays: VALIDITY_DAYS });
    expect(issued.serial).not.toBe(new X509Certificate(first.certPem!).serialNumber);
    const event = await srv.ex.waitForEvent((e) => e.transactionId === wire.request.transactionId, "the RenewalReq event", { since });
    expect(event).toMatchObject({ operation: "RenewalReq", outcome: "success", reason: "issued" });
  });

  // The README's claim: -ca-fingerprint takes the banner's colon form as well as plain hex (upper or lower case).
  it("pins the CA with -ca-fingerprint in the banner's colon form and in plain hex; a wrong one sends no PKIOperation", async () => {
    const colons = new X509Certificate(srv.ex.caPem).fingerprint256;
    expect(colons).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    for (const [i, fingerprint] of [colons, colons.replaceAll(":", "").toLowerCase()].entries()) {
      const r = await runScepclient({ url: srv.proxy.url, challenge: srv.ex.challenge, cn: `mm-${kind}-pinned-${i}`, organization: O, caFingerprint: fingerprint });
      expect(r.ok, r.stdout + r.stderr).toBe(true);
    }
    srv.proxy.exchanges.length = 0;
    const wrong = await runScepclient({ url: srv.proxy.url, challenge: srv.ex.challenge, cn: `mm-${kind}-wrong-pin`, organization: O, caFingerprint: "00".repeat(32) });
    expect(wrong.ok).toBe(false);
    expect(srv.proxy.byOperation("PKIOperation")).toEqual([]);
  });
});
