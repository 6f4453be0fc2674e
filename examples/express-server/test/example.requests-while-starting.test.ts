/**
 * The example server binds its port before it makes its CA and SCEP server:
 * a request that arrives in between (a health probe included) is answered
 * 503 + Retry-After at once, never held on a start that may fail; a start that
 * fails closes every connection (an idle keep-alive one too) and exits 2.
 * The start is held deterministically: SCEP_NEXT_CA_CERT is a FIFO, read by
 * the start after listening, that the test writes only once it has its answers.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import http from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ExampleProcess } from "../../server-kit/test/support/example-process.js";
import { freeStablePort } from "../../../test-support/peers";
import { EXAMPLE_DIR } from "./support/intune-example.js";

const tmp = mkdtempSync(join(tmpdir(), "scep-starting-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * Two distinct loopback ports free a moment ago, below the ephemeral range (the server must be told its ports before
 * it listens: no line names them then). Two listen(0)-then-close ports could be the same one, or be given to another
 * test's listen(0) or an outgoing connection before the server binds them (EADDRINUSE: no "starting" answer to test).
 */
async function twoFreePorts(): Promise<[number, number]> {
  const port = await freeStablePort();
  let other = await freeStablePort();
  while (other === port) other = await freeStablePort();
  return [port, other];
}

interface Answer {
  status: number;
  retryAfter: string | undefined;
  body: string;
  socket: import("node:net").Socket;
}
/** GET with no timeout at all over `agent`: the answer, or the connection error (ECONNREFUSED before listening). */
function get(port: number, path: string, agent: http.Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path, agent }, (res) => {
        let body = "";
        const socket = res.socket;
        res.setEncoding("utf8").on("data", (c: string) => (body += c)).on("end", () => resolve({ status: res.statusCode!, retryAfter: res.headers["retry-after"], body, socket }));
      })
      .on("error", reject);
  });
}

describe("requests while the server starts, and a start that then fails", () => {
  it("503 + Retry-After: 1 'starting' for every path (health probes and the admin listener too); the failed start closes every connection (idle or half a request) and exits 2", async () => {
    const fifo = join(tmp, "next-ca.pem");
    execFileSync("mkfifo", [fifo]);
    const [port, adminPort] = await twoFreePorts();
    // Long timeouts: only the failed start's own cleanup can close the connections below.
    const proc = new ExampleProcess(EXAMPLE_DIR, {
      PORT: String(port),
      SCEP_ADMIN_TOKEN: "starting-admin-token-0123456789",
      SCEP_ADMIN_LISTEN: `127.0.0.1:${adminPort}`,
      SCEP_DATA_DIR: join(tmp, "data"),
      SCEP_NEXT_CA_CERT: fifo,
      SCEP_KEEP_ALIVE_TIMEOUT_MS: "600000",
      SCEP_REQUEST_TIMEOUT_MS: "600000",
      SCEP_BODY_TIMEOUT_MS: "600000",
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const adminAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      // The admin listener is bound after the SCEP one: once it answers, both listen.
      let first: Answer | undefined;
      while (!first) {
        if (proc.child.exitCode !== null) throw new Error(`the server exited: ${proc.stderr}`);
        first = await get(adminPort, "/admin/scep/profiles", adminAgent).catch(async (e: NodeJS.ErrnoException) => {
          if (e.code !== "ECONNREFUSED") throw e;
          await new Promise((done) => setTimeout(done, 50)); // not listening yet: try again
          return undefined;
        });
      }
      const answers = [first, await get(port, "/healthz", agent), await get(port, "/readyz", agent), await get(port, "/scep?operation=GetCACaps", agent)];
      expect(answers.map((a) => [a.status, a.retryAfter, a.body])).toEqual([
        [503, "1", "starting\n"],
        [503, "1", "starting\n"],
        [503, "1", "starting\n"],
        [503, "1", "starting\n"],
      ]);
      // One keep-alive connection on each listener, idle now, and a client that sent half a request (no timeout of its
      // own); the start fails (the next CA is not PEM).
      const half = connect(port, "127.0.0.1");
      half.on("error", () => undefined); // a reset is a closed connection too
      await new Promise<void>((done) => half.once("connect", () => done()));
      half.write("GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n");
      const closed = [answers[0]!.socket, answers[3]!.socket, half].map((s) => new Promise<void>((done) => s.once("close", () => done())));
      await writeFile(fifo, "not a certificate\n");
      expect((await proc.exited).code).toBe(2);
      await Promise.all(closed);
      expect(proc.stderr).toMatch(/^express-server: SCEP_NEXT_CA_CERT: /);
    } finally {
      agent.destroy();
      adminAgent.destroy();
      await proc.terminate();
    }
  }, 120_000);
});
