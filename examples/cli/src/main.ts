/**
 * `scep`: a command-line SCEP client on @scep/core.
 *
 * ```sh
 * pnpm -s scep getcacaps --url http://127.0.0.1:8080/scep
 * pnpm -s scep enroll --url http://127.0.0.1:8080/scep --challenge secret --cn device-1 --out device-1.pem
 * ```
 *
 * @module
 */
import { invocationDir, invokedAs } from "./lib/context.js";
import { main } from "./run.js";

// Output piped into a reader that stops early (`| head -1`): end quietly, as a tool killed by SIGPIPE would.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(process.exitCode ?? 0);
});

process.exitCode = await main(process.argv.slice(2), {
  cwd: invocationDir(),
  program: invokedAs(),
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
});
