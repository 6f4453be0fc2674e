import express from "express";
import { createScepServer, type ScepProfile } from "@scep/core";
import { scepMiddleware } from "@scep/express";

declare const profile: ScepProfile; // your profile, as in the example above

const server = createScepServer({
  profiles: [profile],
  // {"operation":"PKCSReq","outcome":"failure","reason":"bad_challenge",…,"time":"2026-12-02T16:04:29.123Z","clientAddress":"192.0.2.7"}
  onEvent: (e) => console.log(JSON.stringify(e)),
});
const app = express();
app.set("trust proxy", "loopback"); // behind a reverse proxy on this host: clientAddress from its X-Forwarded-For
app.use(scepMiddleware(server));
app.listen(8080);
