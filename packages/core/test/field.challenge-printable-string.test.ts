/**
 * fleetdm/fleet#47492 (https://github.com/fleetdm/fleet/issues/47492): Windows' SCEP client puts the challenge it is
 * given (the `Install/Challenge` node) into the PKCS#10 challengePassword as a PrintableString (RFC 2985 §5.4.1), and
 * fails the enrollment on the device when the challenge holds a character outside PrintableString's alphabet (most
 * often `_`): "The string contains a non-printable character". Our one-time challenges were base64url, so about 4 in
 * 10 held a `_` (1 − (63/64)^32): every such challenge handed to a Windows device was unusable. RFC 8894 §2.3 makes
 * the challenge a PKCS#10 challengePassword, so the server's challenges must fit the narrowest encoding a client uses.
 *
 * OpenSSL is the real peer standing in for Windows: `openssl req` with `string_mask = MASK:0x0002` (PrintableString
 * only) refuses `_` with "illegal characters", as Windows does; the CSR it makes with each issued challenge enrolls.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runOpenssl, withTempDir } from "../../../test-support/peers";
import { CertificationRequest, MemoryChallengeStore, buildPkcsReq, createScepServer, createSelfSignedSigner, generateRsaKeyPair, newChallenge } from "../src/index.js";
import { NOW, createTestCa, issuingHook, postPki, readReply } from "./support/server-pki.js";

/** PrintableString's alphabet (X.680 §41.4). */
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** `openssl req` making a CSR whose challengePassword may only be a PrintableString (as Windows encodes it). */
async function windowsStyleCsr(dir: string, keyPem: string, challenge: string): Promise<Uint8Array> {
  const key = join(dir, "key.pem");
  const config = join(dir, "req.cnf");
  const out = join(dir, "req.der");
  writeFileSync(key, keyPem);
  writeFileSync(config, ["[req]", "prompt = no", "distinguished_name = dn", "attributes = attrs", "string_mask = MASK:0x0002", "[dn]", "CN = windows-device", "[attrs]", `challengePassword = ${challenge}`, ""].join("\n"));
  await runOpenssl(["req", "-new", "-key", key, "-config", config, "-outform", "DER", "-out", out]);
  return new Uint8Array(readFileSync(out));
}

describe("fleetdm/fleet#47492: one-time challenges fit a PrintableString challengePassword (RFC 8894 §2.3, RFC 2985 §5.4.1)", () => {
  it("the peer refuses `_` in a PrintableString-only challengePassword, as Windows does (the test's premise)", async () => {
    const keys = await generateRsaKeyPair(2048);
    const keyPem = pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", keys.privateKey));
    await withTempDir(async (dir) => {
      await expect(windowsStyleCsr(dir, keyPem, "abc_DEF")).rejects.toThrow(/illegal characters/);
    });
  });

  it("newChallenge never draws `_` (nor a leading `-`): 4,000 draws, each 32 characters of PrintableString's alphabet", () => {
    for (let i = 0; i < 4000; i++) {
      const c = newChallenge();
      expect(c).toMatch(/^[A-Za-z0-9][A-Za-z0-9-]{31}$/);
      expect(c).toMatch(PRINTABLE);
    }
  });

  it("challenges a MemoryChallengeStore issues go into OpenSSL's PrintableString-only CSR and enroll at our server", async () => {
    const ca = await createTestCa("Windows Challenge CA");
    const store = new MemoryChallengeStore({ now: () => NOW });
    const server = createScepServer({ profiles: [{ name: "windows", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "store", store }, issue: issuingHook(ca) }], now: () => NOW });
    const keys = await generateRsaKeyPair(2048);
    const keyPem = pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", keys.privateKey));
    const signer = await createSelfSignedSigner({ keys, subject: "CN=windows-device", now: NOW });
    await withTempDir(async (dir) => {
      for (let i = 0; i < 12; i++) {
        const challenge = await store.issue({ profile: "windows", ttlMs: 3_600_000 });
        const csr = await windowsStyleCsr(dir, keyPem, challenge); // before the fix, ~4 in 10 threw "illegal characters" here
        expect(new CertificationRequest(csr).challengePassword).toBe(challenge);
        const built = await buildPkcsReq({ csr, signer, recipient: ca.cert, now: NOW, transactionId: `WIN-${i}` });
        const rep = await readReply(await postPki(server, "/scep", built.der), built, { decrypter: signer, caCertificates: [ca.cert] });
        expect(rep.status).toBe("SUCCESS");
      }
    });
  });
});
