/**
 * `ScepClient`'s HTTP exchange (RFC 8894 §4.1) fails with one typed error, `TransportError` `ERR_TRANSPORT`, whatever
 * part of it fails: a server that sends its headers and then stalls the body (the deadline covers the body too; the
 * body's read rejected with a bare DOMException before), a body past `maxResponseBytes` (read whole into memory
 * before), and an abort that was not our deadline (a caller's fetch aborting for its own reasons), which is not
 * reported as a timeout. Real loopback servers.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, expectTypeOf, it, vi } from "vitest";
import { ScepClient, TransportError, type TransportOperation } from "../src/index.js";

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((done) => s.close(done));
  }
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/scep`;
}

/** The error `promise` rejects with, checked to be a TransportError. */
async function transportError(promise: Promise<unknown>): Promise<TransportError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TransportError);
  expect((error as TransportError).code).toBe("ERR_TRANSPORT");
  return error as TransportError;
}

describe("ScepClient: every failure of the HTTP exchange is ERR_TRANSPORT", () => {
  it("no answer within timeoutMs → timed out", async () => {
    const url = await serve(() => {}); // never answers
    const e = await transportError(new ScepClient({ url, timeoutMs: 300 }).getCaCaps());
    expect(e.message).toBe("GetCACaps: timed out after 300 ms");
  });

  it("headers sent, then the body stalls past timeoutMs → timed out, not a bare DOMException", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain", "content-length": "100" });
      res.write("POSTPKIOperation\n"); // and the other 83 bytes never come
    });
    const e = await transportError(new ScepClient({ url, timeoutMs: 300 }).getCaCaps());
    expect(e.message).toBe("GetCACaps: timed out after 300 ms");
  });

  it("a body larger than maxResponseBytes → refused, and not read to its end", async () => {
    let written = 0;
    let ended = false;
    const url = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/x-x509-ca-cert" });
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      const pump = (): void => {
        while (written < 64 * 1024 * 1024) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        ended = true;
        res.end();
      };
      pump();
    });
    const e = await transportError(new ScepClient({ url, maxResponseBytes: 256 * 1024 }).getCaCert());
    expect(e.message).toBe("GetCACert: the response is larger than 262144 bytes (maxResponseBytes)");
    expect(ended).toBe(false); // the client stopped reading: the 64 MiB were never all sent
  });

  it("maxResponseBytes that is not a positive integer is refused at construction (NaN would lift the cap: no byte count is > NaN)", () => {
    for (const bad of [Number.NaN, 0, -1, 1.5, Number.POSITIVE_INFINITY]) {
      expect(() => new ScepClient({ url: "http://127.0.0.1:9/scep", maxResponseBytes: bad })).toThrow(
        expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: `maxResponseBytes must be a positive integer, got ${String(bad)}` }),
      );
    }
    expect(() => new ScepClient({ url: "http://127.0.0.1:9/scep", maxResponseBytes: 1 })).not.toThrow();
  });

  it("a url that does not parse as an absolute URL is refused at construction, without echoing it (a proxy's one-time URL holds its challenge); every request threw a bare TypeError", () => {
    for (const bad of ["", "scep.example.com/scep", "/scep", "http://[::1/scep", "secret-challenge-in-path"]) {
      let thrown: unknown;
      try {
        new ScepClient({ url: bad });
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toMatchObject({ code: "ERR_INVALID_ARGUMENT", message: "url must be an absolute URL (http:// or https://)" });
    }
    expect(() => new ScepClient({ url: "http://127.0.0.1:9/scep" })).not.toThrow();
  });

  it("timeoutMs that is not a positive integer is refused at construction (NaN would lift the deadline)", () => {
    for (const bad of [Number.NaN, 0, -1, 1.5, Number.POSITIVE_INFINITY]) {
      expect(() => new ScepClient({ url: "http://127.0.0.1:9/scep", timeoutMs: bad })).toThrow(
        expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: `timeoutMs must be a positive integer, got ${String(bad)}` }),
      );
    }
  });

  it("timeoutMs above 2^31 − 1 is refused at construction: a timer that long fires at once (Node sets it to 1 ms) or AbortSignal.timeout throws", () => {
    for (const bad of [2 ** 31, 3_000_000_000, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
      expect(() => new ScepClient({ url: "http://127.0.0.1:9/scep", timeoutMs: bad })).toThrow(
        expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: `timeoutMs must be at most 2147483647 (about 24.8 days, the longest timer Node and browsers keep), got ${bad}` }),
      );
    }
    expect(() => new ScepClient({ url: "http://127.0.0.1:9/scep", timeoutMs: 2 ** 31 - 1 })).not.toThrow();
  });

  it("the default deadline (180 s) outlasts a SCEP proxy's upstream timeout (30 s) and IIS's (120 s), so their answer reaches the caller", async () => {
    const timeout = vi.spyOn(AbortSignal, "timeout");
    try {
      const answering: typeof fetch = async () => new Response("POSTPKIOperation\n", { headers: { "content-type": "text/plain" } });
      await new ScepClient({ url: "http://127.0.0.1:9/scep", fetch: answering }).getCaCaps();
      expect(timeout).toHaveBeenCalledWith(180_000);
    } finally {
      timeout.mockRestore();
    }
  });

  it("a fetch that aborts for its own reasons (AbortError) → 'aborted', not 'timed out'", async () => {
    const fetchAborting: typeof fetch = async () => {
      throw new DOMException("the caller cancelled the enrollment", "AbortError");
    };
    const e = await transportError(new ScepClient({ url: "http://127.0.0.1:9/scep", fetch: fetchAborting }).getCaCaps());
    expect(e.message).toBe("GetCACaps: the request was aborted (the caller cancelled the enrollment)");
  });

  it("an error status with a body larger than maxResponseBytes → the status, not the size", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(503, { "content-type": "text/plain" });
      res.end("busy: " + "x".repeat(300_000));
    });
    const e = await transportError(new ScepClient({ url, maxResponseBytes: 100_000 }).getCaCaps());
    expect([e.message, e.status]).toEqual(["GetCACaps: HTTP 503", 503]);
  });

  it("every TransportError names its operation in `operation` (timeout, HTTP error, body too large), so a caller decides on it, not on the text", async () => {
    const timedOut = await transportError(new ScepClient({ url: await serve(() => {}), timeoutMs: 300 }).getCaCert());
    expect([timedOut.operation, timedOut.status]).toEqual(["GetCACert", undefined]);
    const url = await serve((req, res) => {
      if (req.url?.includes("GetCACaps")) return void res.writeHead(200, { "content-type": "text/plain" }).end("POSTPKIOperation\nSHA-256\nAES\n");
      res.writeHead(502, { "content-type": "text/plain" }).end("PKIOperation: not this one");
    });
    const refused = await transportError(new ScepClient({ url }).pkiOperation(new Uint8Array([0x30, 0x00])));
    expect([refused.operation, refused.status, refused.message]).toEqual(["PKIOperation", 502, "PKIOperation: HTTP 502 (PKIOperation: not this one)"]);
    const big = await serve((_req, res) => void res.writeHead(200, { "content-type": "text/plain" }).end("x".repeat(2000)));
    expect((await transportError(new ScepClient({ url: big, maxResponseBytes: 1000 }).getCaCaps())).operation).toBe("GetCACaps");
  });

  it("an error status's Retry-After → retryAfterSeconds (RFC 9110 §10.2.3): delta-seconds, an HTTP-date counted from the response's Date, else unset", async () => {
    let headers: Record<string, string> = {};
    const url = await serve((req, res) => {
      if (req.url?.includes("GetCACaps")) return void res.writeHead(200, { "content-type": "text/plain" }).end("POSTPKIOperation\nSHA-256\nAES\n");
      res.sendDate = false;
      res.writeHead(502, { "content-type": "text/plain", ...headers }).end("upstream failed");
    });
    const client = new ScepClient({ url });
    const answered = async (h: Record<string, string>): Promise<[number | undefined, number | undefined]> => {
      headers = h;
      const e = await transportError(client.pkiOperation(new Uint8Array([0x30, 0x00])));
      return [e.status, e.retryAfterSeconds];
    };
    expect(await answered({ "retry-after": "30" })).toEqual([502, 30]);
    expect(await answered({ "retry-after": " 0 " })).toEqual([502, 0]);
    const date = "Wed, 02 Dec 2026 01:00:00 GMT";
    expect(await answered({ date, "retry-after": "Wed, 02 Dec 2026 01:02:05 GMT" })).toEqual([502, 125]);
    expect(await answered({ date, "retry-after": "Wed, 02 Dec 2026 00:59:00 GMT" })).toEqual([502, 0]);
    expect(await answered({ "retry-after": "Wed, 02 Dec 2026 01:02:05 GMT" })).toEqual([502, undefined]); // no Date to count from
    expect(await answered({ "retry-after": "soon" })).toEqual([502, undefined]);
    expect(await answered({ "retry-after": "-5" })).toEqual([502, undefined]);
    expect(await answered({})).toEqual([502, undefined]);
    const timedOut = await transportError(new ScepClient({ url: await serve(() => {}), timeoutMs: 300 }).getCaCaps());
    expect(timedOut.retryAfterSeconds).toBeUndefined();
    expectTypeOf<TransportError["retryAfterSeconds"]>().toEqualTypeOf<number | undefined>();
  });

  it("`operation` is typed as the operations ScepClient sends, so a `switch` on it narrows and a typo does not compile", () => {
    expectTypeOf<TransportError["operation"]>().toEqualTypeOf<"GetCACaps" | "GetCACert" | "PKIOperation" | undefined>();
    expectTypeOf<TransportOperation>().toEqualTypeOf<"GetCACaps" | "GetCACert" | "PKIOperation">();
  });
});
