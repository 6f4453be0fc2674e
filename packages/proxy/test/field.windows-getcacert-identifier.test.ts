/**
 * RFC 8894 §4.2: GetCACert's `message` names one CA of a server that has several. Windows' SCEP CSP
 * (ClientCertificateInstall/SCEP) always sends `message=default` and has no setting for it; Fleet's proxy passed it on
 * as sent, so every Windows enrollment through it against a multi-CA EJBCA (which knows no CA named `default`) failed
 * at GetCACert, while macOS, which sends the name it is given, worked (fleetdm/fleet#53703,
 * https://github.com/fleetdm/fleet/issues/53703). EJBCA answers a GetCACert naming a CA it does not have with a 404
 * (certnanny/sscep#160, https://github.com/certnanny/sscep/issues/160).
 *
 * Ours had the same fault: the device's `message` was the only one the upstream could get. A CA's `caIdentifier` now
 * replaces it on every GetCACert.
 *
 * Real upstream: a scripted HTTP server on loopback answering as EJBCA in CA mode would (a CA name is required).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MemoryCaRegistry, MemoryProfileStore, ProxyConfigError, createScepProxy, type CaConfig, type ProxyEvent, type ScepProxy } from "../src/index.js";
import { CA_CERT, startUpstream, wellBehaved, type UpstreamServer } from "./support/upstream-server.js";

let up: UpstreamServer;
let events: ProxyEvent[];

beforeAll(async () => {
  up = await startUpstream();
  // EJBCA in CA mode: GetCACert must name one of its CAs; no default CA is served without a name.
  up.script((req, res, socket) => {
    if (req.operation !== "GetCACert") return wellBehaved()(req, res, socket);
    const name = new URL(req.rawUrl, "http://x").searchParams.get("message");
    if (name === "ManagementCA" || name === "WifiCA") res.writeHead(200, { "content-type": "application/x-x509-ca-cert" }).end(CA_CERT);
    else res.writeHead(404, { "content-type": "text/html" }).end("<html>CA not found</html>");
  });
});
afterAll(() => up.close());

beforeEach(() => {
  up.seen.length = 0;
  events = [];
});

async function proxyFor(ca: Partial<CaConfig>): Promise<ScepProxy> {
  const profiles = new MemoryProfileStore();
  await profiles.put({ hostId: "win1", profileId: "wifi", caName: "ejbca", status: "pending", platform: "windows", challengeRetrievedAt: 0, updatedAt: 0 });
  const cas = new MemoryCaRegistry([{ name: "ejbca", type: "ndes", url: up.url, ...ca }]);
  return createScepProxy({ profiles, cas, upstreamTimeoutMs: 2_000, onEvent: (e) => events.push(e) });
}

/** What Windows sends: the `/pkiclient.exe` suffix and `message=default`. */
async function windowsGetCaCert(proxy: ScepProxy): Promise<{ status: number; type: string | null }> {
  const res = await proxy.fetch(new Request("http://proxy.test/scep/win1,wifi,ejbca/pkiclient.exe?operation=GetCACert&message=default"));
  await res.arrayBuffer();
  return { status: res.status, type: res.headers.get("content-type") };
}

const upstreamQueries = (): string[] => up.seen.map((s) => s.rawUrl.slice(s.rawUrl.indexOf("?")));

describe("RFC 8894 §4.2: a CA's caIdentifier replaces the GetCACert `message` a Windows device sends (fleet#53703)", () => {
  it("without caIdentifier, Windows' `default` reaches the multi-CA upstream as sent, which fails it: 502, as Fleet's did", async () => {
    const proxy = await proxyFor({});
    expect(await windowsGetCaCert(proxy)).toEqual({ status: 502, type: "text/plain; charset=utf-8" });
    expect(upstreamQueries()).toEqual(["?operation=GetCACert&message=default", "?operation=GetCACert"]);
  });

  it("with caIdentifier, the upstream is asked for the configured CA, never for `default`: 200 and its content type", async () => {
    const proxy = await proxyFor({ caIdentifier: "ManagementCA" });
    expect(await windowsGetCaCert(proxy)).toEqual({ status: 200, type: "application/x-x509-ca-cert" });
    // A device that sends no message, or another name, gets the same CA.
    const none = await proxy.fetch(new Request("http://proxy.test/scep/win1,wifi,ejbca?operation=GetCACert"));
    expect(none.status).toBe(200);
    const other = await proxy.fetch(new Request("http://proxy.test/scep/win1,wifi,ejbca?operation=GetCACert&message=WifiCA"));
    expect(other.status).toBe(200);
    expect(upstreamQueries()).toEqual(Array(3).fill("?operation=GetCACert&message=ManagementCA"));
  });

  it("a configured caIdentifier the upstream does not know is the proxy's configuration, not the device's: 502, no probe without it", async () => {
    const proxy = await proxyFor({ caIdentifier: "Retired CA" });
    expect(await windowsGetCaCert(proxy)).toEqual({ status: 502, type: "text/plain; charset=utf-8" });
    expect(events.at(-1)).toMatchObject({ operation: "GetCACert", outcome: "upstream_error", reason: "upstream_failed", upstream: { reason: "http", status: 404 } });
    expect(upstreamQueries()).toEqual(["?operation=GetCACert&message=Retired%20CA"]);
  });

  it("the registry refuses an empty, over-long, control-character or lone-surrogate caIdentifier", () => {
    for (const caIdentifier of ["", "x".repeat(256), "Management\nCA", "CA\uD800", "\uDC00CA"]) {
      expect(() => new MemoryCaRegistry([{ name: "ejbca", type: "ndes", url: up.url, caIdentifier }])).toThrow(ProxyConfigError);
    }
    expect(() => new MemoryCaRegistry([{ name: "ejbca", type: "ndes", url: up.url, caIdentifier: "x".repeat(255) }])).not.toThrow();
    expect(() => new MemoryCaRegistry([{ name: "ejbca", type: "ndes", url: up.url, caIdentifier: "CA \u{1F512}" }])).not.toThrow();
  });
});
