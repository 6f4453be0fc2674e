/**
 * `ScepServer.handle` (plain parts in and out) answers every request exactly
 * as `ScepServer.fetch` answers the same request as a web `Request`: the same
 * status, header fields and bytes (none for HEAD), and the same event. Two
 * servers with the same configuration and clock get the same requests, one
 * through each entry. CertReps carry a fresh senderNonce, content key and IV
 * in every reply, so those are compared decoded (status, failInfo,
 * transactionID, certificates); everything else byte for byte.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  BODY_ALREADY_READ_TEXT,
  BodyAlreadyReadError,
  StoreUnavailableError,
  buildCertPoll,
  buildPkcsReq,
  createScepServer,
  readCertRep,
  toBase64,
  type BuiltRequest,
  type CertRep,
  type HttpRequestParts,
  type ScepEvent,
  type ScepServer,
  type TransactionStore,
} from "../src/index.js";
import { NOW, ORIGIN, createDevice, createTestCa, eventLog, issuingHook, type Device, type TestCa } from "./support/server-pki.js";

const CHALLENGE = "s3cret-parts";
const MAX_BODY = 4096;

let ca: TestCa;
let foreign: TestCa;
let device: Device;
let viaFetch: { server: ScepServer; events: ScepEvent[] };
let viaHandle: { server: ScepServer; events: ScepEvent[] };

/** A transaction store whose every call fails as a Redis store does when Redis is down. */
function downStore(): TransactionStore {
  const down = async (): Promise<never> => {
    throw new StoreUnavailableError("redis: connect ECONNREFUSED 127.0.0.1:6379", { retryAfterSeconds: 7 });
  };
  return { get: down, create: down, transition: down, list: down, delete: down };
}

function makeServer(): { server: ScepServer; events: ScepEvent[] } {
  const log = eventLog();
  const hook = issuingHook(ca);
  const server = createScepServer({
    profiles: [
      {
        name: "p", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: CHALLENGE },
        // A hook that fails for one subject: the server's own fault, HTTP 500 (never a client's mistake).
        issue: async (ctx) => (ctx.csr.subject.includes("CN=boom") ? Promise.reject(new Error("issuer offline")) : hook(ctx)),
      },
      { name: "next", path: "/next", caCertificate: ca.cert, signer: ca.key, challenge: { type: "none", acknowledgeAnyoneCanEnroll: true }, nextCaCertificates: [foreign.cert], issue: issuingHook(ca) },
      { name: "down", path: "/down", caCertificate: ca.cert, signer: ca.key, challenge: { type: "none", acknowledgeAnyoneCanEnroll: true }, transactions: downStore(), issue: issuingHook(ca) },
    ],
    maxBodyBytes: MAX_BODY,
    onEvent: log.onEvent,
    now: () => NOW,
  });
  return { server, events: log.events };
}

beforeAll(async () => {
  [ca, foreign] = await Promise.all([createTestCa("Parts CA"), createTestCa("Parts Next CA")]);
  device = await createDevice({ cn: "parts-device", challengePassword: CHALLENGE });
  viaFetch = makeServer();
  viaHandle = makeServer();
});

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
  event: Omit<ScepEvent, "latencyMs" | "serial" | "time"> | undefined;
}

/** The event without the fields that differ between two runs (time spent; the serial each CA picks) and its time (the fixed clock's). */
function lastEvent(events: ScepEvent[], before: number): Answer["event"] {
  if (events.length === before) return undefined;
  expect(events.length).toBe(before + 1);
  const { latencyMs, serial, time, ...rest } = events.at(-1)!;
  expect(latencyMs).toBeGreaterThanOrEqual(0);
  expect(time).toEqual(NOW);
  return rest;
}

const hexOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");

/** The same request through `fetch` (server A) and `handle` (server B). */
async function both(method: string, target: string, init: { headers?: Record<string, string>; body?: Uint8Array } = {}): Promise<{ fetched: Answer; handled: Answer }> {
  const url = target.startsWith("/") ? ORIGIN + target : target;
  let before = viaFetch.events.length;
  const res = await viaFetch.server.fetch(new Request(url, { method, ...(init.headers ? { headers: init.headers } : {}), ...(init.body ? { body: init.body as Uint8Array<ArrayBuffer> } : {}) }));
  const fetched: Answer = { status: res.status, headers: headersOf(res), body: hexOf(new Uint8Array(await res.arrayBuffer())), event: lastEvent(viaFetch.events, before) };
  before = viaHandle.events.length;
  const parts: HttpRequestParts = { method, url: target, ...(init.headers ? { headers: init.headers } : {}), ...(init.body ? { body: init.body } : {}) };
  const r = await viaHandle.server.handle(parts);
  expect(r.body).toBeInstanceOf(Uint8Array);
  const handled: Answer = { status: r.status, headers: r.headers, body: hexOf(r.body), event: lastEvent(viaHandle.events, before) };
  return { fetched, handled };
}

/** Both answers byte for byte, and returns one. */
async function same(method: string, target: string, init: { headers?: Record<string, string>; body?: Uint8Array } = {}): Promise<Answer> {
  const { fetched, handled } = await both(method, target, init);
  expect(handled).toEqual(fetched);
  return handled;
}

/** A Response's header fields as a record (lower-case names). */
function headersOf(res: Response): Record<string, string> {
  const out: Record<string, string> = {};
  res.headers.forEach((v, k) => void (out[k] = v));
  return out;
}

const text = (s: string): string => hexOf(new TextEncoder().encode(s));

describe("handle answers byte for byte what fetch answers (no CertRep)", () => {
  it("GetCACaps, and HEAD with the same headers and no body", async () => {
    const get = await same("GET", "/scep?operation=GetCACaps");
    expect(get).toMatchObject({ status: 200, headers: { "content-type": "text/plain" }, event: { operation: "GetCACaps", outcome: "success", reason: "caps", profile: "p", status: 200 } });
    expect(Buffer.from(get.body, "hex").toString()).toMatch(/^AES\nDES3\nPOSTPKIOperation\n/);
    // RFC 9110 §9.3.2: the GET's header fields, its Content-Length included.
    expect(await same("HEAD", "/scep?operation=GetCACaps")).toEqual({ status: 200, headers: { ...get.headers, "content-length": String(get.body.length / 2) }, body: "", event: get.event });
  });

  it("GetCACert (the CA certificate's DER), GET and HEAD; a changed reply never changes the profile's certificate", async () => {
    const get = await same("GET", "/scep?operation=GetCACert");
    expect(get).toMatchObject({ status: 200, headers: { "content-type": "application/x-x509-ca-cert" }, body: hexOf(ca.cert.der) });
    expect(await same("HEAD", "/scep?operation=GetCACert")).toMatchObject({ status: 200, headers: { ...get.headers, "content-length": String(ca.cert.der.length) }, body: "" });
    const r = await viaHandle.server.handle({ method: "GET", url: "/scep?operation=GetCACert" });
    r.body.fill(0);
    expect((await same("GET", "/scep?operation=GetCACert")).body).toBe(hexOf(ca.cert.der));
  });

  it("GetNextCACert (RFC 8894 §4.7): the signed next CA with the fixed clock, and the 404 of a profile without one", async () => {
    const next = await same("GET", "/next?operation=GetNextCACert");
    expect(next).toMatchObject({ status: 200, headers: { "content-type": "application/x-x509-next-ca-cert" }, event: { reason: "next_ca_cert" } });
    expect(await same("GET", "/scep?operation=GetNextCACert")).toEqual({
      status: 404, headers: { "content-type": "text/plain; charset=utf-8" }, body: text("no next CA certificate is configured\n"),
      event: { operation: "GetNextCACert", profile: "p", outcome: "rejected", reason: "no_next_ca", status: 404 },
    });
  });

  it("405 with Allow for methods other than GET, POST and HEAD; 404 for a path no profile serves, whatever the method", async () => {
    expect(await same("PUT", "/scep?operation=GetCACaps")).toEqual({
      status: 405, headers: { allow: "GET, HEAD, POST", "content-type": "text/plain; charset=utf-8" }, body: text("method not allowed\n"),
      event: { operation: "GetCACaps", profile: "p", outcome: "rejected", reason: "method_not_allowed", status: 405 },
    });
    expect(await same("DELETE", "/elsewhere?operation=GetCACaps")).toMatchObject({ status: 404, body: text("no SCEP endpoint at this path\n"), event: { operation: "GetCACaps", reason: "unknown_path" } });
    expect((await same("GET", "/elsewhere")).event).toEqual({ operation: "unknown", outcome: "rejected", reason: "unknown_path", status: 404 });
  });

  it("400 for a missing or unknown operation", async () => {
    expect(await same("GET", "/scep")).toMatchObject({ status: 400, body: text("missing operation parameter\n"), event: { operation: "unknown", reason: "missing_operation" } });
    expect(await same("GET", "/scep?operation=GetCAKaps")).toMatchObject({ status: 400, body: text("unknown operation\n"), event: { reason: "unknown_operation" } });
  });

  it("request targets (RFC 9112 §3.2): pkiclient.exe suffix, dot segments, escapes, doubled slashes, a fragment, absolute-form", async () => {
    const caps = (await same("GET", "/scep?operation=GetCACaps")).body;
    for (const target of ["/scep/pkiclient.exe?operation=GetCACaps", "/scep/cgi-bin/pkiclient.exe?operation=GetCACaps", "/x/../scep?operation=GetCACaps", "/scep/./?operation=GetCACaps", "//scep?operation=GetCACaps", "/scep#frag?operation=x", `${ORIGIN}/scep?operation=GetCACaps`, "/a/%2e%2e/scep?OPERATION=getcacaps"]) {
      const answer = await same("GET", target);
      expect({ target, status: answer.status }).toEqual({ target, status: target.includes("#") ? 400 : 200 });
      if (answer.status === 200) expect(answer.body).toBe(caps);
    }
    // `%73` is not decoded by a URL parse, so no profile owns `/%73cep`, through either entry.
    expect(await same("GET", "/%73cep?operation=GetCACaps")).toMatchObject({ status: 404, event: { reason: "unknown_path" } });
    expect(await same("GET", "/scep\\..\\elsewhere?operation=GetCACaps")).toMatchObject({ status: 404 });
  });

  it("PKIOperation client mistakes: empty body, garbage, missing/non-base64/oversized GET message, HEAD without a message", async () => {
    expect(await same("POST", "/scep?operation=PKIOperation", { body: new Uint8Array() })).toMatchObject({ status: 400, body: text("empty message\n"), event: { reason: "empty_message" } });
    expect(await same("POST", "/scep?operation=PKIOperation")).toMatchObject({ status: 400, event: { reason: "empty_message" } });
    const garbage = await same("POST", "/scep?operation=PKIOperation", { body: Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01) });
    expect(garbage).toMatchObject({ status: 400, event: { reason: "decode_error" } });
    expect(Buffer.from(garbage.body, "hex").toString()).toMatch(/^malformed PKIOperation: /);
    expect(await same("POST", "/scep?operation=PKIOperation", { body: new TextEncoder().encode("not base64 at all!") })).toMatchObject({ status: 400, event: { reason: "body_not_der" } });
    expect(await same("GET", "/scep?operation=PKIOperation")).toMatchObject({ status: 400, body: text("missing message parameter\n"), event: { reason: "missing_message" } });
    expect(await same("GET", "/scep?operation=PKIOperation&message=%%%")).toMatchObject({ status: 400, body: text("message is not base64\n"), event: { reason: "bad_base64" } });
    expect(await same("GET", `/scep?operation=PKIOperation&message=${"A".repeat((MAX_BODY * 4) / 3 + 1100)}`)).toMatchObject({ status: 414, body: text("URI too long\n"), event: { reason: "uri_too_long", status: 414 } });
    // A PKIOperation has effects (a challenge spent, a certificate issued): HEAD, a safe method, is refused (RFC 9110 §9.2.1).
    expect(await same("HEAD", "/scep?operation=PKIOperation")).toMatchObject({ status: 405, body: "", headers: { allow: "GET, POST" }, event: { reason: "method_not_allowed" } });
  });

  it("body limit: 413 for a body over maxBodyBytes and for a declared Content-Length over it; the limit itself passes", async () => {
    const over = await same("POST", "/scep?operation=PKIOperation", { body: new Uint8Array(MAX_BODY + 1).fill(0x30) });
    expect(over).toEqual({ status: 413, headers: { "content-type": "text/plain; charset=utf-8" }, body: text("message too large\n"), event: { operation: "PKIOperation", profile: "p", outcome: "rejected", reason: "body_too_large", status: 413 } });
    // A declared length over the limit is refused before the body is read (here the body is short).
    expect(await same("POST", "/scep?operation=PKIOperation", { headers: { "content-length": String(MAX_BODY + 1) }, body: new Uint8Array(MAX_BODY + 1).fill(0x30) })).toMatchObject({ status: 413 });
    expect(await viaHandle.server.handle({ method: "POST", url: "/scep?operation=PKIOperation", headers: { "content-length": String(MAX_BODY + 1) }, body: Uint8Array.of(0x30) })).toMatchObject({ status: 413 });
    expect(await viaHandle.server.handle({ method: "POST", url: "/scep?operation=PKIOperation", headers: new Headers({ "content-length": String(MAX_BODY + 1) }) })).toMatchObject({ status: 413 });
    expect(await same("POST", "/scep?operation=PKIOperation", { body: new Uint8Array(MAX_BODY).fill(0x30) })).toMatchObject({ status: 400, event: { reason: "decode_error" } });
  });

  it("a body that fails mid-way (the client went away): 400 body_aborted through both entries", async () => {
    const before = [viaFetch.events.length, viaHandle.events.length];
    const broken = new ReadableStream<Uint8Array>({
      start: (c) => {
        c.enqueue(Uint8Array.of(0x30, 0x82));
        c.error(new Error("socket hang up"));
      },
    });
    const res = await viaFetch.server.fetch(new Request(`${ORIGIN}/scep?operation=PKIOperation`, { method: "POST", body: broken, duplex: "half" } as RequestInit));
    const r = await viaHandle.server.handle({ method: "POST", url: "/scep?operation=PKIOperation", body: Promise.reject(new Error("socket hang up")) });
    expect({ status: r.status, headers: r.headers, body: new TextDecoder().decode(r.body) }).toEqual({ status: res.status, headers: headersOf(res), body: await res.text() });
    expect(r).toMatchObject({ status: 400, body: new TextEncoder().encode("request body aborted\n") });
    expect(lastEvent(viaHandle.events, before[1]!)).toEqual(lastEvent(viaFetch.events, before[0]!));
    expect(viaHandle.events.at(-1)).toMatchObject({ reason: "body_aborted", outcome: "rejected", status: 400 });
  });

  it("a body a parser read before the server asked (BodyAlreadyReadError, a used Request): 400 body_already_read through both entries, not empty_message", async () => {
    const before = [viaFetch.events.length, viaHandle.events.length];
    const used = new Request(`${ORIGIN}/scep?operation=PKIOperation`, { method: "POST", body: Uint8Array.of(0x30, 0x00) });
    await used.arrayBuffer(); // what a framework's body parser does to the request first
    const res = await viaFetch.server.fetch(used);
    const r = await viaHandle.server.handle({ method: "POST", url: "/scep?operation=PKIOperation", body: Promise.reject(new BodyAlreadyReadError("read by another middleware")) });
    expect({ status: r.status, headers: r.headers, body: new TextDecoder().decode(r.body) }).toEqual({ status: res.status, headers: headersOf(res), body: await res.text() });
    expect(r).toMatchObject({ status: 400, body: new TextEncoder().encode(`${BODY_ALREADY_READ_TEXT}\n`) });
    expect(lastEvent(viaHandle.events, before[1]!)).toEqual(lastEvent(viaFetch.events, before[0]!));
    expect(viaHandle.events.at(-1)).toMatchObject({ reason: "body_already_read", outcome: "rejected", status: 400 });
    // Recognised by its code, as from a duplicate copy of @scep/core: a plain error with that code.
    const copy = Object.assign(new Error("read by another middleware"), { code: "ERR_BODY_ALREADY_READ" });
    expect(await viaHandle.server.handle({ method: "POST", url: "/scep?operation=PKIOperation", body: Promise.reject(copy) })).toMatchObject({ status: 400 });
    expect(viaHandle.events.at(-1)).toMatchObject({ reason: "body_already_read" });
  });

  it("a promised body is awaited only by a POST PKIOperation; one that rejects elsewhere is no unhandled rejection", async () => {
    let awaited = 0;
    // A lazy promise-like, as an adapter that reads the body on demand hands over.
    const body: PromiseLike<Uint8Array> = {
      then: (ok) => {
        awaited++;
        return Promise.resolve(new Uint8Array()).then(ok);
      },
    };
    expect(await viaHandle.server.handle({ method: "POST", url: "/scep?operation=GetCACaps", body })).toMatchObject({ status: 200 });
    expect(await viaHandle.server.handle({ method: "GET", url: "/scep?operation=GetCACaps", body: Promise.reject(new Error("gone")) })).toMatchObject({ status: 200 });
    expect(await viaHandle.server.handle({ method: "POST", url: "/scep?operation=PKIOperation", body })).toMatchObject({ status: 400, body: new TextEncoder().encode("empty message\n") });
    // A lazy promise-like is not even asked before: an adapter reads the body only for the operation that needs it.
    expect(awaited).toBe(1);
  });

  it("header fields as a Headers object, as Node's record, with a repeated field", async () => {
    const url = "/scep?operation=PKIOperation";
    const body = new Uint8Array(10).fill(0x30);
    const a = await viaHandle.server.handle({ method: "POST", url, headers: new Headers({ "content-length": "10" }), body });
    const b = await viaHandle.server.handle({ method: "POST", url, headers: { "content-length": "10", "x-forwarded-for": ["10.0.0.1", "10.0.0.2"] }, body });
    const c = await viaHandle.server.handle({ method: "POST", url, headers: { "content-length": [String(MAX_BODY + 1), String(MAX_BODY + 1)] }, body });
    expect(a).toEqual(b);
    expect(a.status).toBe(400);
    // A repeated Content-Length reads "4097, 4097" (RFC 9110 §5.3), not a number: the body's own length decides.
    expect(c.status).toBe(400);
  });
});

/** A CertRep reply read with the device's key (status, failInfo, transactionID, issued subject). */
async function certRepOf(status: number, headers: Record<string, string>, body: Uint8Array, built: BuiltRequest): Promise<Partial<CertRep> & { subjects: string[] }> {
  expect(status).toBe(200);
  expect(headers).toEqual({ "content-type": "application/x-pki-message" });
  const rep = await readCertRep(body, { request: built, decrypter: device.signer, caCertificates: [ca.cert] });
  return { status: rep.status, transactionId: rep.transactionId, ...(rep.failInfo ? { failInfo: rep.failInfo } : {}), ...(rep.failInfoText ? { failInfoText: rep.failInfoText } : {}), subjects: rep.certificates.map((c) => c.subject) };
}

/** A PKIOperation through both entries (each server sees its own copy of the same message), compared decoded. */
async function sameCertRep(built: BuiltRequest, send: (der: Uint8Array) => { method: string; target: string; body?: Uint8Array }): Promise<{ rep: Awaited<ReturnType<typeof certRepOf>>; event: Answer["event"] }> {
  const { method, target, body } = send(built.der);
  let before = viaFetch.events.length;
  const res = await viaFetch.server.fetch(new Request(ORIGIN + target, { method, ...(body ? { body: body as Uint8Array<ArrayBuffer> } : {}) }));
  const fetchedEvent = lastEvent(viaFetch.events, before);
  const fetched = await certRepOf(res.status, headersOf(res), new Uint8Array(await res.arrayBuffer()), built);
  before = viaHandle.events.length;
  const r = await viaHandle.server.handle({ method, url: target, ...(body ? { body } : {}) });
  const handledEvent = lastEvent(viaHandle.events, before);
  const handled = await certRepOf(r.status, r.headers, r.body, built);
  expect(handled).toEqual(fetched);
  expect(handledEvent).toEqual(fetchedEvent);
  return { rep: handled, event: handledEvent };
}

const post = (path: string) => (der: Uint8Array) => ({ method: "POST", target: `${path}?operation=PKIOperation`, body: der });

describe("handle answers every PKIOperation as fetch does (CertReps compared decoded)", () => {
  it("PKCSReq by POST (DER): SUCCESS with the issued certificate (RFC 8894 §3.3.1)", async () => {
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW, transactionId: "PARTS-POST-DER" });
    const { rep, event } = await sameCertRep(built, post("/scep"));
    expect(rep).toEqual({ status: "SUCCESS", transactionId: "PARTS-POST-DER", subjects: [device.signer.certificate.subject, ca.cert.subject] });
    expect(event).toMatchObject({ operation: "PKCSReq", outcome: "success", reason: "issued", transactionId: "PARTS-POST-DER", renewal: false, challengeKind: "static" });
  });

  it("PKCSReq POSTed as base64 text, and by GET message= (RFC 8894 §4.3)", async () => {
    const text64 = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW, transactionId: "PARTS-POST-B64" });
    expect((await sameCertRep(text64, (der) => ({ method: "POST", target: "/scep?operation=PKIOperation", body: new TextEncoder().encode(toBase64(der)) }))).rep.status).toBe("SUCCESS");
    const get = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW, transactionId: "PARTS-GET" });
    expect((await sameCertRep(get, (der) => ({ method: "GET", target: `/scep?operation=PKIOperation&message=${encodeURIComponent(toBase64(der))}` }))).rep.status).toBe("SUCCESS");
  });

  it("a wrong challenge: FAILURE badRequest (RFC 8894 §3.3.2.2)", async () => {
    const wrong = await createDevice({ cn: "parts-wrong", challengePassword: "not-it" });
    const built = await buildPkcsReq({ csr: wrong.csr, signer: device.signer, recipient: ca.cert, now: NOW, transactionId: "PARTS-WRONG" });
    const { rep, event } = await sameCertRep(built, post("/scep"));
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest" });
    expect(event).toMatchObject({ outcome: "failure", reason: "bad_challenge", failInfo: "badRequest" });
  });

  it("a message encrypted to another CA: FAILURE from the decode phase", async () => {
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: foreign.cert, now: NOW, transactionId: "PARTS-FOREIGN" });
    const { rep, event } = await sameCertRep(built, post("/scep"));
    expect(rep.status).toBe("FAILURE");
    expect(event).toMatchObject({ operation: "PKCSReq", outcome: "failure", transactionId: "PARTS-FOREIGN" });
  });

  it("CertPoll for an unknown transaction: FAILURE badCertId (RFC 8894 §3.3.3)", async () => {
    const built = await buildCertPoll({ issuer: ca.cert, subject: new Uint8Array(device.signer.certificate.subjectDer), transactionId: "PARTS-UNKNOWN", signer: device.signer, recipient: ca.cert, now: NOW });
    const { rep, event } = await sameCertRep(built, post("/scep"));
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badCertId" });
    expect(event).toMatchObject({ operation: "CertPoll", reason: "unknown_transaction" });
  });

  it("server faults are the same too: 503 + Retry-After for a store that is down, 500 for a failing issue hook", async () => {
    const poll = await buildCertPoll({ issuer: ca.cert, subject: new Uint8Array(device.signer.certificate.subjectDer), transactionId: "PARTS-DOWN", signer: device.signer, recipient: ca.cert, now: NOW });
    expect(await same("POST", "/down?operation=PKIOperation", { body: poll.der })).toEqual({
      status: 503, headers: { "content-type": "text/plain; charset=utf-8", "retry-after": "7" }, body: text("store unavailable, retry later\n"),
      event: { operation: "CertPoll", profile: "down", outcome: "error", reason: "store_unavailable", status: 503, transactionId: "PARTS-DOWN" },
    });
    const boom = await createDevice({ cn: "boom", challengePassword: CHALLENGE });
    const built = await buildPkcsReq({ csr: boom.csr, signer: boom.signer, recipient: ca.cert, now: NOW, transactionId: "PARTS-BOOM" });
    expect(await same("POST", "/scep?operation=PKIOperation", { body: built.der })).toMatchObject({ status: 500, body: text("internal error\n"), event: { outcome: "error", reason: "internal_error", status: 500 } });
  });
});
