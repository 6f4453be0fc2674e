/**
 * Field reports about the algorithms and shape of a CertRep (RFC 8894 §3.3.2, §3.5.2: the reply uses the request's
 * algorithms; RFC 5652 §5: SignedData), rebuilt against our server.
 *
 * - A Cisco router enrolling through a jscep RA failed with "E_ENCRYPT_ALG_NOT_SUPPORTED … Invalid signer count value
 *   0" (seize-the-dave/jscep#97, https://github.com/seize-the-dave/jscep/issues/97), and Cisco stopped enrolling
 *   when EJBCA began signing its replies with SHA-256 to a SHA-1 request (Keyfactor/ejbca-ce#176,
 *   https://github.com/Keyfactor/ejbca-ce/issues/176). Cisco sends 3DES and SHA-1: the reply must be enveloped with
 *   3DES, digested with SHA-1, and carry exactly one SignerInfo.
 * - sscep printed "illegal size of payload" for a FAILURE reply that carried content (certnanny/sscep#59,
 *   https://github.com/certnanny/sscep/issues/59): a FAILURE or PENDING CertRep carries no envelope (its eContent is
 *   an empty OCTET STRING).
 *
 * Peers: OpenSSL prints each reply (`cms -cmsout -print`); strongSwan's `pki --scep --cipher des3 --digest sha1`
 * (Cisco's algorithms) enrolls over loopback HTTP and verifies the reply itself.
 */
import type { Server } from "node:http";
import { X509Certificate } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { opensslCmsPrint, runStrongswanGen, runStrongswanScep } from "../../../test-support/peers";
import { buildPkcsReq, createScepServer, type ScepEvent, type ScepServer } from "../src/index.js";
import { close, listen, serveOverHttp } from "./support/adapter-fixture.js";
import { NOW, createDevice, createTestCa, issuingHook, postPki, type TestCa } from "./support/server-pki.js";

const CHALLENGE = "reply-algorithms";
let ca: TestCa;
let inProcess: ScepServer;
let live: ScepServer;
const events: ScepEvent[] = [];
let http: Server;
let url: string;

beforeAll(async () => {
  ca = await createTestCa("Reply Algorithms CA");
  const profile = { path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: CHALLENGE }, issue: issuingHook(ca) } as const;
  inProcess = createScepServer({ profiles: [profile], now: () => NOW });
  // strongSwan runs on the wall clock, so this one does too.
  live = createScepServer({ profiles: [profile], onEvent: (e) => events.push(e) });
  http = serveOverHttp(live);
  url = `${await listen(http)}/scep`;
});

afterAll(async () => {
  await close(http);
});

/** The reply to a PKCSReq with this challenge and these algorithms, printed by OpenSSL. */
async function printedReply(challengePassword: string, cipher: "des3" | "aes256", digest: "sha1" | "sha256"): Promise<string> {
  const device = await createDevice({ cn: "reply-algorithms-router", challengePassword });
  const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW, cipher, digest });
  const res = await postPki(inProcess, "/scep", built.der);
  expect([res.status, res.headers.get("content-type")]).toEqual([200, "application/x-pki-message"]);
  return opensslCmsPrint(new Uint8Array(await res.arrayBuffer()));
}

/** The eContent bytes (hex) from OpenSSL's dump lines (`0000 - 30 80 06 09 … 2a 86-48 …   ascii`). */
function eContentHex(printed: string): string {
  const dump = printed.slice(printed.indexOf("eContent:"), printed.indexOf("certificates:"));
  return [...dump.matchAll(/^\s*[0-9a-f]{4} - ((?:[0-9a-f]{2}[ -]){0,15}[0-9a-f]{2})/gm)].map((m) => m[1]!.replace(/[ -]/g, "")).join("");
}

/** The SignerInfos OpenSSL lists (each begins with its `version:` line under `signerInfos:`). */
function signerInfoCount(printed: string): number {
  return [...printed.slice(printed.indexOf("signerInfos:")).matchAll(/^ {8}version: /gm)].length;
}

describe("jscep#97, ejbca-ce#176: a Cisco request (3DES, SHA-1) gets a reply in 3DES and SHA-1 with one signer (RFC 8894 §3.5.2)", () => {
  it("SUCCESS: digestAlgorithms and the SignerInfo's digest are SHA-1, exactly one SignerInfo, the envelope inside is 3DES", async () => {
    const printed = await printedReply(CHALLENGE, "des3", "sha1");
    const digests = printed.slice(printed.indexOf("digestAlgorithms:"), printed.indexOf("encapContentInfo:"));
    expect(digests).toMatch(/algorithm: sha1 \(1\.3\.14\.3\.2\.26\)/);
    expect(digests).not.toMatch(/sha256/);
    const signerInfos = printed.slice(printed.indexOf("signerInfos:"));
    expect(signerInfos).toMatch(/digestAlgorithm: \n\s+algorithm: sha1 /);
    expect(signerInfoCount(printed)).toBe(1);
    // The envelope is the eContent's bytes: its contentEncryptionAlgorithm OID des-ede3-cbc (1.2.840.113549.3.7).
    expect(eContentHex(printed)).toContain("06082a864886f70d0307");
  });

  it("the same request in AES-256 and SHA-256 gets a reply in those (the reply follows the request, not a fixed choice)", async () => {
    const printed = await printedReply(CHALLENGE, "aes256", "sha256");
    const digests = printed.slice(printed.indexOf("digestAlgorithms:"), printed.indexOf("encapContentInfo:"));
    expect(digests).toMatch(/algorithm: sha256 /);
    expect(eContentHex(printed)).toContain("060960864801650304012a"); // aes-256-cbc
    expect(eContentHex(printed)).not.toContain("06082a864886f70d0307");
  });

  it("strongSwan with Cisco's algorithms (--cipher des3 --digest sha1) enrolls and accepts the reply", async () => {
    const since = events.length;
    const r = await runStrongswanScep({
      url,
      key: (await runStrongswanGen({ size: 2048 })).keyDer,
      dn: "C=US, O=scep-sdk tests, CN=reply-algorithms-router",
      password: CHALLENGE,
      caCertEnc: ca.cert.toPem(),
      caCertSig: ca.cert.toPem(),
      cipher: "des3",
      digest: "sha1",
      timeoutMs: 60_000,
    });
    expect(r.ok, r.messages.join("\n")).toBe(true);
    expect(new X509Certificate(r.certPem!).subject).toContain("CN=reply-algorithms-router");
    expect(events.slice(since).filter((e) => e.operation === "PKCSReq").map((e) => e.outcome)).toEqual(["success"]);
  });
});

describe("sscep#59: a FAILURE CertRep carries no payload (RFC 8894 §3.3.2)", () => {
  it("a wrong challenge: FAILURE with one SignerInfo, and its eContent is an empty OCTET STRING (no envelope)", async () => {
    const printed = await printedReply("not-the-challenge", "des3", "sha1");
    expect(signerInfoCount(printed)).toBe(1);
    expect(printed).toMatch(/eContent: \n\s+certificates:/);
    expect(eContentHex(printed)).toBe("");
  });
});
