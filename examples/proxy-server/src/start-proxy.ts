// Builds and runs the example proxy: stores, CA registry, the @scep/proxy handler, the admin API, one
// node:http server, JSON event lines on stdout, a banner on stderr, graceful shutdown.
import type { RequestListener, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { HttpUpstream, MemoryCaRegistry, NdesChallengeSource, SmallstepChallengeSource, createScepProxy, type CaConfig } from "@scep/proxy";
import { createAdminApi, EventLog, MAX_ADMIN_BODY } from "./admin-api.js";
import type { ProxyConfig } from "./config.js";
import { serveFetch } from "./node-fetch.js";
import { createLimitedHttpServer } from "@scep-examples/server-kit/http-limits";
import { listenFailure } from "@scep-examples/server-kit/listen-failure";
import { rawPath } from "@scep-examples/server-kit/node-fetch";
import { PROBE_PATHS, answerNotReadyYet, answerProbe } from "@scep-examples/server-kit/probes";
import { nodeHttpFetch } from "./node-http-fetch.js";
import { memoryStores, redisStores, type ProxyStores } from "./stores.js";

/** A running proxy (tests start it in-process; `main.ts` runs it until a signal). */
export interface RunningProxy {
  server: Server;
  port: number;
  /** `<publicUrl><path>`: device URLs are this plus `/<identifier>`. */
  scepBase: string;
  /** `http://<host>:<port>` where this process listens (the admin API is under `/admin/`). */
  origin: string;
  stores: ProxyStores;
  /**
   * Asks each configured CA for GetCACaps once (within `timeoutMs`, default 5000) and resolves with one line per
   * CA that did not answer 2xx: its name, URL and why. Never rejects. `main.ts` prints them as start-up warnings.
   */
  checkUpstreams(options?: { timeoutMs?: number }): Promise<string[]>;
  close(): Promise<void>;
}

/** One JSON line on stdout, led by its `time` (ISO 8601, UTC) as the servers' lines are: the entry's own `time` when it has one (a recorded event), else now. */
export function logLine(entry: Record<string, unknown>): void {
  const time = typeof entry.time === "string" ? entry.time : new Date().toISOString();
  process.stdout.write(JSON.stringify({ time, ...entry }) + "\n");
}

/** The library's CA configuration from the example's (secrets stay in the config object, never in a log line). */
export function caConfigs(config: ProxyConfig): CaConfig[] {
  return config.cas.map((ca) => ({
    name: ca.name,
    type: ca.type,
    url: ca.url,
    ...(ca.challengeTtlMs === undefined ? {} : { challengeTtlMs: ca.challengeTtlMs }),
    ...(ca.exemptPlatforms === undefined ? {} : { exemptPlatforms: ca.exemptPlatforms }),
    ...(ca.ndes === undefined ? {} : { ndes: ca.ndes }),
    ...(ca.smallstep === undefined ? {} : { smallstep: ca.smallstep }),
  }));
}

/**
 * The NDES challenge source as the file's `ndesAccess` says: only the keys it sets are passed (the rest are
 * @scep/proxy's defaults: channel binding on, 30 s, the system's CAs plus NODE_EXTRA_CA_CERTS).
 */
function ndesChallengeSource(config: ProxyConfig, now: () => Date): NdesChallengeSource {
  const { channelBinding, timeoutMs, ca } = config.ndesAccess;
  return new NdesChallengeSource({
    now,
    ...(channelBinding === undefined ? {} : { channelBinding }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    ...(ca === undefined ? {} : { tls: { ca } }),
  });
}

/** The address cannot be had (port in use, privileged port, no such local address): a configuration mistake, exit 2. */
export class ListenError extends Error {
  override readonly name = "ListenError";
}

/**
 * Starts the proxy as configured; resolves once it listens and its stores are open. It listens first: with Redis it
 * then waits for it (`config.redisStartTimeoutSeconds`), answering `/healthz` 200 and everything else 503 +
 * Retry-After "waiting for Redis" meanwhile; `options.signal` (SIGTERM in `main.ts`) aborts that wait.
 *
 * @throws ProxyConfigError (`ERR_PROXY_CONFIG`, from @scep/proxy's CA registry) for a CA it refuses, before anything
 *   listens; ListenError when it cannot listen; RedisConnectError when Redis cannot be reached (see {@link redisStores});
 *   `options.signal`'s reason when it aborts the wait. The listener is closed then.
 */
export async function startProxy(config: ProxyConfig, options: { log?: (entry: Record<string, unknown>) => void; now?: () => Date; signal?: AbortSignal } = {}): Promise<RunningProxy> {
  const log = options.log ?? logLine;
  const now = options.now ?? (() => new Date());
  // Before anything listens or connects: a CA the registry refuses (ProxyConfigError) leaves no port bound, no Redis open.
  const cas = new MemoryCaRegistry(caConfigs(config), config.defaultCa === undefined ? {} : { defaultName: config.defaultCa });
  // Slow clients and floods: header, request, body (408) and keep-alive timeouts, at most maxInFlight requests
  // (503 + Retry-After; the probes are not counted), maxConnections sockets: as the example servers.
  // Until the stores are open (Redis not up yet) the process is alive but not ready.
  let handle: RequestListener = (req, res) => answerNotReadyYet(req, res, rawPath(req.url ?? "/"), "waiting for Redis", { redis: "down" }, config.http.retryAfterSeconds);
  const server = createLimitedHttpServer({ ...config.http, exemptPaths: PROBE_PATHS }, (req, res) => handle(req, res));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(config.port, config.host, () => resolve());
    });
  } catch (e) {
    throw new ListenError(listenFailure(e, config.host, config.port));
  }
  let stores: ProxyStores;
  try {
    stores = config.redisUrl ? await redisStores(config.redisUrl, config.redisKeyPrefix, log, { startTimeoutSeconds: config.redisStartTimeoutSeconds, ...(options.signal ? { signal: options.signal } : {}) }) : memoryStores();
  } catch (e) {
    server.close();
    server.closeAllConnections();
    throw e;
  }
  const events = new EventLog();
  const upstream = new HttpUpstream({
    timeoutMs: config.upstreamTimeoutMs,
    maxRequestBytes: config.maxBodyBytes,
    maxResponseBytes: config.maxBodyBytes,
    fetch: nodeHttpFetch({ maxResponseBytes: config.maxBodyBytes }),
  });
  const proxy = createScepProxy({
    basePath: config.path,
    cas,
    profiles: stores.profiles,
    challenges: stores.challenges,
    forwardResends: config.forwardResends,
    maxBodyBytes: config.maxBodyBytes,
    upstreamTimeoutMs: config.upstreamTimeoutMs,
    upstream,
    now,
    // One event per device request: EventLog.add makes the one copy it keeps, the log line spreads that. Its time is
    // the event's (when the request arrived), its clientAddress the TCP peer's (node-fetch.ts passes it).
    onEvent: (event) => log({ type: "proxy", ...events.add(event, event.time) }),
    // What the device is not told (a store's error behind a 500): one JSON line, never a secret.
    logger: { error: (message, details) => log({ type: "proxy-error", message, ...details }) },
  });
  let scepBase = "";
  const admin = createAdminApi({
    token: config.adminToken,
    cas,
    profiles: stores.profiles,
    challenges: stores.challenges,
    // For CAs configured with `ndes` / `smallstep` access: the challenge is fetched when the MDM registers.
    challengeSources: { ndes: ndesChallengeSource(config, now), smallstep: new SmallstepChallengeSource({ now }) },
    deviceChallenges: new Map(config.cas.flatMap((ca) => (ca.challenge === undefined ? [] : [[ca.name, ca.challenge] as const]))),
    proxyBase: () => scepBase,
    events,
    stats: () => proxy.stats(),
    log,
    now,
  });
  const onError = (error: unknown): void => log({ type: "error", error: error instanceof Error ? `${error.name}: ${error.message.split("\n", 1)[0]}` : "unknown error" });
  handle = (req, res) => {
    const path = rawPath(req.url ?? "/");
    // /healthz and /readyz, as the example servers answer them (readiness: Redis connected, when configured).
    if (answerProbe(req, res, path, stores.checks)) return;
    if (admin.owns(path)) return void serveFetch((r, meta) => admin.fetch(r, meta), req, res, { maxBodyBytes: MAX_ADMIN_BODY, allow: "GET, HEAD, POST, DELETE", onError });
    if (path === config.path || path.startsWith(`${config.path}/`)) return void serveFetch((r, meta) => proxy.fetch(r, meta), req, res, { maxBodyBytes: config.maxBodyBytes, allow: "GET, HEAD, POST", onError });
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
    res.end("not found\n");
  };
  const port = (server.address() as AddressInfo).port;
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host.includes(":") ? `[${config.host}]` : config.host;
  const origin = `http://${host}:${port}`;
  scepBase = `${config.publicUrl ?? origin}${config.path}`;
  return {
    server,
    port,
    scepBase,
    origin,
    stores,
    async checkUpstreams({ timeoutMs = 5_000 } = {}) {
      const ms = Math.min(timeoutMs, config.upstreamTimeoutMs);
      const problems = await Promise.all(
        caConfigs(config).map(async (ca) => {
          const signal = AbortSignal.timeout(ms);
          try {
            await upstream.getCACaps(ca, { signal });
            return undefined;
          } catch (e) {
            // The URL as configured, without any query (the file refuses credentials in it).
            const u = new URL(ca.url);
            const why = signal.aborted ? `no answer within ${ms} ms` : (e as Error).message.split("\n", 1)[0];
            return `CA ${JSON.stringify(ca.name)} at ${u.origin}${u.pathname}: GetCACaps failed (${why}); its devices get 502 upstream failed until it answers (another URL: --ca-url ${ca.name}=URL)`;
          }
        }),
      );
      return problems.filter((p): p is string => p !== undefined);
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 5_000).unref();
      });
      await stores.close();
    },
  };
}
