/**
 * Structure-aware fuzzing of the enrollment path (RFC 8894 §3.3.1, §3.3.2.2):
 * generated PKCS#10 requests inside valid PKCSReqs (see support/csr-fuzz.ts)
 * against a server whose issue hook is a CA built on this package's
 * certificate builder (`endEntityExtensions` + `buildCertificate`, as the
 * example servers' embedded CA is). Every answer must be a CertRep or a 4xx,
 * never a 5xx; every certificate issued must be one OpenSSL parses and the CA
 * key verifies, and never a CA certificate. Before the server read the
 * request's lazily parsed names while decoding, ~4% of these inputs got an
 * HTTP 500; before the builder checked names, ~25% of the SUCCESS answers
 * carried a certificate OpenSSL could not parse. The inputs also vary the
 * signer certificate (names, serial, validity, extensions, mutations) and send
 * CertPoll, GetCert and GetCRL around generated content.
 *
 * CSR_FUZZ_INPUTS (default 300) sets the number of inputs, CSR_FUZZ_SEED the seed.
 */
import { describe, expect, it } from "vitest";
import { InvalidArgumentError, buildCertificate, createScepServer, endEntityExtensions } from "../src/index.js";
import { NOW, DAY, createTestCa, nextSerial } from "./support/server-pki.js";
import { runCsrFuzz } from "./support/csr-fuzz.js";

const CHALLENGE = "csr-fuzz";
const INPUTS = Number(process.env.CSR_FUZZ_INPUTS ?? 300);
const SEED = Number(process.env.CSR_FUZZ_SEED ?? 20261130);

describe("fuzzing the CSR behind a valid PKCSReq (RFC 8894 §3.3.2.2)", () => {
  it(`answers ${INPUTS} generated requests with a CertRep or a 4xx, and issues only certificates OpenSSL parses`, async () => {
    const ca = await createTestCa("CSR Fuzz CA");
    const server = createScepServer({
      profiles: [
        {
          path: "/scep",
          caCertificate: ca.cert,
          signer: ca.key,
          challenge: { type: "static", password: CHALLENGE },
          async issue({ csr }) {
            try {
              const extensions = endEntityExtensions({ csr, issuer: ca.key });
              const serialNumber = Buffer.from(nextSerial().padStart(8, "1"), "hex");
              return { status: "SUCCESS", certificate: await buildCertificate({ issuer: ca.key, subject: csr.subjectDer, publicKey: csr.spki, serialNumber, notBefore: NOW, notAfter: new Date(NOW.getTime() + DAY), extensions }) };
            } catch (e) {
              if (e instanceof InvalidArgumentError) return { status: "FAILURE", failInfo: "badRequest", failInfoText: e.message };
              throw e;
            }
          },
        },
      ],
      now: () => NOW,
    });
    const report = await runCsrFuzz({ fetch: (r) => server.fetch(r), url: "http://scep.test/scep", ca: ca.cert, challenge: CHALLENGE, count: INPUTS, seed: SEED });
    expect(report.bad).toEqual([]);
    // The run reached issuance and refusals both, not only the decoder.
    expect(report.tally["csr:SUCCESS"]).toBeGreaterThan(0);
    expect(report.tally["csr:FAILURE:badRequest"]).toBeGreaterThan(0);
    expect(Object.values(report.tally).reduce((a, b) => a + b, 0)).toBe(INPUTS);
  }, 180_000);
});
