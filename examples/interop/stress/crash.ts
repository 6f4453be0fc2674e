/**
 * `pnpm stress:crash` (issue 12, item 6): the load of `pnpm stress:load`
 * (STRESS_ENROLLMENTS, default 2000, from 16 clients), and when a third of it
 * has finished, `kill -9` of the example server (one process; then one of two
 * replicas on one redis-server); it restarts on the same data directory while
 * the clients re-send their lost requests (the same PKIMessage, RFC 8894
 * §3.3.3), and then enrolls
 * STRESS_AFTER (default 200) more alone. Exits 1 unless: no failed enrollment,
 * no serial reused, no torn index line, CA files intact, every certificate a
 * client received in the index.
 *
 * Environment: STRESS_ENROLLMENTS (2000), STRESS_CONCURRENCY (16),
 * STRESS_AFTER (200), STRESS_REPLICAS (`1,2`).
 *
 * @module
 */
import { crashScenario, loadProblems, reportLine } from "./scenarios.js";

const total = Number(process.env.STRESS_ENROLLMENTS ?? 2000);
const concurrency = Number(process.env.STRESS_CONCURRENCY ?? 16);
const afterRestart = Number(process.env.STRESS_AFTER ?? 200);
const replicas = (process.env.STRESS_REPLICAS ?? "1,2").split(",").map((r) => (r.trim() === "2" ? 2 : 1) as 1 | 2);

let failed = false;
for (const n of replicas) {
  const r = await crashScenario({ replicas: n, total, concurrency, killAfter: Math.floor(total / 3), afterRestart });
  // Requests in flight at the kill may be in the index without having reached their client: more records, never fewer.
  const problems = loadProblems(r, total + afterRestart, false);
  if (r.issuedAfterRestart !== afterRestart) problems.push(`the restarted process issued ${r.issuedAfterRestart} of ${afterRestart}`);
  failed ||= problems.length > 0;
  console.log(reportLine(r, problems));
}
process.exit(failed ? 1 : 0);
