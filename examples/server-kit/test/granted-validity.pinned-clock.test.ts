/**
 * The validity a Windows or Intune device asks for (MS-WCCE §2.2.2.7.10 `ValidityPeriod` / `ValidityPeriodUnits`) is
 * counted from the CA's clock, the instant its issue() starts the lifetime from: with the clock pinned to 1 February
 * 2025, "1 month" is 28 days (to 1 March), pinned to 1 January 31 days (to 1 February), whatever the wall clock says.
 * Before, the example counted months from `new Date()` while the CA started the lifetime at its own clock: one month
 * length for both pins, so at least one of them fails whatever month the test runs in.
 */
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
import { windowsCsr } from "./support/windows-csr.js";

const tmp = mkdtempSync(join(tmpdir(), "scep-granted-validity-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));


describe("granted validity: counted from the CA's clock", () => {
  it.each([
    ["2025-02-01T00:00:00.000Z", "2025-03-01T00:00:00.000Z"],
    ["2025-01-01T00:00:00.000Z", "2025-02-01T00:00:00.000Z"],
  ])("a device asking for 1 month on %s (CA clock) gets a certificate valid to %s", async (from, to) => {
    const PINNED = new Date(from);
    const dataDir = join(tmp, `data-${from.slice(0, 10)}`);
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
        csr: CertificationRequest.from(windowsCsr(keys, "month-device", { pairs: [["ValidityPeriod", "Months"], ["ValidityPeriodUnits", "1"]] })),
        renewal: false,
        notAfterMax: new Date(PINNED.getTime() + 365 * 86_400_000),
        maxValidityDays: 365,
        approved: false,
        allowSid: false,
      });
      if (result.status !== "SUCCESS") throw new Error(`not issued: ${JSON.stringify(result)}`);
      const issued = new Certificate(result.certificate as Uint8Array);
      expect([issued.notBefore.toISOString(), issued.notAfter.toISOString()]).toEqual([from, to]);
    } finally {
      await stores.close();
    }
  });
});
