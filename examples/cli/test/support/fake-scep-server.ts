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
export type FakeMode = "pending" | "pending-then-success" | "http-500" | "http-503" | "http-429" | "hang" | "failure" | "getcert-other-serial" | "getcrl";

/**
 * Who signs the CRL the "getcrl" mode answers (all named like the fake CA): `own`, the fake CA; `other-key`, another CA
 * with the same name and its own key; `other-keyid`, the fake CA's key under a certificate with another
 * subjectKeyIdentifier (so the CRL's authorityKeyIdentifier differs while its signature verifies). `-pss`: signed
 * RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 32; `-pss-default`: OpenSSL's default salt, the digest length), `-sha224`:
 * sha224WithRSAEncryption.
 */
export type FakeCrlSigner = "own" | "own-pss" | "own-pss-default" | "own-sha224" | "other-key" | "other-keyid" | "other-key-pss";

const FAKE_CA_SUBJECT = "/O=scep-sdk tests/CN=Fake SCEP CA";

/**
 * A CRL (DER) from `openssl ca -gencrl`, signed by `certPem`/`keyPem` (`signing`: more `openssl ca` options, e.g. `-md`,
 * `-sigopt`), with cRLNumber and, unless `authorityKeyIdentifier` is false, authorityKeyIdentifier.
 */
export async function opensslCrl(certPem: string, keyPem: string, signing: readonly string[] = [], options: { authorityKeyIdentifier?: boolean; revoked?: number } = {}): Promise<Uint8Array> {
  return withTempDir(async (dir) => {
    writeFileSync(join(dir, "ca.pem"), certPem);
    writeFileSync(join(dir, "ca.key"), keyPem);
    // `revoked` entries, serials 1000…, each with a reasonCode (OpenSSL's index.txt: R, expiry, date,reason, serial).
    const revoked = Array.from({ length: options.revoked ?? 0 }, (_, i) => `R\t491231235959Z\t260101000000Z,keyCompromise\t${(0x1000 + i).toString(16).toUpperCase().padStart(6, "0")}\tunknown\t/CN=revoked-${i}\n`);
    writeFileSync(join(dir, "index.txt"), revoked.join(""));
    writeFileSync(join(dir, "crlnumber"), "01\n");
    writeFileSync(
      join(dir, "ca.cnf"),
      `[ca]\ndefault_ca = d\n[d]\ndatabase = ${join(dir, "index.txt")}\ncrlnumber = ${join(dir, "crlnumber")}\ndefault_md = sha256\ndefault_crl_days = 1\ncrl_extensions = x\n[x]\n${options.authorityKeyIdentifier === false ? "" : "authorityKeyIdentifier = keyid:always\n"}`,
    );
    await runOpenssl(["ca", "-gencrl", "-batch", "-config", join(dir, "ca.cnf"), "-cert", join(dir, "ca.pem"), "-keyfile", join(dir, "ca.key"), "-out", join(dir, "crl.pem"), ...signing]);
    return (await runOpenssl(["crl", "-in", join(dir, "crl.pem"), "-outform", "DER"])).stdoutBytes;
  });
}

/** The fake CA's key under a second certificate with the same name and another subjectKeyIdentifier. */
async function twinCertificate(ca: CaMaterial): Promise<string> {
  return withTempDir(async (dir) => {
    writeFileSync(join(dir, "ca.key"), ca.keyPem);
    const args = ["req", "-x509", "-new", "-key", join(dir, "ca.key"), "-subj", FAKE_CA_SUBJECT, "-days", "1", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "subjectKeyIdentifier=0102030405060708090a0b0c0d0e0f1011121314"];
    return (await runOpenssl(args)).stdout;
  });
}

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
export async function startFakeScepServer(mode: FakeMode, options: { port?: number; failure?: { failInfo: FailInfo; failInfoText: string | null }; crlSigner?: FakeCrlSigner } = {}): Promise<FakeScepServer> {
  const ca = await opensslCreateCa({ subject: FAKE_CA_SUBJECT });
  let crl: Uint8Array | undefined;
  if (mode === "getcrl") {
    const signer = options.crlSigner ?? "own";
    const pss = ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_mgf1_md:sha256", "-sigopt", "rsa_pss_saltlen:32"];
    if (signer === "own") crl = await opensslCrl(ca.certPem, ca.keyPem);
    else if (signer === "own-pss") crl = await opensslCrl(ca.certPem, ca.keyPem, pss);
    else if (signer === "own-pss-default") crl = await opensslCrl(ca.certPem, ca.keyPem, ["-sigopt", "rsa_padding_mode:pss"]);
    else if (signer === "own-sha224") crl = await opensslCrl(ca.certPem, ca.keyPem, ["-md", "sha224"]);
    else if (signer === "other-keyid") crl = await opensslCrl(await twinCertificate(ca), ca.keyPem);
    else {
      const other = await opensslCreateCa({ subject: FAKE_CA_SUBJECT });
      crl = await opensslCrl(other.certPem, other.keyPem, signer === "other-key-pss" ? pss : []);
    }
  }
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
        if (mode === "http-503") {
          res.writeHead(503, { "content-type": "text/plain", "retry-after": "30" }).end("CA busy");
          return;
        }
        if (mode === "http-429") {
          res.writeHead(429, { "content-type": "text/plain" }).end("too many requests");
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
        if (mode === "getcrl") {
          const reply = await buildCertRep({ request, signer: key, status: "SUCCESS", crl: crl! });
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
