import { createScepServer, type ScepProfile } from "@scep/core";
import { SignedTokenValidator, TrustAnchorPool } from "@scep/intune";

declare const profile: Omit<ScepProfile, "challenge">; // path, caCertificate, signer, issue: as in the quick start

const trustAnchors = await TrustAnchorPool.fromFile("/etc/scep/connector-anchors.pem");
// SIGHUP reloads the bundle; a bad file keeps the old pool and is reported.
process.on("SIGHUP", () => void trustAnchors.reload().catch((e: Error & { code?: string }) => console.error(e.code, e.message)));

const tokens = new SignedTokenValidator({ trustAnchors, audience: "https://scep.example.com/scep" });

export const server = createScepServer({
  profiles: [{ ...profile, challenge: { type: "custom", validate: (ctx) => tokens.validate(ctx) } }],
});
