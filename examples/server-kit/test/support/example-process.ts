/**
 * Runs an example server as a child process on 127.0.0.1 with PORT=0, the way
 * users do: the code `pnpm start` runs, `node dist/main.mjs` in the example's
 * directory (one process, so signals reach the server itself), from the bundle
 * scripts/bundle-example.mjs makes of the example's and the packages' sources
 * (once per test file); or the root `pnpm start` script itself in its own
 * process group, as a terminal runs it; or, with `sources`, `node --import tsx
 * src/main.ts`. Reads stdout (JSON lines) and stderr (the banner, errors) line
 * by line: tests wait for lines (the `listening` JSON line gives the port),
 * never for wall-clock time.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../../../", import.meta.url));

/**
 * How to run the example: its bundle with node (the default for the example servers), through a root pnpm script
 * from `cwd`, or its TypeScript sources under tsx (`sources`; always for another directory with a `src/main.ts`,
 * such as the CLI's, which `pnpm scep` runs under tsx).
 */
export interface LaunchOptions {
  pnpm?: { script: string; cwd: string };
  sources?: boolean;
}

/**
 * Whether `examples/<example>` starts from a bundle: its own `start` script runs `scripts/bundle-example.mjs
 * <example>` (the root `pnpm start`, `start:hono` and `start:proxy` run the same command), so that the tests run each
 * example as its start script does. False for an example whose `start` runs anything else, or that has none.
 * @throws Error naming the example when `examples/<example>/package.json` is missing or is not JSON.
 */
export function isBundledExample(example: string): boolean {
  const file = join(REPO_ROOT, "examples", example, "package.json");
  let manifest: { scripts?: { start?: string } };
  try {
    manifest = JSON.parse(readFileSync(file, "utf8")) as typeof manifest;
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such example" : (e as Error).message;
    throw new Error(`examples/${example}: ${why} (reading ${file})`, { cause: e });
  }
  return manifest.scripts?.start?.includes(`scripts/bundle-example.mjs ${example}`) ?? false;
}

const bundled = new Set<string>();

/**
 * The absolute path of `examples/<example>/dist/main.mjs` for an example server whose `start` script runs its bundle
 * ({@link isBundledExample}), bundled by scripts/bundle-example.mjs on the first call for that example in this test
 * file (about a second). Throws for any other example, naming it.
 */
export function bundledExampleEntry(example: string): string {
  if (!isBundledExample(example)) throw new Error(`examples/${example} does not start from a bundle (its start script does not run scripts/bundle-example.mjs ${example})`);
  return bundleOnce(example);
}

/** Bundles `examples/<example>` on the first call for it in this test file; the bundle's absolute path. */
function bundleOnce(example: string): string {
  if (!bundled.has(example)) {
    execFileSync(process.execPath, [join(REPO_ROOT, "scripts/bundle-example.mjs"), example], { stdio: ["ignore", "inherit", "inherit"] });
    bundled.add(example);
  }
  return join(REPO_ROOT, "examples", example, "dist", "main.mjs");
}

/**
 * `node` arguments that run `src/main.ts` of `exampleDir`: an example server from its bundle, anything else, or with
 * `sources`, under tsx.
 */
function launchArgs(exampleDir: string, sources: boolean): string[] {
  const example = basename(exampleDir);
  if (sources || !isBundledExample(example)) return ["--import", "tsx", "src/main.ts"];
  return [bundleOnce(example)];
}

/** The parent's environment without what a test runner or pnpm set for itself (INIT_CWD would move relative paths). */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env, PORT: "0", HOST: "127.0.0.1" };
  for (const k of Object.keys(out)) if (k === "INIT_CWD" || k === "NODE_OPTIONS" || k === "VITEST" || k.startsWith("npm_") || k.startsWith("VITEST_")) delete out[k];
  return { ...out, ...env };
}

export interface Listening {
  port: number;
  urls: string[];
  fingerprintSha256: string;
  caCertificate: string;
  dataDir: string;
  /** `--key-workers` as this process resolved it (0: private-key operations on the event loop). */
  keyWorkers: number;
}

export class ExampleProcess {
  readonly child: ChildProcess;
  /** stdout lines (JSON event lines). */
  readonly lines: string[] = [];
  /** stderr lines (banner, error messages). */
  readonly errLines: string[] = [];
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters: { err: boolean; test: (line: string) => boolean; resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  #partial = "";
  #errPartial = "";
  readonly #group: boolean;

  constructor(exampleDir: string, env: Record<string, string>, args: readonly string[] = [], options: LaunchOptions = {}) {
    this.#group = options.pnpm !== undefined;
    this.child = options.pnpm
      ? spawn("pnpm", [options.pnpm.script, ...args], { cwd: options.pnpm.cwd, env: childEnv(env), stdio: ["ignore", "pipe", "pipe"], detached: true })
      : spawn(process.execPath, [...launchArgs(exampleDir, options.sources === true), ...args], { cwd: exampleDir, env: childEnv(env), stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      const parts = (this.#partial + chunk).split("\n");
      this.#partial = parts.pop()!;
      for (const line of parts) {
        this.lines.push(line);
        this.#waiters = this.#waiters.filter((w) => (!w.err && w.test(line) ? (w.resolve(line), false) : true));
      }
    });
    this.child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      this.stderr += chunk;
      const parts = (this.#errPartial + chunk).split("\n");
      this.#errPartial = parts.pop()!;
      for (const line of parts) {
        this.errLines.push(line);
        this.#waiters = this.#waiters.filter((w) => (w.err && w.test(line) ? (w.resolve(line), false) : true));
      }
    });
    this.exited = new Promise((resolve) =>
      this.child.once("exit", (code, signal) => {
        // 'exit' can come before the last stdout/stderr bytes are read (Node's child_process docs): wait for both
        // streams to end, bounded (a grandchild that outlives pnpm may hold the pipes open), then settle.
        const ended = (s: NodeJS.ReadableStream | null): Promise<void> =>
          !s || (s as unknown as { readableEnded: boolean }).readableEnded ? Promise.resolve() : new Promise((done) => s.once("end", done).once("close", done));
        // The bound settles in a check phase (setImmediate), after the poll phase of the same loop turn: when this
        // process was starved of CPU past 2 s, output already in the pipes is read before the lines are final.
        const bound = new Promise<void>((done) => setTimeout(() => setImmediate(done), 2000).unref());
        void Promise.race([Promise.all([ended(this.child.stdout), ended(this.child.stderr)]), bound]).then(() => {
          for (const w of this.#waiters) w.reject(new Error(`the server exited (${code ?? signal}) first; stderr: ${this.stderr}`));
          this.#waiters = [];
          resolve({ code, signal });
        });
      }),
    );
  }

  /** Resolves with the first stdout line (or with `stderr`, stderr line), already printed or coming, that passes `test`. */
  waitForLine(test: (line: string) => boolean, options: { stderr?: boolean } = {}): Promise<string> {
    const err = options.stderr === true;
    const seen = (err ? this.errLines : this.lines).find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.reject(new Error(`the server has exited; stderr: ${this.stderr}`));
    return new Promise((resolve, reject) => this.#waiters.push({ err, test, resolve, reject }));
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

  /** The JSON lines printed so far (stdout) whose `type` is `type`, in order. */
  events(type: string): Record<string, unknown>[] {
    return this.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.type === type);
  }

  /** The `listening` JSON line (stdout), once the banner (stderr, written just before it) has been read too. */
  async listening(): Promise<Listening> {
    const listening = (await this.waitForJson("listening")) as unknown as Listening;
    await this.waitForLine((l) => l.startsWith("  admin endpoint:"), { stderr: true });
    return listening;
  }

  /** The banner (stderr) value after `label:` (e.g. "challenge"). */
  banner(label: string): string | undefined {
    const line = this.errLines.find((l) => l.trimStart().startsWith(`${label}:`));
    return line?.slice(line.indexOf(":") + 1).trim();
  }

  /** SIGTERM, then the exit. */
  async terminate(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      if (this.#group) process.kill(-this.child.pid!, "SIGTERM");
      else this.child.kill("SIGTERM");
    }
    return this.exited;
  }

  /** Ctrl-C as a terminal sends it: SIGINT to the whole process group (needs `pnpm`, which runs detached), then the exit. */
  async interrupt(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) process.kill(-this.child.pid!, "SIGINT");
    return this.exited;
  }
}

/** A started example: its process, its `listening` line, and its base URL (`http://127.0.0.1:<port>`). */
export interface StartedExample {
  proc: ExampleProcess;
  listening: Listening;
  base: string;
}

async function whenListening(proc: ExampleProcess): Promise<StartedExample> {
  const listening = await proc.listening();
  return { proc, listening, base: `http://127.0.0.1:${listening.port}` };
}

/** Starts an example and waits for its `listening` line. */
export function startExample(exampleDir: string, env: Record<string, string>, args: readonly string[] = [], options: LaunchOptions = {}): Promise<StartedExample> {
  return whenListening(new ExampleProcess(exampleDir, env, args, options));
}

/**
 * The example processes a test file starts, for its `afterAll` to stop with {@link TrackedExamples.terminateAll}
 * (before it removes their data directories). Each process is registered before anything waits on it, so one that
 * never gets to listen is stopped too.
 */
export class TrackedExamples {
  readonly #running: ExampleProcess[] = [];

  constructor(readonly exampleDir: string) {}

  /** An example process, not waited for (e.g. a start expected to exit), registered. */
  launch(env: Record<string, string>, args: readonly string[] = [], options: LaunchOptions = {}): ExampleProcess {
    const proc = new ExampleProcess(this.exampleDir, env, args, options);
    this.#running.push(proc);
    return proc;
  }

  /** {@link startExample}, registered. */
  start(env: Record<string, string>, args: readonly string[] = [], options: LaunchOptions = {}): Promise<StartedExample> {
    return whenListening(this.launch(env, args, options));
  }

  /** SIGTERM to every registered process still running, then their exits. */
  async terminateAll(): Promise<void> {
    await Promise.all(this.#running.map((p) => p.terminate()));
  }
}

/** A GET of `url` (30 s deadline) as status, `Retry-After` and body text: what a probe or a client sees of an example. */
export async function answerOf(url: string): Promise<{ status: number; retryAfter: string | null; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body: await res.text() };
}
