/**
 * No padding oracle on the wire (issue 12 §4; Bleichenbacher against
 * RSAES-PKCS1-v1_5 key transport, RFC 8894 §3.2.2): a PKCSReq whose content
 * key has a bad RSA padding and one whose padding is fine around the wrong
 * content key get the same answer from the server: HTTP status and headers,
 * the same number of response bytes, a FAILURE CertRep with the same
 * failInfo and text for the same transactionID and nonce, and the same event.
 * That their timing is indistinguishable too is measured by
 * `pnpm bench:oracle` (packages/core/bench/padding-oracle.ts), not asserted here.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { createScepServer, readCertRep, type ScepEvent, type ScepServer } from "../src/index.js";
import { oracleMessage, type OracleKind } from "./support/oracle-messages.js";
import { NOW, createTestPki, type TestPki } from "./support/pki.js";

let pki: TestPki;
let server: ScepServer;
const events: ScepEvent[] = [];

beforeAll(async () => {
  pki = await createTestPki();
  server = createScepServer({
    profiles: [{ name: "p", path: "/scep", caCertificate: pki.ca.certificate, signer: pki.ca, challenge: { type: "static", password: "oracle" }, issue: async () => ({ status: "FAILURE" }) }],
    onEvent: (e) => void events.push(e),
    now: () => NOW,
  });
});

function headerList(h: Headers): [string, string][] {
  const out: [string, string][] = [];
  h.forEach((value, name) => out.push([name, value]));
  return out;
}

/** Everything the sender can observe about the answer to one message, except time. */
async function observe(kind: OracleKind, cipher: "aes256" | "des3") {
  const message = await oracleMessage(pki.ca, pki.requesters.rsa, kind, { cipher, transactionId: "ORACLE-1" });
  const res = await server.fetch(new Request("http://scep.test/scep?operation=PKIOperation", { method: "POST", body: message as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/x-pki-message" } }));
  const body = new Uint8Array(await res.arrayBuffer());
  const rep = await readCertRep(body, { caCertificates: [pki.ca.certificate], request: { transactionId: "ORACLE-1", senderNonce: new Uint8Array(16).fill(7) } });
  const { latencyMs: _latency, ...event } = events.at(-1)!;
  return {
    status: res.status,
    headers: headerList(res.headers),
    bytes: body.length,
    certRep: { status: rep.status, failInfo: rep.failInfo, failInfoText: rep.failInfoText, transactionId: rep.transactionId, certificates: rep.certificates.length },
    event,
  };
}

describe("RFC 8894 §3.2.2: bad RSA padding and a wrong content key get the same answer", () => {
  it.each(["aes256", "des3"] as const)("%s: same status, headers, size, CertRep and event, three messages of each kind", async (cipher) => {
    const seen: unknown[] = [];
    for (let i = 0; i < 3; i++) for (const kind of ["bad-padding", "wrong-key"] as const) seen.push(await observe(kind, cipher));
    const expected = {
      status: 200,
      headers: [["content-type", "application/x-pki-message"]],
      bytes: (seen[0] as { bytes: number }).bytes,
      certRep: { status: "FAILURE", failInfo: "badMessageCheck", failInfoText: "could not decrypt the envelope", transactionId: "ORACLE-1", certificates: 0 },
      event: { operation: "PKCSReq", outcome: "failure", reason: "decrypt_failed", failInfo: "badMessageCheck", status: 200, profile: "p", transactionId: "ORACLE-1" },
    };
    for (const s of seen) expect(s).toEqual(expected);
  });
});
