/**
 * @scep/core's createScepServer as the proxy's upstream CA, on loopback HTTP: the adapter fixture's server (its test
 * CA, static challenge `CHALLENGE`, events collected) behind a node:http listener, as a real CA would be reached.
 * Call it at a test file's top level: it registers the `beforeAll` that starts it and the `afterAll` that stops it.
 */
import { createServer, type Server } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { afterAll, beforeAll } from "vitest";
import { close, createFixture, listen, type Fixture } from "../../../core/test/support/adapter-fixture.js";

export interface CoreServerUpstream {
  /** The core server's fixture: `server`, `pki` (its CA and requesters) and `events`. Set once `beforeAll` ran. */
  fx: Fixture;
  /** The upstream's SCEP URL, `http://127.0.0.1:<port>/scep`: a custom CA's `url`. Set once `beforeAll` ran. */
  url: string;
}

export function coreServerUpstream(): CoreServerUpstream {
  const upstream = {} as CoreServerUpstream;
  let http: Server;
  beforeAll(async () => {
    upstream.fx = await createFixture();
    http = createServer(getRequestListener((req) => upstream.fx.server.fetch(req)));
    upstream.url = `${await listen(http)}/scep`;
  });
  afterAll(() => close(http));
  return upstream;
}
