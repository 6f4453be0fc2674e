// One Redis connection for an example process (SCEP server or proxy): connected before the process starts
// serving (a wrong URL fails the start with one line), then outages logged once each way.
import Redis from "ioredis";
import { redisClientOptions } from "@scep/redis";

/**
 * Query parameters of a Redis URL whose value is not printed. ioredis takes every query parameter as a client option
 * (`?password=…` authenticates as the `:password@` part does), so any that may hold a credential is masked.
 */
const SECRET_QUERY = /pass|user|auth|token|secret|key/i;

/**
 * A Redis URL fit for a log line: the password (and a lone username-as-password) replaced by `***`, and so is the
 * value of every query parameter that may hold a credential (`?password=`, `?username=`, TLS keys).
 */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    else if (u.username) u.username = "***";
    for (const name of [...new Set(u.searchParams.keys())]) if (SECRET_QUERY.test(name)) u.searchParams.set(name, "***");
    return u.toString();
  } catch {
    return "(unparsable Redis URL)";
  }
}

/**
 * Connects to Redis with the stores' client options (commands fail fast while it is down, so requests answer
 * 503 instead of queueing) and resolves once connected. Afterwards `log` hears `{ type: "redis-down" }` once
 * per outage and `{ type: "redis-up" }` when it is back; the client reconnects by itself.
 *
 * @param url - `redis://` or `rediss://` URL (its password never reaches a log line: see {@link redactRedisUrl}).
 * @returns The connected client and the redacted URL for log lines.
 * @throws Error "cannot reach Redis at <redacted url>: <reason>" when the first connection fails.
 */
export async function connectRedis(url: string, log: (entry: Record<string, unknown>) => void): Promise<{ client: Redis; where: string }> {
  const where = redactRedisUrl(url);
  const client = new Redis(url, { ...redisClientOptions, lazyConnect: true });
  let down = false;
  let starting = true;
  let firstError: Error | undefined;
  client.on("error", (e: Error) => {
    if (starting) return void (firstError ??= e);
    if (down) return;
    down = true;
    log({ type: "redis-down", redis: where, error: e.message.split("\n", 1)[0] });
  });
  client.on("ready", () => {
    if (!down) return;
    down = false;
    log({ type: "redis-up", redis: where });
  });
  try {
    await client.connect();
  } catch (e) {
    client.disconnect();
    // The socket's error (ECONNREFUSED, ENOTFOUND, WRONGPASS…) says more than connect()'s "Connection is closed."
    throw new Error(`cannot reach Redis at ${where}: ${(firstError ?? (e as Error)).message.split("\n", 1)[0]}`);
  }
  starting = false;
  return { client, where };
}

/**
 * Readiness of a Redis client from cached state, for `/readyz` (no I/O per probe): connected, and the last background
 * PING answered (a Redis that accepts connections but hangs is not ready). One PING every `intervalMs` (default
 * 2000 ms) on an unref'd timer; `stop()` ends it.
 */
export function redisReadiness(client: Redis, intervalMs = 2000): { ready(): boolean; stop(): void } {
  let pingOk = true;
  const pinger = setInterval(() => {
    if (client.status !== "ready") return void (pingOk = false);
    client.ping().then(
      () => void (pingOk = true),
      () => void (pingOk = false),
    );
  }, intervalMs);
  pinger.unref();
  return { ready: () => client.status === "ready" && pingOk, stop: () => clearInterval(pinger) };
}
