/**
 * The activity log names the client: an entry carries the event's `clientAddress` (what the adapter passed as
 * `info.remoteAddress`), under the same 64-character clip as the event, and none when the event had none. A real HTTP
 * request over loopback to a node:http server answering through `handle` with the socket's peer address.
 */
import { createServer, type Server } from "node:http";
import { afterAll, describe, expect, it } from "vitest";
import { ActivityLog, type ScepEvent } from "../src/index.js";
import { close, createFixture, listen } from "./support/adapter-fixture.js";

const T0 = new Date("2026-01-15T12:00:00Z");
const ev = (e: Partial<ScepEvent>): ScepEvent => ({ operation: "PKCSReq", outcome: "failure", reason: "bad_challenge", status: 200, latencyMs: 3, time: T0, ...e });

describe("an entry's clientAddress", () => {
  const servers: Server[] = [];
  afterAll(() => Promise.all(servers.map(close)));

  it("a real request's entry has the loopback peer, as its event does", async () => {
    const fx = await createFixture();
    const activity = new ActivityLog({ include: () => true });
    const http = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c)).on("end", () => {
        void fx.server.handle({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) }, { remoteAddress: req.socket.remoteAddress }).then((r) => {
          activity.record(fx.events.at(-1)!);
          res.writeHead(r.status, { ...r.headers, "content-length": r.body.length }).end(r.body);
        });
      });
    });
    servers.push(http);
    const base = await listen(http);
    const res = await fetch(`${base}/scep?operation=PKIOperation`, { method: "POST", body: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]) });
    await res.text();
    expect(fx.events.at(-1)!.clientAddress).toBe("127.0.0.1");
    expect(activity.list()).toMatchObject([{ operation: "PKIOperation", outcome: "rejected", status: 400, clientAddress: "127.0.0.1" }]);
  });

  it("is copied from the event as it is (IPv6), cut to 64 characters ending in … when longer", () => {
    const log = new ActivityLog();
    log.sink(ev({ clientAddress: "::ffff:192.0.2.7" }));
    log.sink(ev({ clientAddress: "x".repeat(10_000) }));
    expect(log.list().map((e) => e.clientAddress)).toEqual([`${"x".repeat(63)}…`, "::ffff:192.0.2.7"]);
  });

  it("is absent when the event had none, or one that is not a non-empty string (an event of a caller's own shape)", () => {
    const log = new ActivityLog();
    log.sink(ev({}));
    log.record({ ...ev({}), clientAddress: "" });
    log.record({ ...ev({}), clientAddress: 42 as unknown as string });
    expect(log.list().map((e) => Object.hasOwn(e, "clientAddress"))).toEqual([false, false, false]);
  });

  it("can be filtered on by the caller and shows in list()'s copies", () => {
    const log = new ActivityLog();
    log.sink(ev({ clientAddress: "192.0.2.1" }));
    log.sink(ev({ clientAddress: "192.0.2.2" }));
    expect(log.list().filter((e) => e.clientAddress === "192.0.2.1")).toHaveLength(1);
  });
});
