/**
 * Structure-aware fuzzing of the CLI against a hostile SCEP server on loopback: correctly signed and encrypted
 * replies around generated certificates (packages/core/test/support/csr-fuzz.ts `fuzzCertificateDer`: odd names,
 * malformed subjectAltName, keyUsage and basicConstraints, garbage extension values, mutations re-signed), as the
 * issued certificate of `scep enroll`, as a certificate of the GetCACert set of `scep getcacert --out`, or as the
 * certificate that signs enroll's CertRep. The CLI runs in this process (`main`), with one key file for every run.
 *
 * The contract: exit 0 with the certificate written and reported, or exit 1 with one `scep: … [ERR_…]` line
 * (a typed error), nothing on stdout and no file written. Before readCertRep and parseGetCaCertResponse read the
 * certificates' names and extensions, `enroll` wrote the key and the certificate, then failed with `ERR_ASN1`
 * printing the subject (exit 1 with the files left behind), and `getcacert` failed halfway through its listing.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as crypto from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalKey, buildCaCaps, buildCertRep, buildGetCaCertResponse, decodePkiMessage, exportPrivateKeyPem, generateRsaKeyPair } from "@scep/core";
import { createTestCa, type TestCa } from "../../../packages/core/test/support/server-pki.js";
import { fuzzCertificateDer, seedCsrFuzz } from "../../../packages/core/test/support/csr-fuzz.js";
import { runInProcess, serveFetch, type Loopback } from "./support/in-process.js";

const INPUTS = Number(process.env.CSR_FUZZ_INPUTS ?? 90);
const SEED = Number(process.env.CSR_FUZZ_SEED ?? 20261130);
const MODES = ["issued", "ca-set", "reply-signer"] as const;
type Mode = (typeof MODES)[number];

let dir: string;
let ca: TestCa;
let caPriv: crypto.KeyObject;
let http: Loopback;
let url: string;
/** What the server answers with now: set per input. */
const current: { mode: Mode; fuzzed: Uint8Array; signer: LocalKey | undefined } = { mode: "issued", fuzzed: new Uint8Array(), signer: undefined };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-cli-fuzz-"));
  ca = await createTestCa("Hostile CLI CA");
  caPriv = crypto.KeyObject.from(ca.keys.privateKey);
  writeFileSync(join(dir, "device.key"), await exportPrivateKeyPem((await generateRsaKeyPair(2048)).privateKey));
  http = await serveFetch(async (req) => {
    const op = new URL(req.url).searchParams.get("operation");
    if (op === "GetCACaps") return new Response(buildCaCaps(["AES", "POSTPKIOperation", "SHA-256", "SCEPStandard"]), { headers: { "content-type": "text/plain" } });
    if (op === "GetCACert") {
      const reply = await buildGetCaCertResponse(current.mode === "ca-set" ? [ca.cert, current.fuzzed] : [ca.cert]);
      return new Response(reply.body as Uint8Array<ArrayBuffer>, { headers: { "content-type": reply.contentType } });
    }
    const request = await decodePkiMessage(new Uint8Array(await req.arrayBuffer()), { decrypters: [ca.key] });
    // The issued certificate of the mode "issued" is generated for the key the CLI asked for.
    const issued = current.mode === "issued" ? fuzzCertificateDer(request.csr!.spki, caPriv, ca.cert.subjectDer) : (await ca.issue(request.csr!.der)).der;
    const reply = await buildCertRep({ request, signer: current.signer ?? ca.key, status: "SUCCESS", certificates: [issued, ca.cert.der] });
    return new Response(reply as Uint8Array<ArrayBuffer>, { headers: { "content-type": "application/x-pki-message" } });
  });
  url = `${http.base}/scep`;
});
afterAll(async () => {
  await http?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("the CLI against a server sending generated certificates", () => {
  it(`${INPUTS} runs of enroll and getcacert: exit 0 with the files, or exit 1 with one typed error line and nothing written`, async () => {
    seedCsrFuzz(SEED);
    const tally: Record<string, number> = {};
    const bad: string[] = [];
    for (let i = 0; i < INPUTS; i++) {
      const mode = MODES[i % MODES.length]!;
      current.mode = mode;
      current.signer = undefined;
      current.fuzzed = mode === "issued" ? new Uint8Array() : fuzzCertificateDer(ca.cert.spki, caPriv);
      if (mode === "reply-signer") {
        try {
          current.signer = LocalKey.from(current.fuzzed, ca.keys.privateKey);
        } catch {
          tally["skipped"] = (tally["skipped"] ?? 0) + 1;
          continue;
        }
      }
      const outFile = `out-${i}.pem`;
      const argv = mode === "ca-set" ? ["getcacert", "--url", url, "--out", outFile] : ["enroll", "--url", url, "--challenge", "pw", "--cn", `device-${i}`, "--key", "device.key", "--out", outFile];
      const { code, out, err } = await runInProcess(argv, dir);
      const written = existsSync(join(dir, outFile));
      const replay = `#${i} ${mode} exit ${code} stdout=${JSON.stringify(out.join("\n").slice(0, 200))} stderr=${JSON.stringify(err.join("\n").slice(0, 300))} certificate=${Buffer.from(current.fuzzed).toString("base64").slice(0, 120)}…`;
      if (code === 0) {
        if (!written) bad.push(`${replay}: exit 0 without the file`);
      } else if (code === 1) {
        const typed = /^scep: .* \[ERR_[A-Z0-9_]+\]$/.exec(err.join("\n"));
        if (!typed) bad.push(`${replay}: exit 1 without one typed error line`);
        if (written || out.length > 0) bad.push(`${replay}: exit 1 after writing ${written ? "the file" : "to stdout"}`);
        tally[`${mode}:${/\[(ERR_[A-Z0-9_]+)\]$/.exec(err.join("\n"))?.[1] ?? "?"}`] = (tally[`${mode}:${/\[(ERR_[A-Z0-9_]+)\]$/.exec(err.join("\n"))?.[1] ?? "?"}`] ?? 0) + 1;
      } else bad.push(`${replay}: unexpected exit code`);
      if (code === 0) tally[`${mode}:ok`] = (tally[`${mode}:ok`] ?? 0) + 1;
    }
    if (process.env.CSR_FUZZ_INPUTS) console.error(JSON.stringify(tally));
    expect(bad).toEqual([]);
    for (const mode of MODES) expect(tally[`${mode}:ok`], mode).toBeGreaterThan(0);
    expect(tally["issued:ERR_CERTREP"]).toBeGreaterThan(0);
    expect(tally["ca-set:ERR_MESSAGE_MALFORMED"]).toBeGreaterThan(0);
  }, 120_000);
});
