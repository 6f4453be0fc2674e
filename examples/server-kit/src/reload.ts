// SIGHUP: reload the configuration, the CA material (a replaced CA certificate and key, the next CA served by
// GetNextCACert during a rollover) and Intune trust anchors, without dropping a connection. Everything is built
// anew beside the running server and swapped in only when all of it loaded: a bad file keeps the old state, and
// the reason is logged as one line (the messages name files and settings, never a secret).
import type { ServerConfig } from "./config.js";

/** Settings that belong to the listening socket, the worker processes or threads or the store connection: they need a restart. */
export const RESTART_ONLY: readonly (keyof ServerConfig)[] = ["port", "host", "workers", "keyWorkers", "redisUrl", "redisKeyPrefix", "adminListen", "requestTimeoutMs", "headersTimeoutMs", "keepAliveTimeoutMs", "bodyTimeoutMs", "maxInFlight", "maxConnections", "retryAfterSeconds", "shutdownTimeoutMs"];

/**
 * The reloaded configuration with the restart-only settings of the running one, and the names of those that
 * differ (reported, not applied).
 */
export function keepRestartOnly(running: ServerConfig, next: ServerConfig): { config: ServerConfig; restartNeeded: string[] } {
  const config = { ...next };
  const restartNeeded: string[] = [];
  for (const key of RESTART_ONLY) {
    if (JSON.stringify(next[key]) !== JSON.stringify(running[key])) restartNeeded.push(key);
    (config as Record<string, unknown>)[key] = running[key];
  }
  return { config, restartNeeded };
}

/** One line fit for a log: the first line of the message, at most 300 characters. */
export function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const first = message.split("\n", 1)[0] ?? "";
  return first.length > 300 ? first.slice(0, 299) + "…" : first;
}

/** What {@link createReloader} runs. */
export interface ReloaderOptions<T> {
  /** Builds the next state from files; throws (nothing applied) when anything is refused. */
  load(): Promise<T>;
  /** Puts the loaded state in service (synchronous: no request sees half of it); throws to refuse it (nothing applied). */
  apply(next: T): void;
  /** Releases a loaded state that {@link ReloaderOptions.apply} refused. */
  discard(next: T): void;
  /** One JSON line: `reloaded` with what `describe` says, or `reload-failed` with the reason. */
  log(entry: Record<string, unknown>): void;
  /** What the `reloaded` line says about the new state (no secret). */
  describe(next: T): Record<string, unknown>;
  /** Runs once the state is in service and its `reloaded` line logged (e.g. the new state's warnings); never refuses it. */
  applied?(next: T): void;
}

/**
 * Runs reloads one at a time: a SIGHUP that arrives while one runs schedules exactly one more after it (the files
 * may have changed again), further ones coalesce into it. `reload()` resolves true when the new state is in service;
 * `idle()` once none runs or waits.
 */
export function createReloader<T>(o: ReloaderOptions<T>): { reload(trigger: string): Promise<boolean>; idle(): Promise<void> } {
  let running: Promise<boolean> | undefined;
  let again: Promise<boolean> | undefined;
  const once = async (trigger: string): Promise<boolean> => {
    let next: T;
    try {
      next = await o.load();
    } catch (e) {
      o.log({ type: "reload-failed", trigger, error: oneLine(e) });
      return false;
    }
    try {
      o.apply(next);
    } catch (e) {
      o.discard(next);
      o.log({ type: "reload-failed", trigger, error: oneLine(e) });
      return false;
    }
    o.log({ type: "reloaded", trigger, ...o.describe(next) });
    try {
      o.applied?.(next);
    } catch {
      /* in service already: a failing report does not undo it */
    }
    return true;
  };
  const reload = (trigger: string): Promise<boolean> => {
    if (!running) {
      running = once(trigger).finally(() => (running = undefined));
      return running;
    }
    again ??= running.then(() => {
      again = undefined;
      return reload(trigger);
    });
    return again;
  };
  /** Resolves once no reload runs or waits (each one has applied or discarded what it loaded). */
  const idle = async (): Promise<void> => {
    while (running || again) await (again ?? running)!.catch(() => undefined);
  };
  return { reload, idle };
}
