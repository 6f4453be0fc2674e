/**
 * GetCACert through the proxy with the device's CA identifier (RFC 8894 §4.2: the optional `message` names the CA on a
 * server that has several). An upstream 404 used to become 502 `upstream failed` whatever caused it, blaming the
 * upstream for an identifier the device chose. Now a 404 to a GetCACert with a `message`, from an upstream that does
 * serve its CA certificate without one (asked once more, without the identifier), is the device's: 404 `unknown CA
 * identifier`. When the upstream fails without the identifier too (the CA's configured URL is wrong, or the upstream
 * needs an identifier), it stays 502, as for the 404 of any other operation: the proxy's configuration is at fault.
 *
 * Real upstream: a scripted HTTP server on loopback answering as a multi-CA SCEP server would.
 */
import { beforeEach, describe, expect, it } from "vitest";
import type { ProxyEvent, ScepProxy } from "../src/index.js";
import { proxyOnUpstream } from "./support/proxy-on-upstream.js";
import { CA_CERT, loopbackUpstream, wellBehaved, type Script } from "./support/upstream-server.js";

const up = loopbackUpstream();
let proxy: ScepProxy;
let events: ProxyEvent[];

beforeEach(async () => void ({ proxy, events } = await proxyOnUpstream(up, { ca: { name: "ndes", type: "ndes" }, record: { challengeRetrievedAt: 0 }, options: { upstreamTimeoutMs: 2_000 } })));

/** A SCEP server with CAs "corp-ca" and "lab-ca" (the first the default, served without an identifier): 404 for any other identifier. */
const multiCa: Script = (req, res, socket) => {
  if (req.operation !== "GetCACert") return wellBehaved()(req, res, socket);
  const ident = new URL(req.rawUrl, "http://x").searchParams.get("message");
  if (ident === null || ident === "corp-ca" || ident === "lab-ca") res.writeHead(200, { "content-type": "application/x-x509-ca-cert" }).end(CA_CERT);
  else res.writeHead(404, { "content-type": "text/plain" }).end(`no CA named ${ident} at ${up.url}`);
};

async function getCaCert(message?: string): Promise<{ status: number; text: string; type: string | null }> {
  const query = message === undefined ? "" : `&message=${encodeURIComponent(message)}`;
  const res = await proxy.fetch(new Request(`http://proxy.test/scep/h1,p1,ndes?operation=GetCACert${query}`));
  return { status: res.status, type: res.headers.get("content-type"), text: res.status === 200 ? "" : await res.text() };
}

const upstreamQueries = (): string[] => up.seen.map((s) => s.rawUrl.slice(s.rawUrl.indexOf("?")));

describe("GetCACert with the device's CA identifier, upstream 404", () => {
  it("an identifier the upstream does not know, the upstream serving its default CA → 404 unknown CA identifier, event rejected/upstream_refused", async () => {
    up.script(multiCa);
    expect(await getCaCert("lab-ca")).toEqual({ status: 200, type: "application/x-x509-ca-cert", text: "" });
    const res = await getCaCert("no-such-ca");
    expect(res).toEqual({ status: 404, type: "text/plain; charset=utf-8", text: "unknown CA identifier" });
    expect(events.at(-1)).toMatchObject({ operation: "GetCACert", outcome: "rejected", reason: "upstream_refused", status: 404, upstream: { reason: "http", status: 404 } });
    // Asked as sent, then once without the identifier (which it serves: the identifier was the fault).
    expect(upstreamQueries()).toEqual(["?operation=GetCACert&message=lab-ca", "?operation=GetCACert&message=no-such-ca", "?operation=GetCACert"]);
    expect(proxy.stats().cas.ndes).toMatchObject({ reasons: { forwarded: 1, upstream_refused: 1 }, upstreamHttpStatuses: { "404": 1 } });
  });

  it("the CA's configured URL is wrong (404 to everything) → 502 upstream failed, with or without an identifier", async () => {
    up.script((_req, res) => res.writeHead(404, { "content-type": "text/html" }).end("<h1>Not Found</h1>"));
    expect(await getCaCert("corp-ca")).toMatchObject({ status: 502, text: "upstream failed" });
    expect(events.at(-1)).toMatchObject({ outcome: "upstream_error", reason: "upstream_failed", upstream: { reason: "http", status: 404 } });
    expect(await getCaCert()).toMatchObject({ status: 502, text: "upstream failed" });
    // The probe without the identifier is made only for a request that had one.
    expect(upstreamQueries()).toEqual(["?operation=GetCACert&message=corp-ca", "?operation=GetCACert", "?operation=GetCACert"]);
  });

  it("an upstream that serves nothing without an identifier: a 404 cannot be told from a wrong configuration → 502", async () => {
    up.script((req, res) => {
      const ident = new URL(req.rawUrl, "http://x").searchParams.get("message");
      if (ident === "corp-ca") res.writeHead(200, { "content-type": "application/x-x509-ca-cert" }).end(CA_CERT);
      else res.writeHead(404).end();
    });
    expect(await getCaCert("corp-ca")).toMatchObject({ status: 200 });
    expect(await getCaCert("other")).toMatchObject({ status: 502, text: "upstream failed" });
    expect(await getCaCert("")).toMatchObject({ status: 502, text: "upstream failed" });
  });

  it("another upstream status to a GetCACert with an identifier is mapped as before: 403 → 502, 400 → 400 upstream refused; no probe", async () => {
    up.script((req, res) => res.writeHead(req.rawUrl.includes("message=a") ? 403 : 400).end());
    expect(await getCaCert("a")).toMatchObject({ status: 502, text: "upstream failed" });
    expect(await getCaCert("b")).toMatchObject({ status: 400, text: "upstream refused the request" });
    expect(upstreamQueries()).toEqual(["?operation=GetCACert&message=a", "?operation=GetCACert&message=b"]);
  });
});
