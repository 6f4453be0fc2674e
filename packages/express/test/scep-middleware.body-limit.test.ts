/**
 * The body-size limit: a declared Content-Length over the limit gets 413
 * without a byte of the body read; a chunked body is read only up to the
 * limit, answered 413 before the client finished sending, and the connection
 * is closed (the rest is never buffered).
 */
import { createServer, request, type IncomingMessage, type Server } from "node:http";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scepMiddleware } from "../src/index.js";
import { close, createFixture, listen, type Fixture } from "../../core/test/support/adapter-fixture.js";

let fx: Fixture;
let http: Server;
let port: number;

beforeAll(async () => {
  fx = await createFixture({ maxBodyBytes: 1024 }); // same limit in server and adapter: the event says body_too_large
  const app = express();
  app.use(scepMiddleware(fx.server, { maxBodyBytes: 1024 }));
  http = createServer(app);
  port = Number(new URL(await listen(http)).port);
});
afterAll(() => close(http));

function post(headers: Record<string, string>): { req: ReturnType<typeof request>; response: Promise<{ res: IncomingMessage; body: string }> } {
  const req = request({ host: "127.0.0.1", port, method: "POST", path: "/scep?operation=PKIOperation", headers: { "content-type": "application/x-pki-message", ...headers } });
  const response = new Promise<{ res: IncomingMessage; body: string }>((resolve, reject) => {
    req.on("error", reject);
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d) => (body += d));
      res.on("end", () => resolve({ res, body }));
    });
  });
  return { req, response };
}

describe("scepMiddleware body limit", () => {
  it("answers 413 to a declared Content-Length over the limit without reading the body", async () => {
    const { req, response } = post({ "content-length": "2048" });
    req.write(Buffer.alloc(100, 0x30)); // the rest (1948 bytes) is never sent
    const { res, body } = await response;
    req.destroy();
    expect(res.statusCode).toBe(413);
    expect(res.headers.connection).toBe("close");
    expect(body).toBe("message too large\n");
    expect(fx.events.at(-1)).toMatchObject({ operation: "PKIOperation", outcome: "rejected", reason: "body_too_large", status: 413 });
  });

  it("answers 413 to a chunked body once it passes the limit, before the client ends it", async () => {
    const { req, response } = post({ "transfer-encoding": "chunked" });
    req.write(Buffer.alloc(800, 0x30));
    req.write(Buffer.alloc(800, 0x30)); // the request is never ended: the answer cannot wait for it
    const { res, body } = await response;
    const closed = new Promise((resolve) => req.socket!.once("close", resolve));
    expect(res.statusCode).toBe(413);
    expect(fx.events.at(-1)).toMatchObject({ operation: "PKIOperation", outcome: "rejected", reason: "body_too_large", status: 413 });
    expect(res.headers.connection).toBe("close");
    expect(body).toBe("message too large\n");
    await closed; // the server closed the connection
  });

  it("accepts a body at the limit and hands it to the server (400: not a PKIMessage)", async () => {
    const { req, response } = post({ "content-length": "1024" });
    req.end(Buffer.alloc(1024, 0x30));
    const { res, body } = await response;
    expect(res.statusCode).toBe(400);
    expect(body).toMatch(/^malformed PKIOperation: /);
  });
});
