/**
 * Field reports about what a SCEP client sends, rebuilt against our
 * `ScepClient` enrolling with our server (RFC 8894 §3.5.2, §4.3; X.690 §10).
 *
 * - A server answered GetCACaps with `PostPkiOperation` where RFC 8894 spells
 *   `POSTPKIOperation`; jscep compared case-sensitively, fell back to GET and
 *   the enrollment failed (seize-the-dave/jscep#137,
 *   https://github.com/seize-the-dave/jscep/issues/137). Capabilities are
 *   case-insensitive (RFC 8894 §3.5.2); ours must act on them in any case.
 * - EJBCA failed "to decode a definite length encoded ASN.1 sequence" on a
 *   client's indefinite-length CMS (Keyfactor/ejbca-ce#924,
 *   https://github.com/Keyfactor/ejbca-ce/issues/924), and jscep grew an option
 *   because "some SCEP servers require definite-length encoding"
 *   (seize-the-dave/jscep#397, https://github.com/seize-the-dave/jscep/pull/397).
 *   Ours sends DER: definite lengths everywhere, primitive OCTET STRINGs, down
 *   to the EnvelopedData inside the signed content.
 * - An sscep user asked how to resume a PENDING enrollment hours later; OpenXPKI
 *   relies on the client re-sending with the same transactionID, or it cannot
 *   match the request awaiting manual approval (certnanny/sscep#136,
 *   https://github.com/certnanny/sscep/issues/136). Ours derives the
 *   transactionID from the CSR's key: a client restarted with the same key and
 *   CSR (even with a new self-signed signer) re-sends the same transactionID and
 *   collects the approved certificate; nothing is issued twice.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as der from "../src/lib/der.js";
import { ScepClient, createScepServer, createSelfSignedSigner, type IssueContext } from "../src/index.js";
import { signedDataToBer } from "./support/ber.js";
import { NOW, createDevice, createTestCa, manualProfile, staticScep } from "./support/server-pki.js";

const CHALLENGE = "field-client-requests";
const { server, log: events } = await staticScep({ caName: "Field Client Requests CA", deviceCn: "unused", challenge: CHALLENGE });

/** A fetch into the server that records "METHOD operation" and each PKIOperation body, and can replace GetCACaps' text. */
function recordingFetch(log: string[], bodies: Uint8Array[], capsText?: string): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const op = url.searchParams.get("operation");
    log.push(`${request.method} ${op}`);
    if (op === "GetCACaps" && capsText !== undefined) return new Response(capsText, { headers: { "content-type": "text/plain" } });
    if (op === "PKIOperation") {
      const body = request.method === "POST" ? new Uint8Array(await request.clone().arrayBuffer()) : new Uint8Array(Buffer.from(url.searchParams.get("message")!, "base64"));
      bodies.push(body);
    }
    return server.fetch(request);
  }) as typeof fetch;
}

describe("RFC 8894 §3.5.2: capabilities in another case are still acted on (jscep#137)", () => {
  it("PostPkiOperation / Sha-256 / Aes → POST, SHA-256 and AES-128, SUCCESS", async () => {
    const log: string[] = [];
    const device = await createDevice({ cn: "field-caps-case", challengePassword: CHALLENGE });
    const client = new ScepClient({ url: "http://ca.test/scep", fetch: recordingFetch(log, [], "PostPkiOperation\r\nSha-256\r\nAes\r\nrenewal\r\n") });
    const rep = await client.enroll({ csr: device.csr, signer: device.signer });
    expect([rep.status, rep.digestAlgorithm, rep.contentCipher]).toEqual(["SUCCESS", "sha256", "aes128"]);
    expect(log).toEqual(["GET GetCACaps", "GET GetCACert", "POST PKIOperation"]);
  });

  it("scepstandard in lower case implies the same", async () => {
    const log: string[] = [];
    const device = await createDevice({ cn: "field-caps-standard", challengePassword: CHALLENGE });
    const rep = await new ScepClient({ url: "http://ca.test/scep", fetch: recordingFetch(log, [], "scepstandard\n") }).enroll({ csr: device.csr, signer: device.signer });
    expect([rep.status, rep.digestAlgorithm, rep.contentCipher, log.at(-1)]).toEqual(["SUCCESS", "sha256", "aes128", "POST PKIOperation"]);
  });
});

/**
 * Every element of `bytes` with its offset, descending into constructed elements and into OCTET STRINGs whose
 * content is itself a whole SEQUENCE that walks cleanly (eContent's EnvelopedData; not a random key or nonce).
 */
function elements(bytes: Uint8Array, base = 0): { offset: number; tlv: der.Tlv }[] {
  const out: { offset: number; tlv: der.Tlv }[] = [];
  for (let offset = 0; offset < bytes.length; ) {
    const tlv = der.readTlv(bytes, offset, bytes.length);
    out.push({ offset: base + offset, tlv });
    const body = bytes.subarray(tlv.contentStart, tlv.contentEnd);
    if (tlv.tag & 0x20) out.push(...elements(body, base + tlv.contentStart));
    else if (tlv.tag === der.Tag.OCTET_STRING && body[0] === der.Tag.SEQUENCE) {
      try {
        out.push(...elements(body, base + tlv.contentStart));
      } catch {
        // opaque octets that happen to start like a SEQUENCE
      }
    }
    offset = tlv.end;
  }
  return out;
}

describe("X.690 §10.1 / §10.2: the client's PKIOperation is DER, envelope included (ejbca-ce#924, jscep#397)", () => {
  for (const post of [true, false]) {
    it(`PKCSReq sent by ${post ? "POST" : "GET"}: no indefinite length, no constructed string, and OpenSSL reads it as such`, async () => {
      const bodies: Uint8Array[] = [];
      const device = await createDevice({ cn: `field-der-${post ? "post" : "get"}`, challengePassword: CHALLENGE });
      const rep = await new ScepClient({ url: "http://ca.test/scep", fetch: recordingFetch([], bodies) }).enroll({ csr: device.csr, signer: device.signer, post });
      expect(rep.status).toBe("SUCCESS");
      expect(bodies).toHaveLength(1);
      const body = bodies[0]!;
      const all = elements(body);
      const envelope = all.find(({ tlv }) => tlv.tag === der.Tag.OID && der.readOid(tlv) === "1.2.840.113549.1.7.3");
      expect(envelope).toBeDefined(); // the walk reached the EnvelopedData inside eContent
      const indefiniteAt = (bytes: Uint8Array): number[] => elements(bytes).filter(({ tlv }) => tlv.buf[tlv.start + 1] === 0x80).map(({ offset }) => offset);
      expect(indefiniteAt(body)).toEqual([]);
      expect(indefiniteAt(signedDataToBer(body)).length).toBeGreaterThan(0); // the check sees BER when it is there
      expect(all.filter(({ tlv }) => tlv.tag === 0x24 || tlv.tag === 0x2c || tlv.tag === 0x33).map(({ offset }) => offset)).toEqual([]);
      // Shortest length forms: re-encoding each element's header gives the same bytes (X.690 §10.1).
      for (const { tlv } of all) {
        const len = tlv.contentEnd - tlv.contentStart;
        const header = len < 0x80 ? 2 : len < 0x100 ? 3 : len < 0x10000 ? 4 : 5;
        expect(tlv.contentStart - tlv.start).toBe(header);
      }
      const dir = mkdtempSync(join(tmpdir(), "scep-der-"));
      try {
        writeFileSync(join(dir, "req.der"), body);
        const parsed = execFileSync("openssl", ["asn1parse", "-inform", "DER", "-in", join(dir, "req.der"), "-i"], { encoding: "utf8" });
        expect(parsed).toContain("pkcs7-signedData");
        expect(parsed).not.toMatch(/l=inf/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it("none of these requests ended in a 5xx", () => {
    expect(events.events.filter((e) => e.status >= 500 || e.outcome === "error")).toEqual([]);
  });
});

describe("RFC 8894 §3.3.3: a PENDING enrollment resumed by a restarted client keeps its transactionID (sscep#136)", () => {
  it("PENDING; approved; a new client with the same key and CSR, signed by a new self-signed certificate, gets the approved certificate", async () => {
    const ca = await createTestCa("Field Resume CA");
    const calls: IssueContext[] = [];
    const manual = createScepServer({ profiles: [manualProfile(ca, { challenge: CHALLENGE, calls })], now: () => NOW });
    const into: typeof fetch = async (input, init) => manual.fetch(new Request(input, init));
    const device = await createDevice({ cn: "field-resume", challengePassword: CHALLENGE });

    const first = await new ScepClient({ url: "http://ca.test/scep", fetch: into }).enroll({ csr: device.csr, signer: device.signer });
    expect(first.status).toBe("PENDING");
    const tx = await manual.approve("manual", first.request.transactionId);

    // The restarted client: same key and CSR, a self-signed signer made afresh.
    const signer = await createSelfSignedSigner({ keys: device.keys, subject: device.subject, now: new Date(NOW.getTime() + 3_600_000) });
    const resumed = await new ScepClient({ url: "http://ca.test/scep", fetch: into }).enroll({ csr: device.csr, signer });
    expect(resumed.request.transactionId).toBe(first.request.transactionId);
    expect(resumed.status).toBe("SUCCESS");
    expect(Buffer.from(resumed.certificate!.der).equals(Buffer.from(tx.certificate!))).toBe(true);
    expect(calls.map((c) => c.approved)).toEqual([false, true]);
  });
});
