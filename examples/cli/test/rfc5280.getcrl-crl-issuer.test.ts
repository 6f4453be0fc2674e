// `scep getcrl`'s check of the CRL against the CA that issued --cert (RFC 5280 §6.3.3), on CRLs a hostile or broken
// CA could send: every one is a one-line CliError (exit 1), never another error thrown out of the check. The
// end-to-end cases (the issuing CA's CRL written, another CA's refused, PKCS #1 v1.5 and RSASSA-PSS) run against a
// fake SCEP server in cli.exit-codes.test.ts.
import { sign } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AsnConvert } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier, CertificateList } from "@peculiar/asn1-x509";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Certificate, createSelfSignedSigner, generateRsaKeyPair } from "@scep/core";
import { runOpenssl, withTempDir, type CaMaterial } from "../../../test-support/peers";
import { opensslCrl } from "./support/fake-scep-server.js";
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

/** A CA (PEM) made by `openssl req -x509` with `newkey` (e.g. `["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]`). */
async function opensslCa(newkey: readonly string[], subject = "/O=scep-sdk tests/CN=CRL Check CA"): Promise<CaMaterial> {
  return withTempDir(async (dir) => {
    const args = ["req", "-x509", "-new", ...newkey, "-nodes", "-keyout", join(dir, "ca.key"), "-out", join(dir, "ca.pem"), "-days", "1", "-subj", subject];
    await runOpenssl([...args, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-addext", "subjectKeyIdentifier=hash"]);
    return { certPem: readFileSync(join(dir, "ca.pem"), "utf8"), keyPem: readFileSync(join(dir, "ca.key"), "utf8") };
  });
}

const P256 = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
const RSA = ["-newkey", "rsa:2048"];

/** What checkCrlIssuer does with `crl` against `ca`: "ok", or the CliError's message (anything else is thrown on). */
function outcome(crl: Uint8Array, ca: CaMaterial): string {
  const certificate = Certificate.from(ca.certPem);
  try {
    checkCrlIssuer(crl, certificate, [certificate], "c.pem");
    return "ok";
  } catch (e) {
    if (!(e instanceof CliError) || e.exitCode !== ExitCode.ERROR) throw e;
    return e.message;
  }
}

const refusal = (why: string): string => `the CA returned a CRL that is not O=scep-sdk tests, CN=CRL Check CA's (the CA that issued --cert c.pem): ${why}; nothing was written`;
const NOT_VERIFIED = "its signature does not verify with that CA's key (another CA with the same name?)";

describe("scep getcrl: the CRL's signature, issuer and authorityKeyIdentifier against the CA's (RFC 5280 §6.3.3)", () => {
  it("an ECDSA CA's own CRL (ecdsa-with-SHA256, -SHA384) passes; one of another ECDSA CA of the same name is refused", async () => {
    const [ca, twin] = await Promise.all([opensslCa(P256), opensslCa(P256)]);
    expect(outcome(await opensslCrl(ca.certPem, ca.keyPem), ca)).toBe("ok");
    expect(outcome(await opensslCrl(ca.certPem, ca.keyPem, ["-md", "sha384"]), ca)).toBe("ok");
    expect(outcome(await opensslCrl(twin.certPem, twin.keyPem, [], { authorityKeyIdentifier: false }), ca)).toBe(refusal(NOT_VERIFIED));
  }, 60_000);

  it("a CA's own CRL of 3 000 entries with reasonCodes passes (asn1js alone stops at 10 000 ASN.1 nodes, ~1 250 such entries)", async () => {
    const ca = await opensslCa(RSA);
    expect(outcome(await opensslCrl(ca.certPem, ca.keyPem, [], { revoked: 3_000 }), ca)).toBe("ok");
  }, 60_000);

  it("a CRL without authorityKeyIdentifier (RFC 5280 §5.2.1 MUST, but seen) is judged by its signature alone", async () => {
    const [ca, twin] = await Promise.all([opensslCa(RSA), opensslCa(RSA)]);
    expect(outcome(await opensslCrl(ca.certPem, ca.keyPem, [], { authorityKeyIdentifier: false }), ca)).toBe("ok");
    expect(outcome(await opensslCrl(twin.certPem, twin.keyPem, [], { authorityKeyIdentifier: false }), ca)).toBe(refusal(NOT_VERIFIED));
  }, 60_000);

  it("RSASSA-PSS whose MGF1 hash is not its hash (RFC 4055 §3.1), MD5, and an algorithm it does not know (Ed25519), are refused by name", async () => {
    const ca = await opensslCa(RSA);
    const mixedPss = ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_mgf1_md:sha1", "-sigopt", "rsa_pss_saltlen:32"];
    expect(outcome(await opensslCrl(ca.certPem, ca.keyPem, mixedPss), ca)).toBe(
      refusal("it is signed with an algorithm this check cannot verify (PSS with an MGF1 hash (sha1) different from the message hash (sha256))"),
    );
    // @scep/core reads md5WithRSAEncryption; a CRL signed with it proves nothing, so the check refuses it.
    expect(outcome(await opensslCrl(ca.certPem, ca.keyPem, ["-md", "md5"]), ca)).toBe(refusal("it is signed with MD5, which this check does not trust"));
    const edwards = await opensslCa(["-newkey", "ed25519"]);
    const crl = await opensslCrl(edwards.certPem, edwards.keyPem, ["-md", "default"]);
    expect(outcome(crl, ca)).toBe(refusal("it is signed with an algorithm this check cannot verify (unsupported signature algorithm Ed25519 (1.3.101.112))"));
  }, 60_000);

  it("bytes that are not one DER CertificateList (garbage, trailing bytes, any bytes) are a one-line refusal, exit 1", async () => {
    const ca = await opensslCa(RSA);
    const crl = await opensslCrl(ca.certPem, ca.keyPem);
    const notDer = new RegExp(`^${refusal("it is not a DER CRL (@").replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace("@", ".+")}$`);
    expect(outcome(Uint8Array.of(1, 2, 3), ca)).toMatch(notDer);
    expect(outcome(Uint8Array.from([...crl, 0x00, 0x00]), ca)).toMatch(notDer);
    expect(outcome(crl.subarray(0, crl.length - 1), ca)).toMatch(notDer);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(outcome(bytes, ca)).toMatch(/^the CA returned a CRL that is not .*; nothing was written$/);
      }),
    );
    // The CA's own CRL with one byte changed: refused with one line, or (a change the signature does not cover) passed.
    fc.assert(
      fc.property(fc.nat(crl.length - 1), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const changed = Uint8Array.from(crl);
        changed[at] = changed[at]! ^ xor;
        expect(outcome(changed, ca)).toMatch(/^(ok|the CA returned a CRL that is not .*; nothing was written)$/);
      }),
      { numRuns: 300 },
    );
  }, 60_000);
});

/** A key and certificate under `ca`'s own name that `ca` issued for signing CRLs only (keyUsage cRLSign). */
async function separateCrlSigner(ca: CaMaterial, subject = "/O=scep-sdk tests/CN=CRL Check CA"): Promise<CaMaterial> {
  return withTempDir(async (dir) => {
    writeFileSync(join(dir, "ca.pem"), ca.certPem);
    writeFileSync(join(dir, "ca.key"), ca.keyPem);
    writeFileSync(join(dir, "ext.cnf"), "keyUsage = critical, cRLSign\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n");
    await runOpenssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "signer.key"), "-out", join(dir, "signer.csr"), "-subj", subject]);
    const issue = ["x509", "-req", "-in", join(dir, "signer.csr"), "-CA", join(dir, "ca.pem"), "-CAkey", join(dir, "ca.key"), "-set_serial", "7", "-days", "1"];
    await runOpenssl([...issue, "-extfile", join(dir, "ext.cnf"), "-out", join(dir, "signer.pem")]);
    return { certPem: readFileSync(join(dir, "signer.pem"), "utf8"), keyPem: readFileSync(join(dir, "signer.key"), "utf8") };
  });
}

describe("scep getcrl: a CRL signed by a separate cRLSign key under the CA's name (RFC 5280 §6.3.3)", () => {
  it("is refused as one that cannot be checked (its authorityKeyIdentifier names another key), not as a signature that fails", async () => {
    const ca = await opensslCa(RSA);
    const signer = await separateCrlSigner(ca);
    const keyId = (pem: string): string => Buffer.from(Certificate.from(pem).subjectKeyIdentifier!).toString("hex");
    expect(outcome(await opensslCrl(signer.certPem, signer.keyPem), ca)).toBe(
      refusal(
        `its authorityKeyIdentifier ${keyId(signer.certPem)} names a key that is not the CA's (subjectKeyIdentifier ${keyId(ca.certPem)}), so it cannot be checked (a separate CRL signer, RFC 5280 §6.3.3, or another CA of the same name: only the key of the CA that issued --cert is trusted here)`,
      ),
    );
    // Without an authorityKeyIdentifier nothing names the other key: the signature is what fails.
    expect(outcome(await opensslCrl(signer.certPem, signer.keyPem, [], { authorityKeyIdentifier: false }), ca)).toBe(refusal(NOT_VERIFIED));
  }, 60_000);
});

/**
 * `crl` (DER) rebuilt with its outer signatureAlgorithm and its tbsCertList's signature field set to `outer` and
 * `inner` (each: the field as it was when absent), and signed again with `keyPem` over `digest`: a CRL whose only fault
 * is what was changed.
 */
function resigned(crl: Uint8Array, keyPem: string, digest: string, fields: { outer?: AlgorithmIdentifier; inner?: AlgorithmIdentifier }): Uint8Array {
  const list = AsnConvert.parse(crl, CertificateList);
  const tbsCertList = list.tbsCertList;
  if (fields.inner) tbsCertList.signature = fields.inner;
  const signature = sign(digest, new Uint8Array(AsnConvert.serialize(tbsCertList)), keyPem);
  const signatureAlgorithm = fields.outer ?? list.signatureAlgorithm;
  return new Uint8Array(AsnConvert.serialize(new CertificateList({ tbsCertList, signatureAlgorithm, signature: new Uint8Array(signature).buffer })));
}

const SHA256_RSA = "1.2.840.113549.1.1.11";
const SHA384_RSA = "1.2.840.113549.1.1.12";
const withNull = (oid: string): AlgorithmIdentifier => new AlgorithmIdentifier({ algorithm: oid, parameters: null });

describe("scep getcrl: RFC 5280 §5.1.1.2, the CRL's signatureAlgorithm is its tbsCertList's signature field", () => {
  it("a CRL whose two fields differ (another hash, or the same OID without its NULL), signed again so its signature verifies, is refused naming both; rebuilt alike it passes", async () => {
    const ca = await opensslCa(RSA);
    const crl = await opensslCrl(ca.certPem, ca.keyPem); // sha256WithRSAEncryption, NULL parameters, in both fields
    expect(outcome(resigned(crl, ca.keyPem, "sha256", {}), ca)).toBe("ok");
    expect(outcome(resigned(crl, ca.keyPem, "sha384", { outer: withNull(SHA384_RSA), inner: withNull(SHA384_RSA) }), ca)).toBe("ok");

    // The outer field (the one the signature is checked under, and not signed) says SHA-384, and a SHA-384 signature it is.
    expect(outcome(resigned(crl, ca.keyPem, "sha384", { outer: withNull(SHA384_RSA) }), ca)).toBe(
      refusal(`its signatureAlgorithm (${SHA384_RSA}) is not the signature field of its tbsCertList (${SHA256_RSA}), as RFC 5280 §5.1.1.2 requires`),
    );
    expect(outcome(resigned(crl, ca.keyPem, "sha256", { inner: withNull(SHA384_RSA) }), ca)).toBe(
      refusal(`its signatureAlgorithm (${SHA256_RSA}) is not the signature field of its tbsCertList (${SHA384_RSA}), as RFC 5280 §5.1.1.2 requires`),
    );
    expect(outcome(resigned(crl, ca.keyPem, "sha256", { outer: new AlgorithmIdentifier({ algorithm: SHA256_RSA }) }), ca)).toBe(
      refusal(
        `its signatureAlgorithm (${SHA256_RSA}: 300b06092a864886f70d01010b) is not the signature field of its tbsCertList (${SHA256_RSA}: 300d06092a864886f70d01010b0500), as RFC 5280 §5.1.1.2 requires`,
      ),
    );
  }, 60_000);
});
