/**
 * Example SCEP server on Express 5, run from TypeScript sources (bundled into dist/main.mjs by
 * scripts/bundle-example.mjs at each start, no separate build):
 * `pnpm start` from the repository root, with flags after the script name:
 * `pnpm start --help`, `pnpm start --port 9000 --validity-days 30` (`pnpm start -- --help`
 * works too). Relative paths are resolved against the directory you ran
 * pnpm from.
 *
 * Everything but the routing lives in @scep-examples/server-kit.
 */
import { readConfig } from "@scep-examples/server-kit/config";

// Flags and environment are checked before Express and @scep/core load, so a mistake shows at once (one line, exit 2).
const config = readConfig("express-server");
if (config) {
  const [{ default: express }, { scepMiddleware }, { internalError, rawPath, serveFetch, startServer }] = await Promise.all([
    import("express"),
    import("@scep/express"),
    import("@scep-examples/server-kit"),
  ]);
  await startServer(
    "express",
    (kit) => {
      const app = express();
      app.disable("x-powered-by");
      // The admin API and page (/admin/scep…, only with SCEP_ADMIN_TOKEN): matched on the raw path, so an encoded or a bare
      // base64 transactionID (`/`, `+`, `=`) reaches it whole.
      const admin = kit.admin;
      if (admin) app.use((req, res, next) => (admin.owns(rawPath(req.originalUrl)) ? serveFetch((r, meta) => admin.fetch(r, meta), req, res, next) : next()));
      // The CA's CRL (GET /scep/ca.crl, application/pkix-crl).
      app.use((req, res, next) => (kit.crl.owns(rawPath(req.originalUrl)) ? serveFetch((r) => kit.crl.fetch(r), req, res, next, "GET, HEAD") : next()));
      // SCEP at /scep (and /scep/pkiclient.exe); other paths fall through (404). Events (JSON lines) name the client by
      // the TCP peer's address: the hot path below never enters Express, so there is no req.ip and no `trust proxy`.
      const scep = scepMiddleware(kit.server, { maxBodyBytes: kit.config.maxBodyBytes });
      app.use(scep);
      // The SCEP hot path skips Express's router: a path a profile owns (and the admin API and CRL do not) goes
      // straight to the middleware, the same one the app mounts, which answers it whatever the status.
      return (req, res) => {
        const path = rawPath(req.url ?? "/");
        if (!kit.server.owns(path) || admin?.owns(path) || kit.crl.owns(path)) return void app(req, res);
        scep(req, res, (error) => (error === undefined ? void app(req, res) : internalError(res, { error, where: "scep", log: kit.log })));
      };
    },
    { config },
  );
}
