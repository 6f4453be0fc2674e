/**
 * Field report about the authenticated (signed) attributes of a CertRep (RFC 8894 §3.2.1, RFC 5652 §5.3, §11),
 * rebuilt against our server and read back with the `openssl cms -cmsout -print` CLI.
 *
 * - Windows' SCEP client (ClientCertificateInstall through Fleet's proxy) stopped with "The cryptographic message does
 *   not contain an expected authenticated attribute" on the CertReps of one customer's CA, while the same profile
 *   enrolled against micromdm's server (fleetdm/fleet#38341, https://github.com/fleetdm/fleet/issues/38341). Every
 *   CertRep we answer, SUCCESS, PENDING and FAILURE alike, carries the CMS attributes a verifier requires
 *   (contentType, messageDigest) with signingTime, and the SCEP ones RFC 8894 §3.3.2 lists for its status:
 *   transactionID, messageType, pkiStatus, senderNonce, recipientNonce, and failInfo (with failInfoText) on a FAILURE.
 */
import { describe, expect, it } from "vitest";
import { opensslCmsPrint } from "../../../test-support/peers";
import { buildPkcsReq, createScepServer } from "../src/index.js";
import { NOW, createDevice, createTestCa, issuingHook, postPki } from "./support/server-pki.js";

const CHALLENGE = "cert-rep-attributes";
const ca = await createTestCa("Field CertRep Attributes CA");

/** The OIDs `openssl cms -print` lists under the SignerInfo's signedAttrs. */
async function signedAttributeOids(reply: Uint8Array): Promise<string[]> {
  const printed = await opensslCmsPrint(reply);
  const section = printed.slice(printed.indexOf("signedAttrs:"), printed.indexOf("signatureAlgorithm:", printed.indexOf("signedAttrs:")));
  return [...section.matchAll(/object: .*?\(([\d.]+)\)/g)].map((m) => m[1]!).sort();
}

const CMS = ["1.2.840.113549.1.9.3", "1.2.840.113549.1.9.4", "1.2.840.113549.1.9.5"]; // contentType, messageDigest, signingTime
const SCEP = {
  messageType: "2.16.840.1.113733.1.9.2",
  pkiStatus: "2.16.840.1.113733.1.9.3",
  failInfo: "2.16.840.1.113733.1.9.4",
  senderNonce: "2.16.840.1.113733.1.9.5",
  recipientNonce: "2.16.840.1.113733.1.9.6",
  transactionID: "2.16.840.1.113733.1.9.7",
  failInfoText: "1.3.6.1.5.5.7.24.1",
};
const COMMON = [...CMS, SCEP.messageType, SCEP.pkiStatus, SCEP.senderNonce, SCEP.recipientNonce, SCEP.transactionID];

describe("RFC 8894 §3.3.2: every CertRep carries its authenticated attributes (fleet#38341)", () => {
  const cases = [
    ["SUCCESS", CHALLENGE, undefined, COMMON],
    ["PENDING", CHALLENGE, { status: "PENDING" } as const, COMMON],
    ["FAILURE (a wrong challenge)", "not-the-challenge", undefined, [...COMMON, SCEP.failInfo, SCEP.failInfoText]],
  ] as const;
  for (const [label, challengePassword, answer, expected] of cases) {
    it(`${label}: contentType, messageDigest, signingTime and the SCEP attributes of its status`, async () => {
      const server = createScepServer({
        profiles: [{ path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: CHALLENGE }, issue: issuingHook(ca, [], () => answer) }],
        now: () => NOW,
      });
      const device = await createDevice({ cn: `attributes-${label.split(" ")[0]!.toLowerCase()}`, challengePassword });
      const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
      const res = await postPki(server, "/scep", built.der);
      expect([res.status, res.headers.get("content-type")]).toEqual([200, "application/x-pki-message"]);
      expect(await signedAttributeOids(new Uint8Array(await res.arrayBuffer()))).toEqual([...expected].sort());
    });
  }
});
