/**
 * Runs the CLI as a child process, the way a user does: `node --import tsx
 * src/main.ts` against @scep/core's source (TSX_TSCONFIG_PATH points tsx at
 * the package tsconfig and its `paths`), or through the root `pnpm -s scep`
 * script.
 */
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { runCommand, type RunResult } from "../../../../test-support/peers";

export const CLI_DIR = fileURLToPath(new URL("../../", import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
const MAIN = `${CLI_DIR}src/main.ts`;
const TSCONFIG = `${CLI_DIR}tsconfig.json`;
// `--import tsx` resolves from the child's cwd (a temp dir): pass tsx's loader by URL.
const TSX_LOADER = pathToFileURL(createRequire(`${REPO_ROOT}package.json`).resolve("tsx")).href;

/**
 * Runs `scep ARGS…` in `cwd` with node + tsx, as the installed bin runs: without the package manager's variables of
 * whatever started the tests (`npx vitest` sets `npm_lifecycle_event=npx`, and the CLI would then print `npx scep` in
 * the commands it tells the user to run). A test of those passes them in `env`. `input`: its stdin (default none).
 * `fileSizeLimitKiB`: the largest file the CLI may write, in KiB (`ulimit -f`; bash runs it then).
 */
export function runCli(args: readonly string[], options: { cwd: string; timeoutMs?: number; env?: Record<string, string | undefined>; input?: string; fileSizeLimitKiB?: number }): Promise<RunResult> {
  const command = [process.execPath, "--import", TSX_LOADER, MAIN, ...args];
  // `fileSizeLimitKiB`: the shell's `ulimit -f` (RLIMIT_FSIZE, in 1024-byte blocks) for the CLI's process, so a write
  // past it fails with EFBIG (Node ignores SIGXFSZ) after writing up to the limit: a disk that fills up mid-write.
  const [file, argv] = options.fileSizeLimitKiB === undefined ? [command[0]!, command.slice(1)] : ["bash", ["-c", `ulimit -f ${options.fileSizeLimitKiB} && exec "$0" "$@"`, ...command]];
  return runCommand(file, argv, {
    cwd: options.cwd,
    env: { TSX_TSCONFIG_PATH: TSCONFIG, NODE_OPTIONS: undefined, npm_lifecycle_event: undefined, npm_config_user_agent: undefined, INIT_CWD: undefined, ...options.env },
    timeoutMs: options.timeoutMs ?? 60_000,
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
}

/**
 * Runs `pnpm -s scep ARGS…` in `cwd` (a directory inside the repository):
 * the root script with `root` (`pnpm -w`), else the nearest package's.
 */
export function runPnpmScep(args: readonly string[], options: { cwd: string; root: boolean; timeoutMs?: number }): Promise<RunResult> {
  return runCommand("pnpm", [...(options.root ? ["-w"] : []), "-s", "scep", ...args], {
    cwd: options.cwd,
    env: { INIT_CWD: undefined, npm_lifecycle_event: undefined, NODE_OPTIONS: undefined },
    timeoutMs: options.timeoutMs ?? 60_000,
  });
}
