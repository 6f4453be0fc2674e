/**
 * The configuration file's `ndesAccess` reaches the example's NDES challenge source: the proxy, started in process
 * from a real configuration file, fetches the challenge when the MDM registers a device of an NDES CA with admin page
 * access. The admin page is @scep/proxy's loopback IIS stand-in (packages/proxy/test/support/ndes-server.ts: real
 * NTLMv2 checks) over HTTPS with a self-signed certificate that only `ndesAccess.caFile` (relative to the file) makes
 * trusted, with Extended Protection "Accept" bound to another certificate than the one it presents (IIS behind a
 * TLS-inspecting proxy): the channel binding the proxy computes is wrong there, so only `channelBinding: false`
 * (no MsvAvChannelBindings at all) gets the challenge.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig, type ProxyConfig } from "../src/config.js";
import { startProxy, type RunningProxy } from "../src/start-proxy.js";
import { PAGE_CHALLENGE, challengePage, encodePage } from "../../../packages/proxy/test/support/ndes-pages.js";
import { startNdesServer, type NdesServer } from "../../../packages/proxy/test/support/ndes-server.js";
import { selfSignedLoopbackCert } from "../../../packages/proxy/test/support/tls-cert.js";

const TOKEN = "ndes-access-token-0123456789";
const PASSWORD = "Ndes-Adm1n!";
const tls = selfSignedLoopbackCert();
let dir: string;
let ndes: NdesServer;
const proxies: RunningProxy[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "proxy-ndes-access-"));
  writeFileSync(join(dir, "ndes-ca.pem"), tls.cert);
  const page = encodePage(challengePage(), "utf-16le");
  ndes = await startNdesServer({
    username: "svc-ndes",
    domain: "CORP",
    password: PASSWORD,
    auth: "ntlm",
    page: () => ({ status: 200, contentType: "text/html", body: page }),
    tls,
    extendedProtection: "accept",
    iisCertificate: selfSignedLoopbackCert().cert,
  });
});
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await ndes?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A proxy started from a configuration file in `dir` with this `ndesAccess` and one NDES CA whose admin page is the stand-in. */
async function proxyWith(ndesAccess: Record<string, unknown>): Promise<RunningProxy> {
  const file = join(dir, `proxy-${proxies.length}.json`);
  const ca = { name: "ndes", type: "ndes", url: "http://127.0.0.1:9/certsrv/mscep/mscep.dll", ndes: { adminUrl: ndes.url, username: "svc-ndes", domain: "CORP", passwordEnv: "NDES_PASSWORD" } };
  writeFileSync(file, JSON.stringify({ cas: [ca], ndesAccess }));
  const config = parseConfig(["--config", file, "--port", "0"], { PROXY_ADMIN_TOKEN: TOKEN, NDES_PASSWORD: PASSWORD }) as ProxyConfig;
  const proxy = await startProxy(config, { log: () => {} });
  proxies.push(proxy);
  return proxy;
}

async function register(proxy: RunningProxy, hostId: string): Promise<Response> {
  return fetch(`${proxy.origin}/admin/profiles`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ hostId, profileId: "wifi", caName: "ndes" }) });
}

describe("the file's ndesAccess in the example proxy's NDES challenge source", () => {
  it("channelBinding false: no MsvAvChannelBindings in the AUTHENTICATE message, and the challenge is fetched over https trusted through caFile", async () => {
    const before = ndes.authenticates.length;
    const res = await register(await proxyWith({ channelBinding: false, caFile: "ndes-ca.pem", timeoutMs: 20_000 }), "h-no-binding");
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ challengePassword: PAGE_CHALLENGE });
    expect(ndes.authenticates.slice(before).map((a) => a.channelBindings)).toEqual(["absent"]);
  });

  it("without channelBinding (default on) the binding is sent, and IIS refuses it: the certificate seen is not IIS's", async () => {
    const before = ndes.authenticates.length;
    const res = await register(await proxyWith({ caFile: "ndes-ca.pem" }), "h-binding");
    expect(res.status).not.toBe(201);
    expect(ndes.authenticates.slice(before).map((a) => a.channelBindings)).toEqual(["wrong"]);
  });
});
