/**
 * CA/B Forum BR §4.9.1.1 / §7.2.2, RFC 5280 §5.3.1: a certificate revoked superseded and later found compromised is
 * re-revoked keyCompromise through the admin API of the Express example (a child process on loopback, revocations in
 * its data directory: FileRevocationStore). The answer is 200 with the entry upgraded (reason keyCompromise, the first
 * revokedAt kept, `created: false`, `updated: true`), the CRL is signed again with a higher number and lists the serial
 * with reason Key Compromise and its first revocation date (`openssl crl -text`), and the key, which enrolled anew
 * while the certificate was only superseded, is from then on refused (FAILURE badRequest, event `key_compromised`).
 * A later superseded (a downgrade) changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRsaKeyPair } from "@scep/core";
import { AdminExamples, crlNumber, entryOf, reasonLine, revocationDate, type AdminExample } from "./support/admin-example.js";

const examples = new AdminExamples("scep-keycomp-upgrade-", "upgrade-admin-token-0123456789", "upgrade-secret");
let server: AdminExample;

beforeAll(async () => {
  server = await examples.start();
}, 120_000);
afterAll(() => examples.close());

const enroll = (keys: CryptoKeyPair, subject: string) => examples.pkcsReq(server, keys, subject);
const revoke = (serialNumber: string, reason: string) => examples.admin(server, "revoke", { serialNumber, reason });
const crlText = (name: string) => examples.crlText(server, name);

describe("POST /admin/scep/revoke: superseded, then keyCompromise (CA/B BR §4.9.1.1)", () => {
  it("upgrades the entry (200, updated: true, first revokedAt), re-signs the CRL with reason Key Compromise, and the key that enrolled anew while superseded is refused from then on; a downgrade changes nothing", async () => {
    const keys = await generateRsaKeyPair(2048);
    const first = await enroll(keys, "CN=upgrade-1");
    expect(first.status).toBe("SUCCESS");
    const serial = first.certificate!.serialNumberHex;

    const superseded = await revoke(serial, "superseded");
    expect(superseded).toEqual({ status: 200, body: { serialNumber: serial, subject: "CN=upgrade-1", reason: "superseded", revokedAt: expect.any(String), created: true, updated: false, alsoRevoked: [] } });
    const before = await crlText("superseded.crl");
    expect(entryOf(before, serial)).toMatch(reasonLine("Superseded"));

    // Only superseded: the same key enrolls anew.
    const anew = await enroll(keys, "CN=upgrade-1");
    expect(anew.status).toBe("SUCCESS");
    expect(anew.certificate!.serialNumberHex).not.toBe(serial);

    const upgraded = await revoke(serial, "keyCompromise");
    // The certificate the key got anew is revoked with it (CA/B BR §4.9.1.1).
    expect(upgraded).toEqual({ status: 200, body: { ...superseded.body, reason: "keyCompromise", created: false, updated: true, alsoRevoked: [anew.certificate!.serialNumberHex] } });
    expect(await server.proc.waitForJson("admin", (e) => e.action === "revoke" && e.serialNumber === serial && e.updated === true)).toMatchObject({ reason: "keyCompromise", created: false });

    const after = await crlText("upgraded.crl");
    expect(crlNumber(after)).toBeGreaterThan(crlNumber(before));
    expect(entryOf(after, serial)).toMatch(reasonLine("Key Compromise"));
    // The revocation date stays the first one's (second precision on the CRL).
    expect(revocationDate(after, serial)).toBe(revocationDate(before, serial));

    const refused = await enroll(keys, "CN=upgrade-2");
    expect(refused).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "this key was revoked as compromised: generate a new key" });
    expect(refused.certificate).toBeUndefined();
    // (The transactionID is the key's hash, the same for each request of this key: pick the refusal's event.)
    expect(await server.proc.waitForJson("scep", (e) => e.transactionId === refused.transactionId && e.outcome === "failure")).toMatchObject({ operation: "PKCSReq", reason: "key_compromised", failInfo: "badRequest" });

    // A downgrade, or keyCompromise again: the entry stays, nothing is re-signed.
    for (const reason of ["superseded", "keyCompromise"]) expect(await revoke(serial, reason)).toEqual({ status: 200, body: { ...upgraded.body, updated: false, alsoRevoked: [] } });
    expect(crlNumber(await crlText("again.crl"))).toBe(crlNumber(after));
    expect((await enroll(await generateRsaKeyPair(2048), "CN=upgrade-3")).status).toBe("SUCCESS");
  }, 180_000);
});
