/**
 * Both Upstreams against the published conformance suite
 * (`@scep/proxy/testing`): FetchHandlerUpstream handing requests to the
 * suite's handler in process, and HttpUpstream to the same handler served on
 * a loopback port; @scep/core's createScepServer is the reference SCEP server
 * whose GetCACaps/GetCACert must come through byte for byte. Then a whole
 * enrollment through the proxy into createScepServer with FetchHandlerUpstream,
 * no socket anywhere.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { ScepClient } from "@scep/core";
import { beforeAll, describe, expect, it } from "vitest";
import { FetchHandlerUpstream, HttpUpstream } from "../src/index.js";
import { upstreamConformance, type UpstreamUnderTest } from "../src/testing/index.js";
import type { UpstreamFetchHandler } from "../src/upstream/fetch-handler-upstream.js";
import { createFixture, type Fixture } from "../../core/test/support/adapter-fixture.js";
import { customCaProxy } from "./support/custom-ca-proxy.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await createFixture();
});
const reference: UpstreamFetchHandler = { fetch: (request) => fx.server.fetch(request) };

upstreamConformance({
  name: "FetchHandlerUpstream (in process)",
  create: (handler) => ({
    upstream: new FetchHandlerUpstream(handler, { timeoutMs: 20_000 }),
    ca: { name: "local", type: "custom", url: "http://in-process.invalid/scep" },
  }),
  reference,
});

const servers = new WeakMap<object, Server>();

upstreamConformance({
  name: "HttpUpstream (loopback HTTP server)",
  create: async (handler): Promise<UpstreamUnderTest<HttpUpstream>> => {
    const server = createServer(getRequestListener((request) => handler.fetch(request)));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const created = {
      upstream: new HttpUpstream({ timeoutMs: 20_000 }),
      ca: { name: "loopback", type: "custom" as const, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/scep` },
    };
    servers.set(created, server);
    return created;
  },
  cleanup: async (created) => {
    const server = servers.get(created);
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  },
  reference,
});

describe("FetchHandlerUpstream into an in-process @scep/core server", () => {
  it("the SDK client enrolls through the proxy (RFC 8894 §3.2 PKCSReq → SUCCESS CertRep); the certificate chains to the upstream CA", async () => {
    const { proxy, events, oneTimeUrl } = customCaProxy({ url: "http://in-process.invalid/scep", upstream: new FetchHandlerUpstream(reference, { timeoutMs: 20_000 }) });
    const url = await oneTimeUrl("http://mdm.invalid/mdm/scep", { hostId: "host-7", profileId: "vpn" });
    const r = fx.pki.requesters.rsa;
    const client = new ScepClient({ url, fetch: (input, init) => proxy.fetch(new Request(input, init)) });
    const rep = await client.enroll({ csr: r.csr, signer: r.signer });
    expect(rep.status).toBe("SUCCESS");
    expect(rep.certificates[0]!.subject).toBe("CN=requester-rsa, O=scep-sdk tests");
    expect(rep.certificates[0]!.isIssuedBy(fx.pki.ca.certificate)).toBe(true);
    expect(events.map((e) => [e.operation, e.outcome])).toEqual([
      ["GetCACaps", "forwarded"],
      ["GetCACert", "forwarded"],
      ["PKIOperation", "forwarded"],
    ]);
    expect(fx.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "success", reason: "issued" });
  });
});
