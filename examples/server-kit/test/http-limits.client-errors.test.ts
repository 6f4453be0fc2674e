// Requests Node's HTTP parser refuses before any listener runs (RFC 9110 §15.5.1 400, RFC 6585 §5 431, RFC 9110
// §15.5.9 408): the example servers and the example proxy answer them with the status Node would use and a short
// reason in the body, not Node's empty body. The common case for SCEP: a GET whose message= pushes the request line
// past Node's 16 KiB header limit (RFC 8894 §4.1 says to POST such a message).
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { createLimitedHttpServer } from "../src/http-limits.js";

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function start(headersTimeoutMs = 5_000): Promise<number> {
  server = createLimitedHttpServer(
    { requestTimeoutMs: 10_000, headersTimeoutMs, keepAliveTimeoutMs: 5_000, maxInFlight: 16, maxConnections: 64, bodyTimeoutMs: 5_000, retryAfterSeconds: 1 },
    (_req, res) => res.end("ok\n"),
  );
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

/** Sends raw bytes, then reads until the server closes the connection (or 5 s pass). */
function exchange(port: number, raw: string, opts: { endAfterWrite?: boolean } = {}): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    const done = (): void => {
      clearTimeout(timer);
      resolve(received);
    };
    const timer = setTimeout(() => {
      socket.destroy();
      done();
    }, 5_000);
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => (received += d));
    socket.on("close", done);
    socket.on("error", () => undefined);
    socket.write(raw);
    if (opts.endAfterWrite) socket.end();
  });
}

const bodyOf = (response: string): string => response.slice(response.indexOf("\r\n\r\n") + 4);

describe("example HTTP server: requests Node's parser refuses get a status and a one-line reason", () => {
  it("a GET whose message= passes the 16 KiB header limit → 431 saying to POST (RFC 8894 §4.1), not an empty body", async () => {
    const port = await start();
    const message = "A".repeat(20 * 1024);
    const response = await exchange(port, `GET /scep?operation=PKIOperation&message=${message} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(response.split("\r\n")[0]).toBe("HTTP/1.1 431 Request Header Fields Too Large");
    expect(response).toMatch(/\r\nconnection: close\r\n/i);
    expect(bodyOf(response)).toBe("request line and headers larger than 16 KiB: send a large PKIMessage by POST (RFC 8894 section 4.1), not GET\n");
    expect(response).not.toContain("AAAA"); // nothing of the request is echoed
  });

  it("a request line that is not HTTP → 400 with a reason", async () => {
    const port = await start();
    const response = await exchange(port, "\x16\x03\x01 not http at all\r\n\r\n");
    expect(response.split("\r\n")[0]).toBe("HTTP/1.1 400 Bad Request");
    expect(bodyOf(response)).toBe("malformed HTTP request\n");
  });

  it("headers that stop arriving → 408 with a reason after headersTimeout", async () => {
    const port = await start(300);
    const response = await exchange(port, "GET /scep?operation=GetCACaps HTTP/1.1\r\nHost: x\r\n");
    expect(response.split("\r\n")[0]).toBe("HTTP/1.1 408 Request Timeout");
    expect(bodyOf(response)).toBe("request headers not received in time\n");
  });

  it("a GET over 16 KiB on a kept-alive connection after an answered GetCACaps (what fetch does: GetCACaps, GetCACert, then the PKIOperation on one connection) → 431 with its reason, not a connection closed without an answer", async () => {
    const port = await start();
    const response = await new Promise<string>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      let received = "";
      let sent = false;
      const timer = setTimeout(() => socket.destroy(), 5_000);
      socket.setEncoding("latin1");
      socket.on("data", (d: string) => {
        received += d;
        // The first answer is complete (its body "ok\n" arrived): only then the large request, as a second one.
        if (!sent && received.endsWith("ok\n")) {
          sent = true;
          socket.write(`GET /scep?operation=PKIOperation&message=${"A".repeat(20 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`);
        }
      });
      socket.on("close", () => {
        clearTimeout(timer);
        resolve(received);
      });
      socket.on("error", () => undefined);
      socket.write("GET /scep?operation=GetCACaps HTTP/1.1\r\nHost: x\r\n\r\n");
    });
    expect(response.startsWith("HTTP/1.1 200 OK\r\n")).toBe(true);
    const second = response.slice(response.indexOf("ok\n") + 3);
    expect(second.split("\r\n")[0]).toBe("HTTP/1.1 431 Request Header Fields Too Large");
    expect(bodyOf(second)).toBe("request line and headers larger than 16 KiB: send a large PKIMessage by POST (RFC 8894 section 4.1), not GET\n");
  });

  it("one request listener does both jobs (notes the response in flight, answers under the limits): a framework adds its own after it", async () => {
    await start();
    expect(server!.listenerCount("request")).toBe(1);
  });

  it("a small request is served; garbage pipelined behind it, parsed while its answer is being written, gets no second status line inside that answer", async () => {
    const port = await start();
    const response = await exchange(port, "GET /scep?operation=GetCACaps HTTP/1.1\r\nHost: x\r\n\r\n\x00garbage\r\n\r\n");
    expect(response.startsWith("HTTP/1.1 200 OK\r\n")).toBe(true);
    expect(response.match(/HTTP\/1\.1 /g)).toHaveLength(1);
  });
});
