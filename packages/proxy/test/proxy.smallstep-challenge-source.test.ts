/**
 * SmallstepChallengeSource against a loopback webhook that checks the Basic
 * credentials and the SCEPChallenge request body (PROXY.md "Smallstep":
 * POST JSON `{"webhook":{"webhookEvent":"SCEPChallenge",…},"event":{"scepServerUrl",…}}`
 * with Basic auth; the whole 200 body is the challenge).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { CaConfig } from "../src/cas/ca-config.js";
import { SmallstepChallengeSource } from "../src/challenge-sources/smallstep-challenge-source.js";
import { SmallstepTimeoutError } from "../src/challenge-sources/errors.js";

const NOW = new Date("2026-11-29T23:10:00.000Z");
const USER = "fleet";
const PASSWORD = "s3cret:with colon";

interface Seen {
  method: string;
  contentType: string | undefined;
  authorization: string | undefined;
  body: unknown;
}

let server: Server | undefined;

afterEach(async () => {
  const s = server;
  server = undefined;
  if (s) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

async function webhook(reply: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* keep the text */
      }
      seen.push({ method: req.method ?? "", contentType: req.headers["content-type"], authorization: req.headers.authorization, body });
      const expected = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`;
      if (req.headers.authorization !== expected) {
        res.writeHead(401);
        res.end("unauthorized");
        return;
      }
      reply(req, res);
    });
  });
  await new Promise<void>((r) => server?.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/webhooks/scep-challenge`, seen };
}

function ca(webhookUrl: string, password = PASSWORD): CaConfig {
  return {
    name: "smallstep",
    type: "smallstep",
    url: "https://agents.example.scep.smallstep.com/p/agents/integration-mdm-1a2b",
    smallstep: { webhookUrl, username: USER, password },
  };
}

const source = (o: ConstructorParameters<typeof SmallstepChallengeSource>[0] = {}): SmallstepChallengeSource =>
  new SmallstepChallengeSource({ now: () => NOW, payloadIdentifier: () => "CDB0BC64-F3EB-4B1A-AA5E-9A5D994CA593", ...o });

/** The rejection of `p`, after checking that no message, property or cause along its chain holds the password. */
async function failure(p: Promise<unknown>): Promise<Error & { code?: string; retryable?: boolean; status?: number }> {
  try {
    await p;
  } catch (e) {
    for (let c: unknown = e; c instanceof Error; c = c.cause) {
      const text = `${c.message} ${c.stack ?? ""} ${JSON.stringify(c)}`;
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(Buffer.from(`${USER}:${PASSWORD}`).toString("base64"));
    }
    return e as Error;
  }
  throw new Error("expected a rejection");
}

describe("Smallstep SCEPChallenge webhook", () => {
  it("POSTs the SCEPChallenge event with Basic auth; the 200 body is the challenge; retrievedAt from the clock", async () => {
    const w = await webhook((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("c2NlcC1jaGFsbGVuZ2UtMQ");
    });
    await expect(source().fetchChallenge(ca(w.url))).resolves.toEqual({ challenge: "c2NlcC1jaGFsbGVuZ2UtMQ", retrievedAt: NOW.getTime(), printableString: true });
    expect(w.seen).toEqual([
      {
        method: "POST",
        contentType: "application/json",
        authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`,
        body: {
          webhook: { webhookEvent: "SCEPChallenge", id: 1, eventTimestamp: Math.floor(NOW.getTime() / 1000), name: "SCEPChallenge" },
          event: {
            scepServerUrl: "https://agents.example.scep.smallstep.com/p/agents/integration-mdm-1a2b",
            payloadIdentifier: "CDB0BC64-F3EB-4B1A-AA5E-9A5D994CA593",
            payloadTypes: ["com.apple.security.scep"],
          },
        },
      },
    ]);
  });

  it("a trailing newline is trimmed; non-ASCII UTF-8 is kept", async () => {
    const w = await webhook((_req, res) => res.end("défi-42\n"));
    await expect(source().fetchChallenge(ca(w.url))).resolves.toMatchObject({ challenge: "défi-42" });
  });

  it("the default payloadIdentifier is a fresh upper-case UUID", async () => {
    const w = await webhook((_req, res) => res.end("x"));
    await new SmallstepChallengeSource().fetchChallenge(ca(w.url));
    await new SmallstepChallengeSource().fetchChallenge(ca(w.url));
    const ids = w.seen.map((s) => (s.body as { event: { payloadIdentifier: string } }).event.payloadIdentifier);
    expect(ids[0]).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/);
    expect(ids[0]).not.toBe(ids[1]);
  });

  it("wrong password → ERR_PROXY_SMALLSTEP_AUTH; the message holds no secret", async () => {
    const w = await webhook((_req, res) => res.end("never"));
    const e = await failure(source().fetchChallenge(ca(w.url, "wrong")));
    expect(e).toMatchObject({ code: "ERR_PROXY_SMALLSTEP_AUTH", retryable: false, message: "Smallstep webhook refused the credentials (HTTP 401)" });
  });

  it.each([
    [403, "ERR_PROXY_SMALLSTEP_AUTH", false],
    [404, "ERR_PROXY_SMALLSTEP_HTTP_STATUS", false],
    [500, "ERR_PROXY_SMALLSTEP_HTTP_STATUS", true],
    [429, "ERR_PROXY_SMALLSTEP_HTTP_STATUS", true],
    [302, "ERR_PROXY_SMALLSTEP_HTTP_STATUS", false],
  ] as const)("HTTP %i → %s", async (status, code, retryable) => {
    const w = await webhook((_req, res) => {
      res.writeHead(status, status === 302 ? { location: "https://login.example/" } : {});
      res.end("challenge-looking text");
    });
    const e = await failure(source().fetchChallenge(ca(w.url)));
    expect(e).toMatchObject({ code, retryable });
    if (code === "ERR_PROXY_SMALLSTEP_HTTP_STATUS") expect(e.status).toBe(status);
  });

  it.each([
    ["empty", "", "ERR_PROXY_SMALLSTEP_EMPTY"],
    ["blank", " \n", "ERR_PROXY_SMALLSTEP_EMPTY"],
    ["256 characters", "a".repeat(256), "ERR_PROXY_SMALLSTEP_INVALID"],
    ["a control character", "abc\u0000def", "ERR_PROXY_SMALLSTEP_INVALID"],
    ["not UTF-8", Buffer.from([0x61, 0xff, 0x62]), "ERR_PROXY_SMALLSTEP_INVALID"],
    ["over maxBodyBytes", "b".repeat(70_000), "ERR_PROXY_SMALLSTEP_INVALID"],
  ])("200 with %s → %s", async (_name, body, code) => {
    const w = await webhook((_req, res) => res.end(body));
    const e = await failure(source().fetchChallenge(ca(w.url)));
    expect(e.code).toBe(code);
    expect(e.message).not.toMatch(/aaaa|bbbb|abc/);
  });

  // An access gateway (Okta, a WAF) in front of the webhook answers 200 with its login page; one line of HTML has no
  // control character and fits 255 characters, so it was taken as the challenge, put in the device's profile, and
  // refused by the CA (a failed enrollment instead of a typed error at registration). Judged by the body only.
  it.each([
    ["a one-line login page as text/html", "text/html; charset=utf-8", "<html><body>Sign in</body></html>"],
    ["a page sent as text/plain that opens with <!DOCTYPE html>", "text/plain", "<!DOCTYPE html><title>Sign in</title>"],
    ["a page after white space, in upper case", "text/plain", "\r\n  <HTML lang=en><body>Sign in</body></HTML>"],
  ])("200 with %s → ERR_PROXY_SMALLSTEP_INVALID, not a challenge", async (_name, type, body) => {
    const w = await webhook((_req, res) => res.writeHead(200, { "content-type": type }).end(body));
    const e = await failure(source().fetchChallenge(ca(w.url)));
    expect(e).toMatchObject({ code: "ERR_PROXY_SMALLSTEP_INVALID", retryable: false, message: "Smallstep webhook answered an HTML page, not a challenge" });
  });

  // Express's res.send(string) and Flask answer a plain string as text/html: a real webhook's challenge, which the
  // Content-Type alone made ERR_PROXY_SMALLSTEP_INVALID.
  it.each(["text/html; charset=utf-8", "application/xhtml+xml"])("200 %s with a plain challenge → that challenge", async (type) => {
    const w = await webhook((_req, res) => res.writeHead(200, { "content-type": type }).end("x7Qp-9fGh2LmN0"));
    expect((await source().fetchChallenge(ca(w.url))).challenge).toBe("x7Qp-9fGh2LmN0");
  });

  it("a challenge that merely starts with < is still a challenge", async () => {
    const w = await webhook((_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("<htm1-x7Qp>"));
    expect((await source().fetchChallenge(ca(w.url))).challenge).toBe("<htm1-x7Qp>");
  });

  it("255 characters is still a challenge", async () => {
    const w = await webhook((_req, res) => res.end("z".repeat(255)));
    await expect(source().fetchChallenge(ca(w.url))).resolves.toMatchObject({ challenge: "z".repeat(255) });
  });

  it("a webhook that never answers → ERR_PROXY_SMALLSTEP_TIMEOUT (retryable)", async () => {
    const w = await webhook(() => undefined);
    const e = await failure(source({ timeoutMs: 300 }).fetchChallenge(ca(w.url)));
    expect(e).toMatchObject({ code: "ERR_PROXY_SMALLSTEP_TIMEOUT", retryable: true, message: "Smallstep webhook did not answer within 300 ms" });
  });

  it("the caller's AbortSignal rejects with its reason", async () => {
    const w = await webhook(() => undefined);
    const controller = new AbortController();
    const p = source().fetchChallenge(ca(w.url), { signal: controller.signal });
    while (w.seen.length === 0) await new Promise((r) => setImmediate(r));
    const reason = new Error("cancelled");
    controller.abort(reason);
    await expect(p).rejects.toBe(reason);
  });

  it("the caller's deadline (its signal aborted with a TimeoutError, as AbortSignal.timeout does) → ERR_PROXY_SMALLSTEP_TIMEOUT (retryable), before the source's own", async () => {
    const w = await webhook(() => undefined);
    const controller = new AbortController();
    const p = failure(source().fetchChallenge(ca(w.url), { signal: controller.signal }));
    while (w.seen.length === 0) await new Promise((r) => setImmediate(r));
    const reason = new DOMException("signal timed out", "TimeoutError");
    controller.abort(reason);
    const e = await p;
    expect(e).toBeInstanceOf(SmallstepTimeoutError);
    expect(e).toMatchObject({ code: "ERR_PROXY_SMALLSTEP_TIMEOUT", retryable: true, message: "Smallstep webhook did not answer before the caller's deadline", cause: reason });
    // Already past when the fetch starts: the same error, nothing sent.
    const late = await failure(source().fetchChallenge(ca(w.url), { signal: AbortSignal.abort(reason) }));
    expect(late).toMatchObject({ code: "ERR_PROXY_SMALLSTEP_TIMEOUT", retryable: true, cause: reason });
    expect(w.seen).toHaveLength(1);
  });

  it("connection refused → ERR_PROXY_SMALLSTEP_TRANSPORT", async () => {
    const w = await webhook(() => undefined);
    server?.closeAllConnections();
    await new Promise<void>((r) => server?.close(() => r()));
    server = undefined;
    const e = await failure(source().fetchChallenge(ca(w.url)));
    expect(e).toMatchObject({ code: "ERR_PROXY_SMALLSTEP_TRANSPORT", reason: "connection refused", retryable: true, message: "Smallstep webhook: connection refused" });
  });

  it.each([
    ["not a Smallstep CA", { name: "x", type: "ndes", url: "https://ca.example/scep" } as CaConfig],
    ["no smallstep settings", { name: "x", type: "smallstep", url: "https://ca.example/scep" } as CaConfig],
    ["webhook URL with credentials", ca("https://u:p@smallstep.example/webhook")],
    ["webhook URL not a URL", ca("::")],
  ])("%s → ERR_PROXY_CHALLENGE_SOURCE_CONFIG", async (_name, config) => {
    const e = await failure(source().fetchChallenge(config));
    expect(e.code).toBe("ERR_PROXY_CHALLENGE_SOURCE_CONFIG");
  });
});

describe("Smallstep source options", () => {
  it.each([
    ["timeoutMs", 0],
    ["timeoutMs", Number.NaN],
    ["maxBodyBytes", -1],
    ["maxBodyBytes", 1.5],
  ] as const)("%s = %s → ERR_PROXY_CONFIG from the constructor, not a fetch that fails at once", (name, value) => {
    expect(() => new SmallstepChallengeSource({ [name]: value })).toThrow(expect.objectContaining({ name: "ProxyConfigError", code: "ERR_PROXY_CONFIG", message: expect.stringMatching(new RegExp(`^${name} must be an integer number of (milliseconds|bytes) from 1 to \\d+ \\(got ${value}\\)$`)) }));
  });
});
