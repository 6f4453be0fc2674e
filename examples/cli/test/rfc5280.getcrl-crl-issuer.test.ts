// `scep getcrl`'s check of the CRL against the CA that issued --cert (RFC 5280 §6.3.3), on CRLs a hostile or broken
// CA could send: every one is a one-line CliError (exit 1), never another error thrown out of the check. The
// end-to-end cases (the issuing CA's CRL written, another CA's refused, PKCS #1 v1.5 and RSASSA-PSS) run against a
// fake SCEP server in cli.exit-codes.test.ts.
import { describe, expect, it } from "vitest";
import { createSelfSignedSigner, generateRsaKeyPair } from "@scep/core";
import { checkCrlIssuer } from "../src/lib/crl-issuer.js";
import { CliError, ExitCode } from "../src/lib/exit.js";

/** DER TLV with a short or long definite length. */
function tlv(tag: number, ...content: number[][]): number[] {
  const body = content.flat();
  const length = body.length < 0x80 ? [body.length] : body.length < 0x100 ? [0x81, body.length] : [0x82, body.length >> 8, body.length & 0xff];
  return [tag, ...length, ...body];
}

/** A CertificateList whose issuer is `issuer` (DER), signed "sha256WithRSAEncryption" with a zero signature. */
function crlWithIssuer(issuer: number[]): Uint8Array {
  const sha256WithRsa = tlv(0x30, tlv(0x06, [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b]));
  const thisUpdate = tlv(0x17, [..."260101000000Z"].map((c) => c.charCodeAt(0)));
  return Uint8Array.from(tlv(0x30, tlv(0x30, sha256WithRsa, issuer, thisUpdate), sha256WithRsa, tlv(0x03, [0x00, 0x00])));
}

describe("scep getcrl: a CRL whose issuer Name does not parse (RFC 5280 §5.1.2.3)", () => {
  it("is refused with one line naming it, exit 1, not ERR_ASN1 from the name formatter", async () => {
    const ca = await createSelfSignedSigner({ keys: await generateRsaKeyPair(2048), subject: "CN=Getcrl Test CA" });
    const crl = crlWithIssuer(tlv(0x30, [0x05, 0x00])); // a SEQUENCE holding NULL: not a SEQUENCE OF RelativeDistinguishedName
    let thrown: unknown;
    try {
      checkCrlIssuer(crl, ca.certificate, [ca.certificate], "c.pem");
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(CliError);
    expect((thrown as CliError).exitCode).toBe(ExitCode.ERROR);
    expect((thrown as CliError).message).toBe(
      "the CA returned a CRL that is not CN=Getcrl Test CA's (the CA that issued --cert c.pem): its issuer is a Name that does not parse (30020500); nothing was written",
    );
  });
});
