/**
 * RFC 9110 §15.6.1: a handler that fails unexpectedly is answered 500 with a body that says so (`internal error`,
 * text/plain, an exact Content-Length), as the proxy's listener answers; once the headers went out the connection is
 * destroyed, so a half-written answer never reads as complete. `internalError` is what the example servers' admin
 * listener and the Express example's SCEP hot path (`next(error)`) call. Over real sockets on loopback.
 * (Found by a review: the Express example's hot path answered a bare `500` with no body and no Content-Length.)
 */
import { createServer, request, type RequestListener, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { internalError, serveFetch } from "../src/node-fetch.js";

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

async function listen(listener: RequestListener): Promise<number> {
  server = createServer(listener);
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  return (server.address() as { port: number }).port;
}

/** One GET: the status, header fields and body, or the socket error that ended it. */
function get(port: number): Promise<{ status: number; headers: Record<string, unknown>; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/admin/x", agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on("error", (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
      res.on("aborted", () => resolve({ error: "aborted" }));
    });
    req.on("error", (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end();
  });
}

describe("RFC 9110 §15.6.1: an unexpected handler failure", () => {
  it("is a 500 with the line 'internal error', an exact Content-Length and no caching; the cause goes to the log only", async () => {
    const lines: Record<string, unknown>[] = [];
    const port = await listen((req, res) =>
      serveFetch(
        () => Promise.reject(Object.assign(new Error("the hook failed\nsecond line"), { code: "ERR_HOOK" })),
        req,
        res,
        (error) => internalError(res, { error, where: "admin", log: (l) => void lines.push(l) }),
      ),
    );
    const answer = await get(port);
    expect(answer).toMatchObject({
      status: 500,
      body: "internal error\n",
      headers: { "content-type": "text/plain; charset=utf-8", "content-length": "15", "cache-control": "no-store" },
    });
    expect(lines).toEqual([{ type: "internal-error", where: "admin", code: "ERR_HOOK", message: "the hook failed" }]);
  });

  it("a log that throws does not keep the 500 from going out", async () => {
    const port = await listen((_req, res) =>
      internalError(res, {
        error: new Error("x"),
        where: "scep",
        log: () => {
          throw new Error("log down");
        },
      }),
    );
    expect(await get(port)).toMatchObject({ status: 500, body: "internal error\n" });
  });

  it("after the headers went out, destroys the connection instead of ending a half-written answer", async () => {
    const port = await listen((_req, res) => {
      res.writeHead(200, { "content-length": "100" });
      res.write("partial");
      internalError(res);
    });
    const answer = await get(port);
    expect("error" in answer ? "cut off" : answer).toBe("cut off");
  });
});
