/**
 * `pnpm stress:slowloris` (issue 12, item 7): the Express example server with
 * short timeouts (headers and body 5 s); 20 SDK enrollments are timed alone,
 * then again while STRESS_SLOW (default 500) slow-loris connections are open
 * (half trickling headers a byte every 100 ms, half stopping mid-body or
 * trickling it); then every slow connection must be closed by the server.
 * Prints the latencies (p50/p99) of both runs and how the slow connections
 * ended; exits 1 when an enrollment failed or a slow connection stayed open.
 *
 * @module
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Certificate } from "@scep/core";
import { startExample } from "../../server-kit/test/support/example-process.js";
import { firstLine, trickle } from "../../server-kit/test/support/slow-connection.js";
import { latencySummary, makeKeys, runLoad } from "./enrollment-load.js";

const EXAMPLE_DIR = fileURLToPath(new URL("../../express-server/", import.meta.url));
const SLOW = Number(process.env.STRESS_SLOW ?? 500);
const tmp = mkdtempSync(join(tmpdir(), "scep-slowloris-"));
const s = await startExample(EXAMPLE_DIR, {
  SCEP_DATA_DIR: join(tmp, "data"),
  SCEP_CHALLENGE: "slowloris",
  SCEP_HEADERS_TIMEOUT_MS: "5000",
  SCEP_BODY_TIMEOUT_MS: "5000",
  SCEP_REQUEST_TIMEOUT_MS: "30000",
});
let failed = false;
try {
  const ca = Certificate.from(readFileSync(join(tmp, "data", "ca.pem"), "utf8"));
  const keys = await makeKeys(4);
  const load = (prefix: string) => runLoad({ targets: () => [s.base], ca, challenge: "slowloris", total: 20, concurrency: 4, prefix, keys });
  const alone = await load("alone");
  const port = s.listening.port;
  const half = Math.floor(SLOW / 2);
  const opened = performance.now();
  const slow = await Promise.all([
    ...Array.from({ length: half }, () => trickle(port, "POST /scep?operation=PKIOperation HTTP/1.1\r\nHost: 127.0.0.1\r\n", "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 100)),
    ...Array.from({ length: SLOW - half }, (_, i) =>
      trickle(port, "POST /scep?operation=PKIOperation HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2000\r\n\r\n0123456789", i % 2 ? "x" : "", 100),
    ),
  ]);
  const stillOpen = slow.filter((c) => !c.socket.destroyed).length;
  const during = await load("during");
  const closedBy = await Promise.race([Promise.all(slow.map((c) => c.closed)).then(() => "server"), new Promise((r) => setTimeout(() => r("deadline"), 60_000))]);
  const closedAfterMs = Math.round(performance.now() - opened);
  const outcomes: Record<string, number> = {};
  for (const c of slow) {
    const o = c.received === "" ? (c.socket.destroyed ? "reset" : "open") : firstLine(c.received);
    outcomes[o] = (outcomes[o] ?? 0) + 1;
  }
  for (const c of slow) (clearInterval(c.timer), c.socket.destroy());
  failed = alone.failures.length + during.failures.length > 0 || closedBy !== "server";
  console.log(
    JSON.stringify({
      slowConnections: SLOW,
      openWhileEnrolling: stillOpen,
      alone: { issued: alone.issued.length, failures: alone.failures.length, latencyMs: latencySummary(alone.latenciesMs) },
      duringSlowloris: { issued: during.issued.length, failures: during.failures.length, latencyMs: latencySummary(during.latenciesMs) },
      slowClosedBy: closedBy,
      allSlowClosedAfterMs: closedAfterMs,
      slowOutcomes: outcomes,
    }),
  );
} finally {
  await s.proc.terminate();
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
