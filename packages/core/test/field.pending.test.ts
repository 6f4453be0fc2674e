/**
 * Field reports about a request that waits for approval (RFC 8894 §3.3.3), rebuilt against our server with the real
 * micromdm `scepclient` 2.1.0 over loopback HTTP.
 *
 * - micromdm's client does not poll with CertPoll: on PENDING it sleeps 30 s and sends a new PKCSReq, with a new
 *   senderNonce and a new self-signed signer certificate for the same key (micromdm/scep#171,
 *   https://github.com/micromdm/scep/issues/171). A server must take that re-send as a poll of the stored
 *   transaction: PENDING while it waits, the approved certificate once an operator approved it, never a second
 *   issuance nor a replay refusal.
 * - OpenXPKI answered an enrollment run again after its certificate had been delivered with PENDING instead of the
 *   certificate (openxpki/openxpki#126, https://github.com/openxpki/openxpki/issues/126). Run again with the same
 *   key, the client here gets the certificate it was issued, at once, and the issue hook does not run again.
 */
import type { Server } from "node:http";
import { X509Certificate } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryTransactionStore, createScepServer, type IssueContext, type ScepEvent, type ScepServer } from "../src/index.js";
import { randomChallenge, runScepclient } from "../../../test-support/peers";
import { close, listen, serveOverHttp } from "./support/adapter-fixture.js";
import { createTestCa, manualProfile, type TestCa } from "./support/server-pki.js";

const CHALLENGE = randomChallenge();
let ca: TestCa;
let scep: ScepServer;
let http: Server;
let url: string;
const calls: IssueContext[] = [];
const events: ScepEvent[] = [];
/** Called with each event; the test approves from here the moment the first PENDING is answered. */
let onPending: (e: ScepEvent) => void = () => {};

beforeAll(async () => {
  ca = await createTestCa("Field Pending CA");
  scep = createScepServer({
    // Every first request waits for an operator; an approved one is issued. The real scepclient runs on the wall
    // clock, and so do the server and its store.
    profiles: [manualProfile(ca, { challenge: CHALLENGE, calls, transactions: new MemoryTransactionStore() })],
    onEvent: (e) => {
      events.push(e);
      if (e.outcome === "pending") onPending(e);
    },
  });
  http = serveOverHttp(scep);
  url = `${await listen(http)}/scep`;
});

afterAll(async () => {
  await close(http);
});

const pkiEvents = (): ScepEvent[] => events.filter((e) => e.operation === "PKCSReq" || e.operation === "CertPoll" || e.operation === "RenewalReq");

describe("RFC 8894 §3.3.3: micromdm scepclient's re-sent PKCSReq is a poll (micromdm/scep#171, openxpki#126)", () => {
  let keyPem: string;
  let certPem: string;

  it("PKCSReq → PENDING; approved; the PKCSReq it sends 30 s later gets the certificate; the hook ran for the approval only", async () => {
    let approved: Promise<unknown> | undefined;
    onPending = (e) => {
      approved ??= scep.approve("manual", e.transactionId!);
    };
    const r = await runScepclient({ url, challenge: CHALLENGE, cn: "field-pending-171", timeoutMs: 90_000 });
    expect(r.ok, r.stdout + r.stderr).toBe(true);
    await approved;
    const sent = pkiEvents();
    expect(sent.map((e) => `${e.operation} ${e.outcome} ${e.reason}`)).toEqual(["PKCSReq pending pending_approval", "PKCSReq success issued_after_approval"]);
    expect(sent[1]!.transactionId).toBe(sent[0]!.transactionId);
    expect(calls.map((c) => c.approved)).toEqual([false, true]);
    const cert = new X509Certificate(r.certPem!);
    expect(cert.subject).toContain("CN=field-pending-171");
    expect(cert.verify(new X509Certificate(Buffer.from(ca.cert.der)).publicKey)).toBe(true);
    keyPem = r.keyPem;
    certPem = r.certPem!;
  }, 120_000);

  it("the same key enrolling again after delivery gets that certificate at once, not PENDING; the hook does not run", async () => {
    onPending = () => {};
    events.length = 0;
    const before = calls.length;
    const r = await runScepclient({ url, challenge: CHALLENGE, cn: "field-pending-171", keyPem, timeoutMs: 20_000 });
    expect(r.ok, r.stdout + r.stderr).toBe(true);
    expect(r.messageType).toBe("PKCSReq");
    expect(pkiEvents().map((e) => `${e.operation} ${e.outcome} ${e.reason}`)).toEqual(["PKCSReq success issued_after_approval"]);
    expect(calls.length).toBe(before);
    expect(new X509Certificate(r.certPem!).raw.equals(new X509Certificate(certPem).raw)).toBe(true);
  }, 60_000);
});
