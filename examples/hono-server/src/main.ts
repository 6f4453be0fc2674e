/**
 * Example SCEP server on Hono (served by @hono/node-server), run from TypeScript sources (bundled into dist/main.mjs by
 * scripts/bundle-example.mjs at each start, no separate build):
 * `pnpm start:hono` from the repository root, with flags after the script name:
 * `pnpm start:hono --help`, `pnpm start:hono --port 9000 --validity-days 30` (`pnpm start:hono -- --help`
 * works too). Relative paths are resolved against the directory you ran
 * pnpm from.
 *
 * Everything but the routing lives in @scep-examples/server-kit.
 */
import type { IncomingMessage } from "node:http";
import { readConfig } from "@scep-examples/server-kit/config";

// Flags and environment are checked before Hono and @scep/core load, so a mistake shows at once (one line, exit 2).
const config = readConfig("hono-server");
if (config) {
  const [{ getRequestListener }, { Hono }, { scepHandler }, { peerAddress, startServer }] = await Promise.all([
    import("@hono/node-server"),
    import("hono"),
    import("@scep/hono"),
    import("@scep-examples/server-kit"),
  ]);
  await startServer(
    "hono",
    (kit) => {
      const app = new Hono<{ Bindings: { incoming?: IncomingMessage } }>();
      // The admin API and page (/admin/scep…, only with SCEP_ADMIN_TOKEN): matched on the raw path, so an encoded or a bare
      // base64 transactionID (`/`, `+`, `=`) reaches it whole.
      const admin = kit.admin;
      if (admin) {
        app.use(async (c, next) => {
          if (!admin.owns(new URL(c.req.url).pathname)) return next();
          return admin.fetch(c.req.raw, { remoteAddress: peerAddress(c.env?.incoming) });
        });
      }
      // The CA's CRL (GET /scep/ca.crl, application/pkix-crl).
      app.use(async (c, next) => (kit.crl.owns(new URL(c.req.url).pathname) ? kit.crl.fetch(c.req.raw) : next()));
      // SCEP at /scep (and /scep/pkiclient.exe), body limit from the server's maxBodyBytes; other paths fall through.
      // Events name the client by the TCP peer's address (scepHandler's default on @hono/node-server: c.env.incoming).
      app.use(scepHandler(kit.server));
      // HTTP/1.0 clients may send no Host header (old sscep, some routers): @hono/node-server answers those 400 before
      // the app unless it has a host to build the request URL with. SCEP routes by path only, so any name does.
      return getRequestListener(app.fetch, { hostname: "localhost" });
    },
    { config },
  );
}
