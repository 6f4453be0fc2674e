/**
 * The PKIOperation method the caps chose, refused by the server before it processed the request, rebuilt against our
 * `ScepClient` (RFC 8894 §4.1, §3.5.2).
 *
 * - A GET too long for the front: NDES on IIS refuses a query string over its `maxQueryString` (2048 by default) with
 *   HTTP 404.15 / 414, nginx with 414, Node's and our example servers with 431; a 4096-bit key or a long subject makes
 *   the base64 message that long (Microsoft's NDES guidance raises `MaxFieldLength`/`MaxRequestBytes` for it; the CLI
 *   already told users to send by POST). A client left to choose need not fail there: 414 and 431 mean the request
 *   was never processed, so it goes again by POST.
 * - Caps that promise POST on a front that refuses it: a CA advertising `POSTPKIOperation` behind a proxy or WAF that
 *   allows only GET answers 405 (a server that takes no POST is what micromdm's client, which only POSTed, met at
 *   NDES: micromdm/scep#5, https://github.com/micromdm/scep/issues/5). 405 and 501 mean the same: it goes again by GET.
 *
 * Before, both ended the enrollment with `ERR_TRANSPORT`. A method the caller gave explicitly is used as given, and a
 * server that refuses both says both.
 */
import { describe, expect, it } from "vitest";
import { ScepClient, TransportError } from "../src/index.js";
import { createDevice, staticScep } from "./support/server-pki.js";

const s = await staticScep({ caName: "Method Fallback CA", deviceCn: "method-fallback", challenge: "pw" });

/** Our server behind a front that answers `refuse(method)` (a status) to PKIOperations, and caps of its own; logs "METHOD". */
function front(caps: string, refuse: (method: string) => number | undefined, log: string[]): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const op = new URL(request.url).searchParams.get("operation");
    if (op === "GetCACaps") return new Response(caps, { headers: { "content-type": "text/plain" } });
    if (op !== "PKIOperation") return s.server.fetch(request);
    log.push(request.method);
    const status = refuse(request.method);
    if (status === undefined) return s.server.fetch(request);
    return new Response(status === 414 ? "<html><body><h2>Request URL Too Long</h2><p>HTTP Error 414. The request URL is too long.</p></body></html>" : "Method Not Allowed", { status, headers: { "content-type": status === 414 ? "text/html" : "text/plain" } });
  }) as typeof fetch;
}

describe("RFC 8894 §4.1: a PKIOperation method refused before processing is retried by the other one when the caps chose it", () => {
  it.for([414, 431])("NDES-like caps (no POSTPKIOperation): GET answered %i → sent again by POST → SUCCESS", async (status) => {
    const log: string[] = [];
    const rep = await new ScepClient({ url: "http://ca.test/scep", fetch: front("SHA-256\nAES", (m) => (m === "GET" ? status : undefined), log) }).enroll({ csr: s.device.csr, signer: s.device.signer });
    expect([rep.status, log]).toEqual(["SUCCESS", ["GET", "POST"]]);
  });

  it.for([405, 501])("caps with POSTPKIOperation, a front that takes no POST: POST answered %i → sent again by GET → SUCCESS", async (status) => {
    const log: string[] = [];
    const rep = await new ScepClient({ url: "http://ca.test/scep", fetch: front("POSTPKIOperation\nSHA-256\nAES", (m) => (m === "POST" ? status : undefined), log) }).enroll({ csr: s.device.csr, signer: s.device.signer });
    expect([rep.status, log]).toEqual(["SUCCESS", ["POST", "GET"]]);
  });

  it("the CertPolls after a fallback use the method that worked: GET 414, then POST for the PKCSReq and every CertPoll", async () => {
    const device = await createDevice({ cn: "method-fallback-pending", challengePassword: "pw" });
    const pending = await staticScep({ caName: "Method Fallback Pending CA", deviceCn: "unused", challenge: "pw", profile: { issue: async () => ({ status: "PENDING" }) } });
    const log: string[] = [];
    const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = new Request(input, init);
      const op = new URL(request.url).searchParams.get("operation");
      if (op === "GetCACaps") return new Response("SHA-256\nAES");
      if (op === "PKIOperation") {
        log.push(request.method);
        if (request.method === "GET") return new Response("URI Too Long", { status: 414 });
      }
      return pending.server.fetch(request);
    }) as typeof globalThis.fetch;
    const rep = await new ScepClient({ url: "http://ca.test/scep", fetch }).enroll({ csr: device.csr, signer: device.signer, pollIntervalMs: 1000, maxPollMs: 2000, sleep: async () => undefined });
    expect([rep.status, log]).toEqual(["PENDING", ["GET", "POST", "POST", "POST"]]);
  });

  it("a method given explicitly is used as given: post: false and a 414 → ERR_TRANSPORT 414, no POST", async () => {
    const log: string[] = [];
    const client = new ScepClient({ url: "http://ca.test/scep", fetch: front("SHA-256", (m) => (m === "GET" ? 414 : undefined), log) });
    await expect(client.enroll({ csr: s.device.csr, signer: s.device.signer, post: false })).rejects.toMatchObject({ code: "ERR_TRANSPORT", status: 414 });
    expect(log).toEqual(["GET"]);
  });

  it("refused both ways → one ERR_TRANSPORT that names both answers, with the second status", async () => {
    const log: string[] = [];
    const client = new ScepClient({ url: "http://ca.test/scep", fetch: front("SHA-256", (m) => (m === "GET" ? 414 : 405), log) });
    const error = await client.enroll({ csr: s.device.csr, signer: s.device.signer }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({
      code: "ERR_TRANSPORT",
      operation: "PKIOperation",
      status: 405,
      message: "PKIOperation: HTTP 414 (Request URL Too Long HTTP Error 414. The request URL is too long.) by GET, then HTTP 405 (Method Not Allowed) by POST",
    });
    expect(log).toEqual(["GET", "POST"]);
  });

  // The resend is a new exchange: it may time out or be reset like any other. Before, the error said only that
  // ("PKIOperation: timed out after … ms"), so the caller could not tell the method first chosen had been refused.
  it.for([
    [
      "the POST times out",
      () => {
        throw new DOMException("The operation was aborted due to timeout", "TimeoutError");
      },
      "PKIOperation: HTTP 414 (Request URL Too Long HTTP Error 414. The request URL is too long.) by GET, then timed out after 180000 ms by POST",
      "TimeoutError",
    ],
    [
      "the POST's connection is reset",
      () => {
        throw new TypeError("fetch failed", { cause: Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }) });
      },
      "PKIOperation: HTTP 414 (Request URL Too Long HTTP Error 414. The request URL is too long.) by GET, then ECONNRESET (read ECONNRESET) by POST",
      "TypeError",
    ],
  ] as const)("GET refused 414, then %s (no status): the ERR_TRANSPORT still names the 414 by GET; status unset, cause the second failure's", async ([, fail, message, causeName]) => {
    const log: string[] = [];
    const refusing = front("SHA-256", (m) => (m === "GET" ? 414 : undefined), log);
    const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      if (init?.method === "POST") {
        log.push("POST");
        fail();
      }
      return refusing(input, init);
    }) as typeof globalThis.fetch;
    const error = await new ScepClient({ url: "http://ca.test/scep", fetch }).enroll({ csr: s.device.csr, signer: s.device.signer }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ code: "ERR_TRANSPORT", operation: "PKIOperation", message });
    // No answer to the resend: no status (it may have been processed), and the cause still says why (a timeout, a reset).
    expect((error as TransportError).status).toBeUndefined();
    expect(((error as TransportError).cause as Error).name).toBe(causeName);
    expect(log).toEqual(["GET", "POST"]);
  });

  it("POST refused 405, then the GET times out: the ERR_TRANSPORT names the 405 by POST", async () => {
    const log: string[] = [];
    const refusing = front("POSTPKIOperation\nSHA-256\nAES", (m) => (m === "POST" ? 405 : undefined), log);
    const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      if (new URL(String(input)).searchParams.get("operation") === "PKIOperation" && init?.method === "GET") {
        log.push("GET");
        throw new DOMException("The operation was aborted due to timeout", "TimeoutError");
      }
      return refusing(input, init);
    }) as typeof globalThis.fetch;
    const error = await new ScepClient({ url: "http://ca.test/scep", fetch, timeoutMs: 5000 }).enroll({ csr: s.device.csr, signer: s.device.signer }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ERR_TRANSPORT", operation: "PKIOperation", message: "PKIOperation: HTTP 405 (Method Not Allowed) by POST, then timed out after 5000 ms by GET" });
    expect((error as TransportError).status).toBeUndefined();
    expect(log).toEqual(["POST", "GET"]);
  });

  it("another error status is not retried: GET answered 400 → ERR_TRANSPORT 400, one request", async () => {
    const log: string[] = [];
    const client = new ScepClient({ url: "http://ca.test/scep", fetch: front("SHA-256", () => 400, log) });
    await expect(client.enroll({ csr: s.device.csr, signer: s.device.signer })).rejects.toMatchObject({ code: "ERR_TRANSPORT", status: 400 });
    expect(log).toEqual(["GET"]);
  });
});
