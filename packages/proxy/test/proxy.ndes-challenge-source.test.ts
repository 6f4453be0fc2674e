/**
 * NdesChallengeSource against a loopback IIS stand-in that really checks
 * NTLMv2 (support/ndes-server.ts), serving each admin-page variant of
 * PROXY.md's test list: UTF-16LE page, UTF-8 page, cache full, no
 * permission, empty, 404, Basic-only front end, a front end that drops the
 * first unauthenticated request, wrong password, timeout.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { CaConfig } from "../src/cas/ca-config.js";
import { NdesChallengeSource } from "../src/challenge-sources/ndes-challenge-source.js";
import { NdesTimeoutError } from "../src/challenge-sources/errors.js";
import { ntlmHttpGet } from "../src/ntlm/node-http-transport.js";
import { CACHE_FULL_PAGE, LOGIN_PAGE, NO_PERMISSION_PAGE, PAGE_CHALLENGE, challengePage, encodePage } from "./support/ndes-pages.js";
import { startNdesServer, type NdesServer, type NdesServerOptions, type PageReply } from "./support/ndes-server.js";
import { selfSignedLoopbackCert } from "./support/tls-cert.js";

const PASSWORD = "Corr3ct horse: battery staple!";
const NOW = new Date("2026-11-29T23:00:00.000Z");
const servers: NdesServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(page: () => PageReply, o: Partial<NdesServerOptions> = {}): Promise<NdesServer> {
  const s = await startNdesServer({ username: "svc-ndes", domain: "CORP", password: PASSWORD, auth: "ntlm", page, ...o });
  servers.push(s);
  return s;
}

function ca(adminUrl: string, ndes: Partial<NonNullable<CaConfig["ndes"]>> = {}): CaConfig {
  return {
    name: "corp-ndes",
    type: "ndes",
    url: "http://127.0.0.1:1/certsrv/mscep/mscep.dll",
    ndes: { adminUrl, username: "CORP\\svc-ndes", password: PASSWORD, ...ndes },
  };
}

const utf16Page = (): PageReply => ({ status: 200, contentType: "text/html", body: encodePage(challengePage(), "utf-16le") });
const utf8Page = (): PageReply => ({ status: 200, contentType: "text/html; charset=utf-8", body: challengePage() });

/** The rejection of `p`, after checking that no message, property or cause along its chain holds the password or a challenge. */
async function failure(p: Promise<unknown>): Promise<Error & { code?: string; retryable?: boolean; status?: number; reason?: string }> {
  try {
    await p;
  } catch (e) {
    for (let c: unknown = e; c instanceof Error; c = c.cause) {
      const text = `${c.message} ${c.stack ?? ""} ${JSON.stringify(c)}`;
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(PAGE_CHALLENGE);
    }
    return e as Error;
  }
  throw new Error("expected a rejection");
}

describe("NDES admin page over NTLMv2 (MS-NLMP §3.1.5)", () => {
  it("UTF-16LE page from IIS: proactive NTLM, one connection, the server verified the NTProofStr", async () => {
    const s = await server(utf16Page);
    const source = new NdesChallengeSource({ now: () => NOW });
    await expect(source.fetchChallenge(ca(s.url))).resolves.toEqual({ challenge: PAGE_CHALLENGE, retrievedAt: NOW.getTime(), printableString: true });
    expect(s.log).toEqual([
      { connection: 1, auth: "NEGOTIATE", outcome: "challenge" },
      { connection: 1, auth: "AUTHENTICATE", outcome: "ok" },
    ]);
  });

  it("UTF-8 page (Okta): the challenge is read the same", async () => {
    const s = await server(utf8Page);
    await expect(new NdesChallengeSource({ now: () => NOW }).fetchChallenge(ca(s.url))).resolves.toEqual({ challenge: PAGE_CHALLENGE, retrievedAt: NOW.getTime(), printableString: true });
  });

  it("reactive NTLM: an unauthenticated GET, 401 WWW-Authenticate: NTLM, then the handshake on the same connection", async () => {
    const s = await server(utf16Page);
    const got = await new NdesChallengeSource({ mode: "reactive" }).fetchChallenge(ca(s.url));
    expect(got.challenge).toBe(PAGE_CHALLENGE);
    expect(s.log).toEqual([
      { connection: 1, auth: "none", outcome: "401" },
      { connection: 1, auth: "NEGOTIATE", outcome: "challenge" },
      { connection: 1, auth: "AUTHENTICATE", outcome: "ok" },
    ]);
  });

  it("a front end that drops the first unauthenticated request: proactive NTLM never sends one", async () => {
    const s = await server(utf16Page, { dropUnauthenticated: true });
    await expect(new NdesChallengeSource().fetchChallenge(ca(s.url))).resolves.toMatchObject({ challenge: PAGE_CHALLENGE });
    expect(s.log.map((r) => r.auth)).toEqual(["NEGOTIATE", "AUTHENTICATE"]);
  });

  it("a front end that drops the first unauthenticated request: reactive mode retries once, proactively", async () => {
    const s = await server(utf16Page, { dropUnauthenticated: true });
    await expect(new NdesChallengeSource({ mode: "reactive" }).fetchChallenge(ca(s.url))).resolves.toMatchObject({ challenge: PAGE_CHALLENGE });
    expect(s.log).toEqual([
      { connection: 1, auth: "none", outcome: "dropped" },
      { connection: 2, auth: "NEGOTIATE", outcome: "challenge" },
      { connection: 2, auth: "AUTHENTICATE", outcome: "ok" },
    ]);
  });

  it("a server that puts MsvAvTimestamp in its CHALLENGE gets its timestamp back and a zero LMv2 response", async () => {
    const s = await server(utf16Page, { serverTimestamp: true });
    await expect(new NdesChallengeSource().fetchChallenge(ca(s.url))).resolves.toMatchObject({ challenge: PAGE_CHALLENGE });
  });

  it("WWW-Authenticate: Negotiate only (IIS with Kerberos first): raw NTLMSSP tokens in Negotiate", async () => {
    const s = await server(utf16Page, { auth: "negotiate" });
    await expect(new NdesChallengeSource({ mode: "reactive" }).fetchChallenge(ca(s.url))).resolves.toMatchObject({ challenge: PAGE_CHALLENGE });
    expect(s.log.map((r) => r.auth)).toEqual(["none", "NEGOTIATE", "AUTHENTICATE"]);
  });

  it("the domain may come from ndes.domain instead of DOMAIN\\user", async () => {
    const s = await server(utf16Page);
    const got = await new NdesChallengeSource().fetchChallenge(ca(s.url, { username: "svc-ndes", domain: "CORP" }));
    expect(got.challenge).toBe(PAGE_CHALLENGE);
  });

  it("concurrent fetches: each handshake on its own connection, each gets its own challenge", async () => {
    let n = 0;
    const s = await server(() => ({ status: 200, contentType: "text/html", body: encodePage(challengePage(`C0FFEE${String(++n).padStart(10, "0")}`), "utf-16le") }));
    const source = new NdesChallengeSource();
    const got = await Promise.all(Array.from({ length: 6 }, () => source.fetchChallenge(ca(s.url))));
    expect(new Set(got.map((g) => g.challenge)).size).toBe(6);
    const byConnection = new Map<number, string[]>();
    for (const r of s.log) byConnection.set(r.connection, [...(byConnection.get(r.connection) ?? []), `${r.auth}:${r.outcome}`]);
    expect([...byConnection.values()]).toEqual(Array.from({ length: 6 }, () => ["NEGOTIATE:challenge", "AUTHENTICATE:ok"]));
  });

  it("a password and user name outside ASCII (UTF-16LE in NTOWFv2, surrogate pairs included)", async () => {
    const s = await startNdesServer({ username: "sérvice-ndès", domain: "CORP", password: "Pässwörd €𝄞", auth: "ntlm", page: utf16Page });
    servers.push(s);
    const got = await new NdesChallengeSource().fetchChallenge(ca(s.url, { username: "CORP\\sérvice-ndès", password: "Pässwörd €𝄞" }));
    expect(got.challenge).toBe(PAGE_CHALLENGE);
  });

  it("wrong password → ERR_PROXY_NDES_AUTH after the handshake; the message holds no secret", async () => {
    const s = await server(utf16Page);
    const e = await failure(new NdesChallengeSource().fetchChallenge(ca(s.url, { password: "wrong password" })));
    expect(e).toMatchObject({ code: "ERR_PROXY_NDES_AUTH", retryable: false, message: "NDES admin page refused the credentials (HTTP 401 after the NTLM handshake)" });
    expect(s.log.map((r) => `${r.connection}:${r.auth}:${r.outcome}`)).toEqual(["1:NEGOTIATE:challenge", "1:AUTHENTICATE:401"]);
  });

  it("wrong user → ERR_PROXY_NDES_AUTH", async () => {
    const s = await server(utf16Page);
    const e = await failure(new NdesChallengeSource().fetchChallenge(ca(s.url, { username: "CORP\\someone-else" })));
    expect(e.code).toBe("ERR_PROXY_NDES_AUTH");
  });

  it("a front end that closes the connection after the CHALLENGE: ERR_PROXY_NDES_AUTH naming the lost connection", async () => {
    const s = await server(utf16Page, { closeAfterChallenge: true });
    const e = await failure(new NdesChallengeSource().fetchChallenge(ca(s.url)));
    expect(e.code).toBe("ERR_PROXY_NDES_AUTH");
    expect(e.message).toBe("NDES admin page refused the NTLM handshake: the connection was not kept open between its messages (IIS binds NTLM to the connection)");
    expect(s.log.map((r) => r.connection)).toEqual([1, 2]);
  });
});

describe("NDES admin page: Basic-only front end", () => {
  it("Basic over https only by default: plain http → ERR_PROXY_NDES_AUTH_SCHEME, password not sent", async () => {
    const s = await server(utf8Page, { auth: "basic" });
    const e = await failure(new NdesChallengeSource().fetchChallenge(ca(s.url)));
    expect(e.code).toBe("ERR_PROXY_NDES_AUTH_SCHEME");
    expect(s.log.map((r) => r.auth)).toEqual(["NEGOTIATE"]);
  });

  it("allowBasicOverHttp: the NEGOTIATE is refused with 401 Basic, then Basic with DOMAIN\\user", async () => {
    const s = await server(utf8Page, { auth: "basic" });
    const got = await new NdesChallengeSource({ allowBasicOverHttp: true, now: () => NOW }).fetchChallenge(ca(s.url));
    expect(got).toEqual({ challenge: PAGE_CHALLENGE, retrievedAt: NOW.getTime(), printableString: true });
    expect(s.log.map((r) => `${r.auth}:${r.outcome}`)).toEqual(["NEGOTIATE:401", "Basic:ok"]);
  });

  it("Basic with a wrong password → ERR_PROXY_NDES_AUTH", async () => {
    const s = await server(utf8Page, { auth: "basic" });
    const e = await failure(new NdesChallengeSource({ allowBasicOverHttp: true }).fetchChallenge(ca(s.url, { password: "nope" })));
    expect(e).toMatchObject({ code: "ERR_PROXY_NDES_AUTH", message: "NDES admin page refused the credentials (HTTP 401 to Basic authentication)" });
  });

  it("allowBasic: false → ERR_PROXY_NDES_AUTH_SCHEME", async () => {
    const s = await server(utf8Page, { auth: "basic" });
    const e = await failure(new NdesChallengeSource({ allowBasic: false, allowBasicOverHttp: true }).fetchChallenge(ca(s.url)));
    expect(e.code).toBe("ERR_PROXY_NDES_AUTH_SCHEME");
  });

  it("a front end offering NTLM and Basic gets NTLM", async () => {
    const s = await server(utf16Page, { auth: "ntlm+basic" });
    await new NdesChallengeSource({ allowBasicOverHttp: true, mode: "reactive" }).fetchChallenge(ca(s.url));
    expect(s.log.map((r) => r.auth)).toEqual(["none", "NEGOTIATE", "AUTHENTICATE"]);
  });
});

describe("NDES admin page over HTTPS", () => {
  const tls = selfSignedLoopbackCert();

  it("NTLM over TLS, the server's certificate trusted through tls.ca", async () => {
    const s = await server(utf16Page, { tls });
    const got = await new NdesChallengeSource({ tls: { ca: tls.cert } }).fetchChallenge(ca(s.url));
    expect(got.challenge).toBe(PAGE_CHALLENGE);
    expect(s.log.map((r) => `${r.connection}:${r.auth}`)).toEqual(["1:NEGOTIATE", "1:AUTHENTICATE"]);
  });

  it("a Basic-only front end over https gets Basic by default", async () => {
    const s = await server(utf8Page, { tls, auth: "basic" });
    const got = await new NdesChallengeSource({ tls: { ca: tls.cert } }).fetchChallenge(ca(s.url));
    expect(got.challenge).toBe(PAGE_CHALLENGE);
    expect(s.log.map((r) => `${r.auth}:${r.outcome}`)).toEqual(["NEGOTIATE:401", "Basic:ok"]);
  });

  it("an untrusted certificate → ERR_PROXY_NDES_TRANSPORT, reason TLS, nothing sent", async () => {
    const s = await server(utf8Page, { tls });
    const e = await failure(new NdesChallengeSource().fetchChallenge(ca(s.url)));
    expect(e).toMatchObject({ code: "ERR_PROXY_NDES_TRANSPORT", reason: "TLS", message: "NDES admin page: TLS handshake or certificate check failed" });
    expect(s.log).toEqual([]);
  });
});

describe("NDES admin page: the pages and statuses that are not a challenge", () => {
  it.each([
    ["cache full (UTF-16LE)", { status: 200, contentType: "text/html", body: encodePage(CACHE_FULL_PAGE, "utf-16le") }, "ERR_PROXY_NDES_CACHE_FULL", true],
    ["cache full (UTF-8)", { status: 200, contentType: "text/html; charset=utf-8", body: CACHE_FULL_PAGE }, "ERR_PROXY_NDES_CACHE_FULL", true],
    ["no permission", { status: 200, contentType: "text/html", body: encodePage(NO_PERMISSION_PAGE, "utf-16le") }, "ERR_PROXY_NDES_PERMISSION", false],
    ["empty body", { status: 200, contentType: "text/html" }, "ERR_PROXY_NDES_EMPTY", false],
    ["unknown page", { status: 200, contentType: "text/html", body: LOGIN_PAGE }, "ERR_PROXY_NDES_UNKNOWN_PAGE", false],
    ["HTTP 404", { status: 404, contentType: "text/html", body: "<h1>404 - File or directory not found.</h1>" }, "ERR_PROXY_NDES_HTTP_STATUS", false],
    ["HTTP 503", { status: 503, body: "Service Unavailable" }, "ERR_PROXY_NDES_HTTP_STATUS", true],
  ] as const)("%s → %s", async (_name, reply, code, retryable) => {
    const s = await server(() => ({ ...reply }));
    const e = await failure(new NdesChallengeSource().fetchChallenge(ca(s.url)));
    expect(e).toMatchObject({ code, retryable });
    expect(e.message).not.toContain(PASSWORD);
    if (code === "ERR_PROXY_NDES_HTTP_STATUS") expect(e.status).toBe(reply.status);
  });

  it("HTTP 404 message names the status only", async () => {
    const s = await server(() => ({ status: 404, body: "not found" }));
    const e = await failure(new NdesChallengeSource().fetchChallenge(ca(s.url)));
    expect(e.message).toBe("NDES admin page answered HTTP 404");
  });

  it("a page over maxBodyBytes → ERR_PROXY_NDES_UNKNOWN_PAGE, read no further", async () => {
    const s = await server(() => ({ status: 200, contentType: "text/html", body: "x".repeat(64 * 1024) }));
    const e = await failure(new NdesChallengeSource({ maxBodyBytes: 4096 }).fetchChallenge(ca(s.url)));
    expect(e).toMatchObject({ code: "ERR_PROXY_NDES_UNKNOWN_PAGE", message: "NDES admin page is larger than 4096 bytes" });
  });
});

describe("NDES admin page: time and cancellation", () => {
  it("a server that never answers → ERR_PROXY_NDES_TIMEOUT (retryable)", async () => {
    const s = await server(() => "hang");
    // The 300 ms deadline runs on a fake clock, moved once the page request hangs: the NTLM exchange before it (real
    // loopback round trips) cannot run into it on a loaded machine.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const fetched = failure(new NdesChallengeSource({ timeoutMs: 300 }).fetchChallenge(ca(s.url)));
      while (!s.log.some((r) => r.outcome === "hang")) await new Promise((r) => setImmediate(r));
      await vi.advanceTimersByTimeAsync(300);
      const e = await fetched;
      expect(e).toMatchObject({ code: "ERR_PROXY_NDES_TIMEOUT", retryable: true, message: "NDES admin page did not answer within 300 ms" });
    } finally {
      vi.useRealTimers();
    }
    expect(s.log.map((r) => r.outcome)).toEqual(["challenge", "hang"]);
  });

  it("the caller's AbortSignal rejects with its reason", async () => {
    const s = await server(() => "hang");
    const controller = new AbortController();
    const p = new NdesChallengeSource({ timeoutMs: 60_000 }).fetchChallenge(ca(s.url), { signal: controller.signal });
    while (!s.log.some((r) => r.outcome === "hang")) await new Promise((r) => setImmediate(r));
    const reason = new Error("profile render cancelled");
    controller.abort(reason);
    await expect(p).rejects.toBe(reason);
  });

  it("the caller's deadline (its signal aborted with a TimeoutError, as AbortSignal.timeout does) → ERR_PROXY_NDES_TIMEOUT (retryable), before the source's own", async () => {
    const s = await server(() => "hang");
    const controller = new AbortController();
    const p = failure(new NdesChallengeSource({ timeoutMs: 60_000 }).fetchChallenge(ca(s.url), { signal: controller.signal }));
    while (!s.log.some((r) => r.outcome === "hang")) await new Promise((r) => setImmediate(r));
    const reason = new DOMException("signal timed out", "TimeoutError");
    controller.abort(reason);
    const e = await p;
    expect(e).toBeInstanceOf(NdesTimeoutError);
    expect(e).toMatchObject({ code: "ERR_PROXY_NDES_TIMEOUT", retryable: true, message: "NDES admin page did not answer before the caller's deadline", cause: reason });
    // Already past when the fetch starts: the same error, nothing sent.
    const late = await failure(new NdesChallengeSource().fetchChallenge(ca(s.url), { signal: AbortSignal.abort(reason) }));
    expect(late).toMatchObject({ code: "ERR_PROXY_NDES_TIMEOUT", retryable: true, cause: reason });
    expect(s.log.map((r) => r.outcome)).toEqual(["challenge", "hang"]);
  });

  it("an already-aborted signal sends nothing", async () => {
    const s = await server(utf16Page);
    const reason = new Error("stop");
    await expect(new NdesChallengeSource().fetchChallenge(ca(s.url), { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(s.log).toEqual([]);
  });

  it("connection refused → ERR_PROXY_NDES_TRANSPORT with reason", async () => {
    const s = await server(utf16Page);
    const url = s.url;
    await s.close();
    servers.length = 0;
    const e = await failure(new NdesChallengeSource().fetchChallenge(ca(url)));
    expect(e).toMatchObject({ code: "ERR_PROXY_NDES_TRANSPORT", reason: "connection refused", retryable: true, message: "NDES admin page: connection refused" });
  });
});

describe("NDES challenge source: configuration", () => {
  it.each([
    ["not an NDES CA", { name: "x", type: "custom", url: "https://ca.example/scep" } as CaConfig],
    ["no ndes settings", { name: "x", type: "ndes", url: "https://ca.example/scep" } as CaConfig],
    ["admin URL with credentials", ca("http://user:pw@127.0.0.1:1/certsrv/mscep_admin/")],
    ["admin URL not http(s)", ca("ftp://127.0.0.1/certsrv/mscep_admin/")],
    ["admin URL not a URL", ca("not a url")],
  ])("%s → ERR_PROXY_CHALLENGE_SOURCE_CONFIG", async (_name, config) => {
    const e = await failure(new NdesChallengeSource().fetchChallenge(config));
    expect(e.code).toBe("ERR_PROXY_CHALLENGE_SOURCE_CONFIG");
    expect(e.message).not.toContain("pw@");
  });
});

describe("ntlmHttpGet", () => {
  it("returns a page that needs no authentication as is, scheme none", async () => {
    const s = await server(utf8Page, { auth: "none" });
    const res = await ntlmHttpGet(s.url, { credentials: { username: "u", password: "p" }, mode: "reactive" });
    expect(res).toMatchObject({ status: 200, scheme: "none", contentType: "text/html; charset=utf-8" });
    expect(new TextDecoder().decode(res.body)).toBe(challengePage());
  });
});

describe("NDES source options", () => {
  it.each([
    ["timeoutMs", 0],
    ["timeoutMs", Number.POSITIVE_INFINITY],
    ["maxBodyBytes", -1],
    ["maxBodyBytes", 0.5],
  ] as const)("%s = %s → ERR_PROXY_CONFIG from the constructor and from ntlmHttpGet", async (name, value) => {
    const config = expect.objectContaining({ name: "ProxyConfigError", code: "ERR_PROXY_CONFIG", message: expect.stringMatching(new RegExp(`^${name} must be an integer number of (milliseconds|bytes) from 1 to \\d+ \\(got ${value}\\)$`)) });
    expect(() => new NdesChallengeSource({ [name]: value })).toThrow(config);
    await expect(ntlmHttpGet("http://127.0.0.1:1/certsrv/mscep_admin/", { credentials: { username: "u", password: "p" }, [name]: value })).rejects.toEqual(config);
  });
});
