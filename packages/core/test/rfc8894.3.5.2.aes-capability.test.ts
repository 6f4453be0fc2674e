/**
 * RFC 8894 §3.5.2 (and the IANA "SCEP CA Capabilities" registry): the `AES` keyword says "CA supports the AES128-CBC
 * encryption algorithm", and `SCEPStandard` implies `AES`. A CA that advertises AES promises AES-128-CBC and nothing
 * longer: jscep sent AES-256 to such CAs and they could not decrypt it (seize-the-dave/jscep#61 and #64). Ours, when
 * not told otherwise, sends AES-128 to a CA that advertises AES or SCEPStandard; AES-256 goes only where the caller
 * asks for it. The CA here is our server with a profile that takes AES-128 only (`algorithmPolicy: { ciphers: ["aes128"] }`).
 */
import { describe, expect, it } from "vitest";
import { ScepClient, buildPkcsReq, decodePkiMessage } from "../src/index.js";
import { createDevice, staticScep } from "./support/server-pki.js";

const CHALLENGE = "rfc8894-aes-capability";
const { ca, server, calls } = await staticScep({ caName: "AES-128 only CA", deviceCn: "unused", challenge: CHALLENGE, profile: { algorithmPolicy: { ciphers: ["aes128"] } } });

/** A fetch into the server whose GetCACaps answers `capsText`. */
function capsFetch(capsText: string): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    if (new URL(request.url).searchParams.get("operation") === "GetCACaps") return new Response(capsText, { headers: { "content-type": "text/plain" } });
    return server.fetch(request);
  }) as typeof fetch;
}

describe("RFC 8894 §3.5.2: the AES capability is AES128-CBC", () => {
  it.each([
    ["AES, POSTPKIOperation, SHA-256", "AES\nPOSTPKIOperation\nSHA-256\n"],
    ["SCEPStandard alone", "SCEPStandard\n"],
  ])("a CA that advertises %s and decrypts AES-128 only issues: the request's content is AES-128-CBC", async (_, caps) => {
    const device = await createDevice({ cn: `aes-capability-${caps.length}`, challengePassword: CHALLENGE });
    const rep = await new ScepClient({ url: "http://ca.test/scep", fetch: capsFetch(caps) }).enroll({ csr: device.csr, signer: device.signer });
    expect([rep.status, rep.contentCipher]).toEqual(["SUCCESS", "aes128"]);
    expect(rep.certificates[0]!.subject).toBe(device.subject);
  });

  it("AES-256 only when the caller asks for it: this CA refuses it (badAlg), nothing is issued", async () => {
    const device = await createDevice({ cn: "aes-capability-256", challengePassword: CHALLENGE });
    const issued = calls.length;
    const rep = await new ScepClient({ url: "http://ca.test/scep", fetch: capsFetch("AES\nPOSTPKIOperation\nSHA-256\n") }).enroll({ csr: device.csr, signer: device.signer, cipher: "aes256" });
    expect([rep.status, rep.failInfo]).toEqual(["FAILURE", "badAlg"]);
    expect(calls.length).toBe(issued);
  });

  it("buildPkcsReq, given no cipher, encrypts with AES-128-CBC (id-aes128-CBC, 2.16.840.1.101.3.4.1.2)", async () => {
    const device = await createDevice({ cn: "aes-capability-builder", challengePassword: CHALLENGE });
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert });
    const decoded = await decodePkiMessage(built.der, { decrypters: [ca.key] });
    expect(decoded.contentCipher).toBe("aes128");
  });
});
