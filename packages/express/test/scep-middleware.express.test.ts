/**
 * @scep/express through real HTTP on loopback: Express 5, Express 4 and a bare
 * node:http server, each serving GetCACaps, GetCACert and a PKCSReq round trip
 * made with the core client, and passing foreign paths on to `next()` with
 * their body unread.
 */
import { createServer, type Server } from "node:http";
import express5 from "express";
import express4 from "express4";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScepClient, createSelfSignedSigner, generateCsr, generateRsaKeyPair } from "./support/core.js";
import { scepMiddleware } from "../src/index.js";
import { CAPS as CAP_LIST, close, createFixture, enroll, listen, type Fixture } from "../../core/test/support/adapter-fixture.js";

const CAPS = CAP_LIST.join("\n");

let fx: Fixture;
beforeAll(async () => {
  fx = await createFixture();
});

type Make = (f: Fixture) => Server;

const apps: [string, Make][] = [
  [
    "express 5",
    (f) => {
      const app = express5();
      app.use(express5.json());
      app.use(scepMiddleware(f.server));
      app.post("/echo", (req, res) => void res.json({ got: req.body }));
      app.get("/health", (_req, res) => void res.send("ok"));
      return createServer(app);
    },
  ],
  [
    "express 4",
    (f) => {
      const app = express4();
      app.use(express4.json());
      app.use(scepMiddleware(f.server));
      app.post("/echo", (req, res) => void res.json({ got: req.body }));
      app.get("/health", (_req, res) => void res.send("ok"));
      return createServer(app);
    },
  ],
  [
    "node:http",
    (f) => {
      const mw = scepMiddleware(f.server);
      return createServer((req, res) =>
        mw(req, res, (error) => {
          if (req.url === "/health") return void res.end("ok");
          if (req.url === "/echo") {
            let s = "";
            req.setEncoding("utf8").on("data", (d) => (s += d));
            return void req.on("end", () => res.end(JSON.stringify({ got: JSON.parse(s) })));
          }
          res.statusCode = error ? 500 : 404;
          res.end();
        }),
      );
    },
  ],
];

describe.each(apps)("scepMiddleware on %s", (_name, make) => {
  let http: Server;
  let base: string;
  beforeAll(async () => {
    http = make(fx);
    base = await listen(http);
  });
  afterAll(() => close(http));

  it("answers GetCACaps with the profile's capabilities", async () => {
    const res = await fetch(`${base}/scep?operation=GetCACaps`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain");
    expect(await res.text()).toBe(CAPS);
  });

  it("answers HEAD with the status and headers only", async () => {
    const res = await fetch(`${base}/scep?operation=GetCACaps`, { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain");
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  it("answers GetCACert with the CA certificate", async () => {
    const certs = await new ScepClient({ url: `${base}/scep` }).getCaCert();
    expect(certs.map((c) => c.subject)).toEqual(["CN=SCEP Test CA, O=scep-sdk tests"]);
  });

  it("enrolls by POST PKIOperation (PKCSReq → SUCCESS CertRep)", async () => {
    const rep = await enroll(fx.pki, `${base}/scep`);
    expect(rep.status).toBe("SUCCESS");
    expect(rep.certificates[0]!.subject).toBe("CN=requester-rsa, O=scep-sdk tests");
    expect(rep.certificates[0]!.issuer).toBe("CN=SCEP Test CA, O=scep-sdk tests");
    expect(fx.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "success", reason: "issued", status: 200 });
  });

  it("also serves the /pkiclient.exe suffix", async () => {
    const res = await fetch(`${base}/scep/pkiclient.exe?operation=GetCACaps`);
    expect(await res.text()).toBe(CAPS);
  });

  it("answers a wrong challenge with a FAILURE CertRep (badRequest)", async () => {
    const keys = await generateRsaKeyPair(2048);
    const csr = await generateCsr({ keys, subject: "CN=intruder", challengePassword: "wrong" });
    const signer = await createSelfSignedSigner({ keys, subject: "CN=intruder" });
    const rep = await new ScepClient({ url: `${base}/scep` }).enroll({ csr, signer });
    expect(rep.status).toBe("FAILURE");
    expect(rep.failInfo).toBe("badRequest");
    expect(rep.failInfoText).toBe("challenge password mismatch");
  });

  it("answers 413 to a 100 KiB PKIOperation (default 64 KiB limit)", async () => {
    const res = await fetch(`${base}/scep?operation=PKIOperation`, { method: "POST", body: new Uint8Array(100 * 1024).fill(0x30) });
    expect(res.status).toBe(413);
    expect(await res.text()).toBe("message too large\n");
  });

  it("passes paths no profile serves to next(), with the body unread", async () => {
    expect(await (await fetch(`${base}/health`)).text()).toBe("ok");
    const res = await fetch(`${base}/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ a: 1 }) });
    expect(await res.json()).toEqual({ got: { a: 1 } });
    expect((await fetch(`${base}/nothing-here`)).status).toBe(404);
  });

  it("answers client mistakes at a SCEP path itself (400, not next())", async () => {
    const res = await fetch(`${base}/scep?operation=Bogus`);
    expect(res.status).toBe(400);
    expect(await res.text()).toBe("unknown operation\n");
  });
});

describe("scepMiddleware options and framework interplay", () => {
  it("fallthrough: false sends the server's 404 for foreign paths", async () => {
    const app = express5();
    app.use(scepMiddleware(fx.server, { fallthrough: false }));
    app.get("/health", (_req, res) => void res.send("ok"));
    const http = createServer(app);
    const base = await listen(http);
    try {
      const res = await fetch(`${base}/health`);
      expect(res.status).toBe(404);
      expect(await res.text()).toBe("no SCEP endpoint at this path\n");
    } finally {
      await close(http);
    }
  });

  it("uses a Buffer already parsed by express.raw()", async () => {
    const app = express5();
    app.use(express5.raw({ type: "*/*" }));
    app.use(scepMiddleware(fx.server));
    app.post("/upload", (req, res) => void res.send(`${(req.body as Buffer).length} bytes`));
    const http = createServer(app);
    const base = await listen(http);
    try {
      const rep = await enroll(fx.pki, `${base}/scep`);
      expect(rep.status).toBe("SUCCESS");
      const upload = await fetch(`${base}/upload`, { method: "POST", headers: { "content-type": "application/octet-stream" }, body: new Uint8Array(5) });
      expect(await upload.text()).toBe("5 bytes");
    } finally {
      await close(http);
    }
  });

  it("matches profiles against originalUrl when mounted under a prefix", async () => {
    const app = express5();
    app.use("/scep", scepMiddleware(fx.server));
    const http = createServer(app);
    const base = await listen(http);
    try {
      expect(await (await fetch(`${base}/scep?operation=GetCACaps`)).text()).toBe(CAPS);
      expect((await enroll(fx.pki, `${base}/scep`)).status).toBe("SUCCESS");
    } finally {
      await close(http);
    }
  });
});
