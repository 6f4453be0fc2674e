/**
 * RFC 8894 §4 from the client side: `ScepClient.enroll` against a real
 * server (`createScepServer`, driven in-process through a recording fetch):
 * capability-driven defaults, POST or GET, and CertPoll while PENDING with the
 * caller's clock.
 */
import { unhandledRejectionsDuring } from "./support/unhandled.js";
import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { ScepClient, TransportError, createScepServer, type ScepServer } from "../src/index.js";
import { NOW, createDevice, createTestCa, issuingHook, type TestCa } from "./support/server-pki.js";

const CHALLENGE = "client-tests";
let ca: TestCa;
let server: ScepServer;
let pending = false;

beforeAll(async () => {
  ca = await createTestCa("client tests CA");
  server = createScepServer({
    profiles: [{ name: "p", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: CHALLENGE }, issue: issuingHook(ca, [], (ctx) => (pending && !ctx.approved ? { status: "PENDING" } : undefined)) }],
    now: () => NOW,
  });
});

/** A fetch into the server that records "METHOD operation" and can stand in for a broken GetCACaps. */
function recordingFetch(log: string[], capsStatus?: number): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const op = new URL(request.url).searchParams.get("operation");
    log.push(`${request.method} ${op}`);
    if (op === "GetCACaps" && capsStatus) return new Response("gone", { status: capsStatus });
    return server.fetch(request);
  }) as typeof fetch;
}

describe("ScepClient.enroll", () => {
  it("uses AES-128 (RFC 8894 §3.5.2: the AES capability is AES128-CBC), SHA-256 and POST when the CA advertises them", async () => {
    const log: string[] = [];
    const device = await createDevice({ cn: "client-defaults", challengePassword: CHALLENGE });
    const rep = await new ScepClient({ url: "http://ca.test/scep", fetch: recordingFetch(log) }).enroll({ csr: device.csr, signer: device.signer });
    expect([rep.status, rep.contentCipher, rep.digestAlgorithm]).toEqual(["SUCCESS", "aes128", "sha256"]);
    expect(log).toEqual(["GET GetCACaps", "GET GetCACert", "POST PKIOperation"]);
    expect(rep.certificates[0]!.subject).toBe(device.subject);
  });

  it("falls back to 3DES, SHA-1 and the caller's method when GetCACaps answers an HTTP error", async () => {
    const log: string[] = [];
    const device = await createDevice({ cn: "client-no-caps", challengePassword: CHALLENGE });
    const rep = await new ScepClient({ url: "http://ca.test/scep", fetch: recordingFetch(log, 404) }).enroll({ csr: device.csr, signer: device.signer, post: false });
    expect([rep.status, rep.contentCipher, rep.digestAlgorithm, rep.caps.list]).toEqual(["SUCCESS", "des3", "sha1", []]);
    expect(log).toEqual(["GET GetCACaps", "GET GetCACert", "GET PKIOperation"]);
  });

  it("does not swallow a connection failure on GetCACaps", async () => {
    const failing = (async () => {
      throw new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" }) });
    }) as unknown as typeof fetch;
    const device = await createDevice({ cn: "client-refused", challengePassword: CHALLENGE });
    const error = await new ScepClient({ url: "http://ca.test/scep", fetch: failing }).enroll({ csr: device.csr, signer: device.signer }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).message).toBe("GetCACaps: ECONNREFUSED (connect ECONNREFUSED 127.0.0.1:9)");
  });

  it("polls with CertPoll while PENDING, on the caller's clock, until the request is approved", async () => {
    pending = true;
    try {
      const log: string[] = [];
      const waits: number[] = [];
      const pendings: string[] = [];
      const device = await createDevice({ cn: "client-pending", challengePassword: CHALLENGE });
      const rep = await new ScepClient({ url: "http://ca.test/scep", fetch: recordingFetch(log) }).enroll({
        csr: device.csr,
        signer: device.signer,
        pollIntervalMs: 1000,
        maxPollMs: 10_000,
        onPending: (r, ms) => pendings.push(`${r.status} ${ms}`),
        sleep: async (ms) => {
          waits.push(ms);
          if (waits.length === 2) await server.approve("p", defaultTransactionId(device.signer.certificate.spki));
        },
      });
      expect(rep.status).toBe("SUCCESS");
      expect(waits).toEqual([1000, 1000]);
      expect(pendings).toEqual(["PENDING 1000", "PENDING 1000"]);
      expect(log.filter((l) => l.endsWith("PKIOperation"))).toHaveLength(3); // PKCSReq, CertPoll (PENDING), CertPoll (SUCCESS)
    } finally {
      pending = false;
    }
  });

  it("an async onPending that rejects does not stop the polling and is no unhandled rejection (which would end the process)", async () => {
    pending = true;
    try {
      const device = await createDevice({ cn: "client-pending-async", challengePassword: CHALLENGE });
      let calls = 0;
      let rep: Awaited<ReturnType<ScepClient["enroll"]>> | undefined;
      const unhandled = await unhandledRejectionsDuring(async () => {
        rep = await new ScepClient({ url: "http://ca.test/scep", fetch: recordingFetch([]) }).enroll({
          csr: device.csr,
          signer: device.signer,
          pollIntervalMs: 1000,
          maxPollMs: 10_000,
          onPending: async () => Promise.reject(new Error(`progress sink ${++calls}`)),
          sleep: async () => {
            if (calls === 1) await server.approve("p", defaultTransactionId(device.signer.certificate.spki));
          },
        });
      });
      expect([rep?.status, calls, unhandled]).toEqual(["SUCCESS", 1, []]);
    } finally {
      pending = false;
    }
  });

  it("returns the PENDING reply once maxPollMs worth of intervals have passed", async () => {
    pending = true;
    try {
      const waits: number[] = [];
      const device = await createDevice({ cn: "client-gives-up", challengePassword: CHALLENGE });
      const rep = await new ScepClient({ url: "http://ca.test/scep", fetch: recordingFetch([]) }).enroll({
        csr: device.csr,
        signer: device.signer,
        pollIntervalMs: 2000,
        maxPollMs: 5000,
        sleep: async (ms) => void waits.push(ms),
      });
      expect([rep.status, waits]).toEqual(["PENDING", [2000, 2000, 2000]]);
    } finally {
      pending = false;
    }
  });
});

/** The default transactionID of a PKCSReq: SHA-256 of the CSR's public key, upper-case hex. */
function defaultTransactionId(spki: Uint8Array): string {
  return createHash("sha256").update(spki).digest("hex").toUpperCase();
}
