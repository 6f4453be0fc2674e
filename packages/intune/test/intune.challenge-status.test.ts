/**
 * Both validators report themselves to operators through @scep/core's
 * ChallengeStatusReporter (issue 11): kind `intune`, the mode, and for signed
 * tokens each trust anchor's expiry and the last failed reload; a server's
 * snapshot() shows them with days left, and never a secret.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { createScepServer } from "@scep/core";
import { IntuneValidator, SignedTokenValidator, TrustAnchorPool } from "../src/index.js";
import { createTestCa, issuingHook, type TestCa } from "../../core/test/support/server-pki.js";
import { NOW, anchor, type Anchor } from "./support/tokens.js";

const DAY = 86_400_000;
let ca: TestCa;
let rsa: Anchor;
let ec: Anchor;

beforeAll(async () => {
  [ca, rsa, ec] = await Promise.all([createTestCa("Status CA"), anchor("rsa2048", "CN=rsa anchor, O=tests", NOW, 90), anchor("p256", "CN=ec anchor", NOW, 20)]);
});

describe("SignedTokenValidator.challengeStatus()", () => {
  it("names each trust anchor with its expiry and fingerprint; a failed reload is reported and the old anchors stay", async () => {
    const pool = TrustAnchorPool.fromPem(rsa.pem + ec.pem, { now: () => NOW });
    const tokens = new SignedTokenValidator({ trustAnchors: pool, now: () => NOW });
    expect(tokens.challengeStatus()).toEqual({
      kind: "intune",
      mode: "signed-token",
      trustAnchors: pool.anchors.map((a) => ({ subject: a.subject, notAfter: a.notAfter, fingerprintSha256: a.fingerprintSha256 })),
    });
    await expect(pool.reload("not a bundle")).rejects.toMatchObject({ code: "ERR_TRUST_ANCHORS" });
    expect(tokens.challengeStatus()).toMatchObject({ trustAnchors: [{ subject: "CN=rsa anchor, O=tests" }, { subject: "CN=ec anchor" }], lastReloadError: "trust-anchor bundle: the bundle holds no certificate" });
    await pool.reload(ec.pem);
    expect(tokens.challengeStatus()).toEqual({ kind: "intune", mode: "signed-token", trustAnchors: [{ subject: "CN=ec anchor", notAfter: pool.anchors[0]!.notAfter, fingerprintSha256: pool.anchors[0]!.fingerprintSha256 }] });
  });

  it("without a pool: no anchors", () => {
    expect(new SignedTokenValidator().challengeStatus()).toEqual({ kind: "intune", mode: "signed-token", trustAnchors: [] });
  });
});

describe("IntuneValidator.challengeStatus()", () => {
  it("is the validation API mode, without tenant, client id or secret", () => {
    const intune = new IntuneValidator({ tenant: "contoso.onmicrosoft.com", clientId: "client-id-1234", credential: { clientSecret: "Very-Secret-Value-99" } });
    expect(intune.challengeStatus()).toEqual({ kind: "intune", mode: "validation-api" });
  });
});

describe("in a server's snapshot", () => {
  it("the profile's challenge is kind intune with each anchor's days left (rounded down)", async () => {
    const tokens = new SignedTokenValidator({ trustAnchors: TrustAnchorPool.fromPem(rsa.pem + ec.pem, { now: () => NOW }), now: () => NOW });
    const at = new Date(NOW.getTime() + 5 * DAY);
    const server = createScepServer({
      profiles: [{ name: "intune", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "custom", validate: (ctx) => tokens.validate(ctx), status: tokens }, issue: issuingHook(ca) }],
      now: () => at,
    });
    const [snap] = await server.snapshot();
    const days = (d: Date): number => Math.floor((d.getTime() - at.getTime()) / DAY);
    expect(snap!.challenge).toEqual({
      configured: true,
      type: "custom",
      kind: "intune",
      mode: "signed-token",
      trustAnchors: tokens.challengeStatus().trustAnchors!.map((a) => ({ ...a, daysLeft: days(a.notAfter) })),
    });
    expect(snap!.challenge.trustAnchors!.map((a) => a.daysLeft)).toEqual([85, 15]); // anchors valid 90 and 20 days from NOW, seen 5 days later
  });
});
