/**
 * Slow clients and floods against an example server run as a child process
 * (issue 12, items 3 and 7): with 200 slow-loris connections open (half
 * trickling their headers a byte at a time, half stopping mid-body or
 * trickling the body), real SDK clients still enroll, and every slow
 * connection is closed by the server after the configured (short) timeouts
 * (a stalled one with a 408); beyond `SCEP_MAX_IN_FLIGHT` requests a new one gets 503
 * with Retry-After before its body is read; beyond `SCEP_MAX_CONNECTIONS` a
 * new connection is closed unanswered. `pnpm stress:slowloris` runs the same
 * with 500 connections.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScepClient, createSelfSignedSigner, generateCsr, generateRsaKeyPair } from "@scep/core";
import { startExample, type ExampleProcess } from "./example-process.js";
import { firstLine, openSocket, rawRequest, trickle, type Slow } from "./slow-connection.js";

async function enroll(base: string, keys: CryptoKeyPair, subject: string): Promise<string> {
  const csr = await generateCsr({ keys, subject, challengePassword: "slow-clients" });
  const signer = await createSelfSignedSigner({ keys, subject });
  const rep = await new ScepClient({ url: `${base}/scep` }).enroll({ csr, signer });
  return rep.status;
}

/**
 * @param name - "express" or "hono"
 * @param exampleDir - the example's directory
 * @param slowCount - slow-loris connections held open while real clients enroll
 */
export function describeSlowClients(name: string, exampleDir: string, slowCount = 200): void {
  describe(`${name} example server under slow clients and floods`, () => {
    const tmp = mkdtempSync(join(tmpdir(), `scep-slow-${name}-`));
    const procs: ExampleProcess[] = [];
    let keys: CryptoKeyPair;
    const start = async (env: Record<string, string>) => {
      // A data directory each: the servers of the tests run side by side until afterAll, and one is one server's (server.lock).
      const s = await startExample(exampleDir, { SCEP_DATA_DIR: join(tmp, `data-${procs.length}`), SCEP_CHALLENGE: "slow-clients", ...env });
      procs.push(s.proc);
      return s;
    };
    beforeAll(async () => {
      keys = await generateRsaKeyPair(2048);
    });
    afterAll(async () => {
      await Promise.all(procs.map((p) => p.terminate()));
      rmSync(tmp, { recursive: true, force: true });
    });

    it(`real clients enroll while ${slowCount} slow-loris connections are open; the server closes each of those after its timeout (408 for a stalled body)`, async () => {
      // 3 s: opening the slow connections must take less (checked below, before the enrollments), also on a loaded CI machine.
      const s = await start({ SCEP_HEADERS_TIMEOUT_MS: "3000", SCEP_REQUEST_TIMEOUT_MS: "20000", SCEP_BODY_TIMEOUT_MS: "3000", SCEP_KEEP_ALIVE_TIMEOUT_MS: "1000" });
      const port = s.listening.port;
      const half = Math.floor(slowCount / 2);
      const slow = await Promise.all([
        // Headers a byte every 100 ms, never finished: Node's headersTimeout.
        ...Array.from({ length: half }, () => trickle(port, "POST /scep?operation=PKIOperation HTTP/1.1\r\nHost: 127.0.0.1\r\n", "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 100)),
        // Whole headers, then 10 of 2000 body bytes and a byte every 100 ms (odd ones) or nothing more (even ones): the body timeout.
        ...Array.from({ length: slowCount - half }, (_, i) =>
          trickle(port, "POST /scep?operation=PKIOperation HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-pki-message\r\nContent-Length: 2000\r\n\r\n0123456789", i % 2 ? "x" : "", 100),
        ),
      ]);
      try {
        expect(slow.filter((c) => c.socket.destroyed)).toEqual([]);
        const statuses = await Promise.all(Array.from({ length: 4 }, (_, i) => enroll(s.base, keys, `CN=under-slowloris-${i}`)));
        expect(statuses).toEqual(["SUCCESS", "SUCCESS", "SUCCESS", "SUCCESS"]);
        // Every slow connection is closed by the server (the test never closes one itself before this resolves).
        await Promise.all(slow.map((c) => c.closed));
        // A connection still sending when the server closes it is reset, and the reset may discard the 408 before the
        // client reads it (TCP: unread data at close means RST): those may see nothing; a stalled body always sees it.
        const outcome = (c: Slow): string => (c.received === "" ? "reset" : firstLine(c.received));
        expect(slow.filter((c) => c.timer !== undefined).map(outcome).filter((o) => o !== "reset" && o !== "HTTP/1.1 408 Request Timeout")).toEqual([]);
        const stalledBodies = slow.slice(half).filter((c) => c.timer === undefined);
        expect(stalledBodies).toHaveLength(Math.ceil((slowCount - half) / 2));
        // Cut by the body timeout (3 s), not by the request timeout (20 s, which closes them unanswered).
        expect(stalledBodies.filter((c) => !(c.received.startsWith("HTTP/1.1 408 Request Timeout\r\n") && c.received.endsWith("\r\n\r\nrequest body not received in time\n")))).toEqual([]);
        // Still serving after the slow connections are gone.
        expect(await enroll(s.base, keys, "CN=after-slowloris")).toBe("SUCCESS");
      } finally {
        for (const c of slow) (clearInterval(c.timer), c.socket.destroy());
      }
    });

    it("beyond SCEP_MAX_IN_FLIGHT answers 503 with Retry-After before reading the body; probes still answer; then serves again", async () => {
      const s = await start({ SCEP_MAX_IN_FLIGHT: "2", SCEP_RETRY_AFTER_SECONDS: "7", SCEP_BODY_TIMEOUT_MS: "2000", SCEP_HEADERS_TIMEOUT_MS: "2000" });
      const port = s.listening.port;
      const head = "POST /scep?operation=PKIOperation HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000\r\n\r\n";
      const stalled = await Promise.all([trickle(port, head + "0123", "", 0), trickle(port, head + "0123", "", 0)]);
      const caps = "GET /scep?operation=GetCACaps HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
      // Until the server has read both stalled requests' headers, GetCACaps still gets through; a stalled request that
      // arrived while a probe was counted was refused itself, and one the body timeout cut (probes slower than it on a
      // loaded machine) is no longer counted: either is replaced by a new one.
      let answer = await rawRequest(port, caps);
      for (let i = 0; i < 200 && firstLine(answer) === "HTTP/1.1 200 OK"; i++) {
        for (const [j, c] of stalled.entries()) if (c.received !== "") stalled[j] = await trickle(port, head + "0123", "", 0);
        answer = await rawRequest(port, caps);
      }
      expect(firstLine(answer)).toBe("HTTP/1.1 503 Service Unavailable");
      expect(answer).toMatch(/\r\nretry-after: 7\r\n/i);
      expect(answer.endsWith("\r\n\r\ntoo many requests in flight; retry later\n")).toBe(true);
      // A PKIOperation with a body is refused the same way, without its body being read.
      expect(firstLine(await rawRequest(port, head.replace("Content-Length: 5000", "Content-Length: 3") + "abc"))).toBe("HTTP/1.1 503 Service Unavailable");
      expect(firstLine(await rawRequest(port, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))).toBe("HTTP/1.1 200 OK");
      await Promise.all(stalled.map((c) => c.closed));
      expect(stalled.map((c) => firstLine(c.received))).toEqual(["HTTP/1.1 408 Request Timeout", "HTTP/1.1 408 Request Timeout"]);
      expect(stalled.filter((c) => !c.received.endsWith("request body not received in time\n"))).toEqual([]);
      expect(firstLine(await rawRequest(port, caps))).toBe("HTTP/1.1 200 OK");
      expect(await enroll(s.base, keys, "CN=after-flood")).toBe("SUCCESS");
    });

    it("beyond SCEP_MAX_CONNECTIONS closes a new connection unanswered", async () => {
      const s = await start({ SCEP_MAX_CONNECTIONS: "3", SCEP_KEEP_ALIVE_TIMEOUT_MS: "30000" });
      const port = s.listening.port;
      const probe = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
      const held: Slow[] = [];
      try {
        // Three keep-alive connections, each answered (so the server holds all three).
        for (let i = 0; i < 3; i++) {
          const c = await openSocket(port);
          c.socket.write(probe);
          while (!c.received.includes("ok\n")) await new Promise((r) => c.socket.once("data", r));
          held.push(c);
        }
        expect(await rawRequest(port, probe)).toBe("");
        held.pop()!.socket.destroy();
        // Once the server has seen that close, a new connection is served again.
        let answer = "";
        for (let i = 0; i < 200 && answer === ""; i++) answer = await rawRequest(port, probe.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"));
        expect(firstLine(answer)).toBe("HTTP/1.1 200 OK");
      } finally {
        for (const c of held) c.socket.destroy();
      }
    });
  });
}
