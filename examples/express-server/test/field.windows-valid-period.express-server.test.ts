/**
 * The validity a Windows or Intune device asks for, through the Express example and its embedded CA. Windows'
 * ClientCertificateInstall CSP sends `ValidPeriod` / `ValidPeriodUnits` in its request and leaves the decision to the
 * server (https://learn.microsoft.com/windows/client-management/mdm/clientcertificateinstall-csp); they ride in the
 * PKCS#10 attribute 1.3.6.1.4.1.311.13.2.1 (MS-WCCE §2.2.2.7.10) as `ValidityPeriod` / `ValidityPeriodUnits`, and
 * Intune's Android clients swap the two values (microsoft/Intune-Resource-Access#162,
 * https://github.com/microsoft/Intune-Resource-Access/issues/162). The example issued `--validity-days` (365) whatever
 * an Intune profile's "Certificate validity period" said; now it grants a shorter request, never a longer one.
 * Lifetimes are read as notAfter − notBefore, which the server's backdate (`--backdate-seconds`, 300) lengthens.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScepClient, buildPkcsReq, createSelfSignedSigner, generateRsaKeyPair, readCertRep, selectRecipient } from "@scep/core";
import { startExample, type ExampleProcess } from "../../server-kit/test/support/example-process.js";
import { windowsCsr } from "../../server-kit/test/support/windows-csr.js";

const EXAMPLE_DIR = fileURLToPath(new URL("..", import.meta.url));
const CHALLENGE = "windows-valid-period-2c7d";
const DAY_MS = 86_400_000;
const BACKDATE_MS = 300_000;
const tmp = mkdtempSync(join(tmpdir(), "scep-valid-period-"));
let proc: ExampleProcess;
let url: string;

beforeAll(async () => {
  const s = await startExample(EXAMPLE_DIR, { SCEP_DATA_DIR: join(tmp, "data"), SCEP_CHALLENGE: CHALLENGE });
  proc = s.proc;
  url = `${s.base}/scep`;
});
afterAll(async () => {
  await proc?.terminate();
  rmSync(tmp, { recursive: true, force: true });
});


/** Enrolls with such a request; the issued certificate's lifetime in ms (notAfter − notBefore). */
async function lifetime(cn: string, pairs?: [string, string][]): Promise<number> {
  const keys = await generateRsaKeyPair(2048);
  const client = new ScepClient({ url });
  const caCertificates = await client.getCaCert();
  const signer = await createSelfSignedSigner({ keys, subject: `CN=${cn}` });
  const req = await buildPkcsReq({ csr: windowsCsr(keys, cn, { challenge: CHALLENGE, ...(pairs ? { pairs } : {}) }), signer, recipient: selectRecipient(caCertificates) });
  const rep = await readCertRep(await client.pkiOperation(req.der), { decrypter: signer, caCertificates, request: req });
  expect([rep.status, rep.failInfoText]).toEqual(["SUCCESS", undefined]);
  const issued = rep.certificates[0]!;
  return issued.notAfter.getTime() - issued.notBefore.getTime();
}

describe("field.windows-valid-period: the Express example grants the validity a Windows or Intune device asks for, up to --validity-days (MS-WCCE §2.2.2.7.10)", () => {
  it("ValidityPeriod Days, ValidityPeriodUnits 30 → a 30-day certificate", async () => {
    expect(await lifetime("win-30-days", [["ValidityPeriod", "Days"], ["ValidityPeriodUnits", "30"]])).toBe(30 * DAY_MS + BACKDATE_MS);
  });

  it("Intune's Android order (ValidityPeriod 2, ValidityPeriodUnits Weeks) → 14 days", async () => {
    expect(await lifetime("android-2-weeks", [["ValidityPeriod", "2"], ["ValidityPeriodUnits", "Weeks"]])).toBe(14 * DAY_MS + BACKDATE_MS);
  });

  it("5 years asked → --validity-days (365), not more; nothing asked → 365 as before", async () => {
    expect(await lifetime("win-5-years", [["ValidityPeriod", "Years"], ["ValidityPeriodUnits", "5"]])).toBe(365 * DAY_MS + BACKDATE_MS);
    expect(await lifetime("win-nothing-asked")).toBe(365 * DAY_MS + BACKDATE_MS);
  });
});
