/**
 * Structure-aware fuzzing of the example server's enrollment path: generated
 * PKCS#10 requests inside valid PKCSReqs (packages/core/test/support/csr-fuzz.ts:
 * odd name value types, malformed subjectAltNames, CA basicConstraints,
 * RSA/EC/Ed25519 keys, re-signed byte mutations) through the kit's SCEP server
 * and its embedded CA, in this process. Every answer is a CertRep or a 4xx,
 * never a 5xx; every certificate issued parses with OpenSSL, verifies under
 * the CA and is not a CA certificate; and the CA's index holds exactly the
 * certificates that were issued (a refused request leaves no entry behind).
 * The inputs also vary the signer certificate and send CertPoll, GetCert and
 * GetCRL around generated IssuerAndSubject / IssuerAndSerialNumber (negative,
 * zero, over-long serials): a GetCert for a 21-octet serial was an HTTP 500
 * before the embedded CA's look-up took any serial spelling.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Certificate } from "@scep/core";
import { parseConfig, type ServerConfig } from "../src/config.js";
import { createKit } from "../src/start-server.js";
import { runCsrFuzz } from "../../../packages/core/test/support/csr-fuzz.js";

const CHALLENGE = "csr-fuzz-static";
const TOKEN = "csr-fuzz-admin-token-0123456789abcdef";
let dir: string;
let kit: Awaited<ReturnType<typeof createKit>>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-csr-fuzz-"));
  const config = parseConfig([], { SCEP_DATA_DIR: join(dir, "data"), SCEP_CHALLENGE: CHALLENGE, SCEP_ADMIN_TOKEN: TOKEN, PORT: "0" }) as ServerConfig;
  kit = await createKit(config, undefined, {});
});
afterAll(async () => {
  await kit?.close();
  await kit?.stores.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("the example server's enrollment path under CSR fuzzing (RFC 8894 §3.3.2.2)", () => {
  it("answers generated requests (200; CSR_FUZZ_INPUTS) with a CertRep or a 4xx and indexes exactly what it issued", async () => {
    const caRes = await kit.server.fetch(new Request("http://127.0.0.1/scep?operation=GetCACert"));
    expect(caRes.headers.get("content-type")).toBe("application/x-x509-ca-cert");
    const ca = new Certificate(new Uint8Array(await caRes.arrayBuffer()));
    const report = await runCsrFuzz({ fetch: (r) => kit.server.fetch(r), url: "http://127.0.0.1/scep", ca, challenge: CHALLENGE, count: Number(process.env.CSR_FUZZ_INPUTS ?? 200), seed: Number(process.env.CSR_FUZZ_SEED ?? 20261130) });
    if (process.env.CSR_FUZZ_INPUTS) console.error(JSON.stringify(report.tally));
    expect(report.bad).toEqual([]);
    expect(report.tally["csr:SUCCESS"]).toBeGreaterThan(0);
    expect(report.tally["csr:FAILURE:badRequest"]).toBeGreaterThan(0);
    const listing = await kit.admin!.fetch(new Request("http://127.0.0.1/admin/scep/certificates?pageSize=500", { headers: { authorization: `Bearer ${TOKEN}` } }), { remoteAddress: "127.0.0.1" });
    expect(listing.status).toBe(200);
    // Every enrollment (the csr and signer modes) that got SUCCESS, and nothing else, is in the index.
    const issued = (report.tally["csr:SUCCESS"] ?? 0) + (report.tally["signer:SUCCESS"] ?? 0);
    expect(((await listing.json()) as { total: number }).total).toBe(issued);
  });
});
