/**
 * Reading the client's address never fails a request: when the `info` a caller hands to `fetch`/`handle` has a
 * `remoteAddress` that is not a string, or is an object whose `remoteAddress` getter throws (a Proxy over a socket
 * that is gone, as Node's HTTP/2 compatibility socket is), the request is answered as if no address were known: the
 * same status and body, an event without `clientAddress`, no unhandled rejection. Driven by real HTTP requests over
 * loopback to a `node:http` server that answers through `fetch` and `handle`.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientAddressOf, type ConnectionInfo } from "../src/index.js";
import { close, createFixture, listen, type Fixture } from "./support/adapter-fixture.js";
import { unhandledRejectionsDuring } from "./support/unhandled.js";

const throwingGetter = (): ConnectionInfo =>
  Object.defineProperty({}, "remoteAddress", {
    get(): never {
      throw new Error("socket unbound");
    },
  }) as ConnectionInfo;
const throwingProxy = (): ConnectionInfo =>
  new Proxy({}, {
    get(): never {
      throw new Error("socket unbound");
    },
  }) as ConnectionInfo;

const unreadable: [string, () => unknown][] = [
  ["a remoteAddress getter that throws", throwingGetter],
  ["a Proxy whose every read throws", throwingProxy],
  ["a number", () => ({ remoteAddress: 42 })],
  ["an object", () => ({ remoteAddress: { address: "127.0.0.1" } })],
  ["info itself a string", () => "127.0.0.1"],
  ["info null", () => null],
];

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** A node:http server answering through `fetch` or `handle` with the `info` the test chose; a rejection is a 500. */
function serve(fx: Fixture, via: "fetch" | "handle", info: () => unknown): Server {
  return createServer((req, res) => {
    void (async () => {
      const body = await readAll(req);
      const method = req.method ?? "GET";
      if (via === "handle") {
        const r = await fx.server.handle({ method, url: req.url ?? "/", headers: req.headers, body }, info() as ConnectionInfo);
        return void res.writeHead(r.status, { ...r.headers, "content-length": r.body.length }).end(r.body);
      }
      const response = await fx.server.fetch(new Request(`http://localhost${req.url ?? "/"}`, { method, ...(body.length ? { body: new Uint8Array(body) } : {}) }), info() as ConnectionInfo);
      res.writeHead(response.status, { "content-type": response.headers.get("content-type") ?? "text/plain" }).end(Buffer.from(await response.arrayBuffer()));
    })().catch((e: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end(String(e)));
  });
}

let fx: Fixture;
beforeAll(async () => {
  fx = await createFixture();
});

describe.each(["fetch", "handle"] as const)("through %s", (via) => {
  const servers: Server[] = [];
  afterAll(() => Promise.all(servers.map(close)));

  it.each(unreadable)("info with %s: answered as without an address, the event has no clientAddress", async (_name, info) => {
    const http = serve(fx, via, info);
    servers.push(http);
    const base = await listen(http);
    const unhandled = await unhandledRejectionsDuring(async () => {
      const res = await fetch(`${base}/scep?operation=GetCACaps`);
      expect(res.status).toBe(200);
      expect((await res.text()).split("\n")).toContain("SCEPStandard");
      // A PKIOperation the server refuses: the refusal is the client's, not a 500 for the address.
      const refused = await fetch(`${base}/scep?operation=PKIOperation`, { method: "POST", body: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]) });
      expect(refused.status).toBe(400);
    });
    expect(unhandled).toEqual([]);
    const [caps, refused] = fx.events.slice(-2);
    expect(caps).toMatchObject({ operation: "GetCACaps", outcome: "success", status: 200 });
    expect(refused).toMatchObject({ operation: "PKIOperation", outcome: "rejected", status: 400 });
    expect([caps, refused].map((e) => Object.hasOwn(e!, "clientAddress"))).toEqual([false, false]);
  });
});

describe("clientAddressOf", () => {
  it.each(unreadable)("%s: undefined, no throw", (_name, info) => {
    expect(clientAddressOf(info() as ConnectionInfo)).toBeUndefined();
  });
});
