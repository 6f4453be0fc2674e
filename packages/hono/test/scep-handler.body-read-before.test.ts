/**
 * @scep/hono when a middleware mounted before it read the request body (RFC 8894 §4.3 POST PKIOperation): the answer
 * must not depend on whether the client declared a Content-Length (handed to the server's `handle`, read by Hono) or
 * sent the body chunked (handed to `fetch` as `c.req.raw`), and must be the core server's own.
 *
 * - Read as bytes through Hono (`c.req.arrayBuffer()`, `c.req.blob()`: Hono keeps them in `c.req.bodyCache`), the
 *   body is still there: the request is served, as `@scep/express` serves the Buffer `express.raw()` left.
 * - Read any other way (`c.req.text()`, `c.req.json()`: Hono keeps text, which DER does not survive; or
 *   `c.req.raw.arrayBuffer()`: nothing kept), it is gone: 400 `body_already_read`, as the core server answers a
 *   `Request` whose body was used.
 *
 * Before, with a Content-Length, `c.req.raw.arrayBuffer()` gave 400 "request body aborted" (`body_aborted`, a client
 * that went away) and `c.req.text()` 400 `decode_error` (the DER re-encoded as UTF-8), while the same requests sent
 * chunked got 400 `body_already_read`; and a body read with `c.req.arrayBuffer()` was served with a Content-Length but
 * refused chunked.
 */
import { Hono, type Context } from "hono";
import { beforeAll, describe, expect, it } from "vitest";
import { BODY_ALREADY_READ_TEXT, buildPkcsReq, generateCsr, readCertRep, type FetchHandler } from "./support/core.js";
import { scepApp, scepHandler } from "../src/index.js";
import { CHALLENGE, createFixture, type Fixture } from "../../core/test/support/adapter-fixture.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await createFixture();
});

let enrollments = 0;

/** A new PKCSReq of the RSA requester (a SAN of its own: not a re-send of the last one). */
async function pkcsReq() {
  const r = fx.pki.requesters.rsa;
  const csr = await generateCsr({ keys: r.keys, subject: "CN=requester-rsa, O=scep-sdk tests", challengePassword: CHALLENGE, san: { dns: [`read-before-${++enrollments}.example.test`] } });
  return buildPkcsReq({ csr, signer: r.signer, recipient: fx.pki.ca.certificate });
}

type Framing = "content-length" | "chunked";

/** POSTs `der` as a PKIOperation to `app`, with a Content-Length or as a stream of unknown length. */
function post(app: Hono, der: Uint8Array, framing: Framing): Promise<Response> {
  const body = framing === "content-length" ? der : new ReadableStream<Uint8Array>({ start: (c) => (c.enqueue(der), c.close()) });
  const headers: Record<string, string> = { "content-type": "application/x-pki-message", ...(framing === "content-length" ? { "content-length": String(der.length) } : {}) };
  return Promise.resolve(app.request("http://localhost/scep?operation=PKIOperation", { method: "POST", body, headers, duplex: "half" } as RequestInit));
}

/** An app that runs `readFirst` (a body parser, a logger) before the SCEP middleware. */
function appReadingFirst(handler: FetchHandler, readFirst: (c: Context) => Promise<unknown>, mount: "middleware" | "app"): Hono {
  const app = new Hono();
  app.use(async (c, next) => {
    await readFirst(c).catch(() => undefined); // a JSON parser refusing the DER: its body is read all the same
    await next();
  });
  if (mount === "middleware") app.use(scepHandler(handler));
  else app.route("/", scepApp(handler));
  return app;
}

const keptAsBytes: [string, (c: Context) => Promise<unknown>][] = [
  ["c.req.arrayBuffer()", (c) => c.req.arrayBuffer()],
  ["c.req.blob()", (c) => c.req.blob()],
];
const gone: [string, (c: Context) => Promise<unknown>][] = [
  ["c.req.text()", (c) => c.req.text()],
  ["c.req.json()", (c) => c.req.json()],
  ["c.req.raw.arrayBuffer()", (c) => c.req.raw.arrayBuffer()],
];

// The server's own `handle` and `fetch`, and a handler with `fetch` only (as @scep/proxy's without `handle`).
const handlers: [string, () => FetchHandler][] = [
  ["the SCEP server", () => fx.server],
  ["a handler without handle", () => ({ owns: (path: string) => fx.server.owns(path), fetch: (request: Request) => fx.server.fetch(request) })],
];

describe("a body a middleware before @scep/hono read through Hono as bytes is served, framed either way", () => {
  for (const [name, readFirst] of keptAsBytes) {
    for (const [handlerName, handler] of handlers) {
      for (const framing of ["content-length", "chunked"] as const) {
        it(`${name}, ${framing}, ${handlerName}: SUCCESS`, async () => {
          const built = await pkcsReq();
          const res = await post(appReadingFirst(handler(), readFirst, "middleware"), built.der, framing);
          expect(res.status).toBe(200);
          expect(res.headers.get("content-type")).toBe("application/x-pki-message");
          const rep = await readCertRep(new Uint8Array(await res.arrayBuffer()), { request: built, decrypter: fx.pki.requesters.rsa.signer, caCertificates: [fx.pki.ca.certificate] });
          expect(rep.status).toBe("SUCCESS");
          expect(fx.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "success", reason: "issued" });
        });
      }
    }
  }
});

describe("a body a middleware before @scep/hono read any other way is gone: 400 body_already_read, framed either way", () => {
  for (const [name, readFirst] of gone) {
    for (const [handlerName, handler] of handlers) {
      for (const framing of ["content-length", "chunked"] as const) {
        for (const mount of ["middleware", "app"] as const) {
          it(`${name}, ${framing}, ${handlerName}, scep${mount === "app" ? "App" : "Handler"}: the core server's 400`, async () => {
            const built = await pkcsReq();
            const res = await post(appReadingFirst(handler(), readFirst, mount), built.der, framing);
            expect(res.status).toBe(400);
            expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
            expect(await res.text()).toBe(BODY_ALREADY_READ_TEXT + "\n");
            expect(fx.events.at(-1)).toMatchObject({ operation: "PKIOperation", outcome: "rejected", reason: "body_already_read", status: 400 });
          });
        }
      }
    }
  }
});
