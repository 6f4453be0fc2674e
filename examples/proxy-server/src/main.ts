/**
 * Example SCEP proxy, run from TypeScript sources (bundled into dist/main.mjs by scripts/bundle-example.mjs at each
 * start, no separate build): `pnpm start:proxy` from the repository root,
 * with flags after the script name (`pnpm start:proxy --config proxy.json --port 8090`, `pnpm start:proxy --help`).
 * The upstream CAs come from the JSON file; `PROXY_ADMIN_TOKEN` protects the admin API; `SCEP_REDIS_URL`
 * moves profile records and one-time challenges to Redis. See the README section "SCEP proxy".
 */
import { readConfig } from "./config.js";

// Flags, environment and the file are checked before @scep/* load: a mistake shows at once (one line, exit 2).
const config = readConfig("proxy-server");
if (config) {
  const { logLine, startProxy } = await import("./start-proxy.js");
  let running: Awaited<ReturnType<typeof startProxy>> | undefined;
  let stopping: string | undefined;
  // SIGINT/SIGTERM while the proxy starts (waiting for Redis): the wait ends at once, the listener closes, exit 0.
  const startAbort = new AbortController();
  const close = (proxy: NonNullable<typeof running>, signal: string): void =>
    void proxy.close().then(
      () => {
        logLine({ type: "stopped", signal });
        process.exit(0);
      },
      (e: unknown) => {
        logLine({ type: "stop-failed", signal, error: (e as Error).message.split("\n", 1)[0] });
        process.exit(1);
      },
    );
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = signal;
    logLine({ type: "stopping", signal });
    if (running) close(running, signal);
    else startAbort.abort(new Error(`stopped by ${signal} while starting`));
  };
  // Before the start (it may wait for Redis) and so before the listening line: whoever reads it may signal at once, and
  // a SIGTERM that comes before a listener is registered kills the process with Node's default action (no
  // stopping/stopped lines, no graceful close).
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  try {
    running = await startProxy(config, { signal: startAbort.signal });
  } catch (e) {
    if (stopping) {
      logLine({ type: "stopped", signal: stopping });
      process.exit(0);
    }
    console.error(`proxy-server: ${(e as Error).message.split("\n", 1)[0]}`);
    // A port that cannot be had is a configuration mistake (exit 2, as for the example servers); anything else 1.
    process.exit((e as Error).name === "ListenError" ? 2 : 1);
  }
  // A signal that came once the start no longer waited: the proxy started, and stops now.
  if (stopping) close(running, stopping);
  else {
    process.stderr.write(
      [
        `SCEP proxy listening on ${config.host}:${running.port}`,
        `  device URLs:     ${running.scepBase}/<hostId,profileId,caName,challenge>`,
        `  upstream CAs:    ${config.cas.map((ca) => `${ca.name} (${ca.type})`).join(", ")}${config.defaultCa ? `; default ${config.defaultCa}` : ""}`,
        `  stores:          ${running.stores.where}`,
        `  admin API:       ${running.origin}/admin/profiles (Authorization: Bearer $PROXY_ADMIN_TOKEN)`,
        "",
      ].join("\n"),
    );
    // One warning line per upstream CA that does not answer GetCACaps now (the proxy serves anyway: it may come up).
    void running.checkUpstreams().then((problems) => {
      for (const problem of problems) process.stderr.write(`proxy-server: warning: ${problem}\n`);
    });
    logLine({ type: "listening", pid: process.pid, port: running.port, scepBase: running.scepBase, cas: config.cas.map((ca) => ca.name), stores: running.stores.where });
  }
}
