/**
 * RFC 8894 §3.5.2: a client picks its digest and content cipher from GetCACaps (`AES` is AES128-CBC; `SCEPStandard`
 * implies `AES` and `SHA-256`), and with no digest or no cipher listed falls back to MD5 or single DES (MikroTik
 * RouterOS, Cisco IOS, sscep). A list that steers clients to what the profile's algorithm policy refuses made every
 * such enrollment FAILURE badAlg with nothing said at start; each case is now a profile warning
 * (`profiles()[i].warnings`, printed by the example servers), as is a keyword in other letter case than §3.5.2's.
 * Configuration is still accepted: an operator may mean it.
 */
import { describe, expect, it } from "vitest";
import { ScepClient, createScepServer, createSelfSignedSigner, generateCsr, generateRsaKeyPair, type AlgorithmPolicy, type ScepProfile } from "../src/index.js";
import { NOW, baseProfile, createTestCa, issuingHook } from "./support/server-pki.js";

const CHALLENGE = "caps-warnings";
const ca = await createTestCa("GetCACaps Warnings CA");

function serverWith(options: { capabilities?: string[]; algorithmPolicy?: AlgorithmPolicy }) {
  const profile: ScepProfile = { ...baseProfile(ca, CHALLENGE), issue: issuingHook(ca), ...options };
  return createScepServer({ profiles: [profile], now: () => NOW });
}

/** The profile's warnings about its GetCACaps list (`warnings` is left out of ProfileInfo when there is none). */
const capsWarnings = (options: { capabilities?: string[]; algorithmPolicy?: AlgorithmPolicy }): string[] =>
  (serverWith(options).profiles()[0]!.warnings ?? []).filter((w) => w.includes("GetCACaps"));

describe("RFC 8894 §3.5.2: a GetCACaps list the algorithm policy cannot honour is a profile warning", () => {
  it("the default list under the default policy: none", () => {
    expect(capsWarnings({})).toEqual([]);
    expect(capsWarnings({ capabilities: ["AES", "POSTPKIOperation", "SHA-256", "SCEPStandard"] })).toEqual([]);
  });

  it("no digest listed (MikroTik then signs with MD5): a warning unless allowMd5", () => {
    const warning = "profile p: GetCACaps offers no digest (SHA-1, SHA-256, SHA-512, SCEPStandard): clients then sign with MD5, which the algorithm policy refuses (allowMd5)";
    expect(capsWarnings({ capabilities: ["POSTPKIOperation", "DES3"] })).toEqual([warning]);
    expect(capsWarnings({ capabilities: ["POSTPKIOperation", "DES3"], algorithmPolicy: { allowMd5: true } })).toEqual([]);
  });

  it("no content cipher listed (clients then use single DES): a warning only when the policy refuses DES", () => {
    expect(capsWarnings({ capabilities: ["POSTPKIOperation", "SHA-256"] })).toEqual([]);
    expect(capsWarnings({ capabilities: ["POSTPKIOperation", "SHA-256"], algorithmPolicy: { ciphers: ["aes128", "des3"] } })).toEqual([
      "profile p: GetCACaps offers no content cipher (AES, DES3, SCEPStandard): clients then encrypt with single DES, which the algorithm policy refuses",
    ]);
  });

  it("each offered algorithm the policy refuses, by the capability that offers it", () => {
    expect(capsWarnings({ algorithmPolicy: { digests: ["sha256", "sha384", "sha512"] } })).toEqual([
      "profile p: GetCACaps offers SHA-1 (sha1), which the algorithm policy refuses: a client that picks it gets FAILURE badAlg",
    ]);
    expect(capsWarnings({ algorithmPolicy: { ciphers: ["aes256"] } })).toEqual([
      "profile p: GetCACaps offers AES (aes128), which the algorithm policy refuses: a client that picks it gets FAILURE badAlg",
      "profile p: GetCACaps offers DES3 (des3), which the algorithm policy refuses: a client that picks it gets FAILURE badAlg",
      "profile p: GetCACaps offers SCEPStandard (aes128), which the algorithm policy refuses: a client that picks it gets FAILURE badAlg",
    ]);
  });

  it("a keyword in other letter case than §3.5.2 writes it; a vendor's own keyword is left alone", () => {
    expect(capsWarnings({ capabilities: ["aes", "POSTPKIOperation", "sha-256", "Renewal", "X-Vendor-Thing"] })).toEqual([
      'profile p: GetCACaps lists "aes", which RFC 8894 §3.5.2 writes "AES": a client that compares the keyword exactly does not see it',
      'profile p: GetCACaps lists "sha-256", which RFC 8894 §3.5.2 writes "SHA-256": a client that compares the keyword exactly does not see it',
    ]);
    // A name that is an Object.prototype key reads as nothing (no lookup through the prototype chain).
    expect(capsWarnings({ capabilities: ["constructor", "toString", "AES", "SHA-256"] })).toEqual([]);
  });

  it("what the warning says happens: our client picks AES-128 from 'AES' and a policy of AES-256 alone answers FAILURE badAlg", async () => {
    const server = serverWith({ algorithmPolicy: { ciphers: ["aes256"] } });
    const keys = await generateRsaKeyPair(2048);
    const csr = await generateCsr({ keys, subject: "CN=caps-warning", challengePassword: CHALLENGE });
    const signer = await createSelfSignedSigner({ keys, subject: "CN=caps-warning", now: NOW });
    const client = new ScepClient({ url: "http://scep.test/scep", fetch: async (input, init) => server.fetch(new Request(input, init)) });
    const rep = await client.enroll({ csr, signer });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badAlg", failInfoText: "content cipher aes128 is not allowed by policy" });
  });
});
