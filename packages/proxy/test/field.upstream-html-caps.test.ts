/**
 * An access gateway or WAF in front of the CA (Okta, an IIS default page, a SCEP URL that is wrong by one path
 * segment) answers every request, GetCACaps included, with `200 text/html` and a login or error page. PROXY.md's field
 * notes (NDES behind a WAF or an Okta access gateway) describe the deployment.
 *
 * - A device's own GetCACaps is passed through (PROXY.md "Forwarding": GetCACaps and GetCACert are passed through):
 *   the page reaches the device unchanged, 200 text/html, for every CA type.
 * - The GetCACaps the proxy asks itself before a PKIOperation: for a `custom` CA, whose one-time challenge the proxy
 *   consumed, a page (RFC 8894 §3.5.2: caps are keywords, one per line; none starts with `<`) is the upstream's
 *   failure: 502 `upstream failed`, reason `other`, the PKIOperation not sent (`beforeRequest`), so the challenge
 *   goes back and the device's retry passes once the gateway lets requests through. Before, HttpUpstream took the
 *   page as "no capabilities" and sent the PKIOperation to the gateway after consuming the challenge: it stayed spent
 *   though nothing reached the CA. For `ndes`/`smallstep` (no challenge of the proxy's at stake) a page is still "no
 *   capabilities" and the PKIOperation goes by GET, as before.
 */
import type { MemoryChallengeStore } from "@scep/core";
import { beforeEach, describe, expect, it } from "vitest";
import { HttpUpstream, MemoryCaRegistry, UpstreamError, buildProxyUrl, createScepProxy, type MemoryProfileStore, type ProxyEvent, type ScepProxy } from "../src/index.js";
import { proxyOnUpstream } from "./support/proxy-on-upstream.js";
import { PKI_REPLY, loopbackUpstream, wellBehaved, type Script } from "./support/upstream-server.js";

const MSG = Buffer.from("MIIB+/+/abcd", "base64");
const LOGIN = "\r\n<!DOCTYPE html><html><head><title>Sign in</title></head><body><form>POSTPKIOperation</form></body></html>";
const KEY = { hostId: "h1", profileId: "p1", caName: "corp" } as const;

/** A gateway that answers everything with its login page. */
const gateway: Script = (_req, res) => res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(LOGIN);

const up = loopbackUpstream();

let profiles: MemoryProfileStore;
let challenges: MemoryChallengeStore;
let events: ProxyEvent[];
let proxy: ScepProxy;

beforeEach(async () => void ({ profiles, challenges, events, proxy } = await proxyOnUpstream(up, { ca: { name: KEY.caName, type: "custom" } })));

describe("GetCACaps answered with an HTML page", () => {
  it.each(["custom", "ndes", "smallstep"] as const)("a device's GetCACaps (%s CA) is passed through: the page, 200 text/html, unchanged", async (type) => {
    const p = createScepProxy({ profiles, challenges, cas: new MemoryCaRegistry([{ name: "corp", type, url: up.url }]), onEvent: (e) => events.push(e) });
    up.script(gateway);
    const res = await p.fetch(new Request("http://proxy.test/scep/h1,p1,corp?operation=GetCACaps"));
    expect([res.status, res.headers.get("content-type"), await res.text()]).toEqual([200, "text/html; charset=utf-8", LOGIN]);
    expect(events.at(-1)).toMatchObject({ operation: "GetCACaps", outcome: "forwarded" });
  });

  it("a custom CA's PKIOperation: not sent behind the page, the one-time challenge goes back, the retry passes once the gateway lets it through", async () => {
    const url = buildProxyUrl("http://proxy.test/scep", { ...KEY, challenge: await challenges.issue({ profile: "corp", ttlMs: 3_600_000 }) });
    const enroll = async (): Promise<[number, Buffer]> => {
      const res = await proxy.fetch(new Request(`${url}?operation=PKIOperation`, { method: "POST", body: MSG }));
      return [res.status, Buffer.from(await res.arrayBuffer())];
    };
    up.script(gateway);
    // The device's own GetCACaps first (passed through): the page is not remembered as the custom CA's caps.
    expect((await proxy.fetch(new Request("http://proxy.test/scep/h1,p1,corp?operation=GetCACaps"))).status).toBe(200);
    up.seen.length = 0;
    expect(await enroll()).toEqual([502, Buffer.from("upstream failed")]);
    expect(events.at(-1)).toMatchObject({ upstream: { reason: "other" }, challengeReleased: true });
    expect(up.seen.map((s) => s.operation)).toEqual(["GetCACaps"]);
    expect(await profiles.get(KEY)).toMatchObject({ status: "pending" });

    up.script(wellBehaved());
    expect(await enroll()).toEqual([200, PKI_REPLY]);
    expect(up.seen.map((s) => `${s.method} ${s.operation}`)).toEqual(["GET GetCACaps", "GET GetCACaps", "POST PKIOperation"]);
  });

  it.each(["ndes", "smallstep"] as const)("a %s CA's PKIOperation: the page is no capabilities, the PKIOperation goes by GET (as before)", async (type) => {
    const key = { hostId: "h1", profileId: "p1", caName: "step" };
    await profiles.put({ ...key, status: "pending", challengeRetrievedAt: Date.now(), updatedAt: 0 });
    const p = createScepProxy({ profiles, cas: new MemoryCaRegistry([{ name: "step", type, url: up.url }]), onEvent: (e) => events.push(e) });
    up.script((req, res, socket) => (req.operation === "GetCACaps" ? gateway(req, res, socket) : wellBehaved()(req, res, socket)));
    const res = await p.fetch(new Request("http://proxy.test/scep/h1,p1,step?operation=PKIOperation", { method: "POST", body: MSG }));
    expect([res.status, Buffer.from(await res.arrayBuffer())]).toEqual([200, PKI_REPLY]);
    expect(up.seen.map((s) => `${s.method} ${s.operation}`)).toEqual(["GET GetCACaps", "GET PKIOperation"]);
  });

  it("HttpUpstream: getCACaps resolves to the page unchanged; a custom CA's pkiOperation rejects with UpstreamError reason other, beforeRequest (a byte-order mark and white space before the page too); real caps with an odd content type still pass", async () => {
    const upstream = new HttpUpstream();
    const ca = { name: "corp", type: "custom" as const, url: up.url };
    const page = `\ufeff \n${LOGIN}`;
    up.script((_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end(page));
    expect(new TextDecoder("utf-8", { ignoreBOM: true }).decode((await upstream.getCACaps(ca)).body)).toBe(page);
    await expect(upstream.pkiOperation(ca, MSG)).rejects.toSatisfy(
      (e: unknown) => e instanceof UpstreamError && e.reason === "other" && e.beforeRequest === true && e.message === "GetCACaps before the PKIOperation: upstream answered GetCACaps with an HTML page, not capabilities",
    );
    up.script((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("POSTPKIOperation\nSHA-256\n"));
    expect(new TextDecoder().decode((await upstream.getCACaps(ca)).body)).toBe("POSTPKIOperation\nSHA-256\n");
  });
});
