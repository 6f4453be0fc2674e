/**
 * seize-the-dave/jscep#102 (https://github.com/seize-the-dave/jscep/issues/102) and #68: jscep's GetCACert threw
 * "InvalidContentTypeException: Expected [application/x-x509-ca-cert, application/x-x509-ca-ra-cert], but was null"
 * (or `text/html`) and never looked at the body. RFC 8894 §4.2.1.1 names the two types, but servers answer with
 * none or another one; the body says what it is. Our `ScepClient` reads a DER certificate or a degenerate PKCS#7 by
 * its bytes, whatever the Content-Type, and an HTML page (the wrong URL, mscep_admin) is a typed
 * `ERR_MESSAGE_MALFORMED`, not a crash.
 *
 * A real HTTP server on loopback answers each case.
 */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScepClient, buildGetCaCertResponse } from "../src/index.js";
import { close, listen } from "./support/adapter-fixture.js";
import { createTestCa, hex, type TestCa } from "./support/server-pki.js";

let ca: TestCa;
let root: TestCa;
let pkcs7: Uint8Array;
let http: Server;
let base: string;

const HTML = "<html><head><title>Network Device Enrollment Service</title></head><body>The enrollment challenge password is: 0123</body></html>";

beforeAll(async () => {
  [ca, root] = await Promise.all([createTestCa("Content Type CA"), createTestCa("Content Type Root")]);
  pkcs7 = (await buildGetCaCertResponse([ca.cert, root.cert])).body;
  http = createServer((req, res) => {
    const path = new URL(req.url!, "http://x").pathname;
    if (path === "/der-no-type") res.writeHead(200).end(Buffer.from(ca.cert.der));
    else if (path === "/pkcs7-text-plain") res.writeHead(200, { "content-type": "text/plain" }).end(Buffer.from(pkcs7));
    else if (path === "/pkcs7-octet-stream") res.writeHead(200, { "content-type": "application/octet-stream" }).end(Buffer.from(pkcs7));
    else res.writeHead(200, { "content-type": "text/html;charset=ISO-8859-1" }).end(HTML);
  });
  base = await listen(http);
});

afterAll(async () => {
  await close(http);
});

describe("jscep#102, jscep#68: GetCACert is read by its bytes, not its Content-Type (RFC 8894 §4.2.1.1)", () => {
  it("a DER certificate with no Content-Type at all → that certificate", async () => {
    const certs = await new ScepClient({ url: `${base}/der-no-type` }).getCaCert();
    expect(certs.map((c) => hex(c.der))).toEqual([hex(ca.cert.der)]);
  });

  it.each([["/pkcs7-text-plain"], ["/pkcs7-octet-stream"]])("a degenerate PKCS#7 served as %s → its certificates in order", async (path) => {
    const certs = await new ScepClient({ url: `${base}${path}` }).getCaCert();
    expect(certs.map((c) => hex(c.der))).toEqual([hex(ca.cert.der), hex(root.cert.der)]);
  });

  it("an HTML page (text/html) → ERR_MESSAGE_MALFORMED with a one-line message", async () => {
    const error = await new ScepClient({ url: `${base}/mscep_admin` }).getCaCert().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "ERR_MESSAGE_MALFORMED" });
    expect((error as Error).message).not.toContain("\n");
  });
});
