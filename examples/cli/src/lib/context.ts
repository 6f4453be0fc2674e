/**
 * What a command needs from the process, passed in so commands stay testable:
 * the directory relative paths resolve against, and the two output streams.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/** What {@link Context.setInterruptNote} writes at a signal: the text, or a function (run then, synchronously) that returns it. */
export type InterruptNote = string | (() => string);

/** The environment a command runs in. */
export interface Context {
  /** The directory the user ran the command from (relative paths resolve against it). */
  cwd: string;
  /** Writes a line (or lines) to stdout. */
  out(text: string): void;
  /** Writes a line to stderr (progress and warnings). */
  err(text: string): void;
  /** The process environment (the challenge's variable, see `challenge.ts`); absent: none (tests running `main` in process). */
  env?: Readonly<Record<string, string | undefined>>;
  /** How the user typed the CLI (`scep`, `pnpm -s scep`, `npx scep`), for commands it tells them to run; default `scep`. */
  program?: string;
  /**
   * While a note is set (a PENDING transaction's saved key and the command that polls it), SIGINT and SIGTERM write
   * `scep: interrupted (SIGNAL): <note>` to stderr and then end the process by that signal; `undefined` restores
   * the default. A function is called at the signal (to save a key then) and its return value written; a throw
   * writes the error's message instead. Absent (tests running `main` in process): signals are left alone.
   */
  setInterruptNote?(note: InterruptNote | undefined): void;
}

/**
 * The directory the user typed the command in. The root `pnpm scep` script
 * runs in the workspace root, so there `process.cwd()` is the root and pnpm
 * passes the user's directory as `INIT_CWD`. INIT_CWD is only trusted when
 * this very script is what pnpm ran: a stale INIT_CWD inherited from an outer
 * `pnpm test` must not redirect a direct `node … main.ts` run.
 */
export function invocationDir(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  return env.INIT_CWD && env.npm_lifecycle_event === "scep" ? env.INIT_CWD : cwd;
}

/** The directory of the package.json nearest to `dir` (itself or above), or undefined. */
function nearestPackageDir(dir: string): string | undefined {
  for (let d = resolve(dir), up = dirname(d); ; d = up, up = dirname(d)) {
    if (existsSync(join(d, "package.json"))) return d;
    if (up === d) return undefined;
  }
}

/**
 * How the user typed the CLI, so a command it prints (PENDING's "poll again with") runs as printed from the same
 * directory. A package manager's script sets `npm_lifecycle_event` to the script's name and `npm_config_user_agent`
 * to its own name: pnpm ran the `scep` script of the package nearest to the user's directory (`pnpm -s scep`) or,
 * with `-w`, the workspace root's (`pnpm -w -s scep`); `npm run` needs `--` before the CLI's options; npx sets the
 * event `npx`. Run any other way (the installed bin, `node main.js`), it is `scep`.
 */
export function invokedAs(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const agent = env.npm_config_user_agent ?? "";
  if (env.npm_lifecycle_event === "scep") {
    if (agent.startsWith("pnpm/")) return nearestPackageDir(invocationDir(env, cwd)) === resolve(cwd) ? "pnpm -s scep" : "pnpm -w -s scep";
    if (agent.startsWith("npm/")) return "npm run -s scep --";
  }
  if (env.npm_lifecycle_event === "npx") return "npx scep";
  return "scep";
}
