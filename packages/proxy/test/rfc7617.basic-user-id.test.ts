/**
 * RFC 7617 §2: HTTP Basic credentials are `user-id ":" password`; "a user-id containing a colon character is
 * invalid" (the receiver splits at the first colon) and "the user-id and password MUST NOT contain any control
 * characters". Three places turn configured credentials into a Basic header: a CA URL's user info (HttpUpstream,
 * percent-decoded, so `%3A` and `%0D%0A` arrive as a colon and CR LF), the Smallstep webhook's `username`/`password`,
 * and the NDES admin page's Basic fallback (`[DOMAIN\]username`). Before, a user name `mdm%3Aadmin` with password `pw`
 * went out as `mdm:admin:pw`: the CA read user `mdm` with password `admin:pw`, every request failed as the CA's 401,
 * and nothing pointed at the configuration. Now MemoryCaRegistry refuses them with `ProxyConfigError`
 * (`ERR_PROXY_CONFIG`), one line naming the field, never its value; for a CA from a registry of one's own,
 * HttpUpstream fails the call before sending (UpstreamError `other`, `beforeRequest`), and the challenge sources
 * with `ERR_PROXY_CHALLENGE_SOURCE_CONFIG`, nothing sent. A colon in a password stays legal and is sent as is.
 */
import { describe, expect, it } from "vitest";
import { HttpUpstream, MemoryCaRegistry, NdesChallengeSource, ProxyConfigError, SmallstepChallengeSource, UpstreamError, type CaConfig } from "../src/index.js";
import { loopbackUpstream } from "./support/upstream-server.js";

const up = loopbackUpstream();

const COLON = "the user name in its user info holds a colon, which HTTP Basic authentication cannot carry in a user name (RFC 7617 section 2: the user-id ends at the first colon)";
const control = (field: "user name" | "password"): string => `the ${field} in its user info holds a control character, which HTTP Basic authentication cannot carry (RFC 7617 section 2)`;

/** [what, user info, message after `CA #1: url: `, the secret the message must not hold]. */
const URL_USER_INFO: [string, string, string, string][] = [
  ["a user name holding %3A", "mdm%3Aadmin:s3cret", COLON, "admin"],
  ["a user name that is only %3A", "%3A:s3cret", COLON, "s3cret"],
  ["a password holding CR LF", "mdm:s3cret%0D%0AX-Injected:%201", control("password"), "s3cret"],
  ["a password holding NUL", "mdm:s3cret%00", control("password"), "s3cret"],
  ["a password holding a tab", "mdm:s3%09cret", control("password"), "cret"],
  ["a password holding DEL", "mdm:s3cret%7F", control("password"), "s3cret"],
  ["a user name holding LF", "md%0Am:s3cret", control("user name"), "s3cret"],
];

describe("a CA URL's user info: MemoryCaRegistry refuses what Basic cannot carry", () => {
  it.each(URL_USER_INFO)("%s → ProxyConfigError (ERR_PROXY_CONFIG), one line naming the field, never a value", (_what, userInfo, message, secret) => {
    let error: unknown;
    try {
      new MemoryCaRegistry([{ name: "corp", type: "ndes", url: `https://${userInfo}@ca.example/scep` }]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProxyConfigError);
    expect(error).toMatchObject({ code: "ERR_PROXY_CONFIG", message: `CA #1: url: ${message}` });
    expect((error as Error).message).not.toContain(secret);
    expect((error as Error).message).not.toContain("\n");
  });

  it("a password holding a colon (%3A or as is) is legal: accepted, and sent after the first colon, where the CA reads it", async () => {
    const upstream = new HttpUpstream({ timeoutMs: 5_000 });
    for (const userInfo of ["mdm:p%3Aw%3A", "mdm:p:w:"]) {
      const [ca] = new MemoryCaRegistry([{ name: "corp", type: "ndes", url: up.url.replace("http://", `http://${userInfo}@`) }]).list();
      up.seen.length = 0;
      await upstream.getCACaps(ca!);
      expect(up.seen.map((s) => s.headers.authorization)).toEqual([`Basic ${Buffer.from("mdm:p:w:").toString("base64")}`]);
    }
  });

  it.each(URL_USER_INFO)("%s, from a registry that did not check it: HttpUpstream fails each call before sending (UpstreamError other, beforeRequest)", async (_what, userInfo, message, secret) => {
    const upstream = new HttpUpstream({ timeoutMs: 5_000 });
    const ca: CaConfig = { name: "corp", type: "ndes", url: up.url.replace("http://", `http://${userInfo}@`) };
    up.seen.length = 0;
    for (const call of [() => upstream.getCACaps(ca), () => upstream.getCACert(ca, undefined), () => upstream.pkiOperation(ca, new Uint8Array([0x30, 0x00]))]) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(UpstreamError);
      expect(error).toMatchObject({ reason: "other", beforeRequest: true, message: `the CA's url: ${message}` });
      expect((error as UpstreamError).cause).toBeInstanceOf(ProxyConfigError);
      expect((error as Error).message).not.toContain(secret);
    }
    expect(up.seen).toEqual([]);
  });
});

describe("Smallstep username and password", () => {
  const step = (username: string, password: string): CaConfig => ({
    name: "step",
    type: "smallstep",
    url: "https://agents.example.scep.smallstep.com/p/agents/mdm",
    smallstep: { webhookUrl: "https://example.scep.smallstep.com/webhooks/challenge", username, password },
  });
  const ROWS: [string, string, string, string, string][] = [
    ["a user name holding a colon", "mdm:admin", "s3cret", "smallstep.username holds a colon, which HTTP Basic authentication cannot carry in a user name (RFC 7617 section 2: the user-id ends at the first colon)", "admin"],
    ["a user name holding CR LF", "mdm\r\nX", "s3cret", "smallstep.username holds a control character, which HTTP Basic authentication cannot carry (RFC 7617 section 2)", "s3cret"],
    ["a password holding NUL", "mdm", "s3cret\u0000", "smallstep.password holds a control character, which HTTP Basic authentication cannot carry (RFC 7617 section 2)", "s3cret"],
    ["a password holding LF", "mdm", "s3\ncret", "smallstep.password holds a control character, which HTTP Basic authentication cannot carry (RFC 7617 section 2)", "cret"],
  ];

  it.each(ROWS)("%s → MemoryCaRegistry: ProxyConfigError (ERR_PROXY_CONFIG), never a value", (_what, username, password, message, secret) => {
    let error: unknown;
    try {
      new MemoryCaRegistry([step(username, password)]);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ name: "ProxyConfigError", code: "ERR_PROXY_CONFIG", message: `CA #1: ${message}` });
    expect((error as Error).message).not.toContain(secret);
  });

  it.each(ROWS)("%s, from a registry that did not check it → SmallstepChallengeSource: ERR_PROXY_CHALLENGE_SOURCE_CONFIG, nothing sent", async (_what, username, password, message, secret) => {
    let sent = 0;
    const source = new SmallstepChallengeSource({
      fetch: async () => {
        sent++;
        return new Response("challenge");
      },
    });
    const error = await source.fetchChallenge(step(username, password)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "ERR_PROXY_CHALLENGE_SOURCE_CONFIG", retryable: false, message: message.replace(/^smallstep\.(\w+)/, (_m, f: string) => `Smallstep ${f}`) });
    expect((error as Error).message).not.toContain(secret);
    expect(sent).toBe(0);
  });

  it("a password holding a colon is legal: accepted by the registry, sent as is after the user name's colon", async () => {
    let authorization: string | null = null;
    const [ca] = new MemoryCaRegistry([step("mdm", "p:w")]).list();
    const source = new SmallstepChallengeSource({
      fetch: async (input, init) => {
        authorization = new Request(input, init).headers.get("authorization");
        return new Response("challenge");
      },
    });
    expect((await source.fetchChallenge(ca!)).challenge).toBe("challenge");
    expect(authorization).toBe(`Basic ${Buffer.from("mdm:p:w").toString("base64")}`);
  });
});

describe("NDES username and domain (the Basic fallback's user name)", () => {
  const ndes = (username: string, domain?: string): CaConfig => ({
    name: "ndes",
    type: "ndes",
    url: "https://ndes.corp.example/certsrv/mscep/mscep.dll",
    // Port 1 on loopback: a fetch that got as far as connecting fails as a transport error, not as configuration.
    ndes: { adminUrl: "http://127.0.0.1:1/certsrv/mscep_admin/", username, password: "s3cret", ...(domain === undefined ? {} : { domain }) },
  });
  const ROWS: [string, CaConfig, string][] = [
    ["a user name holding a colon", ndes("svc:mdm"), "ndes.username holds a colon, which HTTP Basic authentication cannot carry in a user name (RFC 7617 section 2: the user-id ends at the first colon)"],
    ["a user name holding CR", ndes("svc\rmdm"), "ndes.username holds a control character, which HTTP Basic authentication cannot carry (RFC 7617 section 2)"],
    ["a domain holding a colon", ndes("svc", "CORP:X"), "ndes.domain holds a colon, which HTTP Basic authentication cannot carry in a user name (RFC 7617 section 2: the user-id ends at the first colon)"],
  ];

  it.each(ROWS)("%s → MemoryCaRegistry: ProxyConfigError (ERR_PROXY_CONFIG)", (_what, ca, message) => {
    expect(() => new MemoryCaRegistry([ca])).toThrow(expect.objectContaining({ name: "ProxyConfigError", code: "ERR_PROXY_CONFIG", message: `CA #1: ${message}` }));
  });

  it.each(ROWS)("%s, from a registry that did not check it → NdesChallengeSource: ERR_PROXY_CHALLENGE_SOURCE_CONFIG before connecting", async (_what, ca, message) => {
    const error = await new NdesChallengeSource({ timeoutMs: 5_000 }).fetchChallenge(ca).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "ERR_PROXY_CHALLENGE_SOURCE_CONFIG", message: message.replace(/^ndes\.(\w+)/, (_m, f: string) => `NDES ${f}`) });
    expect((error as Error).message).not.toContain("s3cret");
  });

  it("DOMAIN\\user and a password holding a colon or any other character are accepted (NTLM carries them)", () => {
    expect(() => new MemoryCaRegistry([{ ...ndes("CORP\\svc-mdm"), ndes: { adminUrl: "https://ndes.corp.example/certsrv/mscep_admin/", username: "CORP\\svc-mdm", password: "p:w\u0001é" } }])).not.toThrow();
  });
});
