/**
 * Where `enroll` and `renew` take the challenge password from: `--challenge SECRET` (seen by `ps` and kept in shell
 * history), `--challenge-file PATH` (`-`: stdin), or the environment variable {@link CHALLENGE_ENV}. At most one of
 * them. The value never goes to stdout or stderr: commands the CLI prints keep `--challenge-file PATH` as given and
 * show `--challenge <challenge>`.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import type { Context } from "./context.js";
import { CliError, ExitCode, UsageError } from "./exit.js";
import { fileErrorReason, resolvePath } from "./files.js";

/**
 * The environment variable the CLI reads a challenge password from. Not `SCEP_CHALLENGE`: that is the example
 * servers' own challenge, and a shell that exported it for a server would send it from every enroll.
 */
export const CHALLENGE_ENV = "SCEP_CLI_CHALLENGE";

/** parseArgs options for the challenge sources. */
export const CHALLENGE_OPTIONS = {
  challenge: { type: "string" },
  "challenge-file": { type: "string" },
} as const;

/** Help text for {@link CHALLENGE_OPTIONS}; `desc` describes --challenge (one line of at most 52 characters). */
export function challengeHelp(desc: string): string {
  return `  --challenge SECRET  ${desc}
                      (ps and shell history show it: prefer the two below)
  --challenge-file F  read the challenge password from file F (one line; its
                      trailing newline is dropped); "-": from stdin
  ${CHALLENGE_ENV}  (environment variable) the challenge password;
                      give one of the three only`;
}

/** The challenge password, and where it came from (`--challenge`, `--challenge-file F`, the variable): for messages. */
export interface Challenge {
  value: string;
  from: string;
}

/**
 * The challenge from `--challenge`, `--challenge-file` or {@link CHALLENGE_ENV} (an empty variable counts as unset),
 * or undefined when none is given. Throws a {@link UsageError} (exit 64) when two are given, or when the file is empty
 * or holds more than one line; a {@link CliError} (exit 66) when the file cannot be read. No message holds the value.
 */
export function challengeOption(ctx: Context, command: string, v: { challenge?: string | undefined; "challenge-file"?: string | undefined }): Challenge | undefined {
  const env = ctx.env?.[CHALLENGE_ENV];
  const given = [
    ...(v.challenge !== undefined ? ["--challenge"] : []),
    ...(v["challenge-file"] !== undefined ? ["--challenge-file"] : []),
    ...(env !== undefined && env !== "" ? [CHALLENGE_ENV] : []),
  ];
  if (given.length > 1) throw new UsageError(`${command}: give the challenge password once: ${given.join(" and ")} are both given (--challenge, --challenge-file and ${CHALLENGE_ENV} exclude each other)`);
  if (v.challenge !== undefined) return { value: v.challenge, from: "--challenge" };
  const file = v["challenge-file"];
  if (file !== undefined) return { value: readChallengeFile(ctx, command, file), from: `--challenge-file ${file}` };
  if (env !== undefined && env !== "") return { value: env, from: CHALLENGE_ENV };
  return undefined;
}

/** The one line of `file` (`-`: stdin), its trailing newline (LF or CRLF) dropped. */
function readChallengeFile(ctx: Context, command: string, file: string): string {
  let text: string;
  try {
    text = file === "-" ? readFileSync(0, "utf8") : readFileSync(resolvePath(ctx, file), "utf8");
  } catch (error) {
    throw new CliError(`${command}: cannot read --challenge-file ${file === "-" ? "- (stdin)" : file}: ${fileErrorReason(error)}`, ExitCode.NO_INPUT);
  }
  const value = text.replace(/\r?\n$/, "");
  const where = file === "-" ? "stdin" : file;
  if (value === "") throw new UsageError(`${command}: --challenge-file ${file}: ${where} is empty`);
  if (/[\r\n]/.test(value)) throw new UsageError(`${command}: --challenge-file ${file}: ${where} holds more than one line (the challenge password is one line)`);
  return value;
}
