/**
 * Field report: Windows' SCEP client (ClientCertificateInstall CSP, Intune and Fleet Windows profiles) writes the
 * challengePassword (RFC 2985 §5.4.1, RFC 8894 §2.3) as a PrintableString (X.680 §41.4). A challenge holding `_`, `@`,
 * `!`, `#`, `&`, `*` or a non-ASCII character fails the enrollment on the device with "The string contains a
 * non-printable character" (fleetdm/fleet#47492, https://github.com/fleetdm/fleet/issues/47492, and #49552) before
 * any PKIOperation reaches the server, so nothing on the server side showed it. Our generated challenges fit
 * (`newChallenge`); a static password an operator configures is now checked: `profiles()[i].warnings` says so, with
 * neither the password nor its characters in the text. The server still accepts such a challenge from clients that
 * can send it (a UTF8String), so the warning is all that changes.
 */
import { describe, expect, it } from "vitest";
import { createScepServer, createSelfSignedSigner, generateRsaKeyPair, LocalKey, newChallenge, type ScepProfile } from "../src/index.js";
import { NOW } from "./support/server-pki.js";

const caKeys = await generateRsaKeyPair(2048);
const caSigner = await createSelfSignedSigner({ keys: caKeys, subject: "CN=Windows Challenge CA", now: new Date(NOW.getTime() - 86_400_000), days: 365 });
const ca = LocalKey.from(caSigner.certificate, caKeys.privateKey);

function warningsFor(challenge: ScepProfile["challenge"]): string[] {
  const server = createScepServer({ profiles: [{ path: "/scep", caCertificate: ca.certificate, signer: ca, challenge, issue: async () => ({ status: "FAILURE", failInfo: "badRequest" }) }], now: () => NOW });
  return server.profiles()[0]!.warnings ?? [];
}

const PRINTABLE_WARNING = /^profile \/scep: the static challenge password holds a character outside PrintableString .*Windows' SCEP client/;

describe("RFC 2985 §5.4.1 / X.680 §41.4: a static challenge Windows cannot send as a PrintableString is a profile warning", () => {
  it.each(["Grüße_secret", "p@ss", "a!b", "x#y", "x&y", "x*y", "under_score", "tab\there", "emoji 🔑"])("%j: one warning, naming neither the password nor its characters", (password) => {
    const warnings = warningsFor({ type: "static", password });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(PRINTABLE_WARNING);
    expect(warnings[0]).not.toContain(password);
  });

  it.each(["secret", "8CE317021F690069", "A-Z a-z 0-9 '()+,-./:=?", newChallenge()])("%j fits PrintableString: no warning", (password) => {
    expect(warningsFor({ type: "static", password })).toEqual([]);
  });

  it("other challenge policies: no warning", () => {
    expect(warningsFor({ type: "none", acknowledgeAnyoneCanEnroll: true })).toEqual([]);
    expect(warningsFor({ type: "custom", validate: () => true })).toEqual([]);
  });
});
