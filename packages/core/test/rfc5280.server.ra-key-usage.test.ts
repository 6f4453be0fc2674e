/**
 * RFC 5280 §4.2.1.3 and RFC 8894 §2.2: in RA mode the RA certificates' keyUsage tells clients which certificate signs
 * CertReps and which one requests are encrypted to. Apple's client (iOS, macOS) picks them by keyUsage alone
 * (`SecSCEPValidateCACertMessage`, apple-open-source/macos Security/OSX/sec/Security/SecSCEP.c): it needs a
 * certificate with digitalSignature and keyEncipherment, or one with each, and counts a certificate without the
 * extension as neither (openxpki/openxpki-config#14: an RA certificate without keyUsage made macOS encrypt to the
 * wrong certificate). NDES serves an RA pair with keyUsage (CEP Encryption: keyEncipherment; Exchange Enrollment
 * Agent: digitalSignature).
 *
 * - A keyUsage that forbids the RA certificate's role (a signer without digitalSignature, an RSA decrypter without
 *   keyEncipherment) is refused at `createScepServer` with `ERR_INVALID_ARGUMENT`: no client that checks keyUsage can
 *   use it.
 * - An RA certificate without keyUsage is unrestricted for RFC 5280 (sscep, strongSwan, certmonger and this SDK's
 *   client enroll with it), so it is not refused; but Apple finds no RA, and the profile says so in
 *   `profiles()[i].warnings`. Before, nothing told the operator either way.
 */
import { describe, expect, it } from "vitest";
import { x509 } from "../src/lib/x509.js";
import { Certificate, LocalKey, createScepServer, generateRsaKeyPair, type ScepProfile } from "../src/index.js";
import { DAY, NOW, nextSerial } from "./support/server-pki.js";
import { thrown } from "./support/thrown.js";

const KU = x509.KeyUsageFlags;

interface Made {
  keys: CryptoKeyPair;
  cert: Certificate;
  key: LocalKey;
}

/** A certificate for a fresh RSA key: a self-signed CA without `issuer`; keyUsage `usage` (undefined: no extension). */
async function make(subject: string, options: { issuer?: Made; usage?: number }): Promise<Made> {
  const keys = await generateRsaKeyPair(2048);
  const extensions: x509.Extension[] = [];
  if (!options.issuer) extensions.push(new x509.BasicConstraintsExtension(true, undefined, true));
  if (options.usage !== undefined) extensions.push(new x509.KeyUsagesExtension(options.usage, true));
  const common = { serialNumber: nextSerial(), notBefore: new Date(NOW.getTime() - DAY), notAfter: new Date(NOW.getTime() + 365 * DAY), signingAlgorithm: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, extensions };
  const made = options.issuer
    ? await x509.X509CertificateGenerator.create({ ...common, subject, issuer: options.issuer.cert.subject, publicKey: keys.publicKey, signingKey: options.issuer.keys.privateKey })
    : await x509.X509CertificateGenerator.createSelfSigned({ ...common, name: subject, keys });
  const cert = new Certificate(new Uint8Array(made.rawData));
  return { keys, cert, key: LocalKey.from(cert, keys.privateKey) };
}

const ca = await make("CN=RA Key Usage CA", { usage: KU.keyCertSign | KU.cRLSign });

function profile(signer: LocalKey, decrypters: LocalKey[]): ScepProfile {
  return { name: "ra", path: "/scep", caCertificate: ca.cert, signer, decrypters, challenge: { type: "static", password: "ra-key-usage" }, issue: async () => ({ status: "PENDING" }) };
}

describe("RFC 5280 §4.2.1.3: RA certificates whose keyUsage forbids their role are refused at start", () => {
  it("an RSA RA decrypter with keyUsage digitalSignature only → ERR_INVALID_ARGUMENT naming it", async () => {
    const ra = await make("CN=Signing Only RA", { issuer: ca, usage: KU.digitalSignature });
    const e = thrown(() => createScepServer({ profiles: [profile(ra.key, [ra.key])], now: () => NOW }));
    expect(e).toMatchObject({
      code: "ERR_INVALID_ARGUMENT",
      message: "profile ra: the RA decrypter certificate (CN=Signing Only RA) has keyUsage without keyEncipherment (RFC 5280 §4.2.1.3): clients that check it (Apple's) do not encrypt requests to it; reissue it with keyEncipherment",
    });
  });

  it("an RA signer with keyUsage keyEncipherment only → ERR_INVALID_ARGUMENT naming it", async () => {
    const signer = await make("CN=Encryption Only Signer", { issuer: ca, usage: KU.keyEncipherment });
    const decrypter = await make("CN=Encryption RA", { issuer: ca, usage: KU.keyEncipherment });
    const e = thrown(() => createScepServer({ profiles: [profile(signer.key, [decrypter.key])], now: () => NOW }));
    expect(e).toMatchObject({
      code: "ERR_INVALID_ARGUMENT",
      message: "profile ra: the RA signer certificate (CN=Encryption Only Signer) has keyUsage without digitalSignature (RFC 5280 §4.2.1.3): clients that check it refuse every CertRep it signs; reissue it with digitalSignature",
    });
  });
});

describe("RFC 8894 §2.2: RA certificates in which Apple finds no RA are served, with a warning in profiles()", () => {
  it("one RA certificate without keyUsage (signs and decrypts): served, and the warning names it", async () => {
    const ra = await make("CN=Bare RA", { issuer: ca });
    const server = createScepServer({ profiles: [profile(ra.key, [ra.key])], now: () => NOW });
    expect(server.profiles()[0]!.warnings).toEqual([
      "profile ra: Apple's SCEP client (iOS, macOS) finds no RA certificate in GetCACert: it needs one with keyUsage digitalSignature and keyEncipherment, or one with each, and CN=Bare RA has no keyUsage extension (Apple counts it as neither); reissue the RA certificate with them",
    ]);
  });

  it("an NDES-style pair (signer digitalSignature, decrypter keyEncipherment), or one RA with both: no warning", async () => {
    const signer = await make("CN=Enrollment Agent", { issuer: ca, usage: KU.digitalSignature });
    const decrypter = await make("CN=CEP Encryption", { issuer: ca, usage: KU.keyEncipherment });
    const both = await make("CN=Both RA", { issuer: ca, usage: KU.digitalSignature | KU.keyEncipherment });
    const server = createScepServer({ profiles: [profile(signer.key, [decrypter.key]), { ...profile(both.key, [both.key]), name: "both", path: "/both" }], now: () => NOW });
    expect(server.profiles().map((p) => p.warnings)).toEqual([undefined, undefined]);
  });

  it("CA mode (the CA signs and decrypts itself, here without the bits): no warning, as before (the CA is served alone)", async () => {
    const server = createScepServer({ profiles: [profile(ca.key, [ca.key])], now: () => NOW });
    expect(server.profiles()[0]!.warnings).toBeUndefined();
  });
});
