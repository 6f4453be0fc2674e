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
import { loadScenario, type ScenarioReport } from "./scenarios.js";

const total = Number(process.env.STRESS_ENROLLMENTS ?? 5000);
const concurrency = Number(process.env.STRESS_CONCURRENCY ?? 16);
const replicas = (process.env.STRESS_REPLICAS ?? "1,2").split(",").map((r) => (r.trim() === "2" ? 2 : 1) as 1 | 2);

/** The problems of a load report (empty: it holds). */
export function loadProblems(r: ScenarioReport, expected: number, exactIndex: boolean): string[] {
  const p: string[] = [];
  if (r.failures.length) p.push(`${r.failures.length} failed enrollments, first: ${r.failures[0]!.subject}: ${r.failures[0]!.reason}`);
  if (r.issued !== expected) p.push(`${r.issued} certificates received, expected ${expected}`);
  if (r.index.skippedLines) p.push(`${r.index.skippedLines} torn index lines`);
  if (r.index.duplicateSerials.length) p.push(`serials twice in the index: ${r.index.duplicateSerials.slice(0, 3).join(", ")}`);
  if (r.index.duplicateReceived.length) p.push(`serials received twice: ${r.index.duplicateReceived.slice(0, 3).join(", ")}`);
  if (r.index.missing.length) p.push(`${r.index.missing.length} received certificates not in the index`);
  if (!r.index.caFilesIntact) p.push("CA files do not parse");
  if (exactIndex ? r.index.records !== expected : r.index.records < expected) p.push(`index holds ${r.index.records} records for ${expected} certificates`);
  return p;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let failed = false;
  for (const n of replicas) {
    const r = await loadScenario({ replicas: n, total, concurrency });
    const problems = loadProblems(r, total, true);
    failed ||= problems.length > 0;
    console.log(JSON.stringify({ ...r, failures: r.failures.length, index: { ...r.index, duplicateSerials: r.index.duplicateSerials.length, duplicateReceived: r.index.duplicateReceived.length, missing: r.index.missing.length }, problems }));
  }
  process.exit(failed ? 1 : 0);
}
