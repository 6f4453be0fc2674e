/**
 * Example SCEP server on Hono (served by @hono/node-server), run from TypeScript sources (no build):
 * `pnpm start:hono` from the repository root, with flags after the script name:
 * `pnpm start:hono --help`, `pnpm start:hono --port 9000 --pending` (`pnpm start:hono -- --help`
 * works too). Relative paths are resolved against the directory you ran
 * pnpm from.
 *
 * Everything but the routing lives in @scep-examples/server-kit.
 */
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import { scepHandler } from "@scep/hono";
import { startServer } from "@scep-examples/server-kit";

await startServer("hono", (kit) => {
  const app = new Hono();
  // SCEP at /scep (and /scep/pkiclient.exe), body limit from the server's maxBodyBytes; other paths fall through.
  app.use(scepHandler(kit.server));
  const admin = kit.admin;
  if (admin) {
    app.post("/admin/:action/:tid", async (c) => {
      const { status, body } = await admin(c.req.param("action"), c.req.param("tid"), c.req.header("authorization"));
      return c.json(body, status as 200);
    });
  }
  return getRequestListener(app.fetch);
});
