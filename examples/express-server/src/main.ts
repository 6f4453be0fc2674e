/**
 * Example SCEP server on Express 5, run from TypeScript sources (no build):
 * `pnpm start` from the repository root, with flags after the script name:
 * `pnpm start --help`, `pnpm start --port 9000 --pending` (`pnpm start -- --help`
 * works too). Relative paths are resolved against the directory you ran
 * pnpm from.
 *
 * Everything but the routing lives in @scep-examples/server-kit.
 */
import express from "express";
import { scepMiddleware } from "@scep/express";
import { startServer } from "@scep-examples/server-kit";

await startServer("express", (kit) => {
  const app = express();
  app.disable("x-powered-by");
  // SCEP at /scep (and /scep/pkiclient.exe); other paths fall through to the routes below.
  app.use(scepMiddleware(kit.server, { maxBodyBytes: kit.config.maxBodyBytes }));
  const admin = kit.admin;
  if (admin) {
    app.post("/admin/:action/:tid", async (req, res) => {
      const { status, body } = await admin(req.params.action, req.params.tid, req.headers.authorization);
      res.status(status).json(body);
    });
  }
  return app;
});
