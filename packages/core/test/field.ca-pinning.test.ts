/**
 * Field reports about the CA certificate an MDM profile pins, rebuilt against our server's GetCACert (RFC 8894 §4.2.1)
 * in CA mode (the issuing CA signs and decrypts itself):
 *
 * - Windows' ClientCertificateInstall CSP takes `SCEP/{UniqueID}/Install/CAThumbprint`, the SHA-1 of the root CA
 *   certificate, and checks the CA certificate of the GetCACert answer against it
 *   (https://learn.microsoft.com/windows/client-management/mdm/clientcertificateinstall-csp). An Intune Windows
 *   profile pinned to the root failed with a hash mismatch while the server answered with the issuing CA alone, and
 *   went past it once the root was served too (NeySlim/ultimate-ca-manager#228,
 *   https://github.com/NeySlim/ultimate-ca-manager/issues/228). Apple's `CAFingerprint` is compared with the top of the
 *   chain its client builds from the answer (`SecSCEPValidateCACertMessage`, apple-open-source/macos SecSCEP.c).
 *   Our default serves an issuing CA without digitalSignature and keyEncipherment alone (Apple would find no RA in its
 *   chain: field.ca-cert-ra-roles.test.ts), so a root pin cannot match; nothing told the operator. Now
 *   `profiles()[i].warnings` says so, with both SHA-1 thumbprints (the one to pin, and the root's).
 * - The example servers list `caCertificates` themselves (issuing CA, then its parents): for such a CA, Apple's client
 *   finds no RA in that list and every iOS/macOS enrollment stops before its PKIOperation
 *   (NeySlim/ultimate-ca-manager#101, https://github.com/NeySlim/ultimate-ca-manager/issues/101), silently. Now a
 *   warning too.
 */
import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { x509 } from "../src/lib/x509.js";
import { Certificate, LocalKey, createScepServer, generateRsaKeyPair, parseGetCaCertResponse, type ScepProfile } from "../src/index.js";
import { DAY, NOW, getOp, nextSerial, pemFile } from "./support/server-pki.js";

const SIG = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
const KU = x509.KeyUsageFlags;
const CA_ONLY = KU.keyCertSign | KU.cRLSign;

interface Made {
  keys: CryptoKeyPair;
  cert: Certificate;
  key: LocalKey;
}

async function make(subject: string, options: { issuer?: Made; ca: boolean; usage: number }): Promise<Made> {
  const keys = await generateRsaKeyPair(2048);
  const extensions: x509.Extension[] = [new x509.KeyUsagesExtension(options.usage, true)];
  if (options.ca) extensions.push(new x509.BasicConstraintsExtension(true, undefined, true));
  const common = { serialNumber: nextSerial(), notBefore: new Date(NOW.getTime() - DAY), notAfter: new Date(NOW.getTime() + 365 * DAY), signingAlgorithm: SIG, extensions };
  const made = options.issuer
    ? await x509.X509CertificateGenerator.create({ ...common, subject, issuer: options.issuer.cert.subject, publicKey: keys.publicKey, signingKey: options.issuer.keys.privateKey })
    : await x509.X509CertificateGenerator.createSelfSigned({ ...common, name: subject, keys });
  const cert = new Certificate(new Uint8Array(made.rawData));
  return { keys, cert, key: LocalKey.from(cert, keys.privateKey) };
}

/** Windows' CAThumbprint form: the SHA-1 of the certificate's DER, upper-case hex. */
const thumbprint = (c: Certificate): string => createHash("sha1").update(c.der).digest("hex").toUpperCase();

async function serve(profile: Partial<ScepProfile> & Pick<ScepProfile, "caCertificate" | "signer">): Promise<{ served: Certificate[]; warnings: string[] | undefined }> {
  const server = createScepServer({ profiles: [{ path: "/scep", challenge: { type: "static", password: "pin" }, issue: async () => ({ status: "FAILURE", failInfo: "badRequest" }), ...profile }], now: () => NOW });
  const res = await getOp(server, "/scep", "GetCACert", "CAIdentifier");
  expect(res.status).toBe(200);
  const served = parseGetCaCertResponse(new Uint8Array(await res.arrayBuffer()), res.headers.get("content-type") ?? undefined);
  return { served, warnings: server.profiles()[0]!.warnings };
}

let root: Made;
let plainIssuing: Made;
let scepIssuing: Made;

beforeAll(async () => {
  root = await make("CN=Pin Root, O=scep-sdk field tests", { ca: true, usage: CA_ONLY });
  plainIssuing = await make("CN=Pin Plain Issuing CA, O=scep-sdk field tests", { issuer: root, ca: true, usage: CA_ONLY });
  scepIssuing = await make("CN=Pin SCEP Issuing CA, O=scep-sdk field tests", { issuer: root, ca: true, usage: CA_ONLY | KU.digitalSignature | KU.keyEncipherment });
});

describe("field.ca-pinning: a root pinned by Windows' CAThumbprint or Apple's CAFingerprint (ClientCertificateInstall CSP, UCM#228, RFC 8894 §4.2.1)", () => {
  it("a plain issuing CA with its root, default set: the CA alone, so the root's thumbprint is not in the answer; the warning says so and names both SHA-1 thumbprints", async () => {
    const { served, warnings } = await serve({ caCertificate: pemFile(plainIssuing.cert, root.cert), signer: plainIssuing.key });
    expect(served.map(thumbprint)).toEqual([thumbprint(plainIssuing.cert)]); // what Windows compares its CAThumbprint with
    expect(warnings).toEqual([
      `profile /scep: GetCACert serves the issuing CA ${plainIssuing.cert.subject} alone (it lacks keyUsage digitalSignature or keyEncipherment, so Apple's client would find no RA in its chain); ` +
        `a Windows CAThumbprint or Apple CAFingerprint pinned to ${root.cert.subject} (SHA-1 ${thumbprint(root.cert)}) matches nothing in that answer: pin the issuing CA (SHA-1 ${thumbprint(plainIssuing.cert)}), ` +
        "or add an RA certificate with digitalSignature and keyEncipherment (signer, decrypters) so the whole chain is served",
    ]);
  });

  it("the same CA with an RA that signs and decrypts (as NDES does): RA, CA and root are served, the root's thumbprint is in the answer, no warning", async () => {
    const ra = await make("CN=Pin RA, O=scep-sdk field tests", { issuer: plainIssuing, ca: false, usage: KU.digitalSignature | KU.keyEncipherment });
    const { served, warnings } = await serve({ caCertificate: pemFile(plainIssuing.cert, root.cert), signer: ra.key });
    expect(served.map(thumbprint)).toContain(thumbprint(root.cert));
    expect(warnings).toBeUndefined();
  });

  it("an issuing CA with digitalSignature and keyEncipherment: its chain with the root, no warning; a self-signed CA alone: no warning", async () => {
    const chained = await serve({ caCertificate: pemFile(scepIssuing.cert, root.cert), signer: scepIssuing.key });
    expect(chained.served.map(thumbprint)).toEqual([thumbprint(scepIssuing.cert), thumbprint(root.cert)]);
    expect(chained.warnings).toBeUndefined();
    const alone = await serve({ caCertificate: root.cert, signer: root.key });
    expect([alone.served.length, alone.warnings]).toEqual([1, undefined]);
  });

  it("the example servers' own list (issuing CA, then root) for a plain issuing CA: served as listed, root included, with a warning that Apple finds no RA in it", async () => {
    const { served, warnings } = await serve({ caCertificate: plainIssuing.cert, signer: plainIssuing.key, caCertificates: [plainIssuing.cert, root.cert] });
    expect(served.map(thumbprint)).toEqual([thumbprint(plainIssuing.cert), thumbprint(root.cert)]);
    expect(warnings).toEqual([
      "profile /scep: caCertificates lists 2 certificates in which Apple's SCEP client (iOS, macOS) finds no RA (none that chains to another one has keyUsage digitalSignature and keyEncipherment): " +
        "every Apple enrollment stops before its PKIOperation; leave caCertificates at its default (the issuing CA alone), give the issuing CA those bits, or add an RA certificate with them",
    ]);
  });

  it("the same list for an issuing CA with digitalSignature and keyEncipherment: no warning", async () => {
    const { warnings } = await serve({ caCertificate: scepIssuing.cert, signer: scepIssuing.key, caCertificates: [scepIssuing.cert, root.cert] });
    expect(warnings).toBeUndefined();
  });
});
