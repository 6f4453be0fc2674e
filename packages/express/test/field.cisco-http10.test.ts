/**
 * Cisco IOS's HTTP/1.0 GetCACert and line-wrapped GET PKIOperation through @scep/express on a raw socket
 * (micromdm/scep#211, smallstep/certificates#846). The suite: core's test/support/cisco-http10.ts.
 */
import express5 from "express";
import { scepMiddleware } from "../src/index.js";
import { ciscoHttp10Suite } from "../../core/test/support/cisco-http10.js";

ciscoHttp10Suite("Express", (fx) => {
  const app = express5();
  app.use(scepMiddleware(fx.server));
  return app;
});
