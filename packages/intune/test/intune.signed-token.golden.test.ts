/**
 * INTUNE.md "Golden vectors": certctl's signed-token fixtures, verify-only,
 * at the clock their MANIFEST gives (2026-01-01T12:01:00Z). Their recorded
 * SHA-256 hashes are checked first, so a changed vector cannot pass silently.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { SignedTokenValidator, TrustAnchorPool } from "../src/index.js";
import { csrWith } from "./support/tokens.js";
import type { CertificationRequest } from "@scep/core";

const dir = join(dirname(fileURLToPath(import.meta.url)), "vectors/certctl-golden");
const read = (name: string): string => readFileSync(join(dir, name), "utf8");
const GOLDEN_NOW = new Date("2026-01-01T12:01:00Z");
const AUDIENCE = "https://certctl.example.com/scep/test";

let pool: TrustAnchorPool;
let csr: CertificationRequest;

beforeAll(async () => {
  pool = TrustAnchorPool.fromPem(read("intune_trust_anchor.pem"), { now: () => GOLDEN_NOW });
  // The CSR the success token describes: CN and SANs as its claims say.
  csr = await csrWith(undefined, "CN=fixture-device.example.com", { dns: ["fixture-device.example.com"], email: ["fixture-user@example.com"] });
});

const validator = (audience?: string): SignedTokenValidator =>
  new SignedTokenValidator({ trustAnchors: pool, ...(audience ? { audience } : {}), now: () => GOLDEN_NOW });
const input = (name: string) => ({ challenge: read(name).trim(), csr, request: { transactionId: "golden" } });

describe("certctl golden vectors (verify-only)", () => {
  it("the vectors are the recorded ones (SHA-256 as in test/vectors/README.md)", () => {
    const readme = read("../README.md");
    for (const name of ["MANIFEST.md", "intune_challenge_golden_expired.txt", "intune_challenge_golden_success.txt", "intune_challenge_golden_tampered_sig.txt", "intune_trust_anchor.pem"]) {
      const sha = createHash("sha256").update(readFileSync(join(dir, name))).digest("hex");
      expect(readme).toContain(`| ${name} | ${sha} |`);
    }
  });

  it("the trust anchor loads: P-256, CN=intune-connector-fixture, expiring 2055-01-01", () => {
    expect(pool.anchors).toEqual([
      expect.objectContaining({ subject: "CN=intune-connector-fixture", keyType: "ec", notBefore: new Date("2025-01-01T00:00:00Z"), notAfter: new Date("2055-01-01T00:00:00Z") }),
    ]);
    expect(pool.expiresAt).toEqual(new Date("2055-01-01T00:00:00Z"));
  });

  it("success: ES256 raw r||s verifies; the claims are the MANIFEST's; bound to the matching CSR", async () => {
    const verdict = await validator(AUDIENCE).validate(input("intune_challenge_golden_success.txt"));
    expect(verdict).toEqual({
      ok: true,
      data: {
        claims: {
          iss: "intune-connector-installation-guid-test-fixture",
          sub: "device-guid-fixture-0001",
          aud: AUDIENCE,
          iat: 1767268800,
          exp: 1767272400,
          nonce: "fixture-nonce-success-001",
          device_name: "fixture-device.example.com",
          san_dns: ["fixture-device.example.com"],
          san_rfc822: ["fixture-user@example.com"],
        },
      },
      release: expect.any(Function), // gives the nonce and the rate-limit hit back if the server then fails the request
    });
  });

  it("success with padding appended to each segment still verifies (gate 2: padding tolerated, raw bytes signed)", async () => {
    // Padding changes the on-wire signing input, so only the signature segment may carry it here.
    const [h, p, s] = read("intune_challenge_golden_success.txt").trim().split(".");
    const padded = `${h}.${p}.${s}${"=".repeat((4 - (s!.length % 4)) % 4)}`;
    expect(padded).not.toBe(`${h}.${p}.${s}`);
    const verdict = await validator(AUDIENCE).validate({ challenge: padded, csr, request: { transactionId: "golden" } });
    expect(verdict.ok).toBe(true);
  });

  it("expired: gate 5 → expired, badMessageCheck", async () => {
    expect(await validator().validate(input("intune_challenge_golden_expired.txt"))).toEqual({ ok: false, reason: "expired", failInfo: "badMessageCheck", failInfoText: "the token has expired" });
  });

  it("tampered signature: gate 3 → signature_invalid, badMessageCheck (even with the right audience)", async () => {
    expect(await validator(AUDIENCE).validate(input("intune_challenge_golden_tampered_sig.txt"))).toEqual({
      ok: false,
      reason: "signature_invalid",
      failInfo: "badMessageCheck",
      failInfoText: "the ES256 signature does not verify with any trust anchor",
    });
  });

  it("success token, another audience configured: gate 6 → wrong_audience", async () => {
    expect(await validator("https://attacker.example.com/scep/wrong").validate(input("intune_challenge_golden_success.txt"))).toMatchObject({ ok: false, reason: "wrong_audience", failInfo: "badMessageCheck" });
  });

  it("success token for a CSR of another device: gate 7 → claim_mismatch", async () => {
    const other = await csrWith(undefined, "CN=other-device.example.com", { dns: ["fixture-device.example.com"], email: ["fixture-user@example.com"] });
    expect(await validator(AUDIENCE).validate({ ...input("intune_challenge_golden_success.txt"), csr: other })).toMatchObject({ ok: false, reason: "claim_mismatch", failInfo: "badRequest" });
  });
});
