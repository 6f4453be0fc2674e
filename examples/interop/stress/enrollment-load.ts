/**
 * Enrollment load and crash checks against the example servers (issue 12,
 * items 5 and 6), shared by the scripts (`pnpm stress:load`, `pnpm
 * stress:crash`) and their small variants in the suite
 * (examples/express-server/test/stress.load-crash.test.ts).
 *
 * A load is `concurrency` clients, each sending distinct PKCSReqs (its own
 * subject, self-signed signer certificate and transactionID; the RSA keys are
 * shared to keep key generation out of the run) one after another to the
 * given servers in turn, reading every CertRep fully (signature,
 * transactionID, nonces, envelope opened, certificate for the requested key).
 * A request that fails on the network (a server killed mid-load) is retried
 * as a new enrollment on the next server; {@link checkIndex} then holds the
 * CA's `index.jsonl` to what the clients received.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Certificate, CertificationRequest, buildPkcsReq, createSelfSignedSigner, generateCsr, generateRsaKeyPair, readCertRep } from "@scep/core";
import { parseIndex } from "../../embedded-ca/src/issuance-index.js";

/** What one load run did. */
export interface LoadResult {
  /** Certificates the clients received (SUCCESS CertReps, read and checked). */
  issued: { serial: string; der: Uint8Array; subject: string }[];
  /** Enrollments that ended otherwise (HTTP status, FAILURE/PENDING, unreadable reply), with the reason. */
  failures: { subject: string; reason: string }[];
  /** Network errors that were retried as new enrollments (a server gone). */
  retried: number;
  elapsedMs: number;
  /** Per-enrollment latency (ms, send to CertRep read), sorted. */
  latenciesMs: number[];
}

/** Options of {@link runLoad}. */
export interface LoadOptions {
  /** Base URLs (`http://127.0.0.1:PORT`); client c sends its n-th request to `targets()[(c + n) % length]`. */
  targets: () => readonly string[] | Promise<readonly string[]>;
  /** The CA certificate (the recipient and the replies' signer). */
  ca: Certificate;
  challenge: string;
  /** Enrollments in all (distinct subjects `CN=<prefix>-<i>`). */
  total: number;
  concurrency: number;
  prefix: string;
  /** RSA key pairs the requests share (default 4). */
  keys?: CryptoKeyPair[];
  /** Called after each finished enrollment with the count so far (e.g. to kill a server mid-load). */
  onProgress?: (done: number) => void | Promise<void>;
  /** A network error is retried this many times, the same PKIMessage sent again (default 0: it is a failure). */
  retries?: number;
}

/** RSA-2048 key pairs for {@link LoadOptions.keys}. */
export function makeKeys(count: number): Promise<CryptoKeyPair[]> {
  return Promise.all(Array.from({ length: count }, () => generateRsaKeyPair(2048)));
}

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;

/** p50/p99/max of sorted latencies, rounded to 0.1 ms. */
export function latencySummary(sorted: readonly number[]): { p50: number; p99: number; max: number } {
  const r = (n: number): number => Math.round(n * 10) / 10;
  return { p50: r(percentile(sorted, 50)), p99: r(percentile(sorted, 99)), max: r(sorted.at(-1) ?? 0) };
}

/** Runs the load; never throws for a failed enrollment (see {@link LoadResult.failures}). */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const keys = o.keys ?? (await makeKeys(4));
  const result: LoadResult = { issued: [], failures: [], retried: 0, elapsedMs: 0, latenciesMs: [] };
  let next = 0;
  let done = 0;
  const started = performance.now();
  const client = async (c: number): Promise<void> => {
    for (let n = 0; ; n++) {
      const i = next++;
      if (i >= o.total) return;
      const k = keys[i % keys.length]!;
      const subject = `CN=${o.prefix}-${i},O=stress`;
      const csr = await generateCsr({ keys: k, subject, challengePassword: o.challenge });
      const requestedKey = CertificationRequest.from(csr).spki;
      // One message, sent again as it is after a network error: a real client re-sends its transaction (RFC 8894
      // §3.3.3), and a CA that issued before the reply was lost answers it with that certificate.
      const signer = await createSelfSignedSigner({ keys: k, subject });
      const request = await buildPkcsReq({ csr, signer, recipient: o.ca });
      for (let attempt = 0; ; attempt++) {
        const targets = await o.targets();
        const base = targets[(c + n + attempt) % targets.length]!;
        const t0 = performance.now();
        let res: Response;
        try {
          res = await fetch(`${base}/scep?operation=PKIOperation`, {
            method: "POST",
            body: request.der as Uint8Array<ArrayBuffer>,
            headers: { "content-type": "application/x-pki-message" },
            signal: AbortSignal.timeout(60_000),
          });
        } catch (e) {
          if (attempt < (o.retries ?? 0)) {
            result.retried += 1;
            continue;
          }
          result.failures.push({ subject, reason: `network: ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}` });
          break;
        }
        let body: Uint8Array;
        try {
          body = new Uint8Array(await res.arrayBuffer());
        } catch (e) {
          if (attempt < (o.retries ?? 0)) {
            result.retried += 1;
            continue;
          }
          result.failures.push({ subject, reason: `network while reading: ${(e as Error).message}` });
          break;
        }
        if (res.status !== 200) {
          result.failures.push({ subject, reason: `HTTP ${res.status}: ${new TextDecoder().decode(body).slice(0, 100)}` });
          break;
        }
        try {
          const rep = await readCertRep(body, { decrypter: signer, caCertificates: [o.ca], request, requestedKey });
          if (rep.status !== "SUCCESS" || !rep.certificate) {
            result.failures.push({ subject, reason: `${rep.status} ${rep.failInfo ?? ""} ${rep.failInfoText ?? ""}`.trim() });
          } else {
            result.latenciesMs.push(performance.now() - t0);
            result.issued.push({ serial: rep.certificate.serialNumberHex.toLowerCase(), der: rep.certificate.der, subject });
          }
        } catch (e) {
          result.failures.push({ subject, reason: `unreadable CertRep: ${(e as Error).message}` });
        }
        break;
      }
      done += 1;
      await o.onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, (_, c) => client(c)));
  result.elapsedMs = performance.now() - started;
  result.latenciesMs.sort((a, b) => a - b);
  return result;
}

/** What {@link checkIndex} found. */
export interface IndexCheck {
  /** Records in the index. */
  records: number;
  /** Lines that are not a complete, valid record (a torn write). */
  skippedLines: number;
  /** Serials that occur more than once in the index. */
  duplicateSerials: string[];
  /** Certificates a client received that the index does not hold (serial missing, or another certificate under it). */
  missing: string[];
  /** Serials the clients received more than once. */
  duplicateReceived: string[];
  /** The CA files still parse (certificate PEM and private key PEM). */
  caFilesIntact: boolean;
}

/** Holds `<dataDir>/index.jsonl` and the CA files to what the clients received. */
export function checkIndex(dataDir: string, received: readonly { serial: string; der: Uint8Array }[]): IndexCheck {
  const { records, skippedLines } = parseIndex(readFileSync(join(dataDir, "index.jsonl"), "utf8"));
  const bySerial = new Map<string, string | undefined>();
  const duplicateSerials: string[] = [];
  for (const r of records) {
    const serial = r.serial.toLowerCase();
    if (bySerial.has(serial)) duplicateSerials.push(serial);
    bySerial.set(serial, r.certificate);
  }
  const seen = new Set<string>();
  const duplicateReceived: string[] = [];
  const missing: string[] = [];
  for (const c of received) {
    if (seen.has(c.serial)) duplicateReceived.push(c.serial);
    seen.add(c.serial);
    const stored = bySerial.get(c.serial);
    if (stored === undefined || stored !== Buffer.from(c.der).toString("base64")) missing.push(c.serial);
  }
  let caFilesIntact = true;
  try {
    const cert = Certificate.from(readFileSync(join(dataDir, "ca.pem"), "utf8"));
    const key = readFileSync(join(dataDir, "ca.key"), "utf8");
    caFilesIntact = cert.der.length > 0 && /^-----BEGIN [A-Z ]*PRIVATE KEY-----\n[\s\S]+\n-----END [A-Z ]*PRIVATE KEY-----\n?$/.test(key);
  } catch {
    caFilesIntact = false;
  }
  return { records: records.length, skippedLines, duplicateSerials, missing, duplicateReceived, caFilesIntact };
}
