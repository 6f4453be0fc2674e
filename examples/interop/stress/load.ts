/**
 * `pnpm stress:load` (issue 12, item 5): 16 concurrent clients enroll
 * STRESS_ENROLLMENTS (default 5000) distinct requests against the Express
 * example server, first one process, then two replicas on one data directory
 * and one redis-server; prints the figures as JSON lines and exits 1 unless
 * there were zero failed enrollments, no duplicate serial and an index that
 * lists every issued certificate exactly once.
 *
 * Environment: STRESS_ENROLLMENTS (5000), STRESS_CONCURRENCY (16),
 * STRESS_REPLICAS (`1,2`: which scenarios).
 *
 * @module
 */
import { loadProblems, loadScenario, reportLine } from "./scenarios.js";

const total = Number(process.env.STRESS_ENROLLMENTS ?? 5000);
const concurrency = Number(process.env.STRESS_CONCURRENCY ?? 16);
const replicas = (process.env.STRESS_REPLICAS ?? "1,2").split(",").map((r) => (r.trim() === "2" ? 2 : 1) as 1 | 2);

let failed = false;
for (const n of replicas) {
  const r = await loadScenario({ replicas: n, total, concurrency });
  const problems = loadProblems(r, total, true);
  failed ||= problems.length > 0;
  console.log(reportLine(r, problems));
}
process.exit(failed ? 1 : 0);
