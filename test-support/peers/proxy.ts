/**
 * A recording HTTP proxy for loopback: put it between a real client and a
 * real server to capture the SCEP messages they exchange on the wire.
 *
 * @module
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders } from "node:http";

/** One request/response pair seen by the proxy. */
export interface RecordedExchange {
  method: string;
  /** Path and query exactly as the client sent them. */
  path: string;
  requestHeaders: IncomingHttpHeaders;
  requestBody: Uint8Array;
  status: number;
  responseHeaders: IncomingHttpHeaders;
  responseBody: Uint8Array;
}

/** A running recording proxy. */
export interface RecordingProxy {
  /** Base URL with the target's path, e.g. `http://127.0.0.1:PORT/scep`. */
  readonly url: string;
  readonly exchanges: RecordedExchange[];
  /** Exchanges whose `operation` query parameter is `op`. */
  byOperation(op: string): RecordedExchange[];
  stop(): Promise<void>;
}

/**
 * Starts a proxy on a free 127.0.0.1 port forwarding every request to
 * `target` (scheme+host+port taken from it; the path is passed through).
 */
export function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const upstream = new URL(target);
  const exchanges: RecordedExchange[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.once("end", () => {
      const requestBody = Buffer.concat(chunks);
      const forward = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: upstream.host },
          agent: false,
        },
        (upRes) => {
          const body: Buffer[] = [];
          upRes.on("data", (chunk: Buffer) => body.push(chunk));
          upRes.once("end", () => {
            const responseBody = Buffer.concat(body);
            exchanges.push({
              method: req.method ?? "GET",
              path: req.url ?? "/",
              requestHeaders: req.headers,
              requestBody: new Uint8Array(requestBody),
              status: upRes.statusCode ?? 0,
              responseHeaders: upRes.headers,
              responseBody: new Uint8Array(responseBody),
            });
            res.writeHead(upRes.statusCode ?? 502, upRes.headers);
            res.end(responseBody);
          });
        },
      );
      forward.once("error", (error) => {
        res.writeHead(502, { "content-type": "text/plain" });
        res.end(`proxy error: ${error.message}`);
      });
      forward.end(requestBody);
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      resolve({
        url: `http://127.0.0.1:${port}${upstream.pathname}`,
        exchanges,
        byOperation: (op) =>
          exchanges.filter((e) => new URL(e.path, "http://x").searchParams.get("operation") === op),
        stop: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

/**
 * The DER pkiMessage a PKIOperation exchange carried: the POST body, or the
 * base64 `message` query parameter of a GET (tolerating `+`→space, URL-safe
 * base64 and line breaks).
 */
export function pkiMessageOf(exchange: RecordedExchange): Uint8Array {
  if (exchange.method === "POST") return exchange.requestBody;
  const raw = /[?&]message=([^&]*)/.exec(exchange.path)?.[1] ?? "";
  const b64 = decodeURIComponent(raw).replace(/ /g, "+").replace(/-/g, "+").replace(/_/g, "/").replace(/\s+/g, "");
  return new Uint8Array(Buffer.from(b64, "base64"));
}
