/**
 * A loopback SCEP server built from @scep/core's server-side codec, for what
 * micromdm cannot do: answer PENDING, then SUCCESS to a CertPoll; fail with an
 * HTTP status; never answer; answer GetCert with a certificate of another serial. Certificates are issued by `openssl x509 -req`.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  CertificationRequest,
  Certificate,
  LocalKey,
  buildCaCaps,
  buildCertRep,
  buildGetCaCertResponse,
  decodePkiMessage,
  fromBase64Lenient,
  type FailInfo,
  type PkiRequest,
} from "@scep/core";
import { opensslCreateCa, runOpenssl, withTempDir, type CaMaterial } from "../../../../test-support/peers";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

/** How the fake answers PKIOperation. */
export type FakeMode = "pending" | "pending-then-success" | "http-500" | "hang" | "failure" | "getcert-other-serial";

/** A running fake server. */
export interface FakeScepServer {
  url: string;
  ca: CaMaterial;
  /** Every PKIOperation decoded, with its HTTP method. */
  requests: { method: string; request: PkiRequest }[];
  close(): Promise<void>;
}

async function issue(ca: CaMaterial, csr: CertificationRequest, serial: number): Promise<Certificate> {
  return withTempDir(async (dir) => {
    writeFileSync(join(dir, "ca.pem"), ca.certPem);
    writeFileSync(join(dir, "ca.key"), ca.keyPem);
    writeFileSync(join(dir, "csr.der"), csr.der);
    const args = ["x509", "-req", "-inform", "DER", "-in", join(dir, "csr.der"), "-CA", join(dir, "ca.pem"), "-CAkey", join(dir, "ca.key")];
    const r = await runOpenssl([...args, "-set_serial", String(serial), "-days", "1", "-outform", "DER"]);
    return new Certificate(r.stdoutBytes);
  });
}

/**
 * Starts the fake on a free loopback port (or on `port`, e.g. one a test found refused before). `failure`: what the
 * "failure" mode answers (default badRequest "challenge password mismatch", what our server says to a CSR without a
 * challenge password; `failInfoText` null: none).
 */
export async function startFakeScepServer(mode: FakeMode, options: { port?: number; failure?: { failInfo: FailInfo; failInfoText: string | null } } = {}): Promise<FakeScepServer> {
  const ca = await opensslCreateCa({ subject: "/O=scep-sdk tests/CN=Fake SCEP CA" });
  const key = LocalKey.fromPem(ca.certPem, ca.keyPem);
  const requests: FakeScepServer["requests"] = [];
  const pending = new Map<string, CertificationRequest>();
  let serial = 100;

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const url = new URL(req.url ?? "/", "http://localhost");
        const op = url.searchParams.get("operation");
        if (op === "GetCACaps") {
          res.writeHead(200, { "content-type": "text/plain" }).end(buildCaCaps(["AES", "POSTPKIOperation", "SHA-256", "SCEPStandard"]));
          return;
        }
        if (op === "GetCACert") {
          const reply = await buildGetCaCertResponse([key.certificate]);
          res.writeHead(200, { "content-type": reply.contentType }).end(reply.body);
          return;
        }
        if (mode === "hang") return; // never answer PKIOperation
        if (mode === "http-500") {
          res.writeHead(500, { "content-type": "text/plain" }).end("CA database unavailable");
          return;
        }
        const body = req.method === "POST" ? new Uint8Array(Buffer.concat(chunks)) : fromBase64Lenient(url.searchParams.get("message") ?? "");
        if (!body) {
          res.writeHead(400).end("message is not base64");
          return;
        }
        const request = await decodePkiMessage(body, { decrypters: [key] });
        requests.push({ method: req.method ?? "", request });
        if (request.csr) pending.set(request.transactionId, request.csr);
        const csr = pending.get(request.transactionId);
        if (mode === "getcert-other-serial") {
          // a CA that answers GetCert SUCCESS with a certificate of another serial (its own)
          const reply = await buildCertRep({ request, signer: key, status: "SUCCESS", certificates: [key.certificate] });
          res.writeHead(200, { "content-type": "application/x-pki-message" }).end(reply);
          return;
        }
        if (mode === "failure") {
          const { failInfo, failInfoText } = options.failure ?? { failInfo: "badRequest", failInfoText: "challenge password mismatch" };
          const reply = await buildCertRep({ request, signer: key, status: "FAILURE", failInfo, ...(failInfoText === null ? {} : { failInfoText }) });
          res.writeHead(200, { "content-type": "application/x-pki-message" }).end(reply);
          return;
        }
        const status = mode === "pending-then-success" && request.messageTypeName === "CertPoll" && csr ? "SUCCESS" : "PENDING";
        // the chain first: the CLI finds the issued certificate by its key, not by position
        const certificates = status === "SUCCESS" ? [key.certificate, await issue(ca, csr!, serial++)] : [];
        const reply = await buildCertRep({ request, signer: key, status, certificates });
        res.writeHead(200, { "content-type": "application/x-pki-message" }).end(reply);
      })().catch((error: unknown) => {
        res.writeHead(500).end(String(error));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/scep`,
    ca,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
