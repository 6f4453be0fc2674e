// The body timeout of the example servers' and the example proxy's HTTP server (`--body-timeout-ms`, the proxy's
// `http.bodyTimeoutMs`) cuts a body that is late, never one that is on time, whatever the value. Node's setTimeout
// fires a delay past 2^31 − 1 ms after 1 ms: a body timeout set that long (with a request timeout as long, which the
// configuration accepted) answered 408 to every request whose body came in more than one piece.
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { createLimitedHttpServer } from "../src/http-limits.js";

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/**
 * A server with body timeout `ms` (and a request timeout at least as long) that answers 200 with the number of body bytes, and a POST of 10 bytes
 * sent in two pieces: the second only once the server has the request (its body timer armed) and a 2 ms timer has run
 * after that, so a timer armed with 1 ms has fired by then (Node runs timers in the order they expire). The response.
 */
async function postInTwoPieces(ms: number): Promise<string> {
  let arrived!: () => void;
  const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
  server = createLimitedHttpServer({ requestTimeoutMs: Math.max(ms, 10_000), headersTimeoutMs: 5_000, keepAliveTimeoutMs: 5_000, maxInFlight: 16, maxConnections: 64, bodyTimeoutMs: ms, retryAfterSeconds: 1 }, (req, res) => {
    let bytes = 0;
    req.on("data", (chunk: Buffer) => (bytes += chunk.length)).on("end", () => res.end(`${bytes} bytes\n`));
    arrived();
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  const socket = connect((server.address() as AddressInfo).port, "127.0.0.1");
  let received = "";
  socket.setEncoding("latin1").on("data", (d: string) => (received += d)).on("error", () => undefined);
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.write("POST /scep?operation=PKIOperation HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n\r\n01234");
  await requestArrived;
  await new Promise((resolve) => setTimeout(resolve, 2));
  if (!socket.destroyed) socket.write("56789");
  await closed;
  return received;
}

describe("the body timeout cuts late bodies only, whatever its value", () => {
  it("1 ms: the body's second piece is late → 408 (the test sees a timer that fired)", async () => {
    expect((await postInTwoPieces(1)).split("\r\n")[0]).toBe("HTTP/1.1 408 Request Timeout");
  });

  it.each([2_147_483_647, 3_000_000_000, Number.MAX_SAFE_INTEGER])("%d ms: a body in two pieces is read whole (200)", async (ms) => {
    const response = await postInTwoPieces(ms);
    expect(response.split("\r\n")[0]).toBe("HTTP/1.1 200 OK");
    expect(response.endsWith("\r\n\r\n10 bytes\n")).toBe(true);
  });
});
