/**
 * A SCEP server over core's throw-away test PKI (one RSA CA that signs and
 * decrypts, a static challenge) plus helpers to enroll through a base URL.
 * Shared by the @scep/express and @scep/hono tests.
 */
import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:http";
import { ScepClient, createScepServer, generateCsr, type ScepEvent, type ScepServer } from "../../src/index.js";
import { expect } from "vitest";
import { createTestPki, type TestPki } from "./pki.js";

export const CHALLENGE = "s3cret";
/** Pinned, so the tests do not follow core's default list. */
export const CAPS = ["AES", "DES3", "POSTPKIOperation", "Renewal", "SHA-1", "SHA-256", "SHA-512", "SCEPStandard"];

export interface Fixture {
  pki: TestPki;
  server: ScepServer;
  events: ScepEvent[];
}

export async function createFixture(options: { maxBodyBytes?: number } = {}): Promise<Fixture> {
  const pki = await createTestPki();
  const events: ScepEvent[] = [];
  let serial = 0x1000;
  const server = createScepServer({
    profiles: [
      {
        path: "/scep",
        caCertificate: pki.ca.certificate,
        signer: pki.ca,
        capabilities: CAPS,
        challenge: { type: "static", password: CHALLENGE },
        issue: async ({ csr }) => ({ status: "SUCCESS", certificate: await pki.issue(csr.der, (serial++).toString(16)) }),
      },
    ],
    onEvent: (e) => events.push(e),
    ...options,
  });
  return { pki, server, events };
}

/** Listens on an ephemeral loopback port; resolves the base URL. */
export function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

/**
 * A node:http server in front of `scep.handle` (the body read whole), not yet listening: what a test needs to reach
 * a core server over real HTTP without an adapter. A throw of `handle` is a 500 with its message, not an unhandled
 * rejection.
 */
export function serveOverHttp(scep: ScepServer): Server {
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c)).on("end", () => {
      scep.handle({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) }).then(
        (r) => res.writeHead(r.status, req.method === "HEAD" ? r.headers : { ...r.headers, "content-length": r.body.length }).end(r.body),
        (e: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end(String(e)),
      );
    });
  });
}

/**
 * Sends one real HTTP request (`send` resolves once its answer is read) and returns the event it produced (the last of
 * `events`), whose `time` must lie within the request's window: taken at the request's arrival, on the real clock.
 */
export async function eventOfRequest<E extends { time: Date }>(events: readonly E[], send: () => Promise<unknown>): Promise<E> {
  const before = Date.now();
  await send();
  const after = Date.now();
  const event = events.at(-1)!;
  expect(event.time).toBeInstanceOf(Date);
  expect(event.time.getTime()).toBeGreaterThanOrEqual(before);
  expect(event.time.getTime()).toBeLessThanOrEqual(after);
  return event;
}

export function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

let enrollments = 0;

/**
 * Enrolls the RSA requester through `url` with the challenge: each call a new enrollment (a SAN of its own), not a
 * re-send of the last one, which the server would answer from the recorded transaction (RFC 8894 §3.3.3).
 */
export async function enroll(pki: TestPki, url: string): Promise<Awaited<ReturnType<ScepClient["enroll"]>>> {
  const r = pki.requesters.rsa;
  const csr = await generateCsr({ keys: r.keys, subject: "CN=requester-rsa, O=scep-sdk tests", challengePassword: CHALLENGE, san: { dns: [`rsa-${++enrollments}.example.test`] } });
  return new ScepClient({ url }).enroll({ csr, signer: r.signer });
}
