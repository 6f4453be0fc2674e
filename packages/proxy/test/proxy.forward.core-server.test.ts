/**
 * A real forward: @scep/core's createScepServer on loopback as the upstream,
 * the proxy mounted with @scep/express and with @scep/hono (both take any
 * `{ fetch, owns }` handler), and the SDK's ScepClient enrolling through the
 * proxy's one-time URL (RFC 8894 §3.2 PKCSReq → SUCCESS CertRep). The same
 * PKCSReq sent again (its reply lost: same transactionID and key, RFC 8894
 * §3.3.1) gets the same certificate; another request through the spent URL is
 * refused with 400 and the profile requeued.
 */
import { createServer, type Server } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { ScepClient, TransportError, generateCsr, type FetchHandler } from "@scep/core";
import { scepMiddleware } from "@scep/express";
import { scepApp, scepHandler } from "@scep/hono";
import express from "express";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildProxyUrl } from "../src/index.js";
import { CHALLENGE, close, listen } from "../../core/test/support/adapter-fixture.js";
import { coreServerUpstream } from "./support/core-server-upstream.js";
import { customCaProxy, type CustomCaProxy } from "./support/custom-ca-proxy.js";

/** CSRs this file built (each a SAN of its own). */
let csrs = 0;
const upstream = coreServerUpstream();

const mounts: [string, (proxy: FetchHandler) => Server][] = [
  ["@scep/express (express 5)", (proxy) => createServer(express().use(scepMiddleware(proxy, { maxBodyBytes: 2 * 1024 * 1024 })))],
  ["@scep/hono (scepHandler middleware)", (proxy) => createServer(getRequestListener(new Hono().use(scepHandler(proxy)).get("/health", (c) => c.text("ok")).fetch))],
  ["@scep/hono (scepApp)", (proxy) => createServer(getRequestListener(scepApp(proxy).fetch))],
];

describe.each(mounts)("through the proxy mounted with %s into a @scep/core server", (_name, mount) => {
  let px: CustomCaProxy;
  let http: Server;
  let base: string;

  beforeAll(async () => {
    px = customCaProxy({ url: upstream.url });
    http = mount(px.proxy);
    base = `${await listen(http)}/mdm/scep`;
  });
  afterAll(() => close(http));

  it("the SDK client enrolls with a one-time URL; the certificate chains to the upstream CA; its re-send gets the same certificate; another request through the URL → 400 and requeue", async () => {
    const key = { hostId: "host-42", profileId: "wifi", caName: "core" };
    const url = await px.oneTimeUrl(base, key);
    const r = upstream.fx.pki.requesters.rsa;
    // A CSR of this test's own: the same request another test sent would be a re-send the upstream answers from
    // its recorded transaction (RFC 8894 §3.3.3), not a new issuance.
    const csr = await generateCsr({ keys: r.keys, subject: "CN=requester-rsa, O=scep-sdk tests", challengePassword: CHALLENGE, san: { dns: [`${key.hostId}.${++csrs}.example.test`] } });

    const rep = await new ScepClient({ url }).enroll({ csr, signer: r.signer });
    expect(rep.status).toBe("SUCCESS");
    expect(rep.certificates[0]!.subject).toBe("CN=requester-rsa, O=scep-sdk tests");
    expect(rep.certificates[0]!.issuer).toBe("CN=SCEP Test CA, O=scep-sdk tests");
    expect(rep.certificates[0]!.isIssuedBy(upstream.fx.pki.ca.certificate)).toBe(true);
    expect(px.events.map((e) => [e.operation, e.outcome])).toEqual([
      ["GetCACaps", "forwarded"],
      ["GetCACert", "forwarded"],
      ["PKIOperation", "forwarded"],
    ]);
    expect(upstream.fx.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "success", reason: "issued" });

    // The device lost the reply and sends its PKCSReq again: the proxy forwards it (same transactionID and signer key
    // as the request that spent the challenge), the upstream answers from its transaction.
    const resent = await new ScepClient({ url }).enroll({ csr, signer: r.signer });
    expect(resent.status).toBe("SUCCESS");
    expect(Buffer.from(resent.certificates[0]!.der)).toEqual(Buffer.from(rep.certificates[0]!.der));
    expect(px.events.at(-1)).toMatchObject({ operation: "PKIOperation", reason: "forwarded", resend: true });
    expect(await px.profiles.get(key)).toMatchObject({ status: "pending" });

    // A request of another key (another transactionID) through the spent URL is refused, and the profile requeued.
    const other = upstream.fx.pki.requesters.p256;
    const otherCsr = await generateCsr({ keys: other.keys, subject: "CN=requester-p256, O=scep-sdk tests", challengePassword: CHALLENGE, san: { dns: [`${key.hostId}.${++csrs}.example.test`] } });
    let second: unknown;
    try {
      await new ScepClient({ url }).enroll({ csr: otherCsr, signer: other.signer });
    } catch (e) {
      second = e;
    }
    expect(second).toBeInstanceOf(TransportError);
    expect(second).toMatchObject({ status: 400 });
    expect(await px.profiles.get(key)).toMatchObject({ status: "none", requeueCount: 1 });
    expect(px.events.at(-1)).toMatchObject({ operation: "PKIOperation", reason: "challenge_failed", requeued: true });
  });

  it("GetCACert through the proxy returns the upstream's bytes and content type", async () => {
    const key = { hostId: "host-43", profileId: "wifi", caName: "core" };
    await px.profiles.put({ ...key, status: "pending", updatedAt: Date.now() });
    const viaProxy = await fetch(`${buildProxyUrl(base, key)}/pkiclient.exe?operation=GetCACert`);
    const direct = await fetch(`${upstream.url}?operation=GetCACert`);
    expect([viaProxy.status, viaProxy.headers.get("content-type")]).toEqual([200, direct.headers.get("content-type")]);
    expect(Buffer.from(await viaProxy.arrayBuffer())).toEqual(Buffer.from(await direct.arrayBuffer()));
  });
});
