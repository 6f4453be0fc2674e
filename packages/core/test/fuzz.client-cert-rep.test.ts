/**
 * Structure-aware fuzzing of the client against a hostile SCEP server (RFC 8894 §3.3.2, §4.2.1): ScepClient.enroll
 * (GetCACert, PKCSReq, readCertRep) against an in-process server built on this package's codec
 * (`decodePkiMessage`, `buildCertRep`) whose replies are valid SignedData/EnvelopedData, correctly signed and
 * encrypted, around generated certificates (support/csr-fuzz.ts `fuzzCertificateDer`: odd names, malformed
 * subjectAltName, keyUsage and basicConstraints, garbage extension values, byte mutations re-signed). Each input
 * puts one such certificate in one place: the issued certificate of a SUCCESS, a certificate of the GetCACert
 * set, or the certificate that signs the CertRep (of the CA's own key, so the signature verifies). A second test
 * sends them as the next CA certificates of a GetNextCACert reply (RFC 8894 §4.7) signed by the current CA.
 *
 * The contract: enroll resolves with a CertRep whose certificates (issued, every one of the reply, the signer's,
 * the CA set) read every name and extension without throwing, or rejects with a ScepError: never a TypeError, and
 * never a certificate that throws `ERR_ASN1` later from a getter the caller reads (as the CLI's report of the
 * issued certificate does). Before readCertRep and parseGetCaCertResponse read those parts, 11 of the 150
 * enrollments returned such a certificate.
 */
import * as crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  Certificate,
  ScepClient,
  buildCertRep,
  buildGetCaCertResponse,
  buildGetNextCaCertResponse,
  createSelfSignedSigner,
  decodePkiMessage,
  generateCsr,
  generateRsaKeyPair,
  isScepError,
  LocalKey,
  parseGetNextCaCertResponse,
} from "../src/index.js";
import { createTestCa } from "./support/server-pki.js";
import { fuzzCertificateDer, seedCsrFuzz } from "./support/csr-fuzz.js";
import { buildEnvelopedData } from "../src/cms/enveloped-data.js";

const INPUTS = Number(process.env.CSR_FUZZ_INPUTS ?? 150);
const SEED = Number(process.env.CSR_FUZZ_SEED ?? 20261130);
const MODES = ["issued", "ca-set", "reply-signer"] as const;

/** Reads what a caller reads of a certificate; throws what a getter throws. */
function readAll(c: Certificate): void {
  void [c.subject, c.issuer, c.subjectAltNames, c.keyUsage, c.isCa, c.subjectKeyIdentifier, c.serialNumberHex, c.notAfter];
}

describe("the client against a server sending generated certificates (RFC 8894 §3.3.2, §4.2.1)", () => {
  it(`enrolls ${INPUTS} times: a CertRep whose certificates all read, or a ScepError`, async () => {
    const ca = await createTestCa("Hostile CA");
    const caPriv = crypto.KeyObject.from(ca.keys.privateKey);
    const keys = await generateRsaKeyPair(2048);
    const signer = await createSelfSignedSigner({ keys, subject: "CN=fuzzed-client" });
    const csr = await generateCsr({ keys, subject: "CN=fuzzed-client", challengePassword: "x" });
    const spki = signer.certificate.spki;
    seedCsrFuzz(SEED);
    const tally: Record<string, number> = {};
    const bad: string[] = [];
    for (let i = 0; i < INPUTS; i++) {
      const mode = MODES[i % MODES.length]!;
      // A generated certificate: of the requester's key issued by the CA, or of the CA's key issued by itself.
      const fuzzed = mode === "issued" ? fuzzCertificateDer(spki, caPriv, ca.cert.subjectDer) : fuzzCertificateDer(ca.cert.spki, caPriv);
      let replySigner: LocalKey = ca.key;
      if (mode === "reply-signer") {
        try {
          replySigner = LocalKey.from(fuzzed, ca.keys.privateKey);
        } catch {
          tally["skipped"] = (tally["skipped"] ?? 0) + 1;
          continue;
        }
      }
      const hostile = async (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
        const u = new URL(String(url));
        const op = u.searchParams.get("operation");
        if (op === "GetCACaps") return new Response("POSTPKIOperation\nSHA-256\nAES\nSCEPStandard\n");
        if (op === "GetCACert") {
          const reply = await buildGetCaCertResponse(mode === "ca-set" ? [ca.cert, fuzzed] : [ca.cert]);
          return new Response(reply.body as Uint8Array<ArrayBuffer>, { headers: { "content-type": reply.contentType } });
        }
        const req = await decodePkiMessage(new Uint8Array(await new Response(init!.body).arrayBuffer()), { decrypters: [ca.key] });
        const certificates = mode === "issued" ? [fuzzed, ca.cert.der] : [await ca.issue(req.csr!.der), ca.cert.der];
        const body = await buildCertRep({ request: req, signer: replySigner, status: "SUCCESS", certificates });
        return new Response(body as Uint8Array<ArrayBuffer>, { headers: { "content-type": "application/x-pki-message" } });
      };
      const replay = `#${i} mode=${mode} certificate=${Buffer.from(fuzzed).toString("base64")}`;
      try {
        const rep = await new ScepClient({ url: "http://hostile.test/scep", fetch: hostile as typeof fetch }).enroll({ csr, signer });
        try {
          for (const c of [rep.certificate!, ...rep.certificates, rep.signerCertificate, ...rep.caCertificates]) readAll(c);
        } catch (e) {
          bad.push(`${replay} returned a certificate whose getter throws ${(e as { code?: string }).code ?? (e as Error).name}: ${(e as Error).message}`);
        }
        tally[`${mode}:${rep.status}`] = (tally[`${mode}:${rep.status}`] ?? 0) + 1;
      } catch (e) {
        if (!isScepError(e)) bad.push(`${replay} threw an untyped ${(e as Error).name}: ${(e as Error).message}`);
        const key = `${mode}:${isScepError(e) ? e.code : "untyped"}`;
        tally[key] = (tally[key] ?? 0) + 1;
      }
    }
    if (process.env.CSR_FUZZ_INPUTS) console.error(JSON.stringify(tally));
    expect(bad).toEqual([]);
    // Each place was reached with certificates that read and with ones that do not.
    for (const mode of MODES) expect(tally[`${mode}:SUCCESS`], mode).toBeGreaterThan(0);
    expect(tally["issued:ERR_CERTREP"]).toBeGreaterThan(0);
    expect(tally["ca-set:ERR_MESSAGE_MALFORMED"]).toBeGreaterThan(0);
    expect(tally["reply-signer:ERR_CERTREP"]).toBeGreaterThan(0);
  }, 120_000);
});

describe("GetNextCACert replies holding generated certificates (RFC 8894 §4.7)", () => {
  it(`parseGetNextCaCertResponse: ${INPUTS} replies give certificates that all read, or ERR_CERTREP / ERR_ASN1`, async () => {
    const ca = await createTestCa("Rolling CA");
    const caPriv = crypto.KeyObject.from(ca.keys.privateKey);
    seedCsrFuzz(SEED + 1);
    const tally: Record<string, number> = {};
    const bad: string[] = [];
    for (let i = 0; i < INPUTS; i++) {
      const fuzzed = fuzzCertificateDer(ca.cert.spki, caPriv);
      const reply = await buildGetNextCaCertResponse({ certificates: [fuzzed], signer: ca.key });
      let certificates: Certificate[];
      try {
        certificates = parseGetNextCaCertResponse(reply.body, [ca.cert]);
        tally["ok"] = (tally["ok"] ?? 0) + 1;
        try {
          certificates.forEach(readAll);
        } catch (e) {
          bad.push(`#${i} returned a certificate whose getter throws ${(e as { code?: string }).code}: ${(e as Error).message}`);
        }
      } catch (e) {
        const code = isScepError(e) ? e.code : "untyped";
        tally[code] = (tally[code] ?? 0) + 1;
        if (code !== "ERR_CERTREP" && code !== "ERR_ASN1") bad.push(`#${i} ${code} ${(e as Error).message} certificate=${Buffer.from(fuzzed).toString("base64").slice(0, 200)}…`);
      }
    }
    expect(bad).toEqual([]);
    expect(tally["ok"]).toBeGreaterThan(0);
    expect(tally["ERR_CERTREP"]).toBeGreaterThan(0);
  }, 60_000);
});

/**
 * Found by this fuzz test in a clean-clone CI run (2026-12-05, input #16, mode ca-set, keys of that run): a generated
 * CA-set certificate whose RSA modulus is even parses, is picked as the PKCSReq's recipient, and OpenSSL's
 * publicEncrypt threw an untyped `error:0180006C:bignum routines::no inverse`. RFC 8894 §3.2.2 encrypts to the CA's
 * RSA key: one that cannot be encrypted to is KeyError ERR_KEY, wherever a content key is encrypted.
 */
const EVEN_MODULUS_CERTIFICATE = [
  "MIICpDCCAYygAwIBAgICF3cwDQYJKoZIhvcNAQELBQAwFDESMBAGA1UEAwwJcmVxdWVzdGVyMCAXDTI2MTIwNzEwMjYxNVoYDzIw",
  "NTEwMTAxMDAwMDAwWjAUMRIwEAYDVQQDDAlyZXF1ZXN0ZXIwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAAC9fTN/g/hA",
  "HfxOqaLAewDlanqFIPP4NTDtnwR0HO8KPTp/0A4AAjjG/EYhAsSwuDyq161goauJglNKoDsk8FoClMS8UHYpkkDElhwxtSYaVVbt",
  "tH2USj8gZQbBt7d4fyRM4MBnF4oafOtIy6sLcpObS+Im3llfg8rkNtfCFS+YCh9/8BYxgRHg9k7/OsHx4s+CvmRCOEXHFZawVNYt",
  "N4y+1oA/krHFFx5WmbOCteggQ2Je3JrIJeXhimoCX4SCACK4MZ0Sf3sBEx/1IU71sKm3H0yLdJUiWP/Ls5lNP+YYrowwV43U9ouk",
  "oo3YzyGG9FE9XCFF+r/BrASLWoi2p8ofAgMBAAEwDQYJKoZIhvcNAQELBQADggEBACAYS+aURmtdtfA4IB/ghVO/r9rj/8qvZxJh",
  "5FUyJZ5zfzDk4HLcmwBWryVwRbc4/LGs/jvAMqHncuzSSHr/+FMFyYaMRPNLpAwZ8SBGl3+0ALMeiV1jL7da8GxIcTS85ZNvoqEj",
  "SqmeGGq3gly3lR23rvEbAJIBnkn0nJSrRYI6i9cxUIk0YdWMVcgIl8cXI8W5GRyaC8wUZx1PXxkzXaZYRySkg6hsGu2D52HQq1gA",
  "/vNcMfy3vFwdg77mmnozYoB9unw54U3UMLmVYw3wSAiUCtvIyD4jI7pYjHvJKK8JimRqNqhghwXQQBh3MCxp+1ghm81RTM4g5ZWH",
  "ZSwMw34=",
].join("");

describe("RFC 8894 §3.2.2: a recipient certificate whose RSA key cannot be encrypted to", () => {
  it("an even modulus (OpenSSL 'no inverse') → KeyError ERR_KEY, not an untyped OpenSSL error", () => {
    const recipient = new Certificate(Buffer.from(EVEN_MODULUS_CERTIFICATE, "base64"));
    for (const transport of ["rsaes-pkcs1-v1_5", "rsaes-oaep"] as const) {
      expect(() => buildEnvelopedData({ content: new Uint8Array(32), recipient, cipher: "aes128", transport })).toThrow(
        expect.objectContaining({ name: "KeyError", code: "ERR_KEY", message: expect.stringMatching(/^cannot encrypt a content key to this RSA key \(.*no inverse.*\)$/) }),
      );
    }
  });
});
