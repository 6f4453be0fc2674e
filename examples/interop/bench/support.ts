/**
 * What the benchmarks in this directory share: the keep-alive node:http load
 * generator that POSTs PKIOperation bodies, and the CPU time of a process read
 * from /proc (Linux).
 *
 * @module
 */
import { readFileSync } from "node:fs";
import * as http from "node:http";

const CLOCK_TICKS = 100; // USER_HZ: 100 on every Linux this runs on (`getconf CLK_TCK`)

/** User + system CPU time of processes (all their threads), in ms. Throws when a process is gone. */
export function cpuMsOf(pids: readonly number[]): number {
  let ms = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command: state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ms += ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  }
  return ms;
}

/** One reply: the body of an HTTP 200, else why there was none. */
export type Raw = { ok: true; body: Uint8Array } | { ok: false; reason: string };

/**
 * POSTs every body (`application/x-pki-message`) to `url` with `concurrency` requests in flight over
 * `concurrency` keep-alive connections; the replies in the order of `bodies`. node:http rather than fetch:
 * the load generator shares the cores with the server under test, and undici's fetch costs ~1.9 ms of CPU
 * a request, which would dilute the comparison.
 */
export async function postAll(url: string, bodies: readonly Uint8Array[], concurrency: number): Promise<Raw[]> {
  const target = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const post = (body: Uint8Array): Promise<Raw> =>
    new Promise((resolve) => {
      const req = http.request(
        { agent, host: target.hostname, port: target.port, path: target.pathname + target.search, method: "POST", headers: { "content-type": "application/x-pki-message", "content-length": body.length } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve(res.statusCode === 200 ? { ok: true, body: new Uint8Array(Buffer.concat(chunks)) } : { ok: false, reason: `HTTP ${res.statusCode}` }));
          res.on("error", (e) => resolve({ ok: false, reason: `network: ${e.message}` }));
        },
      );
      req.on("error", (e) => resolve({ ok: false, reason: `network: ${e.message}` }));
      req.end(body);
    });
  const out: Raw[] = new Array<Raw>(bodies.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < bodies.length; i = next++) out[i] = await post(bodies[i]!);
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, bodies.length) }, worker));
  } finally {
    agent.destroy();
  }
  return out;
}
