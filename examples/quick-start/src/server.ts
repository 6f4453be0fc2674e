import express from "express";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { LocalKey, buildCertificate, createScepServer, endEntityExtensions } from "@scep/core";
import { scepMiddleware } from "@scep/express";

// Your CA: its certificate and its private key, PEM (the README's Quick start makes them with openssl).
const ca = LocalKey.fromPem(readFileSync("ca.pem", "utf8"), readFileSync("ca.key", "utf8"));

// The challenge password devices send (a static one, from SCEP_CHALLENGE): required.
const challenge = process.env.SCEP_CHALLENGE;
if (!challenge) {
  console.error("SCEP server: set SCEP_CHALLENGE to the challenge password devices must send, e.g. SCEP_CHALLENGE=secret");
  process.exit(1);
}

const server = createScepServer({
  profiles: [{
    path: "/scep",
    caCertificate: ca.certificate,
    signer: ca, // signs CertReps and decrypts requests (pass `decrypters` for an RA or a rollover)
    challenge: { type: "static", password: challenge },
    issue: async ({ csr, notAfterMax, allowSid }) => ({
      status: "SUCCESS",
      certificate: await buildCertificate({
        issuer: ca,
        subject: csr.subjectDer,
        publicKey: csr.spki,
        serialNumber: randomBytes(16), // 128 random bits, read as an unsigned number (see below)
        // notBefore: 5 minutes back by default (backdateMs), for devices whose clock runs late
        notAfter: notAfterMax,
        extensions: endEntityExtensions({ csr, issuer: ca, allowSid }), // allowSid: the profile's csrPolicy.allowSid (Windows SIDs)
      }),
    }),
  }],
  onEvent: (e) => console.log(JSON.stringify(e)),
  // The cause of a 500 (a hook that threw) or a 503 (a store down): without onError it is printed nowhere.
  onError: (error, e) => console.error(`${e.operation} ${e.transactionId ?? ""} answered ${e.status} (${e.reason}):`, error),
});

const app = express();
app.use(scepMiddleware(server)); // GET/POST /scep and /scep/pkiclient.exe; other paths go on to next()
// PORT (default 8080) and HOST (default every interface; HOST=127.0.0.1: this machine only).
const host = process.env.HOST ?? ""; // "": every interface, IPv6 and IPv4
const listener = app.listen(Number(process.env.PORT ?? 8080), host, (error) => {
  if (error) { // e.g. EADDRINUSE: the port is taken; one line, not a stack trace
    console.error(`SCEP server: ${error.message}; choose another port with PORT`);
    process.exit(1);
  }
  const where = host === "" ? "localhost" : host.includes(":") ? `[${host}]` : host;
  console.log(`SCEP server on http://${where}:${(listener.address() as AddressInfo).port}/scep`);
});

// Ctrl-C or SIGTERM: stop accepting connections, close idle keep-alive ones, let in-flight requests finish for up to
// 10 s, then cut the rest and exit 0 (a client that never finishes its request must not keep the process alive).
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    listener.close(() => process.exit(0));
    listener.closeIdleConnections();
    setTimeout(() => listener.closeAllConnections(), 10_000).unref();
  });
}
