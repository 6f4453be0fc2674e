/**
 * RFC 8894 §4.1: a SCEP request goes to `CA-URL?operation=OPERATION[&message=MESSAGE]`, and the CA URL is the
 * operator's: its own query must reach the CA as written. `URL.searchParams.set("operation", …)` (the old client)
 * re-serialized the whole query as a form, so `profile=a%20b` left as `profile=a+b`, `~` as `%7E` and a bare `flag`
 * as `flag=`; NDES behind a reverse proxy routing on the query, a Smallstep provisioner name, an AWS connector URL or
 * a signed URL whose query is covered by its signature then refuse or misroute the request.
 *
 * Real peer: a loopback node:http server recording each request target (`req.url`) as it arrived, in front of
 * @scep/core's SCEP server; the client is `ScepClient` over the global fetch, GET and POST.
 */
import { createServer, type Server } from "node:http";
import fc from "fast-check";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { InvalidArgumentError, ScepClient, generateCsr, rawQueryParam, scepRequestUrl } from "../src/index.js";
import { CHALLENGE, close, createFixture, listen, serveOverHttp, type Fixture } from "./support/adapter-fixture.js";

/** A CA URL query with every spelling a form re-serialization changes: %20, ~ and *, a + as a plus, a bare name, %2F. */
const QUERY = "profile=a%20b&x=~y*z&token=a+b&flag&a=%2F&sig=AbC%2Bd%3D%3D";

let fixture: Fixture;
let http: Server;
let origin: string;
/** Each request as it arrived: method and request target. */
const seen: string[] = [];

beforeAll(async () => {
  fixture = await createFixture();
  const inner = serveOverHttp(fixture.server);
  http = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    inner.emit("request", req, res);
  });
  origin = await listen(http);
});
afterAll(() => close(http));
beforeEach(() => {
  seen.length = 0;
});

let enrollments = 0;

async function enrollThrough(url: string, post: boolean): Promise<string> {
  const r = fixture.pki.requesters.rsa;
  const csr = await generateCsr({ keys: r.keys, subject: "CN=requester-rsa, O=scep-sdk tests", challengePassword: CHALLENGE, san: { dns: [`ca-url-query-${++enrollments}.example.test`] } });
  const rep = await new ScepClient({ url }).enroll({ csr, signer: r.signer, post });
  return rep.status;
}

describe("ScepClient: the CA URL's query arrives byte for byte, before operation and message", () => {
  it("an enrollment by POST: GetCACaps, GetCACert and PKIOperation all carry the query as written", async () => {
    expect(await enrollThrough(`${origin}/scep?${QUERY}`, true)).toBe("SUCCESS");
    expect(seen).toEqual([`GET /scep?${QUERY}&operation=GetCACaps`, `GET /scep?${QUERY}&operation=GetCACert`, `POST /scep?${QUERY}&operation=PKIOperation`]);
  });

  it("an enrollment by GET: the PKIOperation's message is appended after the query, percent-encoded", async () => {
    expect(await enrollThrough(`${origin}/scep?${QUERY}`, false)).toBe("SUCCESS");
    expect(seen.slice(0, 2)).toEqual([`GET /scep?${QUERY}&operation=GetCACaps`, `GET /scep?${QUERY}&operation=GetCACert`]);
    expect(seen[2]).toMatch(new RegExp(`^GET /scep\\?${escape(QUERY)}&operation=PKIOperation&message=(?:[A-Za-z0-9]|%2B|%2F|%3D)+$`));
    expect(seen).toHaveLength(3);
  });

  it.each([
    ["profile=a%20b&x=~y*z", "profile=a%20b&x=~y*z&operation=GetCACaps"],
    ["token=a+b&sig=%2f%3d", "token=a+b&sig=%2f%3d&operation=GetCACaps"],
    ["flag", "flag&operation=GetCACaps"],
    ["path=/x:y@z,w", "path=/x:y@z,w&operation=GetCACaps"],
    ["provisioner=My%20Prov&provisioner=second", "provisioner=My%20Prov&provisioner=second&operation=GetCACaps"],
  ])("GetCACaps to …/scep?%s → …/scep?%s", async (query, target) => {
    await new ScepClient({ url: `${origin}/scep?${query}` }).getCaCaps();
    expect(seen).toEqual([`GET /scep?${target}`]);
  });

  it("a caIdentifier goes after the query as message, percent-encoded (%20, never +)", async () => {
    await new ScepClient({ url: `${origin}/scep?${QUERY}`, caIdentifier: "My CA" }).getCaCert();
    expect(seen).toEqual([`GET /scep?${QUERY}&operation=GetCACert&message=My%20CA`]);
  });

  it("an operation already in the CA URL (any case, percent-encoded name) is replaced; the other pairs stay in order", async () => {
    const client = new ScepClient({ url: `${origin}/scep?OPERATION=GetCACert&keep=%7e1&op%65ration=x&operationx=1` });
    // Our server reads the first `operation` (case-insensitively): the request's own, not the CA URL's stale one.
    expect((await client.getCaCaps()).has("POSTPKIOperation")).toBe(true);
    expect(seen).toEqual(["GET /scep?keep=%7e1&operationx=1&operation=GetCACaps"]);
    expect(rawQueryParam(seen[0]!, "operation")).toBe("GetCACaps");
  });

  it("a message in the CA URL is kept when the request sends none, replaced when it sends one", async () => {
    await new ScepClient({ url: `${origin}/scep?message=Corp%20CA&x=1` }).getCaCaps();
    await new ScepClient({ url: `${origin}/scep?message=Corp%20CA&x=1`, caIdentifier: "Other" }).getCaCaps();
    expect(seen).toEqual(["GET /scep?message=Corp%20CA&x=1&operation=GetCACaps", "GET /scep?x=1&operation=GetCACaps&message=Other"]);
  });

  it("a fragment is not sent; an empty query (`?`) is as none", async () => {
    await new ScepClient({ url: `${origin}/scep?flag#part` }).getCaCaps();
    await new ScepClient({ url: `${origin}/scep?` }).getCaCaps();
    await new ScepClient({ url: `${origin}/scep#part` }).getCaCaps();
    expect(seen).toEqual(["GET /scep?flag&operation=GetCACaps", "GET /scep?operation=GetCACaps", "GET /scep?operation=GetCACaps"]);
  });
});

describe("scepRequestUrl", () => {
  it.each([
    ["https://ca.example/scep?profile=a%20b&x=~y*z&flag#top", { operation: "GetCACaps" }, "https://ca.example/scep?profile=a%20b&x=~y*z&flag&operation=GetCACaps"],
    ["https://ca.example/scep?operation=GetCACaps&token=a+b", { operation: "GetCACert", message: "My CA" }, "https://ca.example/scep?token=a+b&operation=GetCACert&message=My%20CA"],
    ["https://ca.example/scep?a=1&", { operation: "GetCACaps" }, "https://ca.example/scep?a=1&operation=GetCACaps"],
    ["https://ca.example/scep?&&", { operation: "GetCACaps" }, "https://ca.example/scep?&&operation=GetCACaps"],
    ["https://ca.example/scep??x=1", { operation: "GetCACaps" }, "https://ca.example/scep??x=1&operation=GetCACaps"],
    ["https://ca.example/scep?operation", { operation: "GetCACaps" }, "https://ca.example/scep?operation=GetCACaps"],
    ["https://ca.example/scep?%zz=1&%6Dessage=a", { operation: "PKIOperation", message: "MIIB+a/b=" }, "https://ca.example/scep?%zz=1&operation=PKIOperation&message=MIIB%2Ba%2Fb%3D"],
    ["https://u:p@ca.example:8443/a/b?x=1", { operation: "GetCACaps" }, "https://u:p@ca.example:8443/a/b?x=1&operation=GetCACaps"],
  ] as const)("%s with %j → %s", (caUrl, query, href) => {
    expect(scepRequestUrl(caUrl, query).href).toBe(href);
  });

  it("characters no request target holds are percent-encoded as fetch sends them (`'` too, in http and https)", () => {
    expect(scepRequestUrl("http://ca.example/scep?a='b c\"é", { operation: "GetCACaps" }).search).toBe("?a=%27b%20c%22%C3%A9&operation=GetCACaps");
  });

  it("a URL object is copied, not changed", () => {
    const ca = new URL("https://ca.example/scep?x=~1#f");
    expect(scepRequestUrl(ca, { operation: "GetCACaps" }).href).toBe("https://ca.example/scep?x=~1&operation=GetCACaps");
    expect(ca.href).toBe("https://ca.example/scep?x=~1#f");
  });

  it("a URL that does not parse: InvalidArgumentError ERR_INVALID_ARGUMENT, the URL not echoed", () => {
    const error = (() => {
      try {
        scepRequestUrl("ca.example/scep?secret=42", { operation: "GetCACaps" });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).code).toBe("ERR_INVALID_ARGUMENT");
    expect((error as Error).message).toBe("the SCEP URL is not an absolute URL");
  });

  it("any query of RFC 3986 query characters (but `'`) whose names are not ours is kept exactly", () => {
    const char = fc.constantFrom(..."abcXYZ019-._~!$()*+,;:@/?".split(""), "%20", "%2F", "%7E", "%25", "=");
    const pair = fc.tuple(fc.constantFrom("k", "op", "messages", "x-operation", ""), fc.array(char, { maxLength: 8 })).map(([name, rest]) => name + rest.join(""));
    fc.assert(
      fc.property(fc.array(pair, { maxLength: 6 }), (pairs) => {
        const query = pairs.join("&");
        const url = scepRequestUrl(`https://ca.example/scep?${query}`, { operation: "PKIOperation", message: "MPv/vz4=" });
        const sep = query === "" || query.endsWith("&") ? "" : "&";
        expect(url.search).toBe(`?${query}${sep}operation=PKIOperation&message=MPv%2Fvz4%3D`);
      }),
    );
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
