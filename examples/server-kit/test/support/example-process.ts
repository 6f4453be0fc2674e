/**
 * Runs an example server as a child process (`node --import tsx src/main.ts`,
 * one process, so signals reach the server itself) on 127.0.0.1 with PORT=0,
 * and reads its stdout line by line: tests wait for lines (the `listening`
 * JSON line gives the port), never for wall-clock time.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));

/** The example servers run against the built packages, like `pnpm start` does. */
export function requireBuiltPackages(packages: readonly string[]): void {
  const missing = packages.filter((p) => !existsSync(`${ROOT}packages/${p}/dist/index.js`));
  if (missing.length) throw new Error(`build first (pnpm build): no dist in ${missing.map((p) => `packages/${p}`).join(", ")}`);
}

export interface Listening {
  port: number;
  urls: string[];
  fingerprintSha256: string;
  caCertificate: string;
  dataDir: string;
}

export class ExampleProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters: { test: (line: string) => boolean; resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  #partial = "";

  constructor(exampleDir: string, env: Record<string, string>, args: readonly string[] = []) {
    this.child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", ...args], {
      cwd: exampleDir,
      env: { ...process.env, PORT: "0", HOST: "127.0.0.1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      const parts = (this.#partial + chunk).split("\n");
      this.#partial = parts.pop()!;
      for (const line of parts) {
        this.lines.push(line);
        this.#waiters = this.#waiters.filter((w) => (w.test(line) ? (w.resolve(line), false) : true));
      }
    });
    this.child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) =>
      this.child.once("exit", (code, signal) => {
        for (const w of this.#waiters) w.reject(new Error(`the server exited (${code ?? signal}) first; stderr: ${this.stderr}`));
        this.#waiters = [];
        resolve({ code, signal });
      }),
    );
  }

  /** Resolves with the first line (already printed or coming) that passes `test`. */
  waitForLine(test: (line: string) => boolean): Promise<string> {
    const seen = this.lines.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.reject(new Error(`the server has exited; stderr: ${this.stderr}`));
    return new Promise((resolve, reject) => this.#waiters.push({ test, resolve, reject }));
  }

  /** Resolves with the JSON line whose `type` is `type` (and that passes `where`). */
  async waitForJson(type: string, where: (entry: Record<string, unknown>) => boolean = () => true): Promise<Record<string, unknown>> {
    const parse = (line: string): Record<string, unknown> | undefined => {
      if (!line.startsWith("{")) return undefined;
      const entry = JSON.parse(line) as Record<string, unknown>;
      return entry.type === type && where(entry) ? entry : undefined;
    };
    return parse(await this.waitForLine((line) => parse(line) !== undefined))!;
  }

  async listening(): Promise<Listening> {
    return (await this.waitForJson("listening")) as unknown as Listening;
  }

  /** The banner value after `label:` (e.g. "challenge"). */
  banner(label: string): string | undefined {
    const line = this.lines.find((l) => l.trimStart().startsWith(`${label}:`));
    return line?.slice(line.indexOf(":") + 1).trim();
  }

  /** SIGTERM, then the exit. */
  async terminate(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    return this.exited;
  }
}

/** Starts an example and waits for its `listening` line. */
export async function startExample(exampleDir: string, env: Record<string, string>, args: readonly string[] = []): Promise<{ proc: ExampleProcess; listening: Listening; base: string }> {
  const proc = new ExampleProcess(exampleDir, env, args);
  const listening = await proc.listening();
  return { proc, listening, base: `http://127.0.0.1:${listening.port}` };
}
