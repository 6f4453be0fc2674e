/**
 * RFC 8894 §3.5.2: a client picks its digest and content cipher from GetCACaps (`AES` is AES128-CBC; `SCEPStandard`
 * implies `AES` and `SHA-256`), and a client such as sscep falls back to MD5 or single DES when none is listed. A
 * list that steers clients to what the profile's algorithm policy refuses made every such enrollment FAILURE badAlg
 * with nothing said at start. The default list now leaves out what the policy refuses; a configured one that steers
 * clients there is a profile warning (`profiles()[i].warnings`, printed by the example servers), as is one of §3.5.2's
 * keywords in other letter case (sscep compares with strcmp). A configured list is still served as it is.
 */
import { describe, expect, it } from "vitest";
import { InvalidArgumentError, ScepClient, createScepServer, createSelfSignedSigner, generateCsr, generateRsaKeyPair, type AlgorithmPolicy, type ScepProfile } from "../src/index.js";
import { NOW, baseProfile, createTestCa, issuingHook } from "./support/server-pki.js";

const CHALLENGE = "caps-warnings";
const ca = await createTestCa("GetCACaps Warnings CA");

function serverWith(options: { capabilities?: unknown; algorithmPolicy?: AlgorithmPolicy }) {
  const profile = { ...baseProfile(ca, CHALLENGE), issue: issuingHook(ca), ...options } as ScepProfile;
  return createScepServer({ profiles: [profile], now: () => NOW });
}

/** The profile's warnings about its GetCACaps list (`warnings` is left out of ProfileInfo when there is none). */
const capsWarnings = (options: { capabilities?: unknown; algorithmPolicy?: AlgorithmPolicy }): string[] =>
  (serverWith(options).profiles()[0]!.warnings ?? []).filter((w) => w.includes("GetCACaps"));

describe("RFC 8894 §3.5.2: a GetCACaps list the algorithm policy cannot honour is a profile warning", () => {
  it("the default list under the default policy: none", () => {
    expect(capsWarnings({})).toEqual([]);
    expect(capsWarnings({ capabilities: ["AES", "POSTPKIOperation", "SHA-256", "SCEPStandard"] })).toEqual([]);
  });

  it("no SHA digest listed (sscep then signs with MD5): a warning unless allowMd5", () => {
    const warning = "profile p: GetCACaps names no SHA digest nor SCEPStandard: a client that then signs with MD5 (sscep) is refused by the algorithm policy (allowMd5)";
    expect(capsWarnings({ capabilities: ["POSTPKIOperation", "DES3"] })).toEqual([warning]);
    expect(capsWarnings({ capabilities: ["POSTPKIOperation", "DES3"], algorithmPolicy: { allowMd5: true } })).toEqual([]);
  });

  it("no content cipher listed (clients then use single DES): a warning only when the policy refuses DES", () => {
    expect(capsWarnings({ capabilities: ["POSTPKIOperation", "SHA-256"] })).toEqual([]);
    expect(capsWarnings({ capabilities: ["POSTPKIOperation", "SHA-256"], algorithmPolicy: { ciphers: ["aes128", "des3"] } })).toEqual([
      "profile p: GetCACaps names no AES, DES3 nor SCEPStandard: a client that then encrypts with single DES (sscep) is refused by the algorithm policy",
    ]);
  });

  it("a configured list: each offered algorithm the policy refuses, by the capability that offers it", () => {
    const listed = ["AES", "DES3", "POSTPKIOperation", "SHA-1", "SHA-256", "SCEPStandard"];
    expect(capsWarnings({ capabilities: listed, algorithmPolicy: { digests: ["sha256", "sha384", "sha512"] } })).toEqual([
      "profile p: GetCACaps offers SHA-1 (sha1), which the algorithm policy refuses: a client that picks it gets FAILURE badAlg",
    ]);
    expect(capsWarnings({ capabilities: listed, algorithmPolicy: { ciphers: ["aes256"] } })).toEqual([
      "profile p: GetCACaps offers AES (aes128), which the algorithm policy refuses: a client that picks it gets FAILURE badAlg",
      "profile p: GetCACaps offers DES3 (des3), which the algorithm policy refuses: a client that picks it gets FAILURE badAlg",
      "profile p: GetCACaps offers SCEPStandard (aes128), which the algorithm policy refuses: a client that picks it gets FAILURE badAlg",
    ]);
  });

  it("the default list leaves out what the policy refuses (no warning), and GetCACaps serves it so", async () => {
    const caps = async (algorithmPolicy: AlgorithmPolicy): Promise<string[]> => {
      const server = serverWith({ algorithmPolicy });
      expect(server.profiles()[0]!.warnings ?? []).toEqual([]);
      return (await (await server.fetch(new Request("http://scep.test/scep?operation=GetCACaps"))).text()).split("\n");
    };
    expect(await caps({})).toEqual(["AES", "DES3", "POSTPKIOperation", "Renewal", "SHA-1", "SHA-256", "SHA-384", "SHA-512", "SCEPStandard"]);
    expect(await caps({ digests: ["sha256", "sha384", "sha512"] })).toEqual(["AES", "DES3", "POSTPKIOperation", "Renewal", "SHA-256", "SHA-384", "SHA-512", "SCEPStandard"]);
    expect(await caps({ ciphers: ["aes256", "des3", "des"] })).toEqual(["DES3", "POSTPKIOperation", "Renewal", "SHA-1", "SHA-256", "SHA-384", "SHA-512"]);
  });

  it("one of §3.5.2's keywords in other letter case; a vendor's own keyword, or one §3.5.2 does not define, is left alone", () => {
    expect(capsWarnings({ capabilities: ["aes", "POSTPKIOperation", "sha-256", "Renewal", "X-Vendor-Thing", "update", "sha-384"] })).toEqual([
      'profile p: GetCACaps lists "aes", which RFC 8894 §3.5.2 writes "AES": a client that compares the keyword exactly does not see it',
      'profile p: GetCACaps lists "sha-256", which RFC 8894 §3.5.2 writes "SHA-256": a client that compares the keyword exactly does not see it',
    ]);
    // A name that is an Object.prototype key reads as nothing (no lookup through the prototype chain).
    expect(capsWarnings({ capabilities: ["constructor", "toString", "AES", "SHA-256"] })).toEqual([]);
  });

  it("capabilities that are not an array of strings → ERR_INVALID_ARGUMENT at createScepServer", () => {
    for (const capabilities of ["AES\nSHA-256", ["AES", 256]]) {
      expect(() => serverWith({ capabilities })).toThrow(InvalidArgumentError);
      expect(() => serverWith({ capabilities })).toThrow("profile p: capabilities must be an array of strings");
    }
  });

  it("what a refused capability does: our client picks AES-128 from 'AES', and a policy of AES-256 alone answers FAILURE badAlg", async () => {
    const server = serverWith({ capabilities: ["AES", "POSTPKIOperation", "SHA-256"], algorithmPolicy: { ciphers: ["aes256"] } });
    expect(server.profiles()[0]!.warnings).toEqual(["profile p: GetCACaps offers AES (aes128), which the algorithm policy refuses: a client that picks it gets FAILURE badAlg"]);
    const keys = await generateRsaKeyPair(2048);
    const csr = await generateCsr({ keys, subject: "CN=caps-warning", challengePassword: CHALLENGE });
    const signer = await createSelfSignedSigner({ keys, subject: "CN=caps-warning", now: NOW });
    const client = new ScepClient({ url: "http://scep.test/scep", fetch: async (input, init) => server.fetch(new Request(input, init)) });
    const rep = await client.enroll({ csr, signer });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badAlg", failInfoText: "content cipher aes128 is not allowed by policy" });
  });
});
