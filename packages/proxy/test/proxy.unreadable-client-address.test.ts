/**
 * Reading the device's address never fails a proxied request: when the `info` handed to the proxy's `fetch` has a
 * `remoteAddress` that is not a string, or one whose getter throws (a Proxy over a socket that is gone), the request
 * is answered as if no address were known: the same status, an event without `clientAddress`, `fetch` does not
 * reject, no unhandled rejection. Driven by real HTTP requests over loopback to a `node:http` server.
 */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConnectionInfo } from "@scep/core";
import { close, listen } from "../../core/test/support/adapter-fixture.js";
import { unhandledRejectionsDuring } from "../../core/test/support/unhandled.js";
import { MemoryCaRegistry, MemoryProfileStore, createScepProxy, type ProxyEvent, type ScepProxy } from "../src/index.js";

const unreadable: [string, () => unknown][] = [
  [
    "a remoteAddress getter that throws",
    () =>
      Object.defineProperty({}, "remoteAddress", {
        get(): never {
          throw new Error("socket unbound");
        },
      }),
  ],
  [
    "a Proxy whose every read throws",
    () =>
      new Proxy({}, {
        get(): never {
          throw new Error("socket unbound");
        },
      }),
  ],
  ["a number", () => ({ remoteAddress: 42 })],
  ["an object", () => ({ remoteAddress: { address: "127.0.0.1" } })],
];

const events: ProxyEvent[] = [];
let proxy: ScepProxy;
beforeAll(() => {
  proxy = createScepProxy({
    basePath: "/scep",
    profiles: new MemoryProfileStore(),
    cas: new MemoryCaRegistry([]),
    onEvent: (e) => void events.push(e),
    logger: { error: () => undefined },
  });
});

describe("the proxy's fetch with info it cannot read an address from", () => {
  const servers: Server[] = [];
  afterAll(() => Promise.all(servers.map(close)));

  it.each(unreadable)("%s: answered as without an address, the event has no clientAddress", async (_name, info) => {
    const http = createServer((req, res) => {
      proxy
        .fetch(new Request(`http://localhost${req.url ?? "/"}`), info() as ConnectionInfo)
        .then(async (r) => res.writeHead(r.status).end(Buffer.from(await r.arrayBuffer())))
        .catch((e: unknown) => res.writeHead(500).end(String(e)));
    });
    servers.push(http);
    const base = await listen(http);
    const unhandled = await unhandledRejectionsDuring(async () => {
      const res = await fetch(`${base}/scep/not-an-identifier?operation=GetCACaps`);
      await res.text();
      expect(res.status).toBe(400);
    });
    expect(unhandled).toEqual([]);
    expect(events.at(-1)).toMatchObject({ reason: "invalid_identifier", status: 400 });
    expect(Object.hasOwn(events.at(-1)!, "clientAddress")).toBe(false);
  });
});
