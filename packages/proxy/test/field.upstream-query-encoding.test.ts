/**
 * The query the proxy sends its upstream CA (RFC 8894 §4.1, RFC 3986 §2.1/§2.3): the `message` of a GetCACert (a CA
 * identifier, RFC 8894 §4.2) or of a PKIOperation GET (standard base64) is percent-encoded but for the unreserved
 * characters, as ScepClient sends it. `URLSearchParams` (the old upstream) sent a space as `+`; SCEP servers that read
 * the raw query keep a `+` as a plus (our own does, since iOS and macOS leave base64's `+` unescaped), so a CA
 * identifier such as `My CA` reached the CA as `My+CA`.
 *
 * Real peers: a loopback HTTP server recording the request target byte for byte, and @scep/core's server behind the
 * proxy over loopback HTTP, recording the `message` it reads (its own `rawQueryParam`).
 */
import { createServer, type Server } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { rawQueryParam } from "@scep/core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { close, createFixture, listen, type Fixture } from "../../core/test/support/adapter-fixture.js";
import { HttpUpstream, MemoryCaRegistry, MemoryProfileStore, createScepProxy, type CaConfig } from "../src/index.js";
import { startUpstream, wellBehaved, type UpstreamServer } from "./support/upstream-server.js";

/** A CA identifier with a space, `+`, `&`, `/`, `=`, sub-delimiters, `~` and non-ASCII (é: UTF-8 C3 A9; 😀: F0 9F 98 80). */
const IDENT = "My CA+1&x=/é!'()*~😀";
const IDENT_ON_WIRE = "My%20CA%2B1%26x%3D%2F%C3%A9%21%27%28%29%2A~%F0%9F%98%80";
/** Bytes whose standard base64 is `+/+/Pg==` (all three of `+`, `/`, `=`). */
const MSG = new Uint8Array([0xfb, 0xff, 0xbf, 0x3e]);

let up: UpstreamServer;
beforeAll(async () => {
  up = await startUpstream();
});
afterAll(() => up.close());
beforeEach(() => {
  up.seen.length = 0;
  up.script(wellBehaved());
});

const ca = (): CaConfig => ({ name: "corp", type: "custom", url: up.url });
const targets = (): string[] => up.seen.map((s) => s.rawUrl);

describe("HttpUpstream: the exact request target (RFC 3986 §2.3: only unreserved characters left as they are)", () => {
  it("GetCACert with a CA identifier: a space is %20, never +; + & / = and non-ASCII percent-encoded (UTF-8)", async () => {
    await new HttpUpstream().getCACert(ca(), IDENT);
    expect(targets()).toEqual([`/scep?operation=GetCACert&message=${IDENT_ON_WIRE}`]);
  });

  it("GetCACert with `My CA`: message=My%20CA", async () => {
    await new HttpUpstream().getCACert(ca(), "My CA");
    expect(targets()).toEqual(["/scep?operation=GetCACert&message=My%20CA"]);
  });

  it("PKIOperation by GET (no POSTPKIOperation): the base64's +, /, = as %2B, %2F, %3D", async () => {
    up.script(wellBehaved("SHA-256\nDES3\n"));
    await new HttpUpstream().pkiOperation(ca(), MSG);
    expect(targets()).toEqual(["/scep?operation=GetCACaps", "/scep?operation=PKIOperation&message=%2B%2F%2B%2FPg%3D%3D"]);
  });

  it("PKIOperation by POST: no message in the query", async () => {
    await new HttpUpstream().pkiOperation(ca(), MSG);
    expect(targets()).toEqual(["/scep?operation=GetCACaps", "/scep?operation=PKIOperation"]);
  });

  it("the CA URL's own query is kept before operation and message", async () => {
    await new HttpUpstream().getCACert({ ...ca(), url: `${up.url}?tenant=a` }, "My CA");
    expect(targets()).toEqual(["/scep?tenant=a&operation=GetCACert&message=My%20CA"]);
  });
});

describe("@scep/core's server behind the proxy reads the CA identifier unchanged", () => {
  let fx: Fixture;
  let http: Server;
  let origin: string;
  const messages: (string | undefined)[] = [];

  beforeAll(async () => {
    fx = await createFixture();
    http = createServer(
      getRequestListener((req) => {
        if (rawQueryParam(req.url, "operation") === "GetCACert") messages.push(rawQueryParam(req.url, "message"));
        return fx.server.fetch(req);
      }),
    );
    origin = await listen(http);
  });
  afterAll(() => close(http));
  beforeEach(() => {
    messages.length = 0;
  });

  async function proxyTo(caIdentifier?: string) {
    const profiles = new MemoryProfileStore();
    await profiles.put({ hostId: "h1", profileId: "p1", caName: "corp", status: "pending", challengeRetrievedAt: 0, updatedAt: 0 });
    const cas = new MemoryCaRegistry([{ name: "corp", type: "ndes", url: `${origin}/scep`, ...(caIdentifier === undefined ? {} : { caIdentifier }) }]);
    return createScepProxy({ profiles, cas, upstreamTimeoutMs: 5_000 });
  }

  it("the device's identifier (sent as %20, as ScepClient sends it) arrives as the device meant it", async () => {
    const proxy = await proxyTo();
    for (const wire of ["My%20CA", IDENT_ON_WIRE]) {
      const res = await proxy.fetch(new Request(`http://proxy.test/scep/h1,p1,corp?operation=GetCACert&message=${wire}`));
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^application\/x-x509-ca/);
    }
    expect(messages).toEqual(["My CA", IDENT]);
  });

  it("a configured caIdentifier arrives unchanged", async () => {
    const proxy = await proxyTo("Corp Issuing CA+2");
    const res = await proxy.fetch(new Request("http://proxy.test/scep/h1,p1,corp?operation=GetCACert"));
    expect(res.status).toBe(200);
    expect(messages).toEqual(["Corp Issuing CA+2"]);
  });
});
