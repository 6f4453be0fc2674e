/**
 * RFC 8894 §4.1 for the proxy's upstream: a call goes to `CA-URL?operation=OPERATION[&message=MESSAGE]`, with the
 * configured CA URL's own query as written. `URL.searchParams.set("operation", …)` (the old HttpUpstream) re-serialized
 * the whole query as a form (`provisioner=a%20b` → `provisioner=a+b`, `~` → `%7E`, `flag` → `flag=`), so an NDES
 * behind a reverse proxy routing on the query, a Smallstep provisioner, an AWS connector URL or a signed URL refused or
 * misrouted every device the proxy forwarded.
 *
 * Real peer: a loopback HTTP server recording each request target byte for byte (`req.url`); the proxy itself in
 * front of it for the device's view.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { HttpUpstream, MemoryCaRegistry, MemoryProfileStore, createScepProxy, type CaConfig } from "../src/index.js";
import { startUpstream, wellBehaved, type UpstreamServer } from "./support/upstream-server.js";

/** A CA URL query with every spelling a form re-serialization changes: %20, ~ and *, a + as a plus, a bare name, %2F. */
const QUERY = "provisioner=a%20b&x=~y*z&token=a+b&flag&a=%2F&sig=AbC%2Bd%3D%3D";
/** Bytes whose standard base64 is `+/+/Pg==`. */
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

const ca = (url = `${up.url}?${QUERY}`): CaConfig => ({ name: "corp", type: "custom", url });
const targets = (): string[] => up.seen.map((s) => `${s.method} ${s.rawUrl}`);

describe("HttpUpstream: the CA URL's query arrives byte for byte, before operation and message", () => {
  it("GetCACaps and GetCACert (with a CA identifier)", async () => {
    const upstream = new HttpUpstream();
    await upstream.getCACaps(ca());
    await upstream.getCACert(ca(), "My CA");
    expect(targets()).toEqual([`GET /scep?${QUERY}&operation=GetCACaps`, `GET /scep?${QUERY}&operation=GetCACert&message=My%20CA`]);
  });

  it("PKIOperation by POST (POSTPKIOperation advertised)", async () => {
    await new HttpUpstream().pkiOperation(ca(), MSG);
    expect(targets()).toEqual([`GET /scep?${QUERY}&operation=GetCACaps`, `POST /scep?${QUERY}&operation=PKIOperation`]);
    expect(up.seen[1]!.body).toEqual(Buffer.from(MSG));
  });

  it("PKIOperation by GET (no POSTPKIOperation): the message after the query, percent-encoded", async () => {
    up.script(wellBehaved("SHA-256\nDES3\n"));
    await new HttpUpstream().pkiOperation(ca(), MSG);
    expect(targets()).toEqual([`GET /scep?${QUERY}&operation=GetCACaps`, `GET /scep?${QUERY}&operation=PKIOperation&message=%2B%2F%2B%2FPg%3D%3D`]);
  });

  it.each([
    ["provisioner=a%20b&x=~y*z", "provisioner=a%20b&x=~y*z&operation=GetCACaps"],
    ["token=a+b&sig=%2f%3d", "token=a+b&sig=%2f%3d&operation=GetCACaps"],
    ["flag", "flag&operation=GetCACaps"],
    ["path=/x:y@z,w", "path=/x:y@z,w&operation=GetCACaps"],
  ])("GetCACaps to …/scep?%s → …/scep?%s", async (query, target) => {
    await new HttpUpstream().getCACaps(ca(`${up.url}?${query}`));
    expect(targets()).toEqual([`GET /scep?${target}`]);
  });

  it("an operation already in the CA URL (any case) is replaced; a message is replaced only when one is sent", async () => {
    const upstream = new HttpUpstream();
    const url = `${up.url}?Operation=GetCACaps&message=Corp%20CA&keep=%7E1`;
    await upstream.getCACert(ca(url), undefined);
    await upstream.getCACert(ca(url), "Other");
    expect(targets()).toEqual(["GET /scep?message=Corp%20CA&keep=%7E1&operation=GetCACert", "GET /scep?keep=%7E1&operation=GetCACert&message=Other"]);
  });

  it("a fragment is not sent; an empty query (`?`) is as none; user and password become Basic, the query stays", async () => {
    const upstream = new HttpUpstream();
    await upstream.getCACaps(ca(`${up.url}?flag#part`));
    await upstream.getCACaps(ca(`${up.url}?`));
    await upstream.getCACaps(ca(up.url.replace("http://", "http://svc:p%40ss@") + `?${QUERY}`));
    expect(targets()).toEqual(["GET /scep?flag&operation=GetCACaps", "GET /scep?operation=GetCACaps", `GET /scep?${QUERY}&operation=GetCACaps`]);
    expect(up.seen[2]!.headers.authorization).toBe(`Basic ${Buffer.from("svc:p@ss").toString("base64")}`);
  });
});

describe("the proxy forwards a device's requests to the CA URL with its query as written", () => {
  it("GetCACaps and GetCACert from a device", async () => {
    const profiles = new MemoryProfileStore();
    await profiles.put({ hostId: "h1", profileId: "p1", caName: "corp", status: "pending", challengeRetrievedAt: 0, updatedAt: 0 });
    const proxy = createScepProxy({ profiles, cas: new MemoryCaRegistry([{ ...ca(), type: "ndes" }]), upstreamTimeoutMs: 5_000 });
    const base = "http://proxy.test/scep/h1,p1,corp";
    expect((await proxy.fetch(new Request(`${base}?operation=GetCACaps`))).status).toBe(200);
    expect((await proxy.fetch(new Request(`${base}?operation=GetCACert&message=My%20CA`))).status).toBe(200);
    expect(targets()).toEqual([`GET /scep?${QUERY}&operation=GetCACaps`, `GET /scep?${QUERY}&operation=GetCACert&message=My%20CA`]);
  });
});
