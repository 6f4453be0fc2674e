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
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as crypto from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalKey, buildCaCaps, buildCertRep, buildGetCaCertResponse, decodePkiMessage, exportPrivateKeyPem, generateRsaKeyPair } from "@scep/core";
import { createTestCa, type TestCa } from "../../../packages/core/test/support/server-pki.js";
import { fuzzCertificateDer, seedCsrFuzz } from "../../../packages/core/test/support/csr-fuzz.js";
import { main } from "../src/run.js";

const INPUTS = Number(process.env.CSR_FUZZ_INPUTS ?? 90);
const SEED = Number(process.env.CSR_FUZZ_SEED ?? 20261130);
const MODES = ["issued", "ca-set", "reply-signer"] as const;
type Mode = (typeof MODES)[number];

let dir: string;
let ca: TestCa;
let caPriv: crypto.KeyObject;
let http: Server;
let url: string;
/** What the server answers with now: set per input. */
const current: { mode: Mode; fuzzed: Uint8Array; signer: LocalKey | undefined } = { mode: "issued", fuzzed: new Uint8Array(), signer: undefined };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-cli-fuzz-"));
  ca = await createTestCa("Hostile CLI CA");
  caPriv = crypto.KeyObject.from(ca.keys.privateKey);
  writeFileSync(join(dir, "device.key"), await exportPrivateKeyPem((await generateRsaKeyPair(2048)).privateKey));
  http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const op = new URL(req.url ?? "/", "http://x").searchParams.get("operation");
        if (op === "GetCACaps") return void res.writeHead(200, { "content-type": "text/plain" }).end(buildCaCaps(["AES", "POSTPKIOperation", "SHA-256", "SCEPStandard"]));
        if (op === "GetCACert") {
          const reply = await buildGetCaCertResponse(current.mode === "ca-set" ? [ca.cert, current.fuzzed] : [ca.cert]);
          return void res.writeHead(200, { "content-type": reply.contentType }).end(reply.body);
        }
        const request = await decodePkiMessage(new Uint8Array(Buffer.concat(chunks)), { decrypters: [ca.key] });
        // The issued certificate of the mode "issued" is generated for the key the CLI asked for.
        const issued = current.mode === "issued" ? fuzzCertificateDer(request.csr!.spki, caPriv, ca.cert.subjectDer) : (await ca.issue(request.csr!.der)).der;
        const reply = await buildCertRep({ request, signer: current.signer ?? ca.key, status: "SUCCESS", certificates: [issued, ca.cert.der] });
        res.writeHead(200, { "content-type": "application/x-pki-message" }).end(reply);
      })().catch((e: unknown) => res.writeHead(500).end(String(e)));
    });
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/scep`;
});
afterAll(async () => {
  http?.closeAllConnections();
  await new Promise((r) => http?.close(r));
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
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(argv, { cwd: dir, out: (t) => out.push(t), err: (t) => err.push(t) });
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
