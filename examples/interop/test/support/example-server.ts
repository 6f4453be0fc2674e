/**
 * Starts one of the example SCEP servers (`examples/express-server`,
 * `examples/hono-server`) as a child process on loopback, with a fresh temp
 * data dir, and hands back what a test needs: the SCEP URL, the CA the
 * embedded CA created, the challenge, the server's JSON event lines, the admin
 * endpoint, and `stop()`.
 *
 * The servers are configured only through their documented environment:
 * `PORT` (0: the kernel picks a free port, read back from the startup line),
 * `HOST`, `SCEP_DATA_DIR`, `SCEP_CHALLENGE`, `SCEP_VALIDITY_DAYS`,
 * `SCEP_PENDING`, `SCEP_ADMIN_TOKEN` (and `SCEP_CA_CERT`/`SCEP_CA_KEY`).
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, beforeEach } from "vitest";
import {
  httpGet,
  makeTempDir,
  PeerError,
  randomChallenge,
  startDaemon,
  startRecordingProxy,
  waitFor,
  type Daemon,
  type HttpResponse,
  type RecordingProxy,
} from "../../../../test-support/peers";
import { bundledExampleEntry } from "../../../server-kit/test/support/example-process.js";

/** The example servers the suite runs against, each in turn. */
export const EXAMPLE_KINDS = ["express", "hono"] as const;
export type ExampleKind = (typeof EXAMPLE_KINDS)[number];

const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));

/**
 * How to spawn a server: as `pnpm start` / `pnpm start:hono` run it, `node dist/main.mjs` in the example's directory,
 * from the bundle scripts/bundle-example.mjs writes (the example's `src/main.ts` and the packages' sources, compiled
 * into one file: no `pnpm build`, and a change is picked up by the next bundle). So the real peers hold the code
 * `pnpm start` runs, loaded the way it loads it (each file's `import.meta.url` its own, CommonJS dependencies
 * through the bundle's `require`).
 */
interface Launch {
  /** The example's directory under examples/. */
  example: string;
}

// The one place that says what the suite runs against.
const TARGET: Record<ExampleKind, Launch> = {
  express: { example: "express-server" },
  hono: { example: "hono-server" },
};

/** Settings for one server (the environment variables it documents). */
export interface ExampleEnv {
  /** Static challenge; random when absent. */
  challenge?: string;
  validityDays?: number;
  /** Answer new enrollments PENDING until approved. */
  pending?: boolean;
  /** Enables the admin endpoint. */
  adminToken?: string;
  /** Existing CA instead of the generated one. */
  caCertPath?: string;
  caKeyPath?: string;
}

/** One JSON line the server printed for a SCEP request (`type: "scep"`). */
export interface ServerEvent {
  type: string;
  operation?: string;
  outcome?: string;
  reason?: string;
  transactionId?: string;
  subject?: string;
  serial?: string;
  failInfo?: string;
  status?: number;
  [key: string]: unknown;
}

/** A running example server. */
export interface RunningExample {
  readonly kind: ExampleKind;
  /** `http://127.0.0.1:PORT/scep` */
  readonly url: string;
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  readonly dataDir: string;
  /** The CA certificate the server issues with (`<dataDir>/ca.pem`). */
  readonly caPem: string;
  /** The CA private key (`<dataDir>/ca.key`), for the OpenSSL referee to open requests. */
  readonly caKeyPem: string;
  readonly challenge: string;
  /** Every line the server printed so far. */
  logs(): string;
  /** Its JSON lines with `type: "scep"`, in order. */
  events(): ServerEvent[];
  /**
   * Waits for a SCEP event matching `predicate`, among the events from index
   * `since` on (default 0; pass `events().length` taken before an action), and
   * fails at once if the server exits.
   */
  waitForEvent(predicate: (e: ServerEvent) => boolean, what: string, options?: { since?: number; timeoutMs?: number }): Promise<ServerEvent>;
  /** `POST /admin/{action}/{tid}` with the configured bearer token (or `token`). */
  admin(action: "approve" | "reject", transactionId: string, token?: string): Promise<HttpResponse>;
  stop(): Promise<void>;
  readonly daemon: Daemon;
}

function jsonLines(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (!t.startsWith("{")) continue;
    try {
      const v: unknown = JSON.parse(t);
      if (typeof v === "object" && v !== null) out.push(v as Record<string, unknown>);
    } catch {
      // a partial line still being written
    }
  }
  return out;
}

/**
 * Spawns the `kind` example on 127.0.0.1 with a fresh data dir, waits until
 * it printed its startup line and answers GetCACaps, and returns a handle.
 */
export async function startExample(kind: ExampleKind, env: ExampleEnv = {}): Promise<RunningExample> {
  const launch = TARGET[kind];
  const temp = makeTempDir(`scep-interop-${kind}-`);
  const dataDir = join(temp.path, "data");
  const challenge = env.challenge ?? randomChallenge();
  const daemon = startDaemon(process.execPath, [bundledExampleEntry(launch.example)], {
    cwd: join(ROOT, "examples", launch.example),
    env: {
      PORT: "0",
      HOST: "127.0.0.1",
      SCEP_DATA_DIR: dataDir,
      SCEP_CHALLENGE: challenge,
      SCEP_VALIDITY_DAYS: env.validityDays === undefined ? undefined : String(env.validityDays),
      SCEP_PENDING: env.pending ? "1" : undefined,
      SCEP_ADMIN_TOKEN: env.adminToken,
      SCEP_CA_CERT: env.caCertPath,
      SCEP_CA_KEY: env.caKeyPath,
      // Whatever the parent test runner set must not leak into the server.
      NODE_OPTIONS: undefined,
      VITEST: undefined,
    },
  });
  try {
    const exitedReason = (): string | undefined =>
      daemon.hasExited() ? `the ${kind} example exited:\n${daemon.output()}` : undefined;
    // The startup banner: a JSON line {"type":"listening","port":…}, or the "SCEP URL:" text line.
    const port = await waitFor(
      () => {
        const listening = jsonLines(daemon.output()).find((l) => l["type"] === "listening");
        if (typeof listening?.["port"] === "number") return listening["port"];
        const m = /SCEP URL:\s+http:\/\/127\.0\.0\.1:(\d+)\//.exec(daemon.output());
        return m ? Number(m[1]) : undefined;
      },
      { timeoutMs: 60_000, what: `the ${kind} example to print its SCEP URL`, abort: exitedReason },
    );
    const origin = `http://127.0.0.1:${port}`;
    const url = `${origin}/scep`;
    await waitFor(
      async () => ((await httpGet(`${url}?operation=GetCACaps`, { timeoutMs: 2_000 })).status === 200 ? true : undefined),
      { timeoutMs: 15_000, what: `GetCACaps from the ${kind} example`, abort: exitedReason },
    );
    const caPem = readFileSync(env.caCertPath ?? join(dataDir, "ca.pem"), "utf8");
    const caKeyPem = readFileSync(env.caKeyPath ?? join(dataDir, "ca.key"), "utf8");
    const events = (): ServerEvent[] =>
      jsonLines(daemon.output()).filter((l): l is ServerEvent => l["type"] === "scep");
    return {
      kind,
      url,
      origin,
      dataDir,
      caPem,
      caKeyPem,
      challenge,
      daemon,
      logs: () => daemon.output(),
      events,
      waitForEvent: (predicate, what, options = {}) =>
        waitFor(() => events().slice(options.since ?? 0).find(predicate), {
          timeoutMs: options.timeoutMs ?? 60_000,
          what,
          abort: exitedReason,
          intervalMs: 50,
        }),
      admin: (action, transactionId, token) =>
        httpGet(`${origin}/admin/${action}/${encodeURIComponent(transactionId)}`, {
          method: "POST",
          headers: { authorization: `Bearer ${token ?? env.adminToken ?? ""}` },
        }),
      async stop(): Promise<void> {
        await daemon.stop();
        temp.remove();
      },
    };
  } catch (error) {
    await daemon.stop();
    temp.remove();
    throw error instanceof PeerError ? error : new PeerError(`could not start the ${kind} example`, undefined, { cause: error });
  }
}

/** An example server and the recording proxy in front of it, for one describe block. */
export interface ProxiedExample {
  /** The running example (set in beforeAll). */
  readonly ex: RunningExample;
  /** The recording proxy clients talk to (set in beforeAll). */
  readonly proxy: RecordingProxy;
}

/**
 * Starts `kind` with `env` behind a recording proxy before the block's tests,
 * stops both after them, and (unless `clearBetweenTests` is false) forgets the
 * recorded exchanges before each test.
 */
export function exampleBehindProxy(kind: ExampleKind, env: ExampleEnv, options: { clearBetweenTests?: boolean } = {}): ProxiedExample {
  const ctx = {} as { ex: RunningExample; proxy: RecordingProxy };
  beforeAll(async () => {
    ctx.ex = await startExample(kind, env);
    ctx.proxy = await startRecordingProxy(ctx.ex.url);
  });
  afterAll(async () => {
    await ctx.proxy?.stop();
    await ctx.ex?.stop();
  });
  if (options.clearBetweenTests ?? true) beforeEach(() => void (ctx.proxy.exchanges.length = 0));
  return ctx;
}
