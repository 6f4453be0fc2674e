/**
 * A scriptable SCEP upstream on a free loopback port: records every request
 * as it arrived on the wire (raw path and query, headers, body) and answers
 * with what the test scripts, including faults (a slow answer, a reset
 * connection, an oversized body).
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterAll, beforeAll } from "vitest";

export interface SeenRequest {
  method: string;
  /** Path and query exactly as sent. */
  rawUrl: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The `operation` query parameter. */
  operation: string | null;
}

export type Script = (req: SeenRequest, res: ServerResponse, socket: Socket) => void;

export interface UpstreamServer {
  /** `http://127.0.0.1:PORT/scep`. */
  readonly url: string;
  readonly seen: SeenRequest[];
  /** Replaces the answer script. */
  script(fn: Script): void;
  close(): Promise<void>;
}

export const PKI_REPLY = Buffer.from([0x30, 0x03, 0x02, 0x01, 0x2a]);
export const CA_CERT = Buffer.from([0x30, 0x03, 0x02, 0x01, 0x07]);

/** Answers like a well-behaved SCEP server with the given caps. */
export const wellBehaved =
  (caps = "POSTPKIOperation\nSHA-256\nAES\nSCEPStandard\n"): Script =>
  (req, res) => {
    if (req.operation === "GetCACaps") {
      res.writeHead(200, { "content-type": "text/plain" }).end(caps);
    } else if (req.operation === "GetCACert") {
      res.writeHead(200, { "content-type": "application/x-x509-ca-ra-cert" }).end(CA_CERT);
    } else if (req.operation === "PKIOperation") {
      res.writeHead(200, { "content-type": "application/x-pki-message" }).end(PKI_REPLY);
    } else {
      res.writeHead(400, { "content-type": "text/plain" }).end("bad operation");
    }
  };

export async function startUpstream(initial: Script = wellBehaved()): Promise<UpstreamServer> {
  let current = initial;
  const seen: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const rawUrl = req.url ?? "";
      const r: SeenRequest = { method: req.method ?? "", rawUrl, headers: req.headers, body: Buffer.concat(chunks), operation: new URL(rawUrl, "http://x").searchParams.get("operation") };
      seen.push(r);
      current(r, res, req.socket);
    });
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/scep`,
    seen,
    script: (fn) => {
      current = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * One {@link startUpstream} server for a whole test file: registers the `beforeAll` that starts it and the `afterAll`
 * that closes it, so call it at the file's top level. The handle it returns reaches the running server (`url`,
 * `seen`, `script`) once `beforeAll` ran.
 */
export function loopbackUpstream(initial?: Script): UpstreamServer {
  let server: UpstreamServer | undefined;
  beforeAll(async () => {
    server = await startUpstream(initial);
  });
  afterAll(() => server?.close());
  const running = (): UpstreamServer => {
    if (!server) throw new Error("loopbackUpstream: the upstream starts in beforeAll; use it inside a hook or a test");
    return server;
  };
  return {
    get url() {
      return running().url;
    },
    get seen() {
      return running().seen;
    },
    script: (fn) => running().script(fn),
    close: () => running().close(),
  };
}
