/**
 * The validity a Windows or Intune device asks for (MS-WCCE §2.2.2.7.10 `ValidityPeriod` / `ValidityPeriodUnits`) is
 * counted from the CA's clock, the instant its issue() starts the lifetime from: with the clock pinned to 1 February
 * 2025, "1 month" is 28 days (to 1 March), whatever the wall clock says. Before, the example counted months from
 * `new Date()` while the CA started the lifetime at its own clock.
 */
import { KeyObject, sign } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Certificate, CertificationRequest, MemoryChallengeStore, createSelfSignedSigner, generateRsaKeyPair } from "@scep/core";
import { openFileCa } from "@scep-examples/embedded-ca";
import { parseConfig, type ServerConfig } from "../src/config.js";
import { buildProfile } from "../src/profiles.js";
import { memoryStores } from "../src/shared-stores.js";
import { profileSettings } from "../src/start-server.js";

const PINNED = new Date("2025-02-01T00:00:00Z");
const tmp = mkdtempSync(join(tmpdir(), "scep-granted-validity-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// A few DER builders (X.690): a PKCS#10 request with the name-value pairs Windows writes (attribute 1.3.6.1.4.1.311.13.2.1).
const len = (n: number): Buffer => (n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]));
const tlv = (tag: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
};
const oid = (dotted: string): Buffer => {
  const [a, b, ...rest] = dotted.split(".").map(Number);
  const bytes = [a! * 40 + b!];
  for (const n of rest) {
    const enc = [n & 0x7f];
    for (let v = n >> 7; v > 0; v >>= 7) enc.unshift((v & 0x7f) | 0x80);
    bytes.push(...enc);
  }
  return tlv(0x06, Buffer.from(bytes));
};
const bmp = (s: string): Buffer => tlv(0x1e, Buffer.from([...s].flatMap((c) => [0, c.charCodeAt(0)])));
const attribute = (type: string, value: Buffer): Buffer => tlv(0x30, oid(type), tlv(0x31, value));

function windowsCsr(keys: CryptoKeyPair, cn: string, pairs: [string, string][]): Uint8Array {
  const spki = KeyObject.from(keys.publicKey).export({ type: "spki", format: "der" });
  const subject = tlv(0x30, tlv(0x31, tlv(0x30, oid("2.5.4.3"), tlv(0x0c, Buffer.from(cn)))));
  const attributes = [attribute("1.3.6.1.4.1.311.13.2.1", tlv(0x30, ...pairs.map(([n, v]) => tlv(0x30, bmp(n), bmp(v)))))];
  const info = tlv(0x30, tlv(0x02, Buffer.from([0])), subject, spki, tlv(0xa0, ...attributes));
  const signature = sign("sha256", info, KeyObject.from(keys.privateKey));
  return tlv(0x30, info, tlv(0x30, oid("1.2.840.113549.1.1.11"), Buffer.from([0x05, 0x00])), tlv(0x03, Buffer.from([0]), signature));
}

describe("granted validity: counted from the CA's clock", () => {
  it("a device asking for 1 month on 2025-02-01 (CA clock) gets a certificate valid to 2025-03-01", async () => {
    const dataDir = join(tmp, "data");
    const config = parseConfig(["--data-dir", dataDir, "--backdate-seconds", "0"], { SCEP_CHALLENGE: "pinned-clock-challenge" }) as ServerConfig;
    const ca = await openFileCa({ dataDir, backdateSeconds: 0, clock: () => PINNED });
    const stores = memoryStores(dataDir);
    try {
      const built = await buildProfile(profileSettings(config)[0]!, 0, {
        config,
        env: {},
        ca,
        defaultChallenge: () => "pinned-clock-challenge",
        challenges: new MemoryChallengeStore(),
        intuneStores: stores.intune,
        log: () => undefined,
      });
      const keys = await generateRsaKeyPair(2048);
      const signer = await createSelfSignedSigner({ keys, subject: "CN=month-device" });
      const result = await built.profile.issue({
        profile: built.profile.name ?? "/scep",
        transactionId: "pinned-clock-1",
        signerCertificate: signer.certificate,
        csr: CertificationRequest.from(windowsCsr(keys, "month-device", [["ValidityPeriod", "Months"], ["ValidityPeriodUnits", "1"]])),
        renewal: false,
        notAfterMax: new Date(PINNED.getTime() + 365 * 86_400_000),
        maxValidityDays: 365,
        approved: false,
        allowSid: false,
      });
      if (result.status !== "SUCCESS") throw new Error(`not issued: ${JSON.stringify(result)}`);
      const issued = new Certificate(result.certificate as Uint8Array);
      expect([issued.notBefore.toISOString(), issued.notAfter.toISOString()]).toEqual(["2025-02-01T00:00:00.000Z", "2025-03-01T00:00:00.000Z"]);
    } finally {
      await stores.close();
    }
  });
});
