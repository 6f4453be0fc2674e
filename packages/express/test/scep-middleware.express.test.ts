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

describe("routing by owns() (issue 7 points 9, 10, 12)", () => {
  async function serve(app: ReturnType<typeof express5>): Promise<{ base: string; stop: () => Promise<void> }> {
    const http = createServer(app);
    const base = await listen(http);
    return { base, stop: () => close(http) };
  }

  it("foreign paths go to next() and the server emits no event for them", async () => {
    const app = express5();
    app.use(scepMiddleware(fx.server));
    app.get("/health", (_req, res) => void res.send("ok"));
    const { base, stop } = await serve(app);
    try {
      const before = fx.events.length;
      expect(await (await fetch(`${base}/health`)).text()).toBe("ok");
      expect((await fetch(`${base}/favicon.ico`)).status).toBe(404);
      expect((await fetch(`${base}/api/users`, { method: "POST", body: "x" })).status).toBe(404);
      expect(fx.events.length).toBe(before);
    } finally {
      await stop();
    }
  });

  it("a path a profile owns is answered by the server whatever the status: GetNextCACert without a next CA is the SCEP 404 text", async () => {
    const app = express5();
    app.use(scepMiddleware(fx.server));
    const { base, stop } = await serve(app);
    try {
      const res = await fetch(`${base}/scep?operation=GetNextCACert`);
      expect([res.status, res.headers.get("content-type"), await res.text()]).toEqual([404, "text/plain; charset=utf-8", "no next CA certificate is configured\n"]);
      expect(fx.events.at(-1)).toMatchObject({ operation: "GetNextCACert", outcome: "rejected", reason: "no_next_ca", status: 404 });
    } finally {
      await stop();
    }
  });

  for (const [name, make] of [
    ["express 5", () => express5()],
    ["express 4", () => express4() as unknown as ReturnType<typeof express5>],
  ] as const) {
    it(`${name}: mounted under a prefix, app.use("/pki", …) serves profile /scep at /pki/scep`, async () => {
      const app = make();
      app.use("/pki", scepMiddleware(fx.server));
      app.get("/pki/other", (_req, res) => void res.send("other"));
      const { base, stop } = await serve(app);
      try {
        expect(await (await fetch(`${base}/pki/scep?operation=GetCACaps`)).text()).toBe(CAPS);
        expect(await (await fetch(`${base}/pki/scep/pkiclient.exe?operation=GetCACaps`)).text()).toBe(CAPS);
        expect((await enroll(fx.pki, `${base}/pki/scep`)).status).toBe("SUCCESS");
        expect(await (await fetch(`${base}/pki/other`)).text()).toBe("other");
        // Outside the mount point the middleware never runs.
        expect((await fetch(`${base}/scep?operation=GetCACaps`)).status).toBe(404);
      } finally {
        await stop();
      }
    });
  }

  it("mounts any handler with owns() and fetch() unchanged", async () => {
    const seen: string[] = [];
    const health = {
      owns: (path: string) => path.split("?")[0] === "/healthz",
      fetch: async (request: Request) => {
        seen.push(new URL(request.url).pathname);
        return new Response("healthy", { status: 503 });
      },
    };
    const app = express5();
    app.use(scepMiddleware(health));
    app.get("/other", (_req, res) => void res.send("other"));
    const { base, stop } = await serve(app);
    try {
      const res = await fetch(`${base}/healthz`);
      expect([res.status, await res.text()]).toEqual([503, "healthy"]);
      expect(await (await fetch(`${base}/other`)).text()).toBe("other");
      expect(seen).toEqual(["/healthz"]);
    } finally {
      await stop();
    }
  });

  it("a handler without owns(): its untouched 404 goes to next()", async () => {
    const bare = { fetch: async (request: Request) => (new URL(request.url).pathname === "/mine" ? new Response("mine") : new Response("nope", { status: 404 })) };
    const app = express5();
    app.use(scepMiddleware(bare));
    app.get("/theirs", (_req, res) => void res.send("theirs"));
    const { base, stop } = await serve(app);
    try {
      expect(await (await fetch(`${base}/mine`)).text()).toBe("mine");
      expect(await (await fetch(`${base}/theirs`)).text()).toBe("theirs");
    } finally {
      await stop();
    }
  });
});

describe("a GET PKIOperation whose message is over the server's limit, through Express 5 on loopback", () => {
  it("is answered 414 URI Too Long (RFC 9110 §15.5.15: the message is in the target URI), not 413", async () => {
    const small = await createFixture({ maxBodyBytes: 1024 });
    const app = express5();
    app.use(scepMiddleware(small.server));
    const http = createServer(app);
    const base = await listen(http);
    try {
      // Over 4/3 of 1 KiB plus 1 KiB of base64, and well under Node's 16 KiB request-line limit (431).
      const res = await fetch(`${base}/scep?operation=PKIOperation&message=${"A".repeat(4000)}`);
      expect([res.status, res.headers.get("content-type"), await res.text()]).toEqual([414, "text/plain; charset=utf-8", "URI too long\n"]);
      expect(small.events.at(-1)).toMatchObject({ operation: "PKIOperation", outcome: "rejected", reason: "uri_too_long", status: 414 });
    } finally {
      await close(http);
    }
  });
});
