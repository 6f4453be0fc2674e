/**
 * Field reports about PKIOperation over GET (RFC 8894 §4.1, §3.5.2: POST only when the CA advertises
 * POSTPKIOperation or SCEPStandard), rebuilt with our client against our server in process.
 *
 * - micromdm's client only POSTed, and NDES, which advertised no POSTPKIOperation, answered "received an http
 *   message without the Message tag" (micromdm/scep#5, https://github.com/micromdm/scep/issues/5; fixed by a GET
 *   fallback, micromdm/scep#10). Our client, against a CA whose GetCACaps names no POST, sends every PKIOperation
 *   (the PKCSReq and the CertPoll of a PENDING enrollment) as a GET whose `message` is percent-encoded base64 the
 *   server decodes, and the enrollment completes.
 * - step-ca read GET messages with the URL-safe alphabet and refused Cisco's standard base64, "illegal base64 data"
 *   (smallstep/certificates#916, https://github.com/smallstep/certificates/issues/916): the `message` our client
 *   writes is the standard alphabet, percent-encoded, and with POST advertised it POSTs the DER instead.
 */
import { describe, expect, it } from "vitest";
import { MemoryTransactionStore, ScepClient, createScepServer, createSelfSignedSigner, generateCsr, generateRsaKeyPair, type IssueContext, type ScepServer } from "../src/index.js";
import { NOW, createTestCa, issuingHook } from "./support/server-pki.js";

const CHALLENGE = "get-fallback";
const ca = await createTestCa("Field GET Fallback CA");

/** A server with these capabilities, and a fetch into it that records each request's method and URL. */
function serverWith(capabilities: string[], answerPendingFirst = false) {
  const calls: IssueContext[] = [];
  const server: ScepServer = createScepServer({
    profiles: [
      {
        name: "p",
        path: "/scep",
        caCertificate: ca.cert,
        signer: ca.key,
        capabilities,
        challenge: { type: "static", password: CHALLENGE },
        transactions: new MemoryTransactionStore({ now: () => NOW }),
        issue: issuingHook(ca, calls, (ctx) => (answerPendingFirst && !ctx.approved ? { status: "PENDING" } : undefined)),
      },
    ],
    now: () => NOW,
  });
  const seen: { method: string; url: string }[] = [];
  const fetchInto: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    seen.push({ method: request.method, url: request.url });
    return server.fetch(request);
  };
  return { calls, seen, fetchInto, server };
}

/** Enrolls through `fetchInto`; a PENDING answer is approved on the server before the client polls again. */
async function enroll(fetchInto: typeof fetch, server: ScepServer, calls: readonly IssueContext[], cn: string) {
  const keys = await generateRsaKeyPair(2048);
  const subject = `CN=${cn}`;
  const csr = await generateCsr({ keys, subject, challengePassword: CHALLENGE });
  const signer = await createSelfSignedSigner({ keys, subject, now: NOW });
  return new ScepClient({ url: "http://scep.test/scep", fetch: fetchInto }).enroll({
    csr,
    signer,
    pollIntervalMs: 1000,
    maxPollMs: 10_000,
    sleep: async () => void (await server.approve("p", calls[0]!.transactionId)),
  });
}

describe("RFC 8894 §3.5.2, §4.1: PKIOperation by GET when the CA advertises no POST (micromdm/scep#5, smallstep#916)", () => {
  it("NDES-like caps (no POSTPKIOperation, no SCEPStandard): the PKCSReq and the CertPoll go by GET, standard base64 percent-encoded; SUCCESS", async () => {
    const s = serverWith(["Renewal", "SHA-1", "SHA-256", "SHA-512", "DES3"], true);
    const rep = await enroll(s.fetchInto, s.server, s.calls, "get-fallback-ndes");
    expect(rep.status).toBe("SUCCESS");
    const pki = s.seen.filter((r) => r.url.includes("operation=PKIOperation"));
    expect(pki).toHaveLength(2); // the PKCSReq, answered PENDING, and the CertPoll after the approval
    for (const r of pki) {
      expect(r.method).toBe("GET");
      const message = new URL(r.url).search.match(/[?&]message=([^&]*)/)?.[1] ?? "";
      expect(message).toMatch(/^[A-Za-z0-9%]+$/); // +, / and = percent-encoded, no URL-safe - or _
      expect(decodeURIComponent(message)).toMatch(/^[A-Za-z0-9+/]+=*$/);
    }
  });

  it("with POSTPKIOperation advertised: every PKIOperation is a POST", async () => {
    const s = serverWith(["POSTPKIOperation", "SHA-256", "AES"]);
    expect((await enroll(s.fetchInto, s.server, s.calls, "get-fallback-post")).status).toBe("SUCCESS");
    const pki = s.seen.filter((r) => r.url.includes("operation=PKIOperation"));
    expect(pki.map((r) => r.method)).toEqual(["POST"]);
  });
});
