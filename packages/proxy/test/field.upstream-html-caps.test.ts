/**
 * An access gateway or WAF in front of the CA (Okta, an IIS default page, a SCEP URL that is wrong by one path
 * segment) answers every request, GetCACaps included, with `200 text/html` and a login or error page. PROXY.md
 * "Forwarding": such a failure is a 502 `upstream failed` with reason `other`, as HttpUpstream already decides for an
 * HTML answer to PKIOperation and GetCACert (RFC 8894 §3.5.2: caps are keywords, one per line).
 *
 * Before: the page reached the device as its GetCACaps answer (200 text/html), and HttpUpstream took the page as
 * "no capabilities" for `capsTtlMs`, then sent a `custom` CA's PKIOperation to the gateway after consuming its
 * one-time challenge: the challenge stayed spent though nothing reached the CA. Now the PKIOperation is not sent
 * (the GetCACaps asked first failed: `beforeRequest`), so the challenge goes back and the device's retry passes once
 * the gateway lets requests through. PROXY.md's field notes (NDES behind a WAF or an Okta access gateway) describe
 * the deployment.
 */
import { MemoryChallengeStore } from "@scep/core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { HttpUpstream, MemoryCaRegistry, MemoryProfileStore, UpstreamError, buildProxyUrl, createScepProxy, type ProxyEvent, type ScepProxy } from "../src/index.js";
import { PKI_REPLY, startUpstream, wellBehaved, type Script, type UpstreamServer } from "./support/upstream-server.js";

const MSG = Buffer.from("MIIB+/+/abcd", "base64");
const LOGIN = "\r\n<!DOCTYPE html><html><head><title>Sign in</title></head><body><form>POSTPKIOperation</form></body></html>";
const KEY = { hostId: "h1", profileId: "p1", caName: "corp" } as const;

/** A gateway that answers everything with its login page. */
const gateway: Script = (_req, res) => res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(LOGIN);

let up: UpstreamServer;
beforeAll(async () => {
  up = await startUpstream();
});
afterAll(async () => {
  await up.close();
});

let profiles: MemoryProfileStore;
let challenges: MemoryChallengeStore;
let events: ProxyEvent[];
let proxy: ScepProxy;

beforeEach(async () => {
  up.script(wellBehaved());
  up.seen.length = 0;
  events = [];
  profiles = new MemoryProfileStore();
  challenges = new MemoryChallengeStore();
  await profiles.put({ ...KEY, status: "pending", updatedAt: 0 });
  proxy = createScepProxy({ profiles, challenges, cas: new MemoryCaRegistry([{ name: "corp", type: "custom", url: up.url }]), onEvent: (e) => events.push(e) });
});

describe("GetCACaps answered with an HTML page", () => {
  it("a device's GetCACaps → 502 upstream failed, reason other; the page never reaches the device", async () => {
    up.script(gateway);
    const res = await proxy.fetch(new Request("http://proxy.test/scep/h1,p1,corp?operation=GetCACaps"));
    expect([res.status, res.headers.get("content-type"), await res.text()]).toEqual([502, "text/plain; charset=utf-8", "upstream failed"]);
    expect(events.at(-1)).toMatchObject({ operation: "GetCACaps", outcome: "upstream_error", upstream: { reason: "other" } });
  });

  it("a custom CA's PKIOperation: not sent behind the page, the one-time challenge goes back, the retry passes once the gateway lets it through", async () => {
    const url = buildProxyUrl("http://proxy.test/scep", { ...KEY, challenge: await challenges.issue({ profile: "corp", ttlMs: 3_600_000 }) });
    const enroll = async (): Promise<[number, Buffer]> => {
      const res = await proxy.fetch(new Request(`${url}?operation=PKIOperation`, { method: "POST", body: MSG }));
      return [res.status, Buffer.from(await res.arrayBuffer())];
    };
    up.script(gateway);
    expect(await enroll()).toEqual([502, Buffer.from("upstream failed")]);
    expect(events.at(-1)).toMatchObject({ upstream: { reason: "other" }, challengeReleased: true });
    expect(up.seen.map((s) => s.operation)).toEqual(["GetCACaps"]);
    expect(await profiles.get(KEY)).toMatchObject({ status: "pending" });

    up.script(wellBehaved());
    expect(await enroll()).toEqual([200, PKI_REPLY]);
    expect(up.seen.map((s) => `${s.method} ${s.operation}`)).toEqual(["GET GetCACaps", "GET GetCACaps", "POST PKIOperation"]);
  });

  it("HttpUpstream.getCACaps rejects with UpstreamError reason other (a byte-order mark and white space before the page too); real caps with an odd content type still pass", async () => {
    const upstream = new HttpUpstream();
    const ca = { name: "corp", type: "custom" as const, url: up.url };
    up.script((_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end(`\ufeff \n${LOGIN}`));
    await expect(upstream.getCACaps(ca)).rejects.toSatisfy((e: unknown) => e instanceof UpstreamError && e.reason === "other" && e.message === "upstream answered GetCACaps with an HTML page, not capabilities");
    up.script((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("POSTPKIOperation\nSHA-256\n"));
    expect(new TextDecoder().decode((await upstream.getCACaps(ca)).body)).toBe("POSTPKIOperation\nSHA-256\n");
  });
});
