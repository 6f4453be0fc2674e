/**
 * `pnpm stress:fuzz-parsers` (issue 12, item 1): STRESS_FUZZ_INPUTS (default
 * 100,000) inputs per target through the example server's configuration file
 * parser, its admin API's JSON bodies, core's GET `message` decoding and
 * @scep/intune's parsing of Entra ID, Graph and Intune answers (see
 * parser-fuzz.ts). Prints one JSON line per target on stderr (stdout carries the kit's event lines); exits 1 on any untyped
 * error or 5xx. Environment: STRESS_FUZZ_INPUTS, STRESS_FUZZ_SEED (20261129),
 * STRESS_FUZZ_TARGETS (`config,admin,message,intune`).
 *
 * @module
 */
import { adminJsonTarget, configFileTarget, getMessageTarget, intuneResponseTarget, openKit, runParserFuzz } from "./parser-fuzz.js";

const count = Number(process.env.STRESS_FUZZ_INPUTS ?? 100_000);
const seed = Number(process.env.STRESS_FUZZ_SEED ?? 20261129);
const targets = (process.env.STRESS_FUZZ_TARGETS ?? "config,admin,message,intune").split(",").map((t) => t.trim());
let failed = false;
const { kit, close } = await openKit();
try {
  const chosen = [
    ...(targets.includes("config") ? [configFileTarget()] : []),
    ...(targets.includes("admin") ? [adminJsonTarget(kit)] : []),
    ...(targets.includes("message") ? [getMessageTarget(kit)] : []),
    ...(targets.includes("intune") ? [intuneResponseTarget()] : []),
  ];
  for (const target of chosen) {
    const report = await runParserFuzz(target as Parameters<typeof runParserFuzz>[0], count, seed);
    failed ||= report.crashes.length > 0;
    console.error(JSON.stringify(report));
  }
} finally {
  await close();
}
process.exit(failed ? 1 : 0);
