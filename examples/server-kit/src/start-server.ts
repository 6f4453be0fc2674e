// Bootstrap shared by the example servers: CA, challenge, SCEP server, HTTP server with timeouts, banner, shutdown, workers.
import cluster from "node:cluster";
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { networkInterfaces } from "node:os";
import { join, resolve } from "node:path";
import { InvalidArgumentError, LocalKey, createScepServer, type ScepEvent, type ScepServer } from "@scep/core";
import { isEmbeddedCaError, openFileCa, type FileCa } from "@scep-examples/embedded-ca";
import { SHUTDOWN_MESSAGE, runClusterPrimary, workerSlot } from "./cluster-primary.js";
import { ConfigError, parseConfig, usage, type ServerConfig } from "./config.js";

/** The SCEP path (and profile name) the examples serve. */
export const SCEP_PATH = "/scep";

/** What an example gets to build its framework app from. */
export interface ScepKit {
  config: ServerConfig;
  ca: FileCa;
  /** Path of the CA certificate (PEM) clients and `openssl verify` can use. */
  caCertificatePath: string;
  challenge: string;
  server: ScepServer;
  /** Writes one JSON line to stdout. */
  log(entry: Record<string, unknown>): void;
  /** Runs an admin action; undefined when SCEP_ADMIN_TOKEN is unset (do not mount the routes). */
  admin: ((action: string, transactionId: string, authorization: string | undefined) => Promise<{ status: number; body: Record<string, unknown> }>) | undefined;
}

/** A started example server. */
export interface RunningServer {
  kit: ScepKit;
  http: Server;
  urls: string[];
  /** Stops like SIGTERM does, without exiting. */
  stop(): Promise<void>;
}

// In a worker of --workers N, every line says which worker (1..N) wrote it.
const WORKER_FIELD = workerSlot === undefined ? {} : { worker: workerSlot };
const log = (entry: Record<string, unknown>): void => void process.stdout.write(JSON.stringify({ time: new Date().toISOString(), ...WORKER_FIELD, ...entry }) + "\n");

async function loadChallenge(config: ServerConfig, dataDir: string): Promise<{ challenge: string; source: string }> {
  if (config.challenge !== undefined) return { challenge: config.challenge, source: "given" };
  const file = join(dataDir, "challenge");
  try {
    // 'wx': only the first start creates it; later starts (and a concurrent one) read the same secret.
    await writeFile(file, randomBytes(16).toString("hex") + "\n", { flag: "wx", mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  const challenge = (await readFile(file, "utf8")).trim();
  if (!challenge) throw new ConfigError(`${file} is empty: delete it to generate a new challenge, or set SCEP_CHALLENGE`);
  return { challenge, source: file };
}

function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

/** Opens the CA, loads the challenge and creates the SCEP server. */
export async function createKit(config: ServerConfig): Promise<ScepKit & { challengeSource: string }> {
  const ca = await openFileCa({ dataDir: config.dataDir, certificateFiles: config.certFiles, ...(config.caCertPath ? { caCertPath: config.caCertPath, caKeyPath: config.caKeyPath! } : {}) });
  const { challenge, source } = await loadChallenge(config, ca.dataDir);
  const server = createScepServer({
    maxBodyBytes: config.maxBodyBytes,
    onEvent: (e: ScepEvent) => log({ type: "scep", ...e }),
    profiles: [
      {
        path: SCEP_PATH,
        caCertificate: ca.certificatePem,
        signer: LocalKey.fromPem(ca.certificatePem, ca.privateKeyPem, { threadPool: true }),
        challenge: { type: "static", password: challenge },
        csrPolicy: { maxValidityDays: config.validityDays },
        issue: async (ctx) => {
          if (config.pending && !ctx.approved && !ctx.renewal) return { status: "PENDING" };
          try {
            // ctx.csr was decoded and its signature verified by decodePkiMessage: the CA does not redo either.
            const issued = await ca.issue({ csr: ctx.csr, validityDays: Math.min(ctx.maxValidityDays, config.validityDays) });
            return { status: "SUCCESS", certificate: issued.certificateDer };
          } catch (e) {
            if (isEmbeddedCaError(e) && e.code === "CSR_INVALID") return { status: "FAILURE", failInfo: "badRequest", failInfoText: e.message };
            throw e;
          }
        },
      },
    ],
  });
  const token = config.adminToken;
  const admin: ScepKit["admin"] = token
    ? async (action, transactionId, authorization) => {
        const given = /^Bearer (.+)$/.exec(authorization ?? "")?.[1];
        if (given === undefined || !sameSecret(given, token)) return { status: 401, body: { error: "bad or missing bearer token" } };
        if (action !== "approve" && action !== "reject") return { status: 404, body: { error: `unknown action ${action}` } };
        try {
          const tx = action === "approve" ? await server.approve(SCEP_PATH, transactionId) : await server.reject(SCEP_PATH, transactionId);
          log({ type: "admin", action, transactionId, status: tx.status });
          return { status: 200, body: { transactionId, status: tx.status } };
        } catch (e) {
          if (!(e instanceof InvalidArgumentError)) throw e;
          return { status: 404, body: { error: e.message } };
        }
      }
    : undefined;
  const caCertificatePath = config.caCertPath ? resolve(config.caCertPath) : join(ca.dataDir, "ca.pem");
  return { config, ca, caCertificatePath, challenge, challengeSource: source, server, log, admin };
}

/** An HTTP server with the configured timeouts, so a slow client cannot hold a connection forever. */
export function createHttpServer(config: ServerConfig, listener: RequestListener): Server {
  const http = createServer(
    {
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: config.headersTimeoutMs,
      keepAliveTimeout: config.keepAliveTimeoutMs,
      // How often Node checks the two timeouts above (its default, 30 s, would let short timeouts run long).
      connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(config.headersTimeoutMs / 4))),
    },
    listener,
  );
  http.keepAliveTimeout = config.keepAliveTimeoutMs;
  return http;
}

function scepUrls(host: string, port: number): string[] {
  const hosts =
    host === "0.0.0.0" || host === "::"
      ? Object.values(networkInterfaces()).flatMap((list) => (list ?? []).filter((a) => a.family === "IPv4").map((a) => a.address))
      : [host];
  return hosts.map((h) => `http://${h.includes(":") ? `[${h}]` : h}:${port}${SCEP_PATH}`);
}

/** What the banner shows: the kit's CA and challenge (or, in a cluster primary, the same read before forking). */
interface BannerFacts {
  ca: FileCa;
  caCertificatePath: string;
  challenge: string;
  challengeSource: string;
}

function printBanner(name: string, config: ServerConfig, port: number, facts: BannerFacts, workers?: { worker: number; pid: number }[]): void {
  const urls = scepUrls(config.host, port);
  const lines = [
    `SCEP server (${name}) listening on ${config.host}:${port}`,
    ...urls.map((u) => `  SCEP URL:        ${u}`),
    `  challenge:       ${facts.challenge}  (${facts.challengeSource})`,
    `  CA:              ${facts.ca.subject}`,
    `  CA fingerprint:  SHA-256 ${facts.ca.fingerprintSha256}`,
    `  CA certificate:  ${facts.caCertificatePath}`,
    `  data directory:  ${facts.ca.dataDir}`,
    `  issuing:         ${config.pending ? "PENDING until approved (POST /admin/approve/<transactionID>)" : "at once"}, ${config.validityDays} days`,
    `  admin endpoint:  ${config.adminToken ? "enabled (Authorization: Bearer $SCEP_ADMIN_TOKEN)" : "disabled (set SCEP_ADMIN_TOKEN)"}`,
    ...(workers ? [`  workers:         ${workers.length} (pids ${workers.map((w) => w.pid).join(", ")}; primary ${process.pid})`] : []),
  ];
  process.stdout.write(lines.join("\n") + "\n");
  log({
    type: "listening", framework: name, port, urls, fingerprintSha256: facts.ca.fingerprintSha256, caCertificate: facts.caCertificatePath, dataDir: facts.ca.dataDir,
    ...(workers ? { workers } : {}),
  });
}

/**
 * Starts an example: reads flags and environment, builds the kit, asks `build`
 * for the framework's request listener, listens, prints the banner, and stops
 * gracefully on SIGINT/SIGTERM (stop accepting, finish in-flight, exit 0).
 * Configuration mistakes print the message (and usage) and exit 2.
 *
 * With `--workers N` (N > 1) this process becomes a node:cluster primary: it
 * creates the CA and the challenge, forks N workers (each runs the same
 * script, which calls this again and serves requests on the shared port),
 * prints the banner once all listen, restarts a worker that dies, and on
 * SIGINT/SIGTERM stops the workers gracefully and exits 0. It then resolves
 * undefined, as it does for `--help` and configuration mistakes.
 */
export async function startServer(name: string, build: (kit: ScepKit) => RequestListener, options: { argv?: readonly string[]; env?: Record<string, string | undefined> } = {}): Promise<RunningServer | undefined> {
  let config: ServerConfig;
  let kit: Awaited<ReturnType<typeof createKit>>;
  try {
    const parsed = parseConfig(options.argv ?? process.argv.slice(2), options.env ?? process.env);
    if ("help" in parsed) return void console.log(usage(`${name}-server`));
    config = parsed;
    if (config.workers > 1 && cluster.isPrimary) {
      // Created here, before forking, so the workers only ever read them.
      const ca = await openFileCa({ dataDir: config.dataDir, certificateFiles: config.certFiles, ...(config.caCertPath ? { caCertPath: config.caCertPath, caKeyPath: config.caKeyPath! } : {}) });
      const { challenge, source } = await loadChallenge(config, ca.dataDir);
      const facts: BannerFacts = { ca, challenge, challengeSource: source, caCertificatePath: config.caCertPath ? resolve(config.caCertPath) : join(ca.dataDir, "ca.pem") };
      const primaryConfig = config;
      runClusterPrimary({
        program: `${name}-server`,
        workers: config.workers,
        args: options.argv ?? process.argv.slice(2),
        ...(options.env ? { env: options.env } : {}),
        shutdownTimeoutMs: config.shutdownTimeoutMs,
        log,
        onListening: (port, workers) => printBanner(name, primaryConfig, port, facts, workers),
      });
      return undefined;
    }
    kit = await createKit(config);
  } catch (e) {
    if (!(e instanceof ConfigError) && !isEmbeddedCaError(e) && !(e instanceof InvalidArgumentError)) throw e;
    console.error(`${name}-server: ${e.message}`);
    if (e instanceof ConfigError && e.showUsage) console.error(`run with --help for the options`);
    process.exitCode = 2;
    return undefined;
  }
  const http = createHttpServer(config, build(kit));
  let stopping: Promise<void> | undefined;
  // During shutdown: new responses close their connection, and connections that finish a response are closed.
  http.prependListener("request", (_req, res) => {
    if (stopping) res.setHeader("connection", "close");
    res.once("finish", () => void (stopping && setImmediate(() => http.closeIdleConnections())));
  });
  await new Promise<void>((ok, fail) => http.once("error", fail).listen(config.port, config.host, () => ok()));
  const port = (http.address() as AddressInfo).port;
  const urls = scepUrls(config.host, port);
  // A cluster worker stays quiet: its primary prints the banner once for all.
  if (workerSlot === undefined) printBanner(name, config, port, kit);

  const stop = (): Promise<void> =>
    (stopping ??= new Promise<void>((done) => {
      http.close(() => done());
      http.closeIdleConnections();
      setTimeout(() => http.closeAllConnections(), config.shutdownTimeoutMs).unref();
    }));
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping && workerSlot !== undefined) return; // a worker hears both the signal (sent to the process group) and its primary
    const stopped = stop(); // the listener is closed now: "shutdown" means no new connections
    // A worker's shutdown is reported by its primary ("shutdown", "worker-exit", "stopped").
    if (workerSlot === undefined) log({ type: "shutdown", signal });
    void stopped.then(() => {
      if (workerSlot === undefined) log({ type: "stopped" });
      process.exit(0);
    });
  };
  process.once("SIGINT", onSignal).once("SIGTERM", onSignal);
  if (workerSlot !== undefined) process.on("message", (m) => void (m === SHUTDOWN_MESSAGE && onSignal("SIGTERM")));
  return { kit, http, urls, stop };
}
