/**
 * A throw-away PKI for round-trip tests, generated once per suite: an RSA-2048
 * CA (which also decrypts requests), RA certificates with distinct key usages,
 * requester keys (RSA-2048 and EC P-256/P-384/P-521) with their self-signed
 * signer certificates and CSRs, and an issuer for the certificates CertReps
 * carry.
 */
import { x509 } from "../../src/lib/x509.js";
import {
  Certificate,
  LocalKey,
  createSelfSignedSigner,
  generateCsr,
  generateRsaKeyPair,
} from "../../src/index.js";

/** A fixed clock, so nothing depends on when the suite runs. */
export const NOW = new Date("2026-01-15T12:00:00Z");

/** Requester key kinds. */
export type RequesterKind = "rsa" | "p256" | "p384" | "p521";

/** A requester: its key pair, self-signed signer (a LocalKey) and a CSR. */
export interface Requester {
  kind: RequesterKind;
  keys: CryptoKeyPair;
  signer: LocalKey;
  csr: Uint8Array;
}

/** The whole test PKI. */
export interface TestPki {
  caKeys: CryptoKeyPair;
  ca: LocalKey;
  requesters: Record<RequesterKind, Requester>;
  /** Issues a certificate for `csr`'s subject and key, signed by the CA. */
  issue(csr: Uint8Array, serial: string): Promise<Certificate>;
  /** Creates an RA certificate signed by the CA with the given key usages. */
  ra(subject: string, usages: number, serial: string): Promise<LocalKey>;
}

const CURVES: Record<Exclude<RequesterKind, "rsa">, string> = { p256: "P-256", p384: "P-384", p521: "P-521" };

async function ecKeys(curve: string): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: curve }, true, ["sign", "verify"])) as CryptoKeyPair;
}

const SIG = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };

/** Builds the PKI (about a second: four RSA-2048 keys at most). */
export async function createTestPki(): Promise<TestPki> {
  const caKeys = await generateRsaKeyPair(2048);
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=SCEP Test CA, O=scep-sdk tests",
    notBefore: new Date(NOW.getTime() - 86_400_000),
    notAfter: new Date(NOW.getTime() + 3650 * 86_400_000),
    keys: caKeys,
    signingAlgorithm: SIG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const ca = LocalKey.from(new Certificate(new Uint8Array(caCert.rawData)), caKeys.privateKey);

  const requesters = {} as Record<RequesterKind, Requester>;
  const make = async (kind: RequesterKind, keys: CryptoKeyPair): Promise<void> => {
    const subject = `CN=requester-${kind}, O=scep-sdk tests`;
    const signer = await createSelfSignedSigner({ keys, subject, now: NOW });
    const csr = await generateCsr({ keys, subject, challengePassword: "s3cret", san: { dns: [`${kind}.example.test`] } });
    requesters[kind] = { kind, keys, signer, csr };
  };
  await make("rsa", await generateRsaKeyPair(2048));
  for (const [kind, curve] of Object.entries(CURVES)) await make(kind as RequesterKind, await ecKeys(curve));

  const issue = async (csrDer: Uint8Array, serial: string): Promise<Certificate> => {
    const csr = new x509.Pkcs10CertificateRequest(new Uint8Array(csrDer));
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: csr.subject,
      issuer: caCert.subject,
      notBefore: NOW,
      notAfter: new Date(NOW.getTime() + 365 * 86_400_000),
      publicKey: csr.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: SIG,
      extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true)],
    });
    return new Certificate(new Uint8Array(cert.rawData));
  };

  const ra = async (subject: string, usages: number, serial: string): Promise<LocalKey> => {
    const keys = await generateRsaKeyPair(2048);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject,
      issuer: caCert.subject,
      notBefore: NOW,
      notAfter: new Date(NOW.getTime() + 365 * 86_400_000),
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: SIG,
      extensions: [new x509.BasicConstraintsExtension(false), new x509.KeyUsagesExtension(usages, true)],
    });
    return LocalKey.from(new Certificate(new Uint8Array(cert.rawData)), keys.privateKey);
  };

  return { caKeys, ca, requesters, issue, ra };
}
