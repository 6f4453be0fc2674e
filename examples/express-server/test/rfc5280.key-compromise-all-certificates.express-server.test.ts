/**
 * CA/B Forum BR §4.9.1.1 (all certificates of a compromised key are revoked), RFC 5280 §5.3.1 (a hold made
 * permanent), §5.2.3 (one new CRL per change): through the admin API of the Express example (a child process on
 * loopback, revocations in its data directory: FileRevocationStore). One key enrolls three times, another key once;
 * one of the key's certificates is put on certificateHold. A keyCompromise revoke of the first certificate answers
 * 200 with `alsoRevoked` naming the other two (the held one included), the audit line says the same, and the CRL is
 * signed once for the lot: its number is exactly one above the one before, and it lists all three with reason Key
 * Compromise (the held one with its hold's revocation date), the other key's certificate not at all
 * (`openssl crl -text`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRsaKeyPair } from "@scep/core";
import { AdminExamples, crlNumber, entryOf, reasonLine, revocationDate, type AdminExample } from "./support/admin-example.js";

const examples = new AdminExamples("scep-keycomp-all-", "all-certs-admin-token-0123456789", "all-certs-secret");
let server: AdminExample;

beforeAll(async () => {
  server = await examples.start();
}, 120_000);
afterAll(() => examples.close());

/** Enrolls `keys` as `subject`; the issued serial (hex). */
async function enroll(keys: CryptoKeyPair, subject: string): Promise<string> {
  const rep = await examples.pkcsReq(server, keys, subject);
  expect(rep.status).toBe("SUCCESS");
  return rep.certificate!.serialNumberHex;
}

const revoke = (serialNumber: string, reason: string) => examples.admin(server, "revoke", { serialNumber, reason });
const crlText = (name: string) => examples.crlText(server, name);
const KEY_COMPROMISE = reasonLine("Key Compromise");

describe("POST /admin/scep/revoke keyCompromise: every certificate of the key, one CRL (CA/B BR §4.9.1.1)", () => {
  it("revokes the key's other certificates (a held one made permanent), reports them in the answer and the audit line, and re-signs the CRL once", async () => {
    const keys = await generateRsaKeyPair(2048);
    const first = await enroll(keys, "CN=all-1");
    const second = await enroll(keys, "CN=all-2");
    const held = await enroll(keys, "CN=all-held");
    const otherKey = await enroll(await generateRsaKeyPair(2048), "CN=all-1");

    expect(await revoke(held, "certificateHold")).toMatchObject({ status: 200, body: { reason: "certificateHold", created: true, alsoRevoked: [] } });
    const before = await crlText("before.crl");
    expect(entryOf(before, held)).toMatch(reasonLine("Certificate Hold"));
    const heldDate = revocationDate(before, held);

    const result = await revoke(first, "keyCompromise");
    expect(result).toEqual({ status: 200, body: { serialNumber: first, subject: "CN=all-1", reason: "keyCompromise", revokedAt: expect.any(String), created: true, updated: false, alsoRevoked: [second, held].sort() } });
    expect(await server.proc.waitForJson("admin", (e) => e.action === "revoke" && e.serialNumber === first)).toMatchObject({ reason: "keyCompromise", alsoRevoked: [second, held].sort() });

    const after = await crlText("after.crl");
    expect(crlNumber(after)).toBe(crlNumber(before) + 1); // signed once for the three, not once per serial
    for (const serial of [first, second, held]) expect(entryOf(after, serial)).toMatch(KEY_COMPROMISE);
    expect(revocationDate(after, held)).toBe(heldDate);
    expect(entryOf(after, otherKey)).toBeUndefined();

    // The held certificate can no longer be put back on hold (nor released): it stays Key Compromise.
    expect(await revoke(held, "certificateHold")).toMatchObject({ status: 200, body: { reason: "keyCompromise", created: false, updated: false, alsoRevoked: [] } });
  }, 180_000);
});
