/**
 * Field reports about which certificates GetCACert serves when the CA signs and decrypts itself (RFC 8894 §4.2.1:
 * one certificate as `application/x-x509-ca-cert`, several as a degenerate PKCS#7 `application/x-x509-ca-ra-cert`),
 * rebuilt against our server.
 *
 * - Apple's client (iOS, macOS) reads a `x-x509-ca-ra-cert` answer as "there are RA certificates here" and picks them
 *   by keyUsage alone: it needs a certificate with digitalSignature and keyEncipherment, or one with each. A server in
 *   CA mode whose issuing CA carried only keyCertSign and cRLSign served the CA with its parent that way, and every
 *   Apple enrollment stopped before its PKIOperation with "SCEP failed to find candidate RA certificates … The key
 *   usage is incorrect" (NeySlim/ultimate-ca-manager#101, https://github.com/NeySlim/ultimate-ca-manager/issues/101;
 *   the fix served the CA alone, NeySlim/ultimate-ca-manager#102). A certificate without the keyUsage extension counts
 *   as neither for Apple: an OpenXPKI SCEP certificate without one made macOS encrypt to the wrong CA certificate
 *   (openxpki/openxpki-config#14, https://github.com/openxpki/openxpki-config/issues/14). A single CA certificate is
 *   taken whatever its keyUsage (micromdm/scep#81, https://github.com/micromdm/scep/issues/81: a keyCertSign + cRLSign
 *   CA served alone enrolls macOS).
 * - iOS answered "The SCEP server configuration is not supported" to a GetCACert set that held the same certificate
 *   twice; the server's fix sent the CA once (nolanbrown/ios-cert-enrollment#2,
 *   https://github.com/nolanbrown/ios-cert-enrollment/issues/2, and its pull request #3). No certificate is sent twice,
 *   also when a `caCertificates` list repeats one.
 *
 * Our default set is the signer, the decrypters, then the chain (smallstep/certificates#746,
 * https://github.com/smallstep/certificates/issues/746: macOS and NDES-style clients want the chain). In CA mode Apple must take
 * the CA itself as its RA (it is the only key the server decrypts with), so when the CA lacks digitalSignature or
 * keyEncipherment the default is the issuing CA alone; a CA with those keyUsage bits, an RA, or an explicit list is
 * served as before.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { x509 } from "../src/lib/x509.js";
import { Certificate, LocalKey, createScepServer, generateRsaKeyPair, parseGetCaCertResponse, parseGetNextCaCertResponse, type ScepProfile } from "../src/index.js";
import { DAY, NOW, getOp, hex, nextSerial, pemFile } from "./support/server-pki.js";

const SIG = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
const KU = x509.KeyUsageFlags;
const CA_ONLY = KU.keyCertSign | KU.cRLSign;

interface Made {
  keys: CryptoKeyPair;
  cert: Certificate;
  key: LocalKey;
}

/** A certificate for a fresh RSA key: self-signed without `issuer`; a CA when `ca`; keyUsage `usage` (none: no extension). */
async function make(subject: string, options: { issuer?: Made; ca: boolean; usage?: number }): Promise<Made> {
  const keys = await generateRsaKeyPair(2048);
  const extensions: x509.Extension[] = [];
  if (options.ca) extensions.push(new x509.BasicConstraintsExtension(true, undefined, true));
  if (options.usage !== undefined) extensions.push(new x509.KeyUsagesExtension(options.usage, true));
  const common = { serialNumber: nextSerial(), notBefore: new Date(NOW.getTime() - DAY), notAfter: new Date(NOW.getTime() + 365 * DAY), signingAlgorithm: SIG, extensions };
  const made = options.issuer
    ? await x509.X509CertificateGenerator.create({ ...common, subject, issuer: options.issuer.cert.subject, publicKey: keys.publicKey, signingKey: options.issuer.keys.privateKey })
    : await x509.X509CertificateGenerator.createSelfSigned({ ...common, name: subject, keys });
  const cert = new Certificate(new Uint8Array(made.rawData));
  return { keys, cert, key: LocalKey.from(cert, keys.privateKey) };
}

/**
 * What Apple's client finds in a GetCACert set of several certificates, as its source does it
 * (`SecSCEPValidateCACertMessage`, apple-open-source/macos, Security/OSX/sec/Security/SecSCEP.c): a candidate is a
 * certificate that chains to another one of the set (a self-signed root never is one), judged by its keyUsage bits
 * alone; a certificate without the extension has no bits (`kSecKeyUsageUnspecified` is "No KeyUsage extension in
 * certificate" in Security's SecCertificate.h), not RFC 5280 §4.2.1.3's "unrestricted". It needs one candidate with
 * digitalSignature and keyEncipherment, or one with each.
 */
function appleFindsRaCandidates(certs: readonly Certificate[]): boolean {
  const candidates = certs.filter((c) => certs.some((o) => o !== c && c.isIssuedBy(o)));
  const usage = (c: Certificate, u: "digitalSignature" | "keyEncipherment"): boolean => c.keyUsage?.has(u) ?? false;
  if (candidates.some((c) => usage(c, "digitalSignature") && usage(c, "keyEncipherment"))) return true;
  return candidates.some((c) => usage(c, "digitalSignature") && !usage(c, "keyEncipherment")) && candidates.some((c) => usage(c, "keyEncipherment") && !usage(c, "digitalSignature"));
}

async function getCaCert(profile: Partial<ScepProfile> & Pick<ScepProfile, "caCertificate" | "signer">): Promise<{ type: string | null; certs: Certificate[] }> {
  const server = createScepServer({ profiles: [{ path: "/scep", challenge: { type: "static", password: "ra-roles" }, issue: async () => ({ status: "FAILURE", failInfo: "badRequest" }), ...profile }], now: () => NOW });
  const res = await getOp(server, "/scep", "GetCACert");
  expect(res.status).toBe(200);
  const type = res.headers.get("content-type");
  return { type, certs: parseGetCaCertResponse(new Uint8Array(await res.arrayBuffer()), type ?? undefined) };
}

let root: Made;
/** An issuing CA with only the usual CA usages (keyCertSign, cRLSign), as `openssl`'s v3_ca and many CA tools make it. */
let plainIssuing: Made;
/** An issuing CA that may sign and encrypt SCEP messages itself (RFC 8894 §2.1.2). */
let scepIssuing: Made;

beforeAll(async () => {
  root = await make("CN=RA Roles Root, O=scep-sdk field tests", { ca: true, usage: CA_ONLY });
  plainIssuing = await make("CN=RA Roles Plain Issuing CA, O=scep-sdk field tests", { issuer: root, ca: true, usage: CA_ONLY });
  scepIssuing = await make("CN=RA Roles SCEP Issuing CA, O=scep-sdk field tests", { issuer: root, ca: true, usage: CA_ONLY | KU.digitalSignature | KU.keyEncipherment });
});

describe("RFC 8894 §4.2.1: GetCACert in CA mode gives Apple's client an RA it can pick (UCM#101, openxpki-config#14, micromdm#81, smallstep#746)", () => {
  it("an issuing CA with only keyCertSign and cRLSign, with its root in the bundle: the CA alone, application/x-x509-ca-cert (the chain would leave Apple no RA)", async () => {
    expect(appleFindsRaCandidates([plainIssuing.cert, root.cert])).toBe(false); // what was served before: Apple stops here
    const { type, certs } = await getCaCert({ caCertificate: pemFile(plainIssuing.cert, root.cert), signer: plainIssuing.key });
    expect(type).toBe("application/x-x509-ca-cert");
    expect(certs.map((c) => hex(c.der))).toEqual([hex(plainIssuing.cert.der)]);
  });

  it("the same CA without any keyUsage extension (Apple counts it as neither): the CA alone", async () => {
    const bare = await make("CN=RA Roles Bare Issuing CA, O=scep-sdk field tests", { issuer: root, ca: true });
    const { type, certs } = await getCaCert({ caCertificate: pemFile(bare.cert, root.cert), signer: bare.key });
    expect([type, certs.length]).toEqual(["application/x-x509-ca-cert", 1]);
  });

  it("a plain issuing CA under a root that has digitalSignature and keyEncipherment: the CA alone (a self-signed root is no candidate for Apple, so the chain leaves it no RA)", async () => {
    const usableRoot = await make("CN=RA Roles Usable Root, O=scep-sdk field tests", { ca: true, usage: CA_ONLY | KU.digitalSignature | KU.keyEncipherment });
    const issuing = await make("CN=RA Roles Issuing Under Usable Root, O=scep-sdk field tests", { issuer: usableRoot, ca: true, usage: CA_ONLY });
    expect(appleFindsRaCandidates([issuing.cert, usableRoot.cert])).toBe(false);
    const { type, certs } = await getCaCert({ caCertificate: pemFile(issuing.cert, usableRoot.cert), signer: issuing.key });
    expect(type).toBe("application/x-x509-ca-cert");
    expect(certs.map((c) => hex(c.der))).toEqual([hex(issuing.cert.der)]);
  });

  it("an issuing CA with digitalSignature and keyEncipherment: the chain as before, and Apple finds its RA in it", async () => {
    const { type, certs } = await getCaCert({ caCertificate: pemFile(scepIssuing.cert, root.cert), signer: scepIssuing.key });
    expect(type).toBe("application/x-x509-ca-ra-cert");
    expect(certs.map((c) => hex(c.der))).toEqual([hex(scepIssuing.cert.der), hex(root.cert.der)]);
    expect(appleFindsRaCandidates(certs)).toBe(true);
  });

  it("an RA that signs and decrypts for a plain CA: the RA, the CA and the root as before (Apple takes the RA)", async () => {
    const ra = await make("CN=RA Roles RA, O=scep-sdk field tests", { issuer: plainIssuing, ca: false, usage: KU.digitalSignature | KU.keyEncipherment });
    const { type, certs } = await getCaCert({ caCertificate: pemFile(plainIssuing.cert, root.cert), signer: ra.key });
    expect(type).toBe("application/x-x509-ca-ra-cert");
    expect(certs.map((c) => hex(c.der))).toEqual([hex(ra.cert.der), hex(plainIssuing.cert.der), hex(root.cert.der)]);
    expect(appleFindsRaCandidates(certs)).toBe(true);
  });

  it("no certificate twice: the CA as signer, decrypter and first of its chain, or listed twice by hand, is sent once (ios-cert-enrollment#2)", async () => {
    const defaults = await getCaCert({ caCertificate: scepIssuing.cert, signer: scepIssuing.key, decrypters: [scepIssuing.key], caChain: [scepIssuing.cert, root.cert] });
    expect(defaults.certs.map((c) => hex(c.der))).toEqual([hex(scepIssuing.cert.der), hex(root.cert.der)]);
    const listed = await getCaCert({ caCertificate: scepIssuing.cert, signer: scepIssuing.key, caCertificates: [scepIssuing.cert, root.cert, scepIssuing.cert] });
    expect(listed.certs.map((c) => hex(c.der))).toEqual([hex(scepIssuing.cert.der), hex(root.cert.der)]);
  });

  it("GetNextCACert too: a nextCaCertificates list that repeats a certificate sends it once", async () => {
    const next = await make("CN=RA Roles Next CA, O=scep-sdk field tests", { ca: true, usage: CA_ONLY | KU.digitalSignature | KU.keyEncipherment });
    const server = createScepServer({
      profiles: [{ path: "/scep", caCertificate: scepIssuing.cert, signer: scepIssuing.key, nextCaCertificates: [next.cert, next.cert], challenge: { type: "static", password: "ra-roles" }, issue: async () => ({ status: "FAILURE", failInfo: "badRequest" }) }],
      now: () => NOW,
    });
    const res = await getOp(server, "/scep", "GetNextCACert");
    expect(res.status).toBe(200);
    const certs = parseGetNextCaCertResponse(new Uint8Array(await res.arrayBuffer()), [scepIssuing.cert]);
    expect(certs.map((c) => hex(c.der))).toEqual([hex(next.cert.der)]);
  });

  it("an explicit caCertificates list is served exactly, whatever the keyUsage", async () => {
    const { type, certs } = await getCaCert({ caCertificate: pemFile(plainIssuing.cert, root.cert), signer: plainIssuing.key, caCertificates: [plainIssuing.cert, root.cert] });
    expect(type).toBe("application/x-x509-ca-ra-cert");
    expect(certs.map((c) => hex(c.der))).toEqual([hex(plainIssuing.cert.der), hex(root.cert.der)]);
  });
});
