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
import { type InterruptNote, invocationDir, invokedAs } from "./lib/context.js";
import { main } from "./run.js";

// Output piped into a reader that stops early (`| head -1`): end quietly, as a tool killed by SIGPIPE would.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(process.exitCode ?? 0);
});

// Ctrl-C or a SIGTERM once a request for a generated key was sent (the CA may hold it) or while a PENDING request is
// polled: save the key if not yet, say where it is and how to poll again, then end by the signal as the default
// action would (the shell sees it).
let interruptNote: InterruptNote | undefined;
const SIGNALS = ["SIGINT", "SIGTERM"] as const;
const onSignal = (signal: NodeJS.Signals): void => {
  let note: string;
  try {
    note = typeof interruptNote === "function" ? interruptNote() : `${interruptNote}`;
  } catch (error) {
    note = error instanceof Error ? error.message : String(error);
  }
  process.stderr.write(`scep: interrupted (${signal}): ${note}\n`);
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  process.kill(process.pid, signal);
};

process.exitCode = await main(process.argv.slice(2), {
  cwd: invocationDir(),
  program: invokedAs(),
  env: process.env,
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  setInterruptNote: (note) => {
    interruptNote = note;
    for (const s of SIGNALS) {
      process.removeListener(s, onSignal);
      if (note !== undefined) process.on(s, onSignal);
    }
  },
});
