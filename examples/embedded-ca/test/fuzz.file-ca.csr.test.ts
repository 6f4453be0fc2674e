/**
 * Structure-aware fuzzing of the embedded CA's `issue({ csrDer })` called on its own (not behind @scep/core's
 * server, whose decode phase refuses an unreadable CSR first): generated PKCS#10 requests
 * (packages/core/test/support/csr-fuzz.ts: odd name value types, malformed subjectAltNames, CA basicConstraints,
 * RSA/EC/Ed25519 keys, re-signed byte mutations). The contract: a certificate OpenSSL parses and that is not a CA
 * certificate, or EmbeddedCaError `CSR_INVALID` (the request's fault); never another error, and a refused request
 * leaves no index entry (the index holds exactly what was issued).
 */
import * as crypto from "node:crypto";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { openFileCa, type FileCa } from "../src/index.js";
import { tempDir } from "./helpers.js";
import { fuzzCsrDer, seedCsrFuzz } from "../../../packages/core/test/support/csr-fuzz.js";

const INPUTS = Number(process.env.CSR_FUZZ_INPUTS ?? 400);
const SEED = Number(process.env.CSR_FUZZ_SEED ?? 20261130);
let ca: FileCa;

beforeAll(async () => {
  ca = await openFileCa({ dataDir: join(tempDir(), "data") });
});

describe("the embedded CA's issue({ csrDer }) under CSR fuzzing", () => {
  it(`issues a certificate OpenSSL parses or refuses with CSR_INVALID, for ${INPUTS} generated requests`, async () => {
    seedCsrFuzz(SEED);
    const tally: Record<string, number> = {};
    const bad: string[] = [];
    for (let i = 0; i < INPUTS; i++) {
      const csrDer = fuzzCsrDer("unused", { mutable: true });
      const replay = `#${i} csr=${Buffer.from(csrDer).toString("base64").slice(0, 160)}…`;
      try {
        const issued = await ca.issue({ csrDer, validityDays: 1 });
        const x = new crypto.X509Certificate(issued.certificatePem);
        if (x.ca) bad.push(`${replay}: issued a CA certificate`);
        tally["issued"] = (tally["issued"] ?? 0) + 1;
      } catch (e) {
        const code = (e as { code?: string }).code ?? (e as Error).name;
        tally[code] = (tally[code] ?? 0) + 1;
        if (code !== "CSR_INVALID") bad.push(`${replay}: ${code}: ${(e as Error).message}`);
      }
    }
    if (process.env.CSR_FUZZ_INPUTS) console.error(JSON.stringify(tally));
    expect(bad).toEqual([]);
    expect(tally["issued"]).toBeGreaterThan(0);
    expect(tally["CSR_INVALID"]).toBeGreaterThan(0);
    expect((await ca.list()).length).toBe(tally["issued"]);
  }, 120_000);
});
