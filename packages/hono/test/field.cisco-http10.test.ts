/**
 * Cisco IOS's HTTP/1.0 GetCACert and line-wrapped GET PKIOperation through @scep/hono (on @hono/node-server) on a
 * raw socket (micromdm/scep#211, smallstep/certificates#846). The suite: core's test/support/cisco-http10.ts.
 */
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import { scepHandler } from "../src/index.js";
import { ciscoHttp10Suite } from "../../core/test/support/cisco-http10.js";

ciscoHttp10Suite("Hono", (fx) => {
  const app = new Hono();
  app.use(scepHandler(fx.server));
  return getRequestListener(app.fetch);
});
