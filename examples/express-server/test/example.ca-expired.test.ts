/**
 * RFC 5280 §6.1.3: nothing issued under an expired CA certificate validates. An example server started with such a
 * CA (`--ca-cert`/`--ca-key`) says so in one line on stderr naming the profile, the CA and its notAfter, and exits 2,
 * before it serves: the operator's problem, told plainly. Before, @scep/core's `createScepServer` accepted it and
 * every enrollment failed with HTTP 500 (the issue hook's certificate would have ended before it started).
 * A real server process.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildCertificate, createSelfSignedSigner, exportPrivateKeyPem, generateRsaKeyPair } from "@scep/core";
import { ExampleProcess } from "../../server-kit/test/support/example-process.js";

const EXAMPLE_DIR = new URL("..", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "scep-ca-expired-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const DAY = 86_400_000;
/** basicConstraints cA TRUE (RFC 5280 §4.2.1.9), critical. */
const BASIC_CONSTRAINTS_CA = { oid: "2.5.29.19", critical: true, value: new Uint8Array([0x30, 0x03, 0x01, 0x01, 0xff]) };
/** keyUsage digitalSignature, keyEncipherment, keyCertSign, cRLSign (RFC 5280 §4.2.1.3), critical. */
const KEY_USAGE_CA = { oid: "2.5.29.15", critical: true, value: new Uint8Array([0x03, 0x02, 0x01, 0xa6]) };

describe("an example server whose CA certificate has expired", () => {
  it("one line on stderr naming the profile, the CA and its notAfter; exit 2; no stack", async () => {
    const keys = await generateRsaKeyPair(2048);
    const notAfter = new Date(Math.floor((Date.now() - 2 * DAY) / 1000) * 1000);
    // Self-signed: a throwaway signer holds the key, and the CA certificate names the same subject and key.
    const self = await createSelfSignedSigner({ keys, subject: "CN=Expired Example CA", now: new Date(notAfter.getTime() - 400 * DAY) });
    const ca = await buildCertificate({
      issuer: self,
      subject: self.certificate.subjectDer,
      publicKey: self.certificate.spki,
      serialNumber: new Uint8Array([0x01, 0x02]),
      notBefore: new Date(notAfter.getTime() - 365 * DAY),
      notAfter,
      extensions: [BASIC_CONSTRAINTS_CA, KEY_USAGE_CA],
    });
    writeFileSync(join(tmp, "ca.pem"), ca.toPem());
    writeFileSync(join(tmp, "ca.key"), await exportPrivateKeyPem(keys.privateKey));
    const proc = new ExampleProcess(EXAMPLE_DIR, {
      SCEP_DATA_DIR: join(tmp, "data"),
      SCEP_CA_CERT: join(tmp, "ca.pem"),
      SCEP_CA_KEY: join(tmp, "ca.key"),
      SCEP_CHALLENGE: "ca-expired-challenge",
      SCEP_KEY_WORKERS: "0",
    });
    const { code } = await proc.exited;
    expect([code, proc.stderr]).toEqual([2, `express-server: profile /scep: the issuing CA certificate (CN=Expired Example CA) expired at ${notAfter.toISOString()}: nothing can be issued under it until it is renewed\n`]);
    expect(proc.lines.filter((l) => l.includes("listening"))).toEqual([]);
  }, 120_000);
});
