/**
 * Cisco IOS's SCEP client over HTTP/1.0 through an adapter, byte for byte on a raw socket (RFC 8894 §4.2 GetCACert,
 * §4.3 GET PKIOperation; RFC 1945). IOS sends `GET /pkiclient.exe?operation=GetCACert&message=<trustpoint> HTTP/1.0`
 * with no Connection header and reads the reply to the close; a reply without a usable length or in chunked framing
 * (which HTTP/1.0 has not got) is "cert length = 0" on the router (micromdm/scep#211,
 * https://github.com/micromdm/scep/issues/211). IOS's GET PKIOperation wraps the base64 in 64-column lines and ends
 * the last one with %0A too; step-ca answered "illegal base64 data at input byte 261" to a Catalyst 9300's request
 * (smallstep/certificates#846, https://github.com/smallstep/certificates/pull/846).
 */
import { connect } from "node:net";
import { createServer, type RequestListener, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPkcsReq, readCertRep, toBase64 } from "../../src/index.js";
import { close, createFixture, listen, type Fixture } from "./adapter-fixture.js";

interface RawReply {
  statusLine: string;
  headers: Map<string, string>;
  body: Buffer;
}

/** Writes `head` on a fresh socket, half-closes nothing, and reads until the server closes (HTTP/1.0 framing). */
function rawExchange(port: number, head: string): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(head));
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf("\r\n\r\n");
      if (split < 0) return reject(new Error(`no header end in ${JSON.stringify(all.toString("latin1"))}`));
      const [statusLine, ...lines] = all.subarray(0, split).toString("latin1").split("\r\n");
      const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()] as const));
      resolve({ statusLine: statusLine!, headers, body: all.subarray(split + 4) });
    });
  });
}

const CISCO_HEADERS = "User-Agent: Mozilla/4.0 (compatible; MSIE 5.0; Cisco PKI)\r\nHost: 127.0.0.1\r\n\r\n";

/** The suite for the adapter `name`, mounted on node:http by `listener`. */
export function ciscoHttp10Suite(name: string, listener: (fx: Fixture) => RequestListener): void {
  let fx: Fixture;
  let server: Server;
  let port: number;

  beforeAll(async () => {
    fx = await createFixture();
    server = createServer(listener(fx));
    port = Number(new URL(await listen(server)).port);
  });

  afterAll(async () => {
    await close(server);
  });

  describe(`Cisco IOS over HTTP/1.0 through ${name} (micromdm/scep#211, smallstep/certificates#846)`, () => {
    it("RFC 8894 §4.2: GetCACert with message=<trustpoint> is a framed HTTP/1.0 reply carrying the CA certificate", async () => {
      const res = await rawExchange(port, `GET /scep/pkiclient.exe?operation=GetCACert&message=Test-Router HTTP/1.0\r\n${CISCO_HEADERS}`);
      expect(res.statusLine).toMatch(/^HTTP\/1\.[01] 200 /);
      expect(res.headers.get("content-type")).toBe("application/x-x509-ca-cert");
      expect(res.headers.has("transfer-encoding")).toBe(false);
      expect(res.headers.get("content-length")).toBe(String(fx.pki.ca.certificate.der.length));
      expect(new Uint8Array(res.body)).toEqual(fx.pki.ca.certificate.der);
    });

    it("RFC 8894 §4.3: GET PKIOperation in 64-column lines, the last one ended by %0A too, issues over HTTP/1.0", async () => {
      const r = fx.pki.requesters.rsa;
      const built = await buildPkcsReq({ csr: r.csr, signer: r.signer, recipient: fx.pki.ca.certificate, transactionId: `${name.toUpperCase()}-CISCO-HTTP10` });
      const lines = (toBase64(built.der).match(/.{1,64}/g) ?? []).map((l) => `${l.replace(/\+/g, "%2B").replace(/=/g, "%3D")}%0A`).join("");
      const res = await rawExchange(port, `GET /scep/pkiclient.exe?operation=PKIOperation&message=${lines} HTTP/1.0\r\n${CISCO_HEADERS}`);
      expect(res.statusLine).toMatch(/^HTTP\/1\.[01] 200 /);
      expect(res.headers.get("content-type")).toBe("application/x-pki-message");
      expect(res.headers.has("transfer-encoding")).toBe(false);
      expect(res.headers.get("content-length")).toBe(String(res.body.length));
      const rep = await readCertRep(new Uint8Array(res.body), { request: built, decrypter: r.signer, caCertificates: [fx.pki.ca.certificate] });
      expect(rep.status).toBe("SUCCESS");
      expect(rep.certificates[0]!.subject).toBe("CN=requester-rsa, O=scep-sdk tests");
    });
  });
}
