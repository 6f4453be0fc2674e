/**
 * The CLI run in this process (`main`, its lines captured) and the loopback HTTP servers the tests point it at: a
 * fetch-style handler (a @scep/core server's `fetch`, or a test's own hostile CA) served over node:http, or any
 * node:http server listening on 127.0.0.1 on a free port; and the issue hook of such a @scep/core server.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { buildCertificate, endEntityExtensions, type Certificate, type CertificationRequest, type IssueHook, type LocalKey } from "@scep/core";
import { main } from "../../src/run.js";

/** What one run of `main` gave: its exit code and the lines it wrote to stdout and stderr. */
export interface InProcessRun {
  code: number;
  out: string[];
  err: string[];
}

/** Runs `scep ARGV…` in this process with `cwd` as the invocation directory. */
export async function runInProcess(argv: readonly string[], cwd: string): Promise<InProcessRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { cwd, out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out, err };
}

/** The whole body of a request. */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/**
 * A node:http listener that hands each request (a POST with its body) to `handle` as a web `Request` and writes the
 * `Response` back with its status and content type; a throw is answered 500 with its text.
 */
export function fetchListener(handle: (request: Request) => Promise<Response>): RequestListener {
  return (req, res) => {
    void (async () => {
      const body = await readBody(req);
      const init: RequestInit = { method: req.method ?? "GET" };
      if (req.method === "POST") init.body = new Uint8Array(body) as Uint8Array<ArrayBuffer>;
      const reply = await handle(new Request(`http://127.0.0.1${req.url ?? "/"}`, init));
      res.writeHead(reply.status, { "content-type": reply.headers.get("content-type") ?? "text/plain" }).end(Buffer.from(await reply.arrayBuffer()));
    })().catch((e: unknown) => res.writeHead(500).end(String(e)));
  };
}

/** A server listening on loopback: its base URL (`http://127.0.0.1:<port>`, no path) and `close()`. */
export interface Loopback {
  server: Server;
  base: string;
  /** Closes open connections and the server. */
  close(): Promise<void>;
}

/** Starts `server` (a `RequestListener` gets a new node:http server) on 127.0.0.1, on a free port. */
export async function listenLoopback(server: Server | RequestListener): Promise<Loopback> {
  const http = typeof server === "function" ? createServer(server) : server;
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  return {
    server: http,
    base: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    close: async () => {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}

/** {@link listenLoopback} of {@link fetchListener}(`handle`). */
export function serveFetch(handle: (request: Request) => Promise<Response>): Promise<Loopback> {
  return listenLoopback(fetchListener(handle));
}

/**
 * A certificate `ca` signs for `csr`'s subject and public key, valid until `notAfter`, with the end-entity extensions
 * the CSR asks for (RFC 5280 §4.2; a Windows SID only with `allowSid`) and a random 16-byte serial.
 */
export function certificateFor(ca: LocalKey, csr: CertificationRequest, notAfter: Date, allowSid = false): Promise<Certificate> {
  return buildCertificate({ issuer: ca, subject: csr.subjectDer, publicKey: csr.spki, serialNumber: randomBytes(16), notAfter, extensions: endEntityExtensions({ csr, issuer: ca, allowSid }) });
}

/**
 * An issue hook as the example servers' `--pending`: every request waits for an operator, so a first one is answered
 * PENDING (RFC 8894 §3.3.3), after `hold(csr)` resolves when given (a CA slow to answer); an approved one gets
 * {@link certificateFor} until the profile's `notAfterMax`.
 */
export function issuingHook(ca: LocalKey, options: { hold?: (csr: CertificationRequest) => Promise<void> } = {}): IssueHook {
  return async ({ csr, notAfterMax, allowSid, approved }) => {
    if (approved) return { status: "SUCCESS", certificate: await certificateFor(ca, csr, notAfterMax, allowSid) };
    await options.hold?.(csr);
    return { status: "PENDING" };
  };
}
