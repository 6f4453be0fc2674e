/**
 * Structure-aware fuzzing of both Intune validators with generated PKCS#10 requests
 * (packages/core/test/support/csr-fuzz.ts: subjects of every string type, malformed and odd subjectAltNames,
 * garbage extension values, byte mutations of the CertificationRequestInfo re-signed), each carrying a valid
 * challenge: an opaque blob the Mode A validator sends to a loopback fake Intune answering Success
 * (test/support/fake-intune.ts), a signed token whose device_name and SAN claims the Mode B validator compares
 * with the CSR's subject CN and subjectAltNames.
 *
 * The contract of `validate`: a verdict, ok or a refusal with a failInfo, never a throw (a store that is down is
 * the only reason to reject, and these stores are in memory). A CSR whose subject or subjectAltName does not parse
 * is a refusal (Mode A with a rate limit, which counts by subject: `csr_invalid` before Intune is asked; Mode B:
 * `claim_mismatch`), not the CSR reader's `ERR_ASN1` thrown out of `validate`. Through @scep/core's server such a
 * CSR is refused in the decode phase before any validator runs; a validator called on its own (another server, a
 * custom pipeline) met it, and Mode A threw after recording the transactionID as spent.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CertificationRequest, isScepError } from "@scep/core";
import { IntuneValidator, MemoryReplayCache, SignedTokenValidator, TrustAnchorPool, type ValidatorVerdict } from "../src/index.js";
import { startFakeIntune, fakeIntuneConnection, type FakeIntune } from "./support/fake-intune.js";
import { NOW, anchor, goodClaims, mint } from "./support/tokens.js";
import { fuzzCsrDer, seedCsrFuzz } from "../../core/test/support/csr-fuzz.js";

const INPUTS = Number(process.env.CSR_FUZZ_INPUTS ?? 200);
const SEED = Number(process.env.CSR_FUZZ_SEED ?? 20261130);

/** Runs `validate` over generated CSRs; tallies the verdicts and lists every throw. */
async function fuzz(challengeFor: (i: number) => string, validate: (csr: CertificationRequest, i: number) => Promise<ValidatorVerdict>): Promise<{ tally: Record<string, number>; bad: string[] }> {
  seedCsrFuzz(SEED);
  const tally: Record<string, number> = {};
  const bad: string[] = [];
  for (let i = 0; i < INPUTS; i++) {
    const der = fuzzCsrDer(challengeFor(i), { mutable: true });
    let csr: CertificationRequest;
    try {
      csr = new CertificationRequest(der);
    } catch {
      tally["not-a-csr"] = (tally["not-a-csr"] ?? 0) + 1; // refused by the server's reader before any validator
      continue;
    }
    let key: string;
    try {
      const v = await validate(csr, i);
      key = v.ok ? "ok" : `${v.reason}:${v.failInfo}`;
      if (!v.ok && !["badRequest", "badMessageCheck", "badTime"].includes(v.failInfo)) bad.push(`#${i} refusal without a SCEP failInfo ${JSON.stringify(v)}`);
    } catch (e) {
      key = `threw:${isScepError(e) ? e.code : (e as Error).name}`;
      bad.push(`#${i} validate threw ${key}: ${(e as Error).message} csr=${Buffer.from(der).toString("base64").slice(0, 200)}…`);
    }
    tally[key] = (tally[key] ?? 0) + 1;
  }
  return { tally, bad };
}

describe("Intune validators under CSR fuzzing", () => {
  let fake: FakeIntune;
  beforeAll(async () => {
    fake = await startFakeIntune();
  });
  afterAll(() => fake.close());

  it(`Mode A (validation API, rate limit by subject): ${INPUTS} generated CSRs get a verdict, never a throw`, async () => {
    const intune = new IntuneValidator({
      ...fakeIntuneConnection(fake),
      retries: 0,
      replayCache: new MemoryReplayCache(),
      rateLimit: { max: 1_000, windowMs: 3_600_000 },
    });
    const asked = fake.of("validateRequest").length;
    const { tally, bad } = await fuzz(
      () => "opaque-intune-challenge-blob",
      (csr, i) => intune.validate({ challenge: csr.challengePassword, csr, request: { transactionId: `fuzz-${i}` } }),
    );
    expect(bad).toEqual([]);
    expect(tally["ok"]).toBeGreaterThan(0);
    expect(tally["csr_invalid:badRequest"]).toBeGreaterThan(0);
    // A CSR refused for its subject is never sent to Intune; every other one is.
    expect(fake.of("validateRequest").length - asked).toBe(tally["ok"]);
  }, 60_000);

  it(`Mode B (signed token with device_name and SAN claims): ${INPUTS} generated CSRs get a verdict, never a throw`, async () => {
    const rsa = await anchor("rsa2048");
    const tokens = new SignedTokenValidator({ trustAnchors: TrustAnchorPool.fromPem(rsa.pem, { now: () => NOW }), now: () => NOW, rateLimit: false });
    const { tally, bad } = await fuzz(
      (i) => mint(rsa.privateKey, goodClaims({ nonce: `fuzz-${i}`, ...(i % 2 ? {} : { device_name: "device-1" }) })),
      (csr, i) => tokens.validate({ challenge: csr.challengePassword, csr, request: { transactionId: `fuzz-${i}` } }),
    );
    expect(bad).toEqual([]);
    // The binding was reached: CSRs that read and do not match, and ones that do not read.
    expect(tally["claim_mismatch:badRequest"]).toBeGreaterThan(0);
  }, 60_000);
});
