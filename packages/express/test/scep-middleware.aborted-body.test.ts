/**
 * A client that goes away mid-body (RFC 9112 §6.3: a message shorter than its Content-Length is incomplete) is told
 * to the handler as an aborted body on both of the middleware's paths: the plain-parts path (`handle`, the SCEP
 * server) and the web path (`fetch` only, as `@scep/proxy`'s handler). Before, the web path ended the `Request`'s body
 * stream normally at the bytes that had arrived, so a handler read a truncated body as if it were whole: the SCEP
 * server answered it as a malformed message (400 `decode_error`) instead of `body_aborted`, and a relay would have
 * forwarded the truncated message upstream.
 */
import type { Server } from "node:http";
import { createServer } from "node:http";
import { connect } from "node:net";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FetchHandler } from "@scep/core";
import { scepMiddleware } from "../src/index.js";
import { close, createFixture, listen, type Fixture } from "../../core/test/support/adapter-fixture.js";

let fx: Fixture;
const servers: Server[] = [];
beforeAll(async () => {
  fx = await createFixture();
});
afterAll(async () => {
  for (const http of servers) await close(http);
});

/** Serves `handler` through the middleware; resolves the port. */
async function serve(handler: FetchHandler): Promise<number> {
  const app = express();
  app.use(scepMiddleware(handler));
  const http = createServer(app);
  servers.push(http);
  return Number(new URL(await listen(http)).port);
}

describe("a client that goes away mid-body", () => {
  for (const path of ["web (fetch only)", "plain parts (handle)"] as const) {
    it(`${path}: the handler reads an aborted body (the server's 400 body_aborted), never a truncated one`, async () => {
      let started!: () => void;
      const hasRequest = new Promise<void>((resolve) => (started = resolve));
      let bodies: (Uint8Array | string)[] = [];
      const answered = new Promise<number>((resolve) => {
        const s = fx.server;
        const handler: FetchHandler =
          path === "web (fetch only)"
            ? {
                owns: (p) => s.owns(p),
                fetch: async (request) => {
                  started();
                  const copy = request.clone();
                  const response = await s.fetch(request);
                  bodies = [await copy.arrayBuffer().then((b) => new Uint8Array(b), () => "aborted")];
                  resolve(response.status);
                  return response;
                },
              }
            : {
                owns: (p) => s.owns(p),
                fetch: (request) => s.fetch(request),
                handle: async (parts) => {
                  started();
                  const answer = await s.handle(parts);
                  resolve(answer.status);
                  return answer;
                },
              };
        void serve(handler).then((port) => {
          const socket = connect(port, "127.0.0.1");
          socket.on("error", () => undefined);
          socket.write("POST /scep?operation=PKIOperation HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-pki-message\r\nContent-Length: 900\r\n\r\n" + "0".repeat(100));
          void hasRequest.then(() => socket.destroy()); // the server has the request and is reading its body: the client goes away
        });
      });
      expect(await answered).toBe(400);
      expect(fx.events.at(-1)).toMatchObject({ operation: "PKIOperation", outcome: "rejected", reason: "body_aborted", status: 400 });
      if (path === "web (fetch only)") expect(bodies).toEqual(["aborted"]);
    });
  }
});
