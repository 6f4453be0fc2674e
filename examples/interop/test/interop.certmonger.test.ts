/**
 * certmonger 0.79.17 (the real `scep-submit` helper and a private certmonger
 * daemon) against the Express and the Hono example servers: GetCACaps,
 * GetCACert, and a full enrollment through `getcert request`.
 */
import { describe, expect, it } from "vitest";
import {
  pemBlocks,
  pemToDer,
  runScepSubmit,
  startCertmonger,
  waitFor,
  type RecordingProxy,
} from "../../../test-support/peers";
import { EXAMPLE_KINDS, exampleBehindProxy } from "./support/example-server";
import { expectIssued } from "./support/issued";
import { csrFacts, csrOf, readExchange } from "./support/wire";

const VALIDITY_DAYS = 30;

/** The capabilities the examples advertise (createScepServer's default list). */
const EXAMPLE_CAPS = ["AES", "DES3", "POSTPKIOperation", "Renewal", "SHA-1", "SHA-256", "SHA-384", "SHA-512", "SCEPStandard"];

const queryOf = (path: string): URLSearchParams => new URL(path, "http://x").searchParams;

describe.each(EXAMPLE_KINDS)("certmonger against the %s example", (kind) => {
  const srv = exampleBehindProxy(kind, { validityDays: VALIDITY_DAYS });

  it("scep-submit -c reads GetCACaps", async () => {
    const r = await runScepSubmit({ url: srv.proxy.url, operation: "GetCACaps" });
    expect(r.status, r.stdout + r.stderr).toBe("ISSUED");
    expect(r.stdout.trim().split(/\r?\n/)).toEqual(EXAMPLE_CAPS);
    expect(srv.proxy.exchanges.map((e) => [e.method, queryOf(e.path).get("operation"), e.status])).toEqual([["GET", "GetCACaps", 200]]);
    expect(srv.proxy.exchanges[0]!.responseHeaders["content-type"]).toBe("text/plain");
  });

  it("scep-submit -C reads GetCACert (a lone CA certificate)", async () => {
    const r = await runScepSubmit({ url: srv.proxy.url, operation: "GetCACert" });
    expect(r.status, r.stdout + r.stderr).toBe("ISSUED");
    const certs = pemBlocks(r.stdout).filter((b) => b.label === "CERTIFICATE");
    expect(certs.length).toBeGreaterThanOrEqual(1);
    for (const c of certs) expect(Buffer.from(c.der).equals(Buffer.from(pemToDer(srv.ex.caPem)))).toBe(true);
    // It asks with message=0, then walks message=1, 2, … until it sees a duplicate.
    const asked = srv.proxy.byOperation("GetCACert");
    expect(asked.map((e) => queryOf(e.path).get("message"))).toEqual(["0", "1"]);
    for (const e of asked) {
      expect(e.status).toBe(200);
      expect(e.responseHeaders["content-type"]).toBe("application/x-x509-ca-cert");
    }
  });

  it("a private certmonger daemon enrolls through getcert request (GET PKIOperation, AES-256, SHA-256)", async () => {
    const cm = await startCertmonger();
    try {
      await cm.addScepCa({ name: "example", url: srv.proxy.url, caCertPem: srv.ex.caPem });
      srv.proxy.exchanges.length = 0;
      const cn = `cm-${kind}-enroll`;
      const dns = `${cn}.interop.test`;
      const r = await cm.request({ ca: "example", subject: `CN=${cn},O=scep-sdk interop`, challenge: srv.ex.challenge, dnsNames: [dns] });
      expect(r.status, `${r.caError ?? ""}\n${cm.logs().slice(-4000)}`).toBe("MONITORING");
      expect(r.code).toBe(0);
      expect(r.stuck).toBe(false);
      expect(r.caError).toBeUndefined();

      // One PKIOperation, sent with GET although POSTPKIOperation is advertised.
      const ops = srv.proxy.byOperation("PKIOperation");
      expect(ops).toHaveLength(1);
      const wire = await readExchange(ops.at(-1)!);
      expect(wire.method).toBe("GET");
      expect(wire.request).toMatchObject({ messageType: 19, digest: "sha256", cipher: "aes-256-cbc" });
      expect(wire.reply).toMatchObject({ messageType: 3, pkiStatus: 0, transactionId: wire.request.transactionId, cipher: "aes-256-cbc", digest: "sha256" });
      expect(wire.replyContentType).toBe("application/x-pki-message");

      const csr = await csrFacts(await csrOf(wire.request, srv.ex.caKeyPem));
      expect(csr.hasChallengePassword).toBe(true);
      // certmonger encodes `-N "CN=…,O=…"` in the order written, so CN is the FIRST RDN
      // (RFC 2253 prints it last); the example keeps the CSR's subject as it is.
      await expectIssued(r.certPem, {
        caPem: srv.ex.caPem,
        subject: `O=scep-sdk interop,CN=${cn}`,
        csr,
        sans: [`DNS:${dns}`],
        validityDays: VALIDITY_DAYS,
      });
      // certmonger's transactionID is a decimal number (the key's SHA-256 digest as an integer).
      expect(wire.request.transactionId).toMatch(/^\d+$/);
      const event = await srv.ex.waitForEvent((e) => e.transactionId === wire.request.transactionId && e.operation === "PKCSReq", "the PKCSReq event");
      expect(event).toMatchObject({ outcome: "success", reason: "issued" });
    } finally {
      await cm.stop();
    }
  });

  it("a wrong challenge leaves the request CA_REJECTED (not CA_UNREACHABLE)", async () => {
    const cm = await startCertmonger();
    try {
      await cm.addScepCa({ name: "example", url: srv.proxy.url, caCertPem: srv.ex.caPem });
      srv.proxy.exchanges.length = 0;
      const r = await cm.request({ ca: "example", subject: `CN=cm-${kind}-bad`, challenge: `${srv.ex.challenge}-wrong` });
      // certmonger reads the FAILURE CertRep with OpenSSL's PKCS7_verify, which needs an
      // eContent: an absent one ("no content") made it report CA_UNREACHABLE and retry.
      expect(r.status, `${r.caError ?? ""}\n${cm.logs().slice(-4000)}`).toBe("CA_REJECTED");
      expect(r.code).toBe(2);
      expect(r.caError).toBe("Transaction either is not permitted or is not supported by server.");
      expect(r.certPem).toBeUndefined();
      const [op] = srv.proxy.byOperation("PKIOperation");
      const wire = await readExchange(op!);
      expect(wire.reply).toMatchObject({ pkiStatus: 2, failInfo: 2, transactionId: wire.request.transactionId, envelope: new Uint8Array() });
    } finally {
      await cm.stop();
    }
  });
});

describe.each(EXAMPLE_KINDS)("certmonger with a PENDING request of the %s example", (kind) => {
  const adminToken = `certmonger-${kind}-admin-token`;
  const srv = exampleBehindProxy(kind, { validityDays: VALIDITY_DAYS, pending: true, adminToken }, { clearBetweenTests: false });

  it("waits in CA_WORKING, and after approval a resubmission collects the certificate", async () => {
    const cm = await startCertmonger();
    try {
      await cm.addScepCa({ name: "example", url: srv.proxy.url, caCertPem: srv.ex.caPem });
      const cn = `cm-${kind}-pending`;
      const id = `pending-${kind}`;
      const since = srv.ex.events().length;
      const first = await cm.request({ ca: "example", id, subject: `CN=${cn}`, challenge: srv.ex.challenge, wait: false });
      expect(first.code).toBe(0);
      const pending = await srv.ex.waitForEvent((e) => e.operation === "PKCSReq", "the PENDING PKCSReq", { since });
      expect(pending).toMatchObject({ outcome: "pending", reason: "pending_approval" });
      // certmonger understood PENDING: it parks the request instead of calling the CA unreachable.
      const parked = await waitFor(
        async () => {
          const s = await cm.status(id);
          return s.status.startsWith("CA_") ? s : undefined;
        },
        { timeoutMs: 30_000, what: "certmonger to settle on the PENDING answer" },
      );
      expect(parked.status, `${parked.caError ?? ""}\n${cm.logs().slice(-4000)}`).toBe("CA_WORKING");

      const approved = await srv.ex.admin("approve", pending.transactionId!);
      expect(approved.status).toBe(200);

      const done = await cm.resubmit(id);
      expect(done.status, `${done.caError ?? ""}\n${cm.logs().slice(-4000)}`).toBe("MONITORING");
      // certmonger re-sends the same PKCSReq (same transactionID and CSR); the example answers it like a CertPoll.
      const collected = await srv.ex.waitForEvent((e) => e.transactionId === pending.transactionId && e.outcome === "success", "the collecting PKCSReq", { since });
      expect(collected).toMatchObject({ operation: "PKCSReq", reason: "issued_after_approval" });
      const ops = await Promise.all(srv.proxy.byOperation("PKIOperation").map(readExchange));
      // The PENDING answer, then SUCCESS to every re-send: certmonger's own poll of a CA_WORKING request may fire
      // next to the resubmission (seen on a loaded CI machine), and each re-send gets the approved certificate.
      const seen = ops.map((o) => [o.method, o.request.messageType, o.reply.pkiStatus]);
      expect(seen[0]).toEqual(["GET", 19, 3]);
      expect(seen.length).toBeGreaterThanOrEqual(2);
      expect(seen.slice(1)).toEqual(seen.slice(1).map(() => ["GET", 19, 0]));
      expect(new Set(ops.map((o) => o.request.transactionId)).size).toBe(1);
      const csr = await csrFacts(await csrOf(ops[0]!.request, srv.ex.caKeyPem));
      await expectIssued(done.certPem, { caPem: srv.ex.caPem, subject: `CN=${cn}`, csr, validityDays: VALIDITY_DAYS });
    } finally {
      await cm.stop();
    }
  });
});
