/**
 * A profile's `caCertificate` given as a PEM bundle (RFC 7468: the issuing CA
 * and its root in one file, as `readFileSync("bundle.pem")` reads it). Before,
 * only the bundle's first certificate counted and the default `caChain` was
 * that one certificate: the root never reached GetCACert (RFC 8894 §4.2.1.2),
 * and a root-first bundle made the root the "issuing CA". Now the issuing CA
 * is the bundle's certificate of the signer's (or a decrypter's) key, else the
 * first, and the default chain is the bundle in issuer order (RFC 5280 §6.1).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { x509 } from "../src/lib/x509.js";
import {
  Certificate,
  LocalKey,
  buildPkcsReq,
  createScepServer,
  generateRsaKeyPair,
  isScepError,
  parseGetCaCertResponse,
  type ScepProfile,
} from "../src/index.js";
import { DAY, NOW, createDevice, createTestCa, getOp, hex, nextSerial, pemFile, postPki, readReply, type TestCa } from "./support/server-pki.js";
import { thrown } from "./support/thrown.js";

const SIG = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
const CHALLENGE = "bundle-secret";
const KU = x509.KeyUsageFlags;
const ISSUING = "CN=Bundle Issuing CA, O=scep-sdk server tests";
const ROOT = "CN=Bundle Root CA, O=scep-sdk server tests";

let root: TestCa;
/** The issuing CA, issued by `root`, signing and decrypting itself. */
let issuing: { keys: CryptoKeyPair; key: LocalKey; cert: Certificate };
/** An RA issued by the issuing CA (its key is in no bundle). */
let ra: LocalKey;

async function certify(issuer: { keys: CryptoKeyPair; cert: Certificate }, subject: string, keys: CryptoKeyPair, ca: boolean): Promise<Certificate> {
  const made = await x509.X509CertificateGenerator.create({
    serialNumber: nextSerial(),
    subject,
    issuer: issuer.cert.subject,
    notBefore: new Date(NOW.getTime() - DAY),
    notAfter: new Date(NOW.getTime() + 365 * DAY),
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    signingAlgorithm: SIG,
    extensions: ca
      ? [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(KU.keyCertSign | KU.cRLSign | KU.digitalSignature | KU.keyEncipherment, true)]
      : [new x509.KeyUsagesExtension(KU.digitalSignature | KU.keyEncipherment, true)],
  });
  return new Certificate(new Uint8Array(made.rawData));
}

beforeAll(async () => {
  root = await createTestCa("Bundle Root CA");
  const keys = await generateRsaKeyPair(2048);
  const cert = await certify(root, ISSUING, keys, true);
  issuing = { keys, cert, key: LocalKey.from(cert, keys.privateKey) };
  const raKeys = await generateRsaKeyPair(2048);
  ra = LocalKey.from(await certify(issuing, "CN=Bundle RA", raKeys, false), raKeys.privateKey);
});

function profile(extra: Partial<ScepProfile>): ScepProfile {
  return {
    path: "/scep",
    caCertificate: pemFile(issuing.cert, root.cert),
    signer: issuing.key,
    challenge: { type: "static", password: CHALLENGE },
    issue: async (ctx) => {
      const csr = new x509.Pkcs10CertificateRequest(ctx.csr.der as Uint8Array<ArrayBuffer>);
      const made = await x509.X509CertificateGenerator.create({
        serialNumber: nextSerial(),
        subject: csr.subject,
        issuer: issuing.cert.subject,
        notBefore: NOW,
        notAfter: ctx.notAfterMax,
        publicKey: csr.publicKey,
        signingKey: issuing.keys.privateKey,
        signingAlgorithm: SIG,
      });
      return { status: "SUCCESS", certificate: new Uint8Array(made.rawData) };
    },
    ...extra,
  };
}

async function getCaCert(extra: Partial<ScepProfile>): Promise<{ subjects: string[]; contentType: string | null }> {
  const server = createScepServer({ profiles: [profile(extra)], now: () => NOW });
  const res = await getOp(server, "/scep", "GetCACert");
  expect(res.status).toBe(200);
  return { subjects: parseGetCaCertResponse(new Uint8Array(await res.arrayBuffer())).map((c) => c.subject), contentType: res.headers.get("content-type") };
}

describe("caCertificate as a PEM bundle (RFC 7468) stands for the chain (RFC 8894 §4.2.1.2)", () => {
  it("GetCACert serves the CA/RA PKCS#7 with the issuing CA and its root", async () => {
    expect(await getCaCert({})).toEqual({ subjects: [ISSUING, ROOT], contentType: "application/x-x509-ca-ra-cert" });
  });

  it("a root-first bundle: the issuing CA is the certificate of the signer's key, the root still follows it", async () => {
    expect(await getCaCert({ caCertificate: pemFile(root.cert, issuing.cert) })).toEqual({ subjects: [ISSUING, ROOT], contentType: "application/x-x509-ca-ra-cert" });
    expect((await getCaCert({ caCertificate: pemFile(root.cert, issuing.cert), caCertificates: "issuing-ca" })).subjects).toEqual([ISSUING]);
    // The same as a PEM string.
    expect((await getCaCert({ caCertificate: root.cert.toPem() + issuing.cert.toPem() })).subjects).toEqual([ISSUING, ROOT]);
  });

  it("with RA keys (no bundle certificate is theirs): the first block is the issuing CA, then the root", async () => {
    expect((await getCaCert({ signer: ra, decrypters: [ra] })).subjects).toEqual(["CN=Bundle RA", ISSUING, ROOT]);
  });

  it('"issuing-ca" leaves the bundle\'s root out', async () => {
    expect((await getCaCert({ caCertificates: "issuing-ca" })).subjects).toEqual([ISSUING]);
  });

  it("a bundle certificate that is not above the issuing CA is refused at start with ERR_INVALID_ARGUMENT, unless caChain is given", async () => {
    const other = await createTestCa("Unrelated CA");
    const e = thrown(() => createScepServer({ profiles: [profile({ name: "b", caCertificate: pemFile(issuing.cert, root.cert, other.cert) })] }));
    expect(isScepError(e) && [e.code, e.message]).toEqual([
      "ERR_INVALID_ARGUMENT",
      "profile b: the caCertificate bundle holds CN=Unrelated CA, O=scep-sdk server tests, which is not above the issuing CA CN=Bundle Issuing CA, O=scep-sdk server tests " +
        "(a bundle holds the issuing CA, the one of the signer's or a decrypter's key or else the first, and the certificates above it; or give caChain)",
    ]);
    expect((await getCaCert({ caCertificate: pemFile(issuing.cert, root.cert, other.cert), caChain: [issuing.cert] })).subjects).toEqual([ISSUING]);
  });

  it("a single DER certificate is unchanged: the issuing CA alone", async () => {
    expect(await getCaCert({ caCertificate: issuing.cert.der })).toEqual({ subjects: [ISSUING], contentType: "application/x-x509-ca-cert" });
  });

  it("an enrollment (RFC 8894 §3.3.1) succeeds, and its CertRep carries the device certificate, the issuing CA and the root", async () => {
    const server = createScepServer({ profiles: [profile({ caCertificate: pemFile(root.cert, issuing.cert) })], now: () => NOW });
    const device = await createDevice({ cn: "bundle-device", challengePassword: CHALLENGE });
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: issuing.cert, now: NOW });
    const rep = await readReply(await postPki(server, "/scep", built.der), built, { decrypter: device.signer, caCertificates: [issuing.cert] });
    expect(rep.status).toBe("SUCCESS");
    expect(rep.certificates.map((c) => c.subject)).toEqual(["CN=bundle-device, O=scep-sdk server tests", ISSUING, ROOT]);
    expect(rep.certificates[0]!.isIssuedBy(issuing.cert)).toBe(true);
    expect(hex(rep.certificates[2]!.der)).toBe(hex(root.cert.der));
  });
});
