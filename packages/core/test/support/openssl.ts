/**
 * The `openssl` CLI as a referee: spawned with child_process in a private
 * temp dir that is removed afterwards. A non-zero exit rejects with stderr.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The result of one `openssl` run. */
export interface OpensslResult {
  stdout: string;
  stderr: string;
}

/** Runs `openssl ARGS…` in `cwd`; rejects with stderr on a non-zero exit. */
export function openssl(args: readonly string[], cwd: string): Promise<OpensslResult> {
  return new Promise((resolve, reject) => {
    execFile("openssl", [...args], { cwd, timeout: 30_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`openssl ${args.join(" ")} failed: ${stderr || error.message}`, { cause: error }));
      else resolve({ stdout, stderr });
    });
  });
}

/** A scratch directory: write inputs, run openssl there, read outputs. */
export interface Scratch {
  readonly dir: string;
  write(name: string, data: string | Uint8Array): string;
  read(name: string): Uint8Array;
  readText(name: string): string;
  run(args: readonly string[]): Promise<OpensslResult>;
}

/** Runs `fn` with a fresh scratch directory, removed afterwards. */
export async function withScratch<T>(fn: (s: Scratch) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "scep-core-openssl-"));
  const s: Scratch = {
    dir,
    write(name, data) {
      const p = join(dir, name);
      writeFileSync(p, data);
      return p;
    },
    read: (name) => new Uint8Array(readFileSync(join(dir, name))),
    readText: (name) => readFileSync(join(dir, name), "utf8"),
    run: (args) => openssl(args, dir),
  };
  try {
    return await fn(s);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
