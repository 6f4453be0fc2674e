/**
 * Signed-token challenges minted in-test: anchor keys with self-signed
 * certificates (RSA and P-256, generated per run; no private key is stored),
 * compact JWS signing (RS256, ES256 raw or DER) with node:crypto as the
 * reference implementation, and CSRs that carry a token.
 */
import { KeyObject, sign } from "node:crypto";
import { CertificationRequest, createSelfSignedSigner, generateCsr, generateRsaKeyPair, type SanInput } from "@scep/core";

/** The clock the in-test tokens are validated at. */
export const NOW = new Date("2026-03-01T12:00:00Z");
export const NOW_S = NOW.getTime() / 1000;

/** An anchor: a key pair and its self-signed certificate PEM. */
export interface Anchor {
  keys: CryptoKeyPair;
  privateKey: KeyObject;
  pem: string;
}

export async function ecKeys(curve = "P-256"): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: curve }, true, ["sign", "verify"])) as CryptoKeyPair;
}

/** A self-signed anchor (valid 30 days around NOW unless told otherwise). */
export async function anchor(kind: "rsa2048" | "rsa1024" | "p256" | "p384", subject = `CN=test anchor ${kind}`, now = NOW, days = 30): Promise<Anchor> {
  const keys = kind === "rsa2048" ? await generateRsaKeyPair(2048) : kind === "rsa1024" ? await generateRsaKeyPair(1024) : await ecKeys(kind === "p256" ? "P-256" : "P-384");
  const signer = await createSelfSignedSigner({ keys, subject, now, days });
  return { keys, privateKey: KeyObject.from(keys.privateKey), pem: signer.certificate.toPem() };
}

const b64u = (b: Uint8Array | string): string => Buffer.from(b).toString("base64url");

/** How to sign a token. */
export interface MintOptions {
  alg?: string;
  /** ES256 signature encoding (default raw r||s). */
  encoding?: "raw" | "der";
  /** Header to use instead of `{ alg, typ: "JWT" }`. */
  header?: Record<string, unknown>;
  /** Payload text to use instead of JSON.stringify(claims). */
  rawPayload?: string;
}

/** Signs `claims` with `key` as a compact JWS. */
export function mint(key: KeyObject, claims: unknown, options: MintOptions = {}): string {
  const alg = options.alg ?? (key.asymmetricKeyType === "rsa" ? "RS256" : "ES256");
  const h = b64u(JSON.stringify(options.header ?? { alg, typ: "JWT" }));
  const p = b64u(options.rawPayload ?? JSON.stringify(claims));
  const input = Buffer.from(`${h}.${p}`, "ascii");
  const sig =
    key.asymmetricKeyType === "rsa"
      ? sign("sha256", input, key)
      : sign("sha256", input, { key, dsaEncoding: options.encoding === "der" ? "der" : "ieee-p1363" });
  return `${h}.${p}.${b64u(sig)}`;
}

/** Claims that pass every gate for {@link DEVICE} at {@link NOW}. */
export function goodClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: "connector-installation-1",
    sub: "device-guid-0001",
    aud: "https://scep.example.test/scep",
    iat: NOW_S - 30,
    exp: NOW_S + 3_570,
    nonce: `nonce-${Math.random().toString(36).slice(2)}`,
    device_name: DEVICE.cn,
    san_dns: [...DEVICE.san.dns!],
    san_rfc822: [...DEVICE.san.email!],
    san_upn: [...DEVICE.san.upn!],
    version: "v1",
    ...overrides,
  };
}

export const DEVICE = {
  cn: "device-0001.corp.example.test",
  san: { dns: ["device-0001.corp.example.test", "device-0001.example.test"], email: ["alice@example.test"], upn: ["alice@corp.example.test"] } satisfies SanInput,
};

let deviceKeys: CryptoKeyPair | undefined;

/** A CSR (P-256 device key) with `challenge` as its challengePassword. */
export async function csrWith(challenge: string | undefined, subject = `CN=${DEVICE.cn}`, san: SanInput = DEVICE.san): Promise<CertificationRequest> {
  deviceKeys ??= await ecKeys();
  return CertificationRequest.from(await generateCsr({ keys: deviceKeys, subject, ...(challenge === undefined ? {} : { challengePassword: challenge }), san }));
}
