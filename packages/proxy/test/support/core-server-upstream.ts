/**
 * @scep/core's createScepServer as the proxy's upstream CA, on loopback HTTP: the adapter fixture's server (its test
 * CA, static challenge `CHALLENGE`, events collected), or one of the caller's (such as {@link manualAndAutoCore}),
 * behind a node:http listener, as a real CA would be reached. Call it at a test file's top level: it registers the
 * `beforeAll` that starts it and the `afterAll` that stops it.
 */
import { createServer, type Server } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { MemoryTransactionStore, createScepServer, type ScepEvent, type ScepServer } from "@scep/core";
import { afterAll, beforeAll } from "vitest";
import { close, createFixture, listen, type Fixture } from "../../../core/test/support/adapter-fixture.js";
import { createTestPki, type TestPki } from "../../../core/test/support/pki.js";

export interface CoreServerUpstream<F extends { server: ScepServer } = Fixture> {
  /** The core server's fixture (the adapter fixture's: `server`, `pki` and `events`). Set once `beforeAll` ran. */
  fx: F;
  /** `http://127.0.0.1:<port>`: the listener's origin, under which the server's profiles' paths are. */
  origin: string;
  /** The upstream's SCEP URL, `<origin>/scep`: a custom CA's `url` (the adapter fixture's profile). */
  url: string;
}

export function coreServerUpstream<F extends { server: ScepServer } = Fixture>(create?: () => Promise<F>): CoreServerUpstream<F> {
  const upstream = {} as CoreServerUpstream<F>;
  let http: Server;
  beforeAll(async () => {
    upstream.fx = await (create ?? (createFixture as unknown as () => Promise<F>))();
    http = createServer(getRequestListener((req) => upstream.fx.server.fetch(req)));
    upstream.origin = await listen(http);
    upstream.url = `${upstream.origin}/scep`;
  });
  afterAll(() => close(http));
  return upstream;
}

/** A core server with an operator's queue and one without (see {@link manualAndAutoCore}). */
export interface ManualAndAutoCore {
  pki: TestPki;
  server: ScepServer;
  /** Every event of the server, oldest first. */
  events: ScepEvent[];
  /** How many certificates the server issued so far (both profiles). */
  issued: number;
}

/**
 * A core server over a throw-away test PKI with two profiles taking the static `challenge`: `/manual` answers a
 * PKCSReq PENDING until `server.approve("manual", transactionId)`, `/auto` issues at once. Each profile keeps its
 * transactions in memory, so a re-send (same transactionID, RFC 8894 §3.3.1) is answered from its transaction.
 * `onEvent` is told each event after it is recorded in `events`.
 */
export async function manualAndAutoCore(options: { challenge: string; onEvent?: (e: ScepEvent) => void }): Promise<ManualAndAutoCore> {
  const pki = await createTestPki();
  let serial = 0x7000;
  const profile = (name: "manual" | "auto") => ({
    name,
    path: `/${name}`,
    caCertificate: pki.ca.certificate,
    signer: pki.ca,
    challenge: { type: "static" as const, password: options.challenge },
    transactions: new MemoryTransactionStore(),
    issue: async (ctx: { approved?: boolean; csr: { der: Uint8Array } }) => {
      if (name === "manual" && !ctx.approved) return { status: "PENDING" as const };
      core.issued++;
      return { status: "SUCCESS" as const, certificate: await pki.issue(ctx.csr.der, (serial++).toString(16)) };
    },
  });
  const events: ScepEvent[] = [];
  const server = createScepServer({
    profiles: [profile("manual"), profile("auto")],
    onEvent: (e) => {
      events.push(e);
      options.onEvent?.(e);
    },
  });
  const core: ManualAndAutoCore = { pki, server, events, issued: 0 };
  return core;
}
