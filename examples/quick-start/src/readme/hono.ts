import { Hono } from "hono";
import { serve } from "@hono/node-server";
import type { ScepServer } from "@scep/core";
import { scepApp, scepHandler } from "@scep/hono";

declare const server: ScepServer; // createScepServer({ profiles: [...] }), as in the quick start

// Middleware: /scep and /scep/pkiclient.exe are answered, other paths go on to the next handler.
const app = new Hono();
app.use(scepHandler(server));
app.get("/health", (c) => c.text("ok"));
serve({ fetch: app.fetch, port: 8080 });

// Or an app that sends every request to the SCEP server.
serve({ fetch: scepApp(server).fetch, port: 8081 });
