/**
 * What a command needs from the process, passed in so commands stay testable:
 * the directory relative paths resolve against, and the two output streams.
 *
 * @module
 */

/** The environment a command runs in. */
export interface Context {
  /** The directory the user ran the command from (relative paths resolve against it). */
  cwd: string;
  /** Writes a line (or lines) to stdout. */
  out(text: string): void;
  /** Writes a line to stderr (progress and warnings). */
  err(text: string): void;
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
