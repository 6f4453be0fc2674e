/**
 * The one module of @scep/intune that imports `node:crypto`: certificate
 * parsing for trust anchors, JWS signature verification, SHA-1 thumbprints,
 * UUIDs and the client-assertion signature of Mode A.
 *
 * Signatures are verified with `crypto.verify` rather than jose: the
 * signed-token format accepts ES256 signatures DER-encoded as well as raw
 * r||s (jose, following RFC 7518 §3.4, refuses DER), and `crypto.verify`
 * takes both through `dsaEncoding`.
 */
import * as crypto from "node:crypto";
import { toBase64Url } from "@scep/core";

/** A public key as Node holds it. */
export type PublicKey = crypto.KeyObject;

/** What the trust-anchor pool keeps of one certificate. */
export interface ParsedCertificate {
  subject: string;
  notBefore: Date;
  notAfter: Date;
  fingerprintSha256: string;
  key: PublicKey;
  keyType: "rsa" | "ec" | string;
  modulusBits?: number;
  curve?: string;
}

/** Parses one DER certificate; throws the platform's error when it is not one. */
export function parseCertificate(der: Uint8Array): ParsedCertificate {
  const c = new crypto.X509Certificate(der);
  const key = c.publicKey;
  const d = key.asymmetricKeyDetails ?? {};
  const out: ParsedCertificate = {
    subject: c.subject.split("\n").join(", "),
    notBefore: new Date(c.validFrom),
    notAfter: new Date(c.validTo),
    fingerprintSha256: c.fingerprint256.replace(/:/g, "").toLowerCase(),
    key,
    keyType: key.asymmetricKeyType ?? "unknown",
  };
  if (d.modulusLength !== undefined) out.modulusBits = d.modulusLength;
  if (d.namedCurve !== undefined) out.curve = d.namedCurve;
  return out;
}

/** RSASSA-PKCS1-v1_5 with SHA-256 (RS256, RFC 7518 §3.3). */
export function verifyRs256(key: PublicKey, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    return crypto.verify("sha256", data, { key, padding: crypto.constants.RSA_PKCS1_PADDING }, signature);
  } catch {
    return false;
  }
}

/** ECDSA P-256 with SHA-256 (ES256, RFC 7518 §3.4); the signature as raw r||s or DER. */
export function verifyEs256(key: PublicKey, data: Uint8Array, signature: Uint8Array, encoding: "ieee-p1363" | "der"): boolean {
  try {
    return crypto.verify("sha256", data, { key, dsaEncoding: encoding }, signature);
  } catch {
    return false;
  }
}

/** SHA-1 of `data`, lower-case hex (certificate thumbprints). */
export function sha1Hex(data: Uint8Array): string {
  return crypto.createHash("sha1").update(data).digest("hex");
}

/** A random RFC 9562 version 4 UUID. */
export function randomUuid(): string {
  return crypto.randomUUID();
}

/** Imports a PEM private key (PKCS#8 or PKCS#1/SEC1), for the client-assertion credential. */
export function privateKeyFromPem(pem: string): crypto.KeyObject {
  return crypto.createPrivateKey(pem);
}

/** Signs `data` with RS256 (RSASSA-PKCS1-v1_5, SHA-256), the client-assertion algorithm Entra ID accepts. */
export function signRs256(key: crypto.KeyObject, data: Uint8Array): Uint8Array {
  return crypto.sign("sha256", data, key);
}

/** SHA-1 and SHA-256 thumbprints of a DER certificate, base64url (JOSE `x5t` / `x5t#S256`). */
export function certificateThumbprints(der: Uint8Array): { x5t: string; x5tS256: string } {
  return {
    x5t: toBase64Url(crypto.createHash("sha1").update(der).digest()),
    x5tS256: toBase64Url(crypto.createHash("sha256").update(der).digest()),
  };
}
