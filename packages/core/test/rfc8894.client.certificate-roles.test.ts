/**
 * RFC 8894 §2.2, §3.3.3, §4.2.1.2 from the client side: certificates of a
 * GetCACert set are picked by role and chain position, never by list order.
 * The recipient is an RA with keyEncipherment, else the lowest CA (the one
 * that issued none of the others); CertReps come from the signing RA or that
 * CA; a CertPoll names the issuing CA. Checked against a strict responder
 * that answers badCertId when the CertPoll's issuer is not the issuing CA's
 * name (our own server ignores that field), in every order of the set,
 * including NDES's signing RA + encryption RA layout.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { Certificate, ScepClient, buildCertPoll, formatName, lowestCa, selectIssuerName, selectRecipient, selectSigner } from "../src/index.js";
import { createDevice } from "./support/server-pki.js";
import { createTwoLevelPki, strictScepFetch, type TwoLevelPki } from "./support/strict-ca.js";

let pki: TwoLevelPki;
let root: Certificate, issuing: Certificate, raSign: Certificate, raEncrypt: Certificate;

beforeAll(async () => {
  pki = await createTwoLevelPki();
  [root, issuing, raSign, raEncrypt] = [pki.root.certificate, pki.issuing.certificate, pki.raSign.certificate, pki.raEncrypt.certificate];
});

const permutations = <T>(items: readonly T[]): T[][] =>
  items.length <= 1 ? [[...items]] : items.flatMap((x, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [x, ...rest]));

describe("selection by role (RFC 8894 §2.2, §4.2.1.2)", () => {
  it("[root, issuing CA], both with keyEncipherment, in either order: the issuing CA is the recipient, the signer and the issuer", () => {
    for (const set of [[root, issuing], [issuing, root]]) {
      expect(selectRecipient(set).subject).toBe("CN=Strict Issuing CA, O=scep-sdk tests");
      expect(selectSigner(set).subject).toBe("CN=Strict Issuing CA, O=scep-sdk tests");
      expect(lowestCa(set)?.subject).toBe("CN=Strict Issuing CA, O=scep-sdk tests");
      expect(formatName(selectIssuerName(set))).toBe("CN=Strict Issuing CA, O=scep-sdk tests");
    }
  });

  it("NDES layout in all 24 orders: encrypt to the encryption RA, expect the signing RA, poll with the issuing CA's name", () => {
    for (const set of permutations([raSign, raEncrypt, issuing, root])) {
      expect(selectRecipient(set).subject).toBe("CN=Strict RA encryption, O=scep-sdk tests");
      expect(selectSigner(set).subject).toBe("CN=Strict RA signing, O=scep-sdk tests");
      expect(formatName(selectIssuerName(set))).toBe("CN=Strict Issuing CA, O=scep-sdk tests");
    }
  });

  it("an RA whose CA is not in the set: the CertPoll issuer is still the RA's issuer", () => {
    expect(formatName(selectIssuerName([raEncrypt]))).toBe("CN=Strict Issuing CA, O=scep-sdk tests");
    expect(formatName(selectIssuerName([raSign, raEncrypt, root]))).toBe("CN=Strict Issuing CA, O=scep-sdk tests");
  });

  it("any subset in any order never picks the root while the issuing CA is there", () => {
    fc.assert(
      fc.property(fc.shuffledSubarray([root, issuing, raSign], { minLength: 1 }), (set) => {
        if (set.includes(issuing)) expect(selectRecipient(set)).toBe(issuing);
      }),
    );
  });

  it("buildCertPoll takes exactly one of issuer and issuerName", async () => {
    const device = await createDevice({ cn: "poll-args" });
    const common = { signer: device.signer, recipient: issuing, subject: device.signer.certificate.subjectDer, transactionId: "T" };
    await expect(buildCertPoll(common)).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT", message: "buildCertPoll needs exactly one of issuer and issuerName" });
    await expect(buildCertPoll({ ...common, issuer: issuing, issuerName: issuing.subjectDer })).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT" });
    await expect(buildCertPoll({ ...common, issuerName: new Uint8Array([1, 2]) })).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT", message: "issuerName is not a DER Name" });
  });
});

describe("ScepClient.enroll with CertPoll against a CA that matches on IssuerAndSubject.issuer (RFC 8894 §3.3.3)", () => {
  const layouts = (): [string, Certificate[], "ca" | "ndes"][] => [
    ["[root, issuing CA]", [root, issuing], "ca"],
    ["[issuing CA, root]", [issuing, root], "ca"],
    ["NDES [signing RA, encryption RA, issuing CA, root]", [raSign, raEncrypt, issuing, root], "ndes"],
    ["NDES [root, issuing CA, encryption RA, signing RA]", [root, issuing, raEncrypt, raSign], "ndes"],
  ];

  it.each([0, 1, 2, 3])("layout %i: PENDING, then SUCCESS to the CertPoll; the issued certificate is found by key", async (i) => {
    const [, set, kind] = layouts()[i]!;
    const { fetch, log } = strictScepFetch({
      pki,
      caCertificates: set,
      decrypters: kind === "ndes" ? [pki.raEncrypt] : [pki.issuing],
      signer: kind === "ndes" ? pki.raSign : pki.issuing,
      includeSignerCertificate: kind !== "ndes", // NDES omits its signer: verified against the GetCACert set
    });
    const device = await createDevice({ cn: `roles-${i}`, challengePassword: "x" });
    const rep = await new ScepClient({ url: "http://strict.test/scep", fetch }).enroll({ csr: device.csr, signer: device.signer, maxPollMs: 1, pollIntervalMs: 1, sleep: async () => {} });
    expect(log.outcomes).toEqual(["PKCSReq → PENDING", "CertPoll → SUCCESS"]);
    expect(formatName(log.requests[1]!.issuerAndSubject!.issuer)).toBe("CN=Strict Issuing CA, O=scep-sdk tests");
    expect(rep.status).toBe("SUCCESS");
    expect(rep.signerCertificate.subject).toBe(kind === "ndes" ? "CN=Strict RA signing, O=scep-sdk tests" : "CN=Strict Issuing CA, O=scep-sdk tests");
    expect(rep.certificates.map((c) => c.subject)).toEqual(["CN=Strict Issuing CA, O=scep-sdk tests", `CN=roles-${i}, O=scep-sdk server tests`]);
    expect(rep.certificate?.subject).toBe(`CN=roles-${i}, O=scep-sdk server tests`);
    expect(rep.certificate?.isIssuedBy(issuing)).toBe(true);
  });

  it("the strict CA does refuse a CertPoll naming the root (the test server can fail)", async () => {
    const { fetch, log } = strictScepFetch({ pki, caCertificates: [root, issuing], decrypters: [pki.issuing], signer: pki.issuing, includeSignerCertificate: true });
    const device = await createDevice({ cn: "wrong-issuer" });
    const client = new ScepClient({ url: "http://strict.test/scep", fetch });
    const first = await client.enroll({ csr: device.csr, signer: device.signer });
    expect(first.status).toBe("PENDING");
    const poll = await buildCertPoll({ issuer: root, subject: device.signer.certificate.subjectDer, transactionId: first.transactionId, signer: device.signer, recipient: issuing });
    const { readCertRep } = await import("../src/index.js");
    const rep = await readCertRep(await client.pkiOperation(poll.der), { request: poll, caCertificates: [root, issuing] });
    expect([rep.status, rep.failInfo]).toEqual(["FAILURE", "badCertId"]);
    expect(log.outcomes).toEqual(["PKCSReq → PENDING", "CertPoll → FAILURE badCertId"]);
  });
});
