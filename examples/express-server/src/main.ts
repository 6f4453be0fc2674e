/**
 * Example SCEP server on Express 5: `pnpm start` (from the repository root) or
 * `pnpm --filter @scep-examples/express-server start -- --help`.
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
