/**
 * Field report (dogtagpki/pki#542; Java's HttpURLConnection, .NET's WebClient and `curl --data-binary` POST as
 * `application/x-www-form-urlencoded` by default): an Express app that mounts `express.urlencoded()` (or any body
 * parser) before `scepMiddleware(proxy)` has the PKIOperation body read before the proxy sees it. The proxy then
 * answered 400 "invalid message" (`bad_message`), which names nothing an operator can fix. It now answers as
 * `@scep/core`'s server does: 400 with `BODY_ALREADY_READ_TEXT` (mount the SCEP middleware before body parsers),
 * event reason `body_already_read`, no challenge spent and the device's profile not requeued. Mounted first, the
 * same request is forwarded.
 */
import { createServer, type Server } from "node:http";
import { BODY_ALREADY_READ_TEXT, buildPkcsReq, generateCsr, type FetchHandler } from "@scep/core";
import { scepMiddleware } from "@scep/express";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHALLENGE, close, listen } from "../../core/test/support/adapter-fixture.js";
import { coreServerUpstream } from "./support/core-server-upstream.js";
import { customCaProxy, type CustomCaProxy } from "./support/custom-ca-proxy.js";

const upstream = coreServerUpstream();

/** A PKIOperation POST of a fresh PKCSReq to `url`, sent with `contentType` as those clients send it. */
async function post(url: string, contentType: string, n: number): Promise<Response> {
  const r = upstream.fx.pki.requesters.rsa;
  const csr = await generateCsr({ keys: r.keys, subject: "CN=requester-rsa, O=scep-sdk tests", challengePassword: CHALLENGE, san: { dns: [`body-parser-${n}.example.test`] } });
  const { der } = await buildPkcsReq({ csr, signer: r.signer, recipient: upstream.fx.pki.ca.certificate });
  return fetch(`${url}/pkiclient.exe?operation=PKIOperation`, { method: "POST", headers: { "content-type": contentType }, body: new Uint8Array(der) });
}

const apps: [string, (proxy: FetchHandler) => express.Express][] = [
  ["express.urlencoded() first", (proxy) => express().use(express.urlencoded({ extended: false })).use(scepMiddleware(proxy))],
  ["express.text({ type: '*/*' }) first", (proxy) => express().use(express.text({ type: "*/*" })).use(scepMiddleware(proxy))],
];

describe.each(apps)("the proxy behind a body parser: %s", (_name, app) => {
  let px: CustomCaProxy;
  let http: Server;
  let base: string;

  beforeAll(async () => {
    px = customCaProxy({ url: upstream.url });
    http = createServer(app(px.proxy));
    base = `${await listen(http)}/mdm/scep`;
  });
  afterAll(() => close(http));

  it("400 with the text naming the fix, event body_already_read; the challenge is not spent, the profile not requeued", async () => {
    const key = { hostId: "host-parser", profileId: "wifi" };
    const url = await px.oneTimeUrl(base, key);
    const res = await post(url, "application/x-www-form-urlencoded", 1);
    expect([res.status, await res.text()]).toEqual([400, BODY_ALREADY_READ_TEXT]);
    expect(px.events.at(-1)).toMatchObject({ operation: "PKIOperation", outcome: "rejected", reason: "body_already_read" });
    expect(await px.profiles.get({ ...key, caName: "core" })).toMatchObject({ status: "pending" });
    expect(px.events.some((e) => e.requeued)).toBe(false);
  });
});

describe("the same request to the proxy mounted before the body parser", () => {
  let px: CustomCaProxy;
  let http: Server;
  let base: string;

  beforeAll(async () => {
    px = customCaProxy({ url: upstream.url });
    http = createServer(express().use(scepMiddleware(px.proxy)).use(express.urlencoded({ extended: false })));
    base = `${await listen(http)}/mdm/scep`;
  });
  afterAll(() => close(http));

  it("is forwarded and answered by the CA", async () => {
    const url = await px.oneTimeUrl(base, { hostId: "host-parser-after", profileId: "wifi" });
    const res = await post(url, "application/x-www-form-urlencoded", 2);
    expect(res.status).toBe(200);
    expect(px.events.at(-1)).toMatchObject({ operation: "PKIOperation", outcome: "forwarded" });
  });
});
