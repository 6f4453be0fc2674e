/**
 * The webhook challenge validator (issue 9, modelled on step-ca's SCEPCHALLENGE
 * and NOTIFYING webhooks) against a real HTTP server on loopback: the signed
 * JSON it POSTs, allow/deny, the data passed to the issue hook, notifications
 * on the two-phase enrollment (issued before delivery, failed after a refused
 * issuance, issued at approve of a PENDING request, RFC 8894 §3.3.3), and a
 * webhook that is down, slow, redirects or answers garbage: FAILURE
 * `webhook_unavailable`, never issuance, never a 5xx, no secret anywhere.
 */
import { inspect } from "node:util";
import { createHmac, createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  CertificationRequest,
  buildCertPoll,
  buildPkcsReq,
  createScepServer,
  verifyWebhookSignature,
  webhookChallenge,
  webhookSignature,
  type IssueContext,
  type IssueResult,
  type ScepProfile,
  type UndeliveredCertificate,
  type WebhookChallengeOptions,
  type WebhookError,
  type WebhookOperation,
} from "../src/index.js";
import { freeStablePort } from "../../../test-support/peers";
import { NOW, createDevice, createTestCa, eventLog, issuingHook, postPki, readReply, type Device, type TestCa } from "./support/server-pki.js";
import { unhandledRejectionsDuring } from "./support/unhandled.js";

const SECRET = "whsec-9f8e7d6c5b4a";
const TOKEN = "Bearer tok-0a1b2c3d";

interface Received {
  path: string;
  headers: IncomingMessage["headers"];
  raw: Buffer;
  json: Record<string, unknown>;
}

/** What the loopback receiver answers, per path; default: allow on /challenge, 204 on /notify. */
type Answer = (req: Received, res: ServerResponse) => void;

let http: Server;
let base: string;
let received: Received[];
let answers: Map<string, Answer[]>;
const held: ServerResponse[] = [];

let ca: TestCa;
let device: Device;

beforeAll(async () => {
  ca = await createTestCa("Webhook CA");
  device = await createDevice({ cn: "webhook-device", challengePassword: "one-time-7Q2", san: { dns: ["wh.example.test"], email: ["ops@example.test"] } });
  http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      const r: Received = { path: req.url ?? "", headers: req.headers, raw, json: JSON.parse(raw.toString("utf8") || "{}") };
      received.push(r);
      const next = answers.get(r.path)?.shift();
      if (next) return next(r, res);
      if (r.path === "/challenge") return json(res, 200, { allow: true });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const r of held) r.destroy();
  await new Promise<void>((resolve) => http.close(() => resolve()));
});
beforeEach(() => {
  received = [];
  answers = new Map();
});

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

function answer(path: string, ...fns: Answer[]): void {
  answers.set(path, [...(answers.get(path) ?? []), ...fns]);
}

function setup(webhook: Partial<WebhookChallengeOptions> = {}, issueAnswer?: (ctx: IssueContext) => IssueResult | undefined) {
  const calls: IssueContext[] = [];
  const undelivered: UndeliveredCertificate[] = [];
  const errors: [WebhookError, WebhookOperation][] = [];
  const log = eventLog();
  const profile: ScepProfile = {
    name: "mdm",
    path: "/scep",
    caCertificate: ca.cert,
    signer: ca.key,
    challenge: webhookChallenge({
      url: `${base}/challenge`,
      notifyUrl: `${base}/notify`,
      secret: SECRET,
      headers: { authorization: TOKEN },
      id: "wh-1",
      timeoutMs: 30_000, // generous: only the tests below that hold an answer wait for (their own, short) deadline
      now: () => NOW,
      onError: (e, op) => void errors.push([e, op]),
      ...webhook,
    }),
    issue: issuingHook(ca, calls, issueAnswer),
    onUndelivered: (u) => void undelivered.push(u),
  };
  const server = createScepServer({ profiles: [profile], onEvent: log.onEvent, now: () => NOW });
  return { server, calls, undelivered, errors, log };
}

type Setup = ReturnType<typeof setup>;

async function enroll(s: Setup, d: Device = device) {
  const built = await buildPkcsReq({ csr: d.csr, signer: d.signer, recipient: ca.cert, now: NOW });
  const res = await postPki(s.server, "/scep", built.der);
  expect(res.status).toBe(200);
  return readReply(res, built, { decrypter: d.signer });
}

/** Nothing secret in what an operator sees: events, stats, error messages and their causes. */
function expectNoSecret(s: Setup): void {
  const seen = JSON.stringify([s.log.events, s.server.stats(), s.errors.map(([e, op]) => [op, e.code, e.message, String(e.cause ?? "")])]);
  for (const secret of [SECRET, TOKEN, "tok-0a1b2c3d", "one-time-7Q2"]) expect(seen).not.toContain(secret);
}

describe("the challenge call: a signed JSON POST in step-ca's shape", () => {
  it("allow with data → SUCCESS; the issue hook gets the data as challengeData; the body names the CSR, challenge, transactionID and profile; the HMAC covers the exact bytes", async () => {
    const s = setup();
    answer("/challenge", (_r, res) => json(res, 200, { allow: true, data: { owner: "alice", groups: ["vpn"] } }));
    const rep = await enroll(s);
    expect(rep.status).toBe("SUCCESS");
    expect(s.calls.map((c) => c.challengeData)).toEqual([{ owner: "alice", groups: ["vpn"] }]);
    const call = received.find((r) => r.path === "/challenge")!;
    expect(call.json).toEqual({
      type: "scepchallenge",
      timestamp: NOW.toISOString(),
      profile: "mdm",
      scepChallenge: "one-time-7Q2",
      scepTransactionID: rep.transactionId,
      scepMessageType: "PKCSReq",
      x509CertificateRequest: {
        raw: Buffer.from(device.csr).toString("base64"),
        subject: "CN=webhook-device, O=scep-sdk server tests",
        commonName: "webhook-device",
        sans: [
          { type: "dns", value: "wh.example.test" },
          { type: "email", value: "ops@example.test" },
        ],
        publicKeyAlgorithm: "RSA",
        publicKeyBits: 2048,
      },
    });
    expect(call.headers["x-scep-signature"]).toBe(createHmac("sha256", SECRET).update(call.raw).digest("hex"));
    expect(verifyWebhookSignature(call.raw, call.headers["x-scep-signature"] as string, SECRET)).toBe(true);
    expect([call.headers["content-type"], call.headers.authorization, call.headers["x-scep-webhook-id"]]).toEqual(["application/json", TOKEN, "wh-1"]);
    expect(s.server.stats()[0]!.challengeType).toBe("webhook");
    expectNoSecret(s);
  });

  it("a step-ca receiver: signatureHeader X-Smallstep-Signature with the base64-decoded secret", async () => {
    const stepSecret = Buffer.from("c3RlcC1jYS1zZWNyZXQtMTIz", "base64");
    const s = setup({ secret: stepSecret, signatureHeader: "X-Smallstep-Signature" });
    expect((await enroll(s)).status).toBe("SUCCESS");
    const call = received.find((r) => r.path === "/challenge")!;
    expect(call.headers["x-smallstep-signature"]).toBe(createHmac("sha256", stepSecret).update(call.raw).digest("hex"));
    expect(call.headers["x-scep-signature"]).toBeUndefined();
  });

  it("allow: false → FAILURE badRequest 'the challenge was refused', reason webhook_denied, nothing issued, nothing notified", async () => {
    const s = setup();
    answer("/challenge", (_r, res) => json(res, 200, { allow: false }));
    const rep = await enroll(s);
    expect([rep.status, rep.failInfo, rep.failInfoText, rep.certificate]).toEqual(["FAILURE", "badRequest", "the challenge was refused", undefined]);
    expect(s.calls).toEqual([]);
    expect(received.map((r) => r.path)).toEqual(["/challenge"]);
    expect(s.log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "webhook_denied", failInfo: "badRequest", status: 200 });
  });

  it("allow: false with the receiver's reason, failInfo and message → those, the text cut to 255 printable characters", async () => {
    const s = setup();
    answer("/challenge", (_r, res) => json(res, 200, { allow: false, reason: "device_retired", failInfo: "badCertId", message: `retired\n${"x".repeat(400)}` }));
    const rep = await enroll(s);
    expect([rep.status, rep.failInfo, rep.failInfoText]).toEqual(["FAILURE", "badCertId", `retired ${"x".repeat(247)}`]);
    expect(s.log.events.at(-1)).toMatchObject({ reason: "device_retired", failInfo: "badCertId" });
  });

  it("a receiver's reason that is not a label ([a-z0-9_]{1,64}) is replaced by webhook_denied", async () => {
    const s = setup();
    answer("/challenge", (_r, res) => json(res, 200, { allow: false, reason: "Bad Reason!\n" }));
    await enroll(s);
    expect(s.log.events.at(-1)).toMatchObject({ reason: "webhook_denied" });
  });
});

describe("a webhook that is down, slow or answers garbage: FAILURE webhook_unavailable, never issuance, never a 5xx", () => {
  const garbage: [string, Answer, string][] = [
    ["HTTP 500", (_r, res) => json(res, 500, { allow: true }), "ERR_WEBHOOK_TRANSPORT"],
    ["HTTP 302 to an allowing endpoint (redirects are not followed)", (_r, res) => res.writeHead(302, { location: "/challenge" }).end(), "ERR_WEBHOOK_TRANSPORT"],
    ["a body that is not JSON", (_r, res) => res.writeHead(200).end("<html>allow</html>"), "ERR_WEBHOOK_RESPONSE"],
    ["an empty 200", (_r, res) => res.writeHead(200).end(), "ERR_WEBHOOK_RESPONSE"],
    ["a JSON array", (_r, res) => json(res, 200, [{ allow: true }]), "ERR_WEBHOOK_RESPONSE"],
    ['"allow": "true" (a string)', (_r, res) => json(res, 200, { allow: "true" }), "ERR_WEBHOOK_RESPONSE"],
    ["no allow", (_r, res) => json(res, 200, { data: {} }), "ERR_WEBHOOK_RESPONSE"],
    ["a failInfo that is not one", (_r, res) => json(res, 200, { allow: false, failInfo: "badLuck" }), "ERR_WEBHOOK_RESPONSE"],
    ["an answer over maxResponseBytes (1 MiB streamed)", (_r, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write(`{"allow":true,"data":"`);
      res.end(`${"a".repeat(1024 * 1024)}"}`);
    }, "ERR_WEBHOOK_RESPONSE"],
  ];
  it.each(garbage)("%s", async (_name, fn, code) => {
    const s = setup();
    answer("/challenge", fn);
    const rep = await enroll(s);
    expect([rep.status, rep.failInfo, rep.failInfoText, rep.certificate]).toEqual(["FAILURE", "badRequest", "challenge validation is unavailable; try again later", undefined]);
    expect(s.calls).toEqual([]);
    expect(s.log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "webhook_unavailable", status: 200 });
    expect(s.errors.map(([e, op]) => [e.code, op])).toEqual([[code, "challenge"]]);
    expect(received.filter((r) => r.path === "/notify")).toEqual([]);
    expectNoSecret(s);
  });

  it("HTTP 500 error message names the endpoint by origin and path, not its query", async () => {
    const s = setup({ url: `${base}/challenge?api_key=qk-12345` });
    answer("/challenge?api_key=qk-12345", (_r, res) => json(res, 500, {}));
    await enroll(s);
    expect(s.errors.map(([e]) => [e.name, e.message, (e as { status?: number }).status])).toEqual([["WebhookTransportError", `webhook ${base}/challenge: HTTP 500`, 500]]);
    expect(JSON.stringify(s.log.events)).not.toContain("qk-12345");
  });

  it("an async onError whose promise rejects (a log shipper that is down) is no unhandled rejection, which would end the process", async () => {
    const unhandled = await unhandledRejectionsDuring(async () => {
      let calls = 0;
      const s = setup({
        onError: async () => {
          calls++;
          throw new Error("log shipper down");
        },
      });
      answer("/challenge", (_r, res) => json(res, 500, {}));
      const rep = await enroll(s);
      expect([rep.status, rep.failInfo, calls]).toEqual(["FAILURE", "badRequest", 1]);
    });
    expect(unhandled).toEqual([]);
  });

  it("nothing listening (connection refused) → ERR_WEBHOOK_TRANSPORT", async () => {
    const port = await freeStablePort(); // a closed listen(0) port could be another test's server by the time we call
    const s = setup({ url: `http://127.0.0.1:${port}/challenge` });
    const rep = await enroll(s);
    expect([rep.status, rep.failInfo]).toEqual(["FAILURE", "badRequest"]);
    expect(s.log.events.at(-1)).toMatchObject({ reason: "webhook_unavailable", status: 200 });
    expect(s.errors.map(([e]) => [e.code, e.message])).toEqual([["ERR_WEBHOOK_TRANSPORT", `webhook http://127.0.0.1:${port}/challenge: request failed`]]);
  });

  it("no answer within timeoutMs (the receiver holds the response) → ERR_WEBHOOK_TIMEOUT", async () => {
    const s = setup({ timeoutMs: 300 });
    answer("/challenge", (_r, res) => void held.push(res));
    const rep = await enroll(s);
    expect([rep.status, rep.failInfo]).toEqual(["FAILURE", "badRequest"]);
    expect(s.calls).toEqual([]);
    expect(s.errors.map(([e]) => [e.code, e.message])).toEqual([["ERR_WEBHOOK_TIMEOUT", `webhook ${base}/challenge: no answer within 300 ms`]]);
  });

  it("headers sent, then the body stalls past timeoutMs → ERR_WEBHOOK_TIMEOUT", async () => {
    const s = setup({ timeoutMs: 300 });
    answer("/challenge", (_r, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"allow":');
      held.push(res);
    });
    await enroll(s);
    expect(s.errors.map(([e]) => e.code)).toEqual(["ERR_WEBHOOK_TIMEOUT"]);
    expect(s.calls).toEqual([]);
  });

  it("a body that drips past timeoutMs, its stream left unaborted by the fetch (nodejs/undici#4089) → ERR_WEBHOOK_TIMEOUT on time", async () => {
    // Node 20's fetch does not always reject a read already waiting when its signal aborts. A fetch that never sees
    // the signal makes that happen every time: the read must be cut by the webhook's own deadline, not the stream.
    const drip: ReturnType<typeof setInterval>[] = [];
    const s = setup({ timeoutMs: 300, fetch: (input: string, init: RequestInit) => fetch(input, { ...init, signal: null }) });
    answer("/challenge", (_r, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      drip.push(setInterval(() => res.write(" "), 20));
      held.push(res);
    });
    let guard: ReturnType<typeof setTimeout> | undefined;
    try {
      const rep = await Promise.race([enroll(s), new Promise<"stuck">((resolve) => (guard = setTimeout(() => resolve("stuck"), 3000)))]);
      expect(rep).not.toBe("stuck");
      expect(s.errors.map(([e]) => e.code)).toEqual(["ERR_WEBHOOK_TIMEOUT"]);
      expect(s.calls).toEqual([]);
    } finally {
      clearTimeout(guard);
      for (const t of drip) clearInterval(t);
    }
  });

  it(
    "a fetch that ignores its signal and never answers → ERR_WEBHOOK_TIMEOUT at timeoutMs, FAILURE webhook_unavailable (the timeoutMs bound does not rest on the fetch)",
    async () => {
      const s = setup({ timeoutMs: 300, fetch: () => new Promise<Response>(() => undefined) });
      const rep = await enroll(s);
      expect([rep.status, rep.failInfo]).toEqual(["FAILURE", "badRequest"]);
      expect(s.log.events.at(-1)).toMatchObject({ reason: "webhook_unavailable", status: 200 });
      expect(s.errors.map(([e]) => [e.code, e.message])).toEqual([["ERR_WEBHOOK_TIMEOUT", `webhook ${base}/challenge: no answer within 300 ms`]]);
      expect(s.calls).toEqual([]);
    },
    20_000,
  );

  it(
    "a fetch that ignores its signal and answers after timeoutMs: the enrollment got its FAILURE at timeoutMs; the late answer's body is cancelled, nothing unhandled",
    async () => {
      let deliver: (r: Response) => void = () => undefined;
      let cancelled = false;
      const s = setup({ timeoutMs: 300, fetch: () => new Promise<Response>((resolve) => (deliver = resolve)) });
      const unhandled = await unhandledRejectionsDuring(async () => {
        const rep = await enroll(s);
        expect([rep.status, rep.failInfo]).toEqual(["FAILURE", "badRequest"]);
        const body = new ReadableStream<Uint8Array>({ cancel: () => void (cancelled = true) });
        deliver(new Response(body, { status: 200, headers: { "content-type": "application/json" } }));
      });
      expect(unhandled).toEqual([]);
      expect(cancelled).toBe(true);
      expect(s.errors.map(([e]) => e.code)).toEqual(["ERR_WEBHOOK_TIMEOUT"]);
      expect(s.calls).toEqual([]);
    },
    20_000,
  );

  it(
    "a fetch that ignores its signal and resolves undefined after timeoutMs (a wrapper that swallows errors): nothing unhandled",
    async () => {
      let deliver: (r: Response | undefined) => void = () => undefined;
      const s = setup({ timeoutMs: 300, fetch: () => new Promise<Response>((resolve) => (deliver = resolve as (r: Response | undefined) => void)) });
      const unhandled = await unhandledRejectionsDuring(async () => {
        const rep = await enroll(s);
        expect([rep.status, rep.failInfo]).toEqual(["FAILURE", "badRequest"]);
        deliver(undefined);
      });
      expect(unhandled).toEqual([]);
      expect(s.errors.map(([e]) => e.code)).toEqual(["ERR_WEBHOOK_TIMEOUT"]);
    },
    20_000,
  );
});

describe("notifications on the two-phase enrollment", () => {
  it("issued: before delivery, a signed notification with the certificate's serial, SHA-1 thumbprint, SHA-256 fingerprint and validity", async () => {
    const s = setup();
    const rep = await enroll(s);
    expect(rep.status).toBe("SUCCESS");
    const cert = rep.certificate!;
    const n = received.find((r) => r.path === "/notify")!;
    expect(n.json).toEqual({
      type: "notify",
      event: "issued",
      timestamp: NOW.toISOString(),
      profile: "mdm",
      scepTransactionID: rep.transactionId,
      approved: false,
      x509CertificateRequest: expect.objectContaining({ raw: Buffer.from(device.csr).toString("base64"), subject: "CN=webhook-device, O=scep-sdk server tests" }),
      x509Certificate: {
        raw: Buffer.from(cert.der).toString("base64"),
        serialNumber: cert.serialNumberHex.toUpperCase(),
        sha1Thumbprint: createHash("sha1").update(cert.der).digest("hex").toUpperCase(),
        sha256Fingerprint: createHash("sha256").update(cert.der).digest("hex"),
        subject: cert.subject,
        issuer: ca.cert.subject,
        notBefore: cert.notBefore.toISOString(),
        notAfter: cert.notAfter.toISOString(),
      },
    });
    expect(n.headers["x-scep-signature"]).toBe(webhookSignature(n.raw, SECRET));
    expect(received.map((r) => r.path)).toEqual(["/challenge", "/notify"]);
    expect(s.undelivered).toEqual([]);
  });

  it("the issued notification fails (HTTP 503) → no certificate delivered: FAILURE badRequest webhook_notification_failed, onUndelivered, no 'failed' notification", async () => {
    const s = setup();
    answer("/notify", (_r, res) => json(res, 503, {}));
    const rep = await enroll(s);
    expect([rep.status, rep.failInfo, rep.failInfoText, rep.certificate]).toEqual(["FAILURE", "badRequest", "the issued certificate was not confirmed", undefined]);
    expect(s.calls).toHaveLength(1);
    expect(s.undelivered.map((u) => [u.reason, u.transactionId, u.certificate.subject])).toEqual([["webhook_notification_failed", rep.transactionId, "CN=webhook-device, O=scep-sdk server tests"]]);
    expect(s.log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "webhook_notification_failed", status: 200 });
    expect(s.errors.map(([e, op]) => [e.code, op])).toEqual([["ERR_WEBHOOK_TRANSPORT", "notify-issued"]]);
    expect(received.map((r) => r.path)).toEqual(["/challenge", "/notify"]);
  });

  it("the receiver answers the issued notification with allow: false → the same veto", async () => {
    const s = setup();
    answer("/notify", (_r, res) => json(res, 200, { allow: false }));
    const rep = await enroll(s);
    expect([rep.status, rep.failInfoText]).toEqual(["FAILURE", "the issued certificate was not confirmed"]);
    expect(s.undelivered.map((u) => u.reason)).toEqual(["webhook_notification_failed"]);
  });

  it("deliverWhenNotificationFails: a failed issued notification still delivers (reported to onError)", async () => {
    const s = setup({ deliverWhenNotificationFails: true });
    answer("/notify", (_r, res) => json(res, 500, {}));
    expect((await enroll(s)).status).toBe("SUCCESS");
    expect(s.errors.map(([e, op]) => [e.code, op])).toEqual([["ERR_WEBHOOK_TRANSPORT", "notify-issued"]]);
  });

  it("the CA refuses after the webhook allowed → a 'failed' notification with reason, failInfo and text; no certificate", async () => {
    const s = setup({}, () => ({ status: "FAILURE", failInfo: "badRequest", failInfoText: "key size not allowed by the template" }));
    const rep = await enroll(s);
    expect(rep.status).toBe("FAILURE");
    const n = received.find((r) => r.path === "/notify")!;
    expect(n.json).toMatchObject({ type: "notify", event: "failed", scepTransactionID: rep.transactionId, approved: false, reason: "issuer_rejected", failInfo: "badRequest", scepErrorDescription: "key size not allowed by the template" });
    expect(n.json.x509Certificate).toBeUndefined();
    expect(n.headers["x-scep-signature"]).toBe(webhookSignature(n.raw, SECRET));
  });

  it("without notifyUrl nothing is notified", async () => {
    const s = setup({ notifyUrl: undefined });
    expect((await enroll(s)).status).toBe("SUCCESS");
    expect(received.map((r) => r.path)).toEqual(["/challenge"]);
  });

  it("RFC 8894 §3.3.3: a PENDING request approved later gets its issued notification (approved: true) with the webhook's data; the CertPoll gets the certificate", async () => {
    const s = setup({}, (ctx) => (ctx.approved ? undefined : { status: "PENDING" }));
    answer("/challenge", (_r, res) => json(res, 200, { allow: true, data: { ticket: "T-1" } }));
    const rep = await enroll(s);
    expect(rep.status).toBe("PENDING");
    expect(received.map((r) => r.path)).toEqual(["/challenge"]);
    const tx = await s.server.approve("mdm", rep.transactionId);
    expect(tx.status).toBe("ISSUED");
    expect(s.calls.map((c) => [c.approved, c.challengeData])).toEqual([
      [false, { ticket: "T-1" }],
      [true, { ticket: "T-1" }],
    ]);
    const n = received.find((r) => r.path === "/notify")!;
    expect(n.json).toMatchObject({ event: "issued", approved: true, scepTransactionID: rep.transactionId, x509Certificate: { sha1Thumbprint: createHash("sha1").update(tx.certificate!).digest("hex").toUpperCase() } });
    const poll = await buildCertPoll({ signer: device.signer, recipient: ca.cert, issuer: ca.cert, subject: CertificationRequest.from(device.csr).subjectDer, transactionId: rep.transactionId, now: NOW });
    expect((await readReply(await postPki(s.server, "/scep", poll.der), poll, { decrypter: device.signer })).status).toBe("SUCCESS");
  });
});

describe("configuration and the receiver's helpers", () => {
  it.each([
    [{ url: "ftp://mdm.test/x" }, "webhookChallenge: url must be http: or https:, not ftp:"],
    [{ url: "not a url" }, "webhookChallenge: url is not a URL"],
    [{ url: "https://user:pw@mdm.test/x" }, "webhookChallenge: url must not hold a user name or password (put credentials in headers)"],
    [{ url: "https://mdm.test/x", notifyUrl: "file:///etc/passwd" }, "webhookChallenge: notifyUrl must be http: or https:, not file:"],
    [{ url: "https://mdm.test/x", timeoutMs: 0 }, "webhookChallenge: timeoutMs must be an integer number of milliseconds from 1 to 2147483647 (got 0)"],
    [{ url: "https://mdm.test/x", maxResponseBytes: Number.NaN }, "webhookChallenge: maxResponseBytes must be an integer number of bytes from 1 to 1073741824 (got NaN)"],
    [{ url: "https://mdm.test/x", secret: "" }, "webhookChallenge: secret is empty"],
    [{ url: "https://mdm.test/x", headers: { authorization: "Bearer tok-SECRET-1\r\nx" } }, 'webhookChallenge: headers["authorization"] is not a valid HTTP header (a name of token characters; a value without CR, LF, NUL or characters beyond Latin-1)'],
    [{ url: "https://mdm.test/x", headers: { "x-token": "tok-SECRET-1\u0000" } }, 'webhookChallenge: headers["x-token"] is not a valid HTTP header (a name of token characters; a value without CR, LF, NUL or characters beyond Latin-1)'],
    [{ url: "https://mdm.test/x", headers: { "bad name": "v" } }, 'webhookChallenge: headers["bad name"] is not a valid HTTP header (a name of token characters; a value without CR, LF, NUL or characters beyond Latin-1)'],
    [{ url: "https://mdm.test/x", signatureHeader: "X Sig" }, "webhookChallenge: signatureHeader is not a valid HTTP header (a name of token characters; a value without CR, LF, NUL or characters beyond Latin-1)"],
    [{ url: "https://mdm.test/x", id: "a\nb" }, "webhookChallenge: id is not a valid HTTP header (a name of token characters; a value without CR, LF, NUL or characters beyond Latin-1)"],
  ] as [WebhookChallengeOptions, string][])("%o → ERR_INVALID_ARGUMENT", (options, message) => {
    expect(() => webhookChallenge(options)).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message }));
  });

  it("a header value fetch would refuse is refused at configuration, and the error neither quotes it nor carries it as a cause", () => {
    // It failed every call instead, each WebhookTransportError's cause a TypeError quoting the bearer token.
    let error: unknown;
    try {
      webhookChallenge({ url: "https://mdm.test/x", headers: { authorization: "Bearer tok-SECRET-1\r\nx" } });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: "ERR_INVALID_ARGUMENT" });
    expect(inspect(error, { depth: 5 })).not.toContain("tok-SECRET-1");
  });

  it("verifyWebhookSignature: true for the exact body and secret (hex in any case), false for another body, secret or a malformed header", () => {
    const body = '{"type":"scepchallenge","scepChallenge":"x"}';
    const sig = createHmac("sha256", "k").update(body).digest("hex");
    expect(webhookSignature(body, "k")).toBe(sig);
    expect(verifyWebhookSignature(body, sig, "k")).toBe(true);
    expect(verifyWebhookSignature(new TextEncoder().encode(body), sig.toUpperCase(), new TextEncoder().encode("k"))).toBe(true);
    expect(verifyWebhookSignature(`${body} `, sig, "k")).toBe(false);
    expect(verifyWebhookSignature(body, sig, "K")).toBe(false);
    expect(verifyWebhookSignature(body, `sha256=${sig}`, "k")).toBe(false);
    expect(verifyWebhookSignature(body, null, "k")).toBe(false);
  });
});
