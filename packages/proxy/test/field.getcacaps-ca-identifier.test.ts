/**
 * RFC 8894 §3.5.1: GetCACaps, like GetCACert, carries the CA identifier as its `message` on a server that hosts
 * several CAs. EJBCA in CA mode answers a GetCACaps without one with a 404 page ("the message parameter in the GET
 * request is empty, and no default CA has been defined for SCEP"; Keyfactor/ejbca-ce#503,
 * https://github.com/Keyfactor/ejbca-ce/issues/503), while it answers GetCACaps?message=ManagementCA with its caps.
 *
 * Ours sent a CA's configured `caIdentifier` on GetCACert only, and dropped the `message` a device sent on GetCACaps
 * (macOS and iOS send their profile's `Name` there): the device's GetCACaps got 502, and the GetCACaps the proxy asks
 * before a PKIOperation got the 404 too, so the upstream was taken for a CA without POSTPKIOperation and every
 * PKIOperation went out by GET. GetCACaps now sends the same identifier GetCACert does: the CA's `caIdentifier`, else
 * the device's `message`.
 *
 * Real upstream: a scripted HTTP server on loopback answering as EJBCA in CA mode would.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { HttpUpstream, MemoryCaRegistry, MemoryProfileStore, createScepProxy, type CaConfig, type ScepProxy } from "../src/index.js";
import { CA_CERT, PKI_REPLY, startUpstream, type UpstreamServer } from "./support/upstream-server.js";

const CAPS = "POSTPKIOperation\nSHA-256\nAES\nRenewal\n";

let up: UpstreamServer;

beforeAll(async () => {
  up = await startUpstream();
  // EJBCA in CA mode: GetCACaps and GetCACert must name one of its CAs; PKIOperation is taken by POST.
  up.script((req, res) => {
    const name = new URL(req.rawUrl, "http://x").searchParams.get("message");
    if (req.operation === "GetCACaps" || req.operation === "GetCACert") {
      if (name !== "ManagementCA") {
        res.writeHead(404, { "content-type": "text/html" }).end("<html><body>The SCEP alias scep is in CA mode, the message parameter in the GET request is empty, and no default CA has been defined for SCEP.</body></html>");
      } else if (req.operation === "GetCACaps") res.writeHead(200, { "content-type": "text/plain" }).end(CAPS);
      else res.writeHead(200, { "content-type": "application/x-x509-ca-cert" }).end(CA_CERT);
    } else if (req.operation === "PKIOperation" && req.method === "POST") {
      res.writeHead(200, { "content-type": "application/x-pki-message" }).end(PKI_REPLY);
    } else res.writeHead(400, { "content-type": "text/html" }).end("<html>bad request</html>");
  });
});
afterAll(() => up.close());
beforeEach(() => {
  up.seen.length = 0;
});

const queries = (): string[] => up.seen.map((s) => `${s.method} ${s.rawUrl.slice(s.rawUrl.indexOf("?"))}`);

async function proxyFor(ca: Partial<CaConfig>): Promise<ScepProxy> {
  const profiles = new MemoryProfileStore();
  await profiles.put({ hostId: "mac1", profileId: "wifi", caName: "ejbca", status: "pending", challengeRetrievedAt: 0, updatedAt: 0 });
  return createScepProxy({ profiles, cas: new MemoryCaRegistry([{ name: "ejbca", type: "ndes", url: up.url, ...ca }]), upstreamTimeoutMs: 2_000 });
}

describe("RFC 8894 §3.5.1: GetCACaps names the CA as GetCACert does (EJBCA in CA mode, Keyfactor/ejbca-ce#503)", () => {
  it("a device's GetCACaps through a CA with caIdentifier: sent with it, and the upstream's caps come back", async () => {
    const proxy = await proxyFor({ caIdentifier: "ManagementCA" });
    const res = await proxy.fetch(new Request("http://proxy.test/scep/mac1,wifi,ejbca?operation=GetCACaps"));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(CAPS);
    expect(queries()).toEqual(["GET ?operation=GetCACaps&message=ManagementCA"]);
  });

  it("without caIdentifier, the device's own GetCACaps `message` (its profile's Name) is passed on, as for GetCACert", async () => {
    const proxy = await proxyFor({});
    const res = await proxy.fetch(new Request("http://proxy.test/scep/mac1,wifi,ejbca?operation=GetCACaps&message=ManagementCA"));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(CAPS);
    const cert = await proxy.fetch(new Request("http://proxy.test/scep/mac1,wifi,ejbca?operation=GetCACert&message=ManagementCA"));
    expect(cert.status).toBe(200);
    expect(queries()).toEqual(["GET ?operation=GetCACaps&message=ManagementCA", "GET ?operation=GetCACert&message=ManagementCA"]);
  });

  it("a configured caIdentifier replaces the device's GetCACaps `message`, as it does GetCACert's", async () => {
    const proxy = await proxyFor({ caIdentifier: "ManagementCA" });
    const res = await proxy.fetch(new Request("http://proxy.test/scep/mac1,wifi,ejbca/pkiclient.exe?operation=GetCACaps&message=default"));
    expect(res.status).toBe(200);
    expect(queries()).toEqual(["GET ?operation=GetCACaps&message=ManagementCA"]);
  });

  it("the GetCACaps asked before a PKIOperation names the CA, so POSTPKIOperation is seen and the message POSTed", async () => {
    const ca: CaConfig = { name: "ejbca", type: "ndes", url: up.url, caIdentifier: "ManagementCA" };
    const res = await new HttpUpstream().pkiOperation(ca, new Uint8Array([0x30, 0x00]));
    expect(res.status).toBe(200);
    expect(queries()).toEqual(["GET ?operation=GetCACaps&message=ManagementCA", "POST ?operation=PKIOperation"]);
  });

  it("HttpUpstream.getCACaps sends a `message` given in its options, and the CA's caIdentifier in its place", async () => {
    const upstream = new HttpUpstream();
    await upstream.getCACaps({ name: "ejbca", type: "custom", url: up.url }, { message: "ManagementCA" });
    await upstream.getCACaps({ name: "ejbca", type: "custom", url: up.url, caIdentifier: "ManagementCA" }, { message: "other" });
    expect(queries()).toEqual(["GET ?operation=GetCACaps&message=ManagementCA", "GET ?operation=GetCACaps&message=ManagementCA"]);
  });
});
