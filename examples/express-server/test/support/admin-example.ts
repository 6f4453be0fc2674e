/**
 * Shared by the key-compromise tests of the Express example: the example as a child process on loopback with a data
 * directory in a temp dir, an admin token and a static challenge; a PKCSReq or CertPoll sent to it with the SDK
 * (RFC 8894 §3.3.1, §3.3.3); the admin API's POST routes; and its CRL as `openssl crl -text`, verified with the CA
 * (RFC 5280 §5).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import {
  Certificate,
  CertificationRequest,
  buildCertPoll,
  buildPkcsReq,
  createSelfSignedSigner,
  generateCsr,
  readCertRep,
  type CertRep,
  type LocalKey,
} from "@scep/core";
import { runOpenssl } from "../../../../test-support/peers";
import { TrackedExamples, type StartedExample } from "../../../server-kit/test/support/example-process.js";

const EXAMPLE_DIR = fileURLToPath(new URL("../..", import.meta.url));

/** A started example and the CA certificate its `listening` line names. */
export interface AdminExample extends StartedExample {
  ca: Certificate;
}

/** An admin API answer: the HTTP status and the JSON body. */
export interface AdminAnswer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * The Express examples one test file starts, all with `token` as SCEP_ADMIN_TOKEN and `challenge` as SCEP_CHALLENGE,
 * their data directories in one temp dir ({@link AdminExamples.dir}). The file's `afterAll` calls
 * {@link AdminExamples.close}.
 */
export class AdminExamples {
  readonly dir: string;
  readonly #examples = new TrackedExamples(EXAMPLE_DIR);

  constructor(
    prefix: string,
    readonly token: string,
    readonly challenge: string,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
  }

  /** Starts an example (data directory `<dir>/data` unless `env` says) and waits for its `listening` line. */
  async start(env: Record<string, string> = {}, args: readonly string[] = []): Promise<AdminExample> {
    const started = await this.#examples.start({ SCEP_DATA_DIR: join(this.dir, "data"), SCEP_ADMIN_TOKEN: this.token, SCEP_CHALLENGE: this.challenge, ...env }, args);
    return { ...started, ca: Certificate.from(readFileSync(started.listening.caCertificate, "utf8")) };
  }

  /** Stops every started example, then removes the temp dir. */
  async close(): Promise<void> {
    await this.#examples.terminateAll();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * A PKCSReq for `keys` as `subject` sent to `to`: with the challenge (none when `renewal`), signed by `signer`
   * (default: a self-signed certificate of `keys` for `subject`). Expects HTTP 200; the decoded CertRep.
   */
  async pkcsReq(to: AdminExample, keys: CryptoKeyPair, subject: string, options: { signer?: LocalKey; transactionId?: string; renewal?: boolean } = {}): Promise<CertRep> {
    const signer = options.signer ?? (await createSelfSignedSigner({ keys, subject }));
    const renewal = options.renewal ?? false;
    const csr = await generateCsr({ keys, subject, ...(renewal ? {} : { challengePassword: this.challenge }) });
    const req = await buildPkcsReq({ csr, signer, recipient: to.ca, renewal, ...(options.transactionId ? { transactionId: options.transactionId } : {}) });
    return readCertRep(await postPkiOperation(to, req.der), { decrypter: signer, caCertificates: [to.ca], request: req });
  }

  /** A CertPoll (RFC 8894 §3.3.3) for `transactionId`, the subject of a CSR of `keys` as `subject`, signed by `signer`. */
  async certPoll(to: AdminExample, keys: CryptoKeyPair, subject: string, signer: LocalKey, transactionId: string): Promise<CertRep> {
    const subjectDer = CertificationRequest.from(await generateCsr({ keys, subject })).subjectDer;
    const built = await buildCertPoll({ issuer: to.ca, subject: subjectDer, transactionId, signer, recipient: to.ca });
    return readCertRep(await postPkiOperation(to, built.der), { decrypter: signer, caCertificates: [to.ca], request: built });
  }

  /** POST /admin/scep/<route> with `body` as JSON and the bearer token. */
  async admin(to: AdminExample, route: "revoke" | "approve", body: Record<string, string>): Promise<AdminAnswer> {
    const res = await fetch(`${to.base}/admin/scep/${route}`, { method: "POST", headers: { authorization: `Bearer ${this.token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  /** GET /scep/ca.crl of `from` (expects 200), saved as `<dir>/<name>`: `openssl crl -text`, verified with the CA certificate. */
  async crlText(from: AdminExample, name: string): Promise<string> {
    const res = await fetch(`${from.base}/scep/ca.crl`);
    expect(res.status).toBe(200);
    writeFileSync(join(this.dir, name), new Uint8Array(await res.arrayBuffer()));
    writeFileSync(join(this.dir, "ca.pem"), from.ca.toPem());
    const args = ["crl", "-inform", "DER", "-in", name, "-noout", "-text", "-CAfile", "ca.pem", "-verify"];
    return (await runOpenssl(args, { cwd: this.dir, timeoutMs: 60_000 })).stdout;
  }
}

async function postPkiOperation(to: AdminExample, der: Uint8Array): Promise<Uint8Array> {
  const res = await fetch(`${to.base}/scep?operation=PKIOperation`, { method: "POST", body: der as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/x-pki-message" }, signal: AbortSignal.timeout(30_000) });
  expect(res.status).toBe(200);
  return new Uint8Array(await res.arrayBuffer());
}

/** The X509v3 CRL Number of `openssl crl -text` output. */
export const crlNumber = (text: string): number => Number(/X509v3 CRL Number:\s*\n\s+(\d+)\n/.exec(text)![1]);

/** The entry block of `serial` (hex) in `openssl crl -text` output, or undefined when the CRL does not list it. */
export function entryOf(text: string, serial: string): string | undefined {
  const at = text.indexOf(`Serial Number: ${serial.toUpperCase()}\n`);
  if (at === -1) return undefined;
  const next = text.indexOf("Serial Number:", at + 1);
  return text.slice(at, next === -1 ? text.indexOf("Signature Algorithm", at) : next);
}

/** The Revocation Date line of `serial`'s entry (second precision); throws when the CRL does not list it. */
export const revocationDate = (text: string, serial: string): string => /Revocation Date: (.+)\n/.exec(entryOf(text, serial)!)![1]!;

/** An entry's reason code line: `reasonLine("Key Compromise")`. */
export const reasonLine = (reason: string): RegExp => new RegExp(`CRL Reason Code:\\s*\\n\\s+${reason}\\n`);
