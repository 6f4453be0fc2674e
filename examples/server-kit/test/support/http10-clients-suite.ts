/**
 * Field reports about SCEP clients that speak HTTP/1.0, rebuilt against an example server run as a child process on
 * loopback (RFC 8894 §4.1; RFC 1945 §5, §7.2.2: an HTTP/1.0 request needs no Host header, and the body of a reply
 * without Content-Length ends when the server closes the connection). The requests are written byte for byte on a
 * raw socket, the way the reported clients wrote them; the PKIOperation is a real PKCSReq from the SDK and its reply
 * is read back with `readCertRep`.
 *
 * - sscep before it moved to HTTP/1.1 wrote `GET /<path>?operation=GetCACert&message=<CA> HTTP/1.0` followed by a
 *   blank line, no Host header at all (its verbose log in inverse-inc/packetfence#8515,
 *   https://github.com/inverse-inc/packetfence/issues/8515). A server in front of which a framework insists on Host
 *   answers it 400 before SCEP sees it.
 * - The same sscep sent its PKIOperation as a GET over HTTP/1.0 with the base64 broken into 64-character lines
 *   (`%0A`), `+` as `%2B` and `=` as `%3D` (micromdm/scep#100, https://github.com/micromdm/scep/issues/100, where the
 *   server answered 500).
 * - Cisco IOS sends `GET …/pkiclient.exe?operation=GetCACert&message=<trustpoint> HTTP/1.0` with a Host header and its
 *   own User-Agent (micromdm/scep#211, https://github.com/micromdm/scep/issues/211), and its PKIOperation as an
 *   HTTP/1.0 GET with `%0A` line breaks (smallstep/certificates#2100,
 *   https://github.com/smallstep/certificates/issues/2100).
 *
 * - sscep's `-p` option writes the request target in absolute-form (`GET http://host:port/path?operation=… HTTP/1.1`)
 *   for an HTTP proxy (certnanny/sscep#143, https://github.com/certnanny/sscep/pull/143; certnanny/sscep#186,
 *   https://github.com/certnanny/sscep/issues/186); a proxy that passes it on unchanged, or a client pointed at the
 *   server as its proxy, reaches the server with it, which RFC 9112 §3.2.2 says a server must accept.
 *
 * Each reply must be a whole HTTP/1.0-readable answer: a status line, the SCEP content type, a Content-Length equal
 * to the body, no chunked transfer coding (an HTTP/1.0 client cannot read it), and the connection closed after it.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Certificate, ScepClient, buildPkcsReq, createSelfSignedSigner, generateCsr, generateRsaKeyPair, readCertRep, selectRecipient } from "@scep/core";
import { startExample, type ExampleProcess } from "./example-process.js";

const CHALLENGE = "http10-clients-7c2d";

/** A parsed HTTP answer read off a raw socket until the server closed it. */
interface RawAnswer {
  statusLine: string;
  /** Header fields, names lower-cased. */
  headers: Map<string, string>;
  body: Buffer;
  /** Whether the server closed the connection (an HTTP/1.0 client reads the body until then). */
  closed: boolean;
}

/** Writes `head` on a new loopback connection, reads until the server closes it (at most `ms`), and parses the answer. */
function rawExchange(port: number, head: string, ms = 20_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => finish(false), ms);
    const finish = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      const all = Buffer.concat(chunks);
      const end = all.indexOf("\r\n\r\n");
      if (end < 0) return reject(new Error(`no HTTP answer: ${JSON.stringify(all.toString("latin1").slice(0, 200))}`));
      const [statusLine = "", ...fields] = all.subarray(0, end).toString("latin1").split("\r\n");
      const headers = new Map(fields.map((f) => [f.slice(0, f.indexOf(":")).trim().toLowerCase(), f.slice(f.indexOf(":") + 1).trim()] as const));
      resolve({ statusLine, headers, body: all.subarray(end + 4), closed });
    };
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.on("close", () => finish(true));
    socket.on("error", reject);
    socket.write(head, "latin1");
  });
}

/** base64 the way sscep and Cisco IOS put it in a GET: 64-character lines, each ended by `%0A`, `+` and `=` escaped, `/` raw. */
function sscepMessage(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return lines.map((l) => l.replace(/\+/g, "%2B").replace(/=/g, "%3D") + "%0A").join("");
}

/** The answer is one HTTP/1.0 client can read: the body's length declared, no chunked coding, the connection closed. */
function expectReadableByHttp10(a: RawAnswer, status: string, contentType: string): void {
  expect(a.statusLine).toMatch(new RegExp(`^HTTP/1\\.[01] ${status} `));
  expect(a.headers.get("content-type")).toBe(contentType);
  expect(a.headers.get("transfer-encoding")).toBeUndefined();
  expect(Number(a.headers.get("content-length"))).toBe(a.body.length);
  expect(a.closed).toBe(true);
}

/**
 * @param name - "express" or "hono"
 * @param exampleDir - the example's directory
 */
export function describeHttp10Clients(name: string, exampleDir: string): void {
  describe(`${name} example server: HTTP/1.0 SCEP clients (packetfence#8515, micromdm/scep#100, micromdm/scep#211, smallstep#2100, sscep#143)`, () => {
    const dir = mkdtempSync(join(tmpdir(), `scep-http10-${name}-`));
    let proc: ExampleProcess | undefined;
    let port = 0;
    let caCert: Certificate;

    beforeAll(async () => {
      const s = await startExample(exampleDir, { SCEP_DATA_DIR: join(dir, "data"), SCEP_CHALLENGE: CHALLENGE });
      proc = s.proc;
      port = s.listening.port;
      caCert = Certificate.from(readFileSync(s.listening.caCertificate, "utf8"));
    });
    afterAll(async () => {
      await proc?.terminate();
      rmSync(dir, { recursive: true, force: true });
    });

    it("old sscep's GetCACaps and GetCACert: HTTP/1.0, no Host header (packetfence#8515) → 200 with the caps and the CA certificate", async () => {
      const caps = await rawExchange(port, "GET /scep?operation=GetCACaps&message=MyPKI HTTP/1.0\r\n\r\n");
      expectReadableByHttp10(caps, "200", "text/plain");
      expect(caps.body.toString("latin1").split("\n")).toEqual(expect.arrayContaining(["POSTPKIOperation", "SHA-256", "AES", "SCEPStandard"]));
      const cert = await rawExchange(port, "GET /scep?operation=GetCACert&message=MyPKI HTTP/1.0\r\n\r\n");
      expectReadableByHttp10(cert, "200", "application/x-x509-ca-cert");
      expect(cert.body.toString("hex")).toBe(Buffer.from(caCert.der).toString("hex"));
    });

    it("Cisco IOS's GetCACert: HTTP/1.0 to …/pkiclient.exe with its trustpoint name, Host and User-Agent (micromdm/scep#211) → 200 with the CA certificate", async () => {
      const head = `GET /scep/pkiclient.exe?operation=GetCACert&message=Test-Router HTTP/1.0\r\nUser-Agent: Mozilla/4.0 (compatible; MSIE 5.0; Cisco PKI)\r\nHost: 127.0.0.1:${port}\r\n\r\n`;
      const cert = await rawExchange(port, head);
      expectReadableByHttp10(cert, "200", "application/x-x509-ca-cert");
      expect(cert.body.toString("hex")).toBe(Buffer.from(caCert.der).toString("hex"));
    });

    it("sscep through an HTTP proxy: an absolute-form request target, HTTP/1.0 or HTTP/1.1 (sscep#143, sscep#186) → 200 with the caps and the CA certificate", async () => {
      const caps = await rawExchange(port, `GET http://127.0.0.1:${port}/scep?operation=GetCACaps HTTP/1.0\r\n\r\n`);
      expectReadableByHttp10(caps, "200", "text/plain");
      expect(caps.body.toString("latin1").split("\n")).toContain("POSTPKIOperation");
      const cert = await rawExchange(port, `GET http://scep.example.test:8080/scep/pkiclient.exe?operation=GetCACert&message=CAIdentifier HTTP/1.1\r\nHost: scep.example.test:8080\r\nConnection: close\r\n\r\n`);
      expectReadableByHttp10(cert, "200", "application/x-x509-ca-cert");
      expect(cert.body.toString("hex")).toBe(Buffer.from(caCert.der).toString("hex"));
    });

    for (const [label, host] of [
      ["no Host header, as old sscep sent it (micromdm/scep#100)", ""],
      ["a Host header, as Cisco IOS sends it (smallstep#2100)", "Host: 127.0.0.1\r\n"],
    ] as const) {
      it(`a PKCSReq as an HTTP/1.0 GET with %0A-broken base64 and ${label} → 200 x-pki-message, a SUCCESS CertRep`, async () => {
        const keys = await generateRsaKeyPair(2048);
        const subject = `CN=http10-${name}-${host ? "cisco" : "sscep"}`;
        const csr = await generateCsr({ keys, subject, challengePassword: CHALLENGE });
        const signer = await createSelfSignedSigner({ keys, subject });
        const caCerts = await new ScepClient({ url: `http://127.0.0.1:${port}/scep` }).getCaCert();
        const req = await buildPkcsReq({ csr, signer, recipient: selectRecipient(caCerts) });
        const head = `GET /scep/pkiclient.exe?operation=PKIOperation&message=${sscepMessage(req.der)} HTTP/1.0\r\n${host}\r\n`;
        const answer = await rawExchange(port, head);
        expectReadableByHttp10(answer, "200", "application/x-pki-message");
        const rep = await readCertRep(new Uint8Array(answer.body), { decrypter: signer, caCertificates: caCerts, request: req });
        expect(rep.status).toBe("SUCCESS");
        expect(rep.certificate?.subject).toBe(subject);
      });
    }
  });
}
