import express from "express";
import { createServer } from "node:http";
import type { ScepServer } from "@scep/core";
import { scepMiddleware } from "@scep/express";

declare const server: ScepServer; // createScepServer({ profiles: [...] }), as in the quick start

// Express 4 or 5: /scep and /scep/pkiclient.exe are answered, other paths go on to next().
const app = express();
app.use(scepMiddleware(server));
app.listen(8080);

// A bare node:http server: what the SCEP server does not own gets your 404.
const scep = scepMiddleware(server);
createServer((req, res) => scep(req, res, () => res.writeHead(404).end())).listen(8081);
