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
import { KeyObject, sign } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScepClient, buildPkcsReq, createSelfSignedSigner, generateRsaKeyPair, readCertRep, selectRecipient } from "@scep/core";
import { startExample, type ExampleProcess } from "../../server-kit/test/support/example-process.js";

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

// A few DER builders (X.690), enough for a PKCS#10 request with the attributes Windows writes.
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

/** A PKCS#10 request for `keys` with the challenge and, when given, Microsoft's name-value pairs (name, value). */
function windowsCsr(keys: CryptoKeyPair, cn: string, pairs?: [string, string][]): Uint8Array {
  const spki = KeyObject.from(keys.publicKey).export({ type: "spki", format: "der" });
  const subject = tlv(0x30, tlv(0x31, tlv(0x30, oid("2.5.4.3"), tlv(0x0c, Buffer.from(cn)))));
  const attributes = [attribute("1.2.840.113549.1.9.7", tlv(0x13, Buffer.from(CHALLENGE)))];
  if (pairs) attributes.push(attribute("1.3.6.1.4.1.311.13.2.1", tlv(0x30, ...pairs.map(([n, v]) => tlv(0x30, bmp(n), bmp(v))))));
  const info = tlv(0x30, tlv(0x02, Buffer.from([0])), subject, spki, tlv(0xa0, ...attributes));
  const signature = sign("sha256", info, KeyObject.from(keys.privateKey));
  return tlv(0x30, info, tlv(0x30, oid("1.2.840.113549.1.1.11"), Buffer.from([0x05, 0x00])), tlv(0x03, Buffer.from([0]), signature));
}

/** Enrolls with such a request; the issued certificate's lifetime in ms (notAfter − notBefore). */
async function lifetime(cn: string, pairs?: [string, string][]): Promise<number> {
  const keys = await generateRsaKeyPair(2048);
  const client = new ScepClient({ url });
  const caCertificates = await client.getCaCert();
  const signer = await createSelfSignedSigner({ keys, subject: `CN=${cn}` });
  const req = await buildPkcsReq({ csr: windowsCsr(keys, cn, pairs), signer, recipient: selectRecipient(caCertificates) });
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
