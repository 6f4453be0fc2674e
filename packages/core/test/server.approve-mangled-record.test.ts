/**
 * `ScepServer.approve` of a PENDING record the transaction store mangled (its stored signer certificate no longer
 * parses, as after a foreign write or a half-migrated key): the approve fails with the parse error, and the record
 * goes back to PENDING, as after any other failure before issuance. It stayed ISSUING (the approver's claim), so
 * CertPoll answered PENDING and every later approve `ERR_TRANSACTION_STATE` until the claim's lease lapsed.
 * (Found by a test of the example admin API: its fixture stored an empty signer certificate.)
 */
import { beforeAll, describe, expect, it } from "vitest";
import { MemoryTransactionStore, createScepServer, generateCsr, generateRsaKeyPair, type IssueContext } from "../src/index.js";
import { NOW, createTestCa, issuingHook, type TestCa } from "./support/server-pki.js";

let ca: TestCa;
beforeAll(async () => {
  ca = await createTestCa("Mangled-record CA");
});

describe("ScepServer.approve: a stored record that no longer parses", () => {
  it("fails and leaves the transaction PENDING, not claimed (ISSUING)", async () => {
    const transactions = new MemoryTransactionStore({ now: () => NOW });
    const calls: IssueContext[] = [];
    const server = createScepServer({
      now: () => NOW,
      profiles: [{ path: "/scep", caCertificate: ca.cert.der, signer: ca.key, challenge: { type: "static", password: "pw" }, transactions, issue: issuingHook(ca, calls) }],
    });
    const csr = await generateCsr({ keys: await generateRsaKeyPair(), subject: "CN=mangled" });
    const at = new Date(NOW.getTime() - 60_000);
    const expiresAt = new Date(NOW.getTime() + 86_400_000);
    await transactions.create({ profile: "/scep", transactionId: "tx-m", status: "PENDING", csr, signerCertificate: new Uint8Array([0x30, 0x82, 0x01]), renewal: false, createdAt: at, updatedAt: at, expiresAt });

    await expect(server.approve("/scep", "tx-m")).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_/) });
    expect((await transactions.get("/scep", "tx-m"))?.status).toBe("PENDING");
    expect(calls).toHaveLength(0);
    // A reject (no stored context needed) still decides it.
    expect((await server.reject("/scep", "tx-m")).status).toBe("REJECTED");
  });
});
