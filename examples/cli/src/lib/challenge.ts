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
 * The challenge from `--challenge`, `--challenge-file` or {@link CHALLENGE_ENV}, or undefined when none is given (an
 * empty variable does not count as a second source). Throws a {@link UsageError} (exit 64) when two are given, when
 * the one used is empty (an empty `--challenge` or variable as an empty file: a request must not go out with an empty
 * challenge), or when the file holds more than one line or is not UTF-8; a {@link CliError} (exit 66) when the file
 * cannot be read. No message holds the value.
 */
export function challengeOption(ctx: Context, command: string, v: { challenge?: string | undefined; "challenge-file"?: string | undefined }): Challenge | undefined {
  const env = ctx.env?.[CHALLENGE_ENV];
  const given = [
    ...(v.challenge !== undefined ? ["--challenge"] : []),
    ...(v["challenge-file"] !== undefined ? ["--challenge-file"] : []),
    ...(env !== undefined && env !== "" ? [CHALLENGE_ENV] : []),
  ];
  if (given.length > 1) throw new UsageError(`${command}: give the challenge password once: ${given.join(" and ")} are both given (--challenge, --challenge-file and ${CHALLENGE_ENV} exclude each other)`);
  if (v.challenge !== undefined) {
    if (v.challenge === "") throw new UsageError(`${command}: --challenge is empty (give the challenge password, or leave --challenge out)`);
    return { value: v.challenge, from: "--challenge" };
  }
  const file = v["challenge-file"];
  if (file !== undefined) return { value: readChallengeFile(ctx, command, file), from: `--challenge-file ${file}` };
  if (env === "") throw new UsageError(`${command}: ${CHALLENGE_ENV} is empty (set it to the challenge password, or unset it)`);
  if (env !== undefined) return { value: env, from: CHALLENGE_ENV };
  return undefined;
}

/**
 * The one line of `file` (`-`: stdin), read as UTF-8: one leading byte-order mark (PowerShell 5.1's
 * `Set-Content -Encoding UTF8` writes one) and the trailing newline (LF or CRLF) dropped. UTF-16 (PowerShell 5.1's `>`
 * and `Out-File`: a BOM FF FE or FE FF, NUL bytes) or bytes that are not UTF-8 are a usage error, not a challenge
 * with U+FEFF or U+FFFD in it that the CA would refuse.
 */
function readChallengeFile(ctx: Context, command: string, file: string): string {
  let bytes: Uint8Array;
  try {
    bytes = file === "-" ? readFileSync(0) : readFileSync(resolvePath(ctx, file));
  } catch (error) {
    throw new CliError(`${command}: cannot read --challenge-file ${file === "-" ? "- (stdin)" : file}: ${fileErrorReason(error)}`, ExitCode.NO_INPUT);
  }
  const where = file === "-" ? "stdin" : file;
  const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff) || bytes.includes(0);
  let text: string | undefined;
  if (!utf16) {
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch {
      text = undefined;
    }
  }
  if (text === undefined) {
    throw new UsageError(`${command}: --challenge-file ${file}: ${where} is not UTF-8 text (${utf16 ? "UTF-16? " : ""}save it as UTF-8)`);
  }
  const value = text.replace(/^\ufeff/, "").replace(/\r?\n$/, "");
  if (value === "") throw new UsageError(`${command}: --challenge-file ${file}: ${where} is empty`);
  if (/[\r\n]/.test(value)) throw new UsageError(`${command}: --challenge-file ${file}: ${where} holds more than one line (the challenge password is one line)`);
  return value;
}
