/**
 * A CA that answers a refused PKIOperation with an HTTP error status and the CertRep as its body, behind the proxy
 * (RFC 8894 §3.3.2; PROXY.md "Forwarding").
 *
 * AWS Private CA's Connector for SCEP answers a PKIOperation it refuses for a SCEP reason with HTTP 400 and "the SCEP
 * response as a binary in the message" (its user guide, "Troubleshoot HTTP errors from Connector for SCEP",
 * https://docs.aws.amazon.com/privateca/latest/userguide/c4scep-troubleshoot-http-error.html). `HttpUpstream` threw the
 * 400 away with its body, so the device got the proxy's `400 upstream refused the request` instead of the CA's signed
 * FAILURE, and the MDM's event had no failInfo to mark the profile failed by. Now that CertRep is the reply: 200 with
 * the CA's bytes, the event's certRep carrying its FAILURE, as for a CA that sends its FAILURE with a 200.
 */
import { buildPkcsReq, generateCsr, peekCertRepStatus } from "@scep/core";
import { manualClock } from "@scep/core/testing";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryCaRegistry, MemoryProfileStore, createScepProxy, type ProxyEvent, type ScepProxy } from "../src/index.js";
import { close, createFixture, listen, type Fixture } from "../../core/test/support/adapter-fixture.js";

let fixture: Fixture;
let front: Server;
let origin: string;
/** What the front last sent for a PKIOperation: status and body. */
let sent: { status: number; body: Buffer } | undefined;

beforeAll(async () => {
  fixture = await createFixture();
  // AWS-like: a FAILURE CertRep goes out with 400 under `/aws`; `/text400` answers a PKIOperation 400 in plain text.
  front = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c)).on("end", () => {
      const u = new URL(req.url!, "http://front");
      const isPki = u.searchParams.get("operation") === "PKIOperation";
      if (isPki && u.pathname === "/text400") return void res.writeHead(400, { "content-type": "text/plain" }).end("ValidationException\n");
      fixture.server.handle({ method: req.method!, url: `/scep${u.search}`, headers: req.headers, body: Buffer.concat(chunks) }).then((r) => {
        const body = Buffer.from(r.body);
        const status = isPki && peekCertRepStatus(body)?.status === "FAILURE" ? 400 : r.status;
        if (isPki) sent = { status, body };
        res.writeHead(status, { ...r.headers, "content-length": body.length }).end(body);
      });
    });
  });
  origin = await listen(front);
});

afterAll(async () => {
  await close(front);
});

async function proxyTo(path: string, events: ProxyEvent[]): Promise<ScepProxy> {
  const clock = manualClock();
  const profiles = new MemoryProfileStore({ now: clock.now });
  await profiles.put({ hostId: "h1", profileId: "p1", caName: "ndes", status: "pending", challengeRetrievedAt: clock.now().getTime(), updatedAt: 0 });
  return createScepProxy({ profiles, cas: new MemoryCaRegistry([{ name: "ndes", type: "ndes", url: `${origin}${path}` }]), now: clock.now, onEvent: (e) => events.push(e) });
}

async function pkcsReq(challengePassword: string): Promise<Uint8Array> {
  const r = fixture.pki.requesters.rsa;
  const csr = await generateCsr({ keys: r.keys, subject: "CN=aws-like-device, O=scep-sdk tests", challengePassword });
  return (await buildPkcsReq({ csr, signer: r.signer, recipient: fixture.pki.ca.certificate })).der;
}

describe("RFC 8894 §3.3.2: the CA's CertRep under HTTP 400 reaches the device as its reply (AWS Connector for SCEP)", () => {
  it("a wrong challenge: 200 with the CA's exact CertRep bytes (FAILURE badRequest); the event carries the FAILURE", async () => {
    const events: ProxyEvent[] = [];
    const proxy = await proxyTo("/aws", events);
    const res = await proxy.fetch(new Request("http://proxy.test/scep/h1,p1,ndes?operation=PKIOperation", { method: "POST", body: (await pkcsReq("wrong")) as Uint8Array<ArrayBuffer> }));
    const body = Buffer.from(await res.arrayBuffer());
    expect(sent?.status).toBe(400);
    expect([res.status, res.headers.get("content-type")]).toEqual([200, "application/x-pki-message"]);
    expect(body).toEqual(sent!.body);
    expect(peekCertRepStatus(body)).toEqual({ status: "FAILURE", failInfo: "badRequest" });
    expect(events.at(-1)).toMatchObject({ operation: "PKIOperation", status: 200, certRep: { status: "FAILURE", failInfo: "badRequest" } });
  });

  it("a 400 whose body is no CertRep is still 400 upstream refused the request", async () => {
    const events: ProxyEvent[] = [];
    const proxy = await proxyTo("/text400", events);
    const res = await proxy.fetch(new Request("http://proxy.test/scep/h1,p1,ndes?operation=PKIOperation", { method: "POST", body: (await pkcsReq("wrong")) as Uint8Array<ArrayBuffer> }));
    expect([res.status, await res.text()]).toEqual([400, "upstream refused the request"]);
    expect(events.at(-1)).toMatchObject({ upstream: { reason: "http", status: 400 } });
  });
});
