/**
 * The command table, the top-level help, and the mapping of every failure to
 * one stderr line and an exit code.
 *
 * @module
 */
import { getcacaps } from "./commands/getcacaps.js";
import { getcacert } from "./commands/getcacert.js";
import { getcert } from "./commands/getcert.js";
import { getcrl } from "./commands/getcrl.js";
import { enroll } from "./commands/enroll.js";
import { renew } from "./commands/renew.js";
import type { Command } from "./lib/command.js";
import type { Context } from "./lib/context.js";
import { ExitCode, UsageError, describeError, urlOption } from "./lib/exit.js";
import { cliVersion } from "./lib/version.js";
import { withoutControls } from "./lib/printable.js";

export const COMMANDS: readonly Command[] = [getcacaps, getcacert, enroll, renew, getcert, getcrl];

const USAGE = `Usage: scep <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(11)} ${c.summary}`).join("\n")}

Run "scep <command> --help" for a command's options; "scep --version" prints the version.
Exit codes: 0 ok, 1 error, 2 FAILURE, 3 PENDING, 4 HTTP/network, 5 CA does not
match --ca-fingerprint/--ca-cert, 64 usage, 66 unreadable input, 73 output
file cannot be written.`;

/** Runs one command line; returns the exit code. */
export async function main(argv: readonly string[], context: Context): Promise<number> {
  // Every line may hold a server's or a certificate's text: no control character reaches the terminal.
  const ctx: Context = {
    ...context,
    out: (text) => context.out(withoutControls(text)),
    err: (text) => context.err(withoutControls(text)),
    setInterruptNote: (note) => context.setInterruptNote?.(note === undefined ? undefined : typeof note === "string" ? withoutControls(note) : () => withoutControls(note())),
  };
  const [name, ...rest] = argv;
  if (name === "--version" || name === "-v") {
    ctx.out(`scep ${cliVersion()}`);
    return ExitCode.OK;
  }
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    const topic = name === "help" ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    (name === undefined ? ctx.err : ctx.out)(topic?.help ?? USAGE);
    return name === undefined ? ExitCode.USAGE : ExitCode.OK;
  }
  const command = COMMANDS.find((c) => c.name === name);
  try {
    if (!command) throw new UsageError(`unknown command "${name}"; commands: ${COMMANDS.map((c) => c.name).join(", ")}`);
    if (rest.includes("--help") || rest.includes("-h")) {
      ctx.out(command.help);
      return ExitCode.OK;
    }
    await command.run(rest, ctx);
    return ExitCode.OK;
  } catch (error) {
    const { message, exitCode } = describeError(error, urlOption(rest));
    // FAILURE/PENDING lines start with the status, so scripts can grep them.
    ctx.err(exitCode === ExitCode.FAILURE || exitCode === ExitCode.PENDING ? message : `scep: ${message}`);
    if (exitCode === ExitCode.USAGE) ctx.err(`Try "${ctx.program ?? "scep"} ${command ? `${command.name} ` : ""}--help".`);
    return exitCode;
  }
}
