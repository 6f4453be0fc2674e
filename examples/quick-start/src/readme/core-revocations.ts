import { Certificate, MemoryRevocationStore, type ScepProfile } from "@scep/core";

declare const profile: ScepProfile; // as in "Embedding the server"
// Your CRL (RFC 5280 §5), DER: signed with the CA key from revocations.list() and revocations.nextCrlNumber(), and
// signed again after a revocation (examples/embedded-ca's FileCa.crl() does this with @peculiar/x509).
declare function currentCrl(): Promise<Uint8Array>;

export const revocations = new MemoryRevocationStore(); // RedisRevocationStore (@scep/redis): one store for every replica
const caSubject = Certificate.from(profile.caCertificate).subjectDer;
const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(b);

export const withRevocations: ScepProfile = {
  ...profile,
  // Not handed out again (RFC 8894 §3.3.3), and no longer signs a renewal. The entry (not just true) puts its reason
  // in the FAILURE text: "the certificate being renewed was revoked (superseded)".
  isRevoked: (certificate) => revocations.get(certificate.serialNumberHex),
  // GetCRL (RFC 8894 §3.3.5): this CA's CRL; another issuer is FAILURE badCertId.
  getCrl: async ({ issuer }) => (sameBytes(issuer, caSubject) ? currentCrl() : undefined),
};

// Revoking: an admin action, onUndelivered, or @scep/intune's revocation sync (revocationStoreRevoker(revocations)).
await revocations.revoke({ serialNumber: "0a1b2c", reason: "keyCompromise" }); // { entry, created: true }
