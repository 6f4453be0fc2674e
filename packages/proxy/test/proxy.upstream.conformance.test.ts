/**
 * Both Upstreams against the published conformance suite
 * (`@scep/proxy/testing`): FetchHandlerUpstream handing requests to the
 * suite's handler in process, and HttpUpstream to the same handler served on
 * a loopback port; @scep/core's createScepServer is the reference SCEP server
 * whose GetCACaps/GetCACert must come through byte for byte.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { beforeAll } from "vitest";
import { FetchHandlerUpstream, HttpUpstream } from "../src/index.js";
import { upstreamConformance, type UpstreamUnderTest } from "../src/testing/index.js";
import type { UpstreamFetchHandler } from "../src/upstream/fetch-handler-upstream.js";
import { createFixture, type Fixture } from "../../core/test/support/adapter-fixture.js";

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
