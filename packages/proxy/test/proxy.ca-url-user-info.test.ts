/**
 * A CA URL may carry the upstream's credentials as user info (`https://user:pass@ca.example/scep`, CaConfig.url);
 * HttpUpstream percent-decodes them (RFC 3986 §3.2.1, UTF-8) and sends them as HTTP Basic authorization (RFC 7617).
 * A URL parser keeps a `%` that starts no escape as it is, so user info that cannot be decoded (a truncated escape
 * `%E0%A4%A`, a lone `%`, escapes whose bytes are not UTF-8) parsed as a URL and was registered; the decode then threw
 * a bare `URIError` inside the upstream on every forwarded request (the device got 502, a `custom` CA's challenge went
 * back, the logger saw "upstream call threw a non-UpstreamError"). It is a configuration mistake, now found where the
 * CA is configured: MemoryCaRegistry refuses it with `ProxyConfigError` (`ERR_PROXY_CONFIG`), one line that says
 * whether the user name or the password is at fault and never holds either. A CaConfig from a registry of one's own
 * that lets it through fails HttpUpstream's call with a typed `UpstreamError` (reason `other`, `beforeRequest`, the
 * `ProxyConfigError` as cause) before anything is sent.
 */
import { MemoryChallengeStore } from "@scep/core";
import { describe, expect, it } from "vitest";
import {
  HttpUpstream,
  MemoryCaRegistry,
  MemoryProfileStore,
  ProxyConfigError,
  UpstreamError,
  buildProxyUrl,
  createScepProxy,
  type CaConfig,
  type CaRegistry,
  type ProxyEvent,
} from "../src/index.js";
import { PKI_REPLY, loopbackUpstream } from "./support/upstream-server.js";

const MSG = Buffer.from("MIIB+/+/abcd", "base64");
const up = loopbackUpstream();

/** [what, the user info, which field the message names, the secret that must not show]. */
const UNDECODABLE: [string, string, "user name" | "password", string][] = [
  ["a truncated escape in the password", "mdm:%E0%A4%A", "password", "%E0%A4%A"],
  ["a lone % in the password", "mdm:Sup3r%", "password", "Sup3r%"],
  ["escapes that are not UTF-8 in the password", "mdm:s3cr%FF%FEt", "password", "s3cr%FF%FEt"],
  ["an encoded UTF-16 surrogate in the password", "mdm:pw%ED%A0%80", "password", "pw%ED%A0%80"],
  ["an overlong UTF-8 form in the user name", "%C0%AFsvc:pw", "user name", "%C0%AFsvc"],
];

const message = (where: string, field: string): string =>
  `${where}: the ${field} in its user info is not percent-encoded UTF-8 (a % must start an escape of two hex digits, and the escapes must decode to UTF-8)`;

describe("MemoryCaRegistry: user info that does not percent-decode is refused when the CA is configured", () => {
  it.each(UNDECODABLE)("%s → ProxyConfigError (ERR_PROXY_CONFIG), one line naming the field, never its value", (_what, userInfo, field, secret) => {
    let error: unknown;
    try {
      new MemoryCaRegistry([
        { name: "ndes", type: "ndes", url: "https://ndes.example/certsrv/mscep/mscep.dll" },
        { name: "corp", type: "custom", url: `https://${userInfo}@ca.example/scep` },
      ]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProxyConfigError);
    expect(error).toMatchObject({ code: "ERR_PROXY_CONFIG", message: message("CA #2: url", field) });
    expect((error as Error).message).not.toContain(secret);
    expect((error as Error).message).not.toContain("\n");
  });

  it("percent-encoded UTF-8 user info is accepted, and reaches the upstream decoded, as Basic authorization, never in the URL", async () => {
    const url = up.url.replace("http://", "http://mdm%20svc:p%40ss%C3%A9%25@");
    const profiles = new MemoryProfileStore();
    await profiles.put({ hostId: "h1", profileId: "p1", caName: "ndes", status: "pending", challengeRetrievedAt: Date.now(), updatedAt: 0 });
    const proxy = createScepProxy({ profiles, cas: new MemoryCaRegistry([{ name: "ndes", type: "ndes", url }]) });
    up.seen.length = 0;
    const res = await proxy.fetch(new Request("http://proxy.test/scep/h1,p1,ndes?operation=PKIOperation", { method: "POST", body: MSG }));
    expect([res.status, Buffer.from(await res.arrayBuffer())]).toEqual([200, PKI_REPLY]);
    const basic = `Basic ${Buffer.from("mdm svc:p@ssé%", "utf8").toString("base64")}`;
    expect(up.seen.map((s) => [s.method, s.rawUrl, s.headers.authorization])).toEqual([
      ["GET", "/scep?operation=GetCACaps", basic],
      ["POST", "/scep?operation=PKIOperation", basic],
    ]);
  });
});

describe("HttpUpstream given such a CA by a registry that did not check it", () => {
  it.each(UNDECODABLE)("%s: every call rejects with UpstreamError reason other, beforeRequest, a ProxyConfigError as cause; nothing is sent", async (_what, userInfo, field, secret) => {
    const upstream = new HttpUpstream({ timeoutMs: 5_000 });
    const ca: CaConfig = { name: "corp", type: "custom", url: up.url.replace("http://", `http://${userInfo}@`) };
    up.seen.length = 0;
    for (const call of [() => upstream.getCACaps(ca), () => upstream.getCACert(ca, undefined), () => upstream.pkiOperation(ca, MSG)]) {
      const error: unknown = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(UpstreamError);
      expect(error).toMatchObject({ code: "ERR_PROXY_UPSTREAM", reason: "other", beforeRequest: true });
      expect((error as Error).message).toMatch(`the CA's url: the ${field} in its user info is not percent-encoded UTF-8`);
      expect((error as Error).message).not.toContain(secret);
      expect((error as UpstreamError).cause).toBeInstanceOf(ProxyConfigError);
    }
    expect(up.seen).toEqual([]);
  });

  it("through the proxy: GetCACaps and PKIOperation get 502 upstream failed, the custom CA's challenge goes back, and no untyped error reaches the logger", async () => {
    const ca: CaConfig = { name: "corp", type: "custom", url: up.url.replace("http://", "http://mdm:%E0%A4%A@") };
    const cas: CaRegistry = { get: (name) => (name === ca.name ? ca : undefined), list: () => [ca], defaultName: ca.name };
    const profiles = new MemoryProfileStore();
    const challenges = new MemoryChallengeStore();
    const events: ProxyEvent[] = [];
    const logged: string[] = [];
    const proxy = createScepProxy({ profiles, challenges, cas, onEvent: (e) => events.push(e), logger: { error: (m) => logged.push(m) } });
    const key = { hostId: "h1", profileId: "p1", caName: "corp" };
    await profiles.put({ ...key, status: "pending", updatedAt: 0 });
    const url = buildProxyUrl("http://proxy.test/scep", { ...key, challenge: await challenges.issue({ profile: "corp", ttlMs: 3_600_000 }) });
    up.seen.length = 0;
    const caps = await proxy.fetch(new Request(`${url}?operation=GetCACaps`));
    expect([caps.status, await caps.text()]).toEqual([502, "upstream failed"]);
    expect(events.at(-1)).toMatchObject({ operation: "GetCACaps", outcome: "upstream_error", upstream: { reason: "other" } });
    const res = await proxy.fetch(new Request(`${url}?operation=PKIOperation`, { method: "POST", body: MSG }));
    expect([res.status, await res.text()]).toEqual([502, "upstream failed"]);
    expect(events.at(-1)).toMatchObject({ outcome: "upstream_error", upstream: { reason: "other" }, challengeReleased: true });
    expect(logged).toEqual([]);
    expect(up.seen).toEqual([]);
  });
});
