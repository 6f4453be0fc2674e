/**
 * PROXY.md "Forwarding" and RFC 8894 §3.3.2, §4.2.1.2: an upstream 2xx that no SCEP client can use is the upstream's
 * failure, not a reply to pass on. A PKIOperation answered 200 (or 202) `application/x-pki-message` with an empty
 * body, a GetCACert answered with an empty body, and a GetCACert that is a PKCS#7 SignedData holding no certificate
 * (absent, or an empty SET; DER or BER, read by @scep/core's own parser) each get 502 `upstream failed` with the
 * event's reason `other`, so the MDM sees the upstream fault instead of a device that failed to parse its answer. The challenge state afterwards: an NDES
 * profile stays pending (nothing requeued), a `custom` CA's one-time challenge stays spent (the CA may have
 * processed the message before a gateway emptied its answer). A real degenerate PKCS#7 (RA and CA certificates,
 * built by @scep/core) and a single DER certificate still pass, byte for byte.
 *
 * Before this, each of those answers reached the device as a 200 with nothing in it and the event said `forwarded`:
 * the device failed with "The SCEP server returned an invalid response" (the iOS symptom in
 * https://github.com/micromdm/scep/issues/88) while the MDM, reading the events, saw a success, the fault class of
 * https://github.com/fleetdm/fleet/issues/45550 (upstream SCEP failures proxied but not surfaced).
 */
import { MemoryChallengeStore, buildGetCaCertResponse } from "@scep/core";
import { beforeEach, describe, expect, it } from "vitest";
import { MemoryCaRegistry, buildProxyUrl, createScepProxy, type MemoryProfileStore, type ProxyEvent, type ScepProxy } from "../src/index.js";
import { unusableAnswer } from "../src/lib/upstream-answer.js";
import { createTestPki } from "../../core/test/support/pki.js";
import { proxyOnUpstream } from "./support/proxy-on-upstream.js";
import { loopbackUpstream, wellBehaved, type Script } from "./support/upstream-server.js";

const MSG = Buffer.from("MIIB+/+/abcd", "base64");
const KEY = { hostId: "h1", profileId: "p1", caName: "ndes" } as const;

/** ContentInfo { id-signedData, SignedData { version 1, digestAlgorithms {}, encapContentInfo { id-data }, [certificates], signerInfos {} } }. */
function signedData(certificates: number[] | undefined): Buffer {
  const der = (tag: number, content: number[]): number[] => [tag, content.length, ...content];
  const idData = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
  const idSignedData = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
  const body = [0x02, 0x01, 0x01, 0x31, 0x00, ...der(0x30, idData), ...(certificates === undefined ? [] : der(0xa0, certificates)), 0x31, 0x00];
  return Buffer.from(der(0x30, [...idSignedData, ...der(0xa0, der(0x30, body))]));
}

/** The same with BER indefinite lengths (`0x80` … end-of-contents `00 00`) for the ContentInfo, its [0] and the SignedData. */
function berSignedData(certificates: number[] | undefined): Buffer {
  const der = (tag: number, content: number[]): number[] => [tag, content.length, ...content];
  const ber = (tag: number, content: number[]): number[] => [tag, 0x80, ...content, 0x00, 0x00];
  const idData = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
  const idSignedData = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
  const body = [0x02, 0x01, 0x01, 0x31, 0x00, ...ber(0x30, idData), ...(certificates === undefined ? [] : ber(0xa0, certificates)), 0x31, 0x00];
  return Buffer.from(ber(0x30, [...idSignedData, ...ber(0xa0, ber(0x30, body))]));
}

const up = loopbackUpstream();

let profiles: MemoryProfileStore;
let events: ProxyEvent[];
let proxy: ScepProxy;

beforeEach(async () => void ({ profiles, events, proxy } = await proxyOnUpstream(up, { ca: { name: KEY.caName, type: "ndes" }, record: { challengeRetrievedAt: Date.now() } })));

const on =
  (operation: string, script: Script): Script =>
  (req, res, socket) =>
    req.operation === operation ? script(req, res, socket) : wellBehaved()(req, res, socket);

async function ask(operation: "PKIOperation" | "GetCACert"): Promise<{ status: number; type: string | null; body: Buffer }> {
  const res = await proxy.fetch(
    operation === "PKIOperation"
      ? new Request("http://proxy.test/scep/h1,p1,ndes?operation=PKIOperation", { method: "POST", body: MSG })
      : new Request("http://proxy.test/scep/h1,p1,ndes?operation=GetCACert&message=ndes"),
  );
  return { status: res.status, type: res.headers.get("content-type"), body: Buffer.from(await res.arrayBuffer()) };
}

const failed = { status: 502, type: "text/plain; charset=utf-8", body: Buffer.from("upstream failed") };

describe("an upstream 2xx no client can use → 502 upstream failed, reason other", () => {
  it.each([200, 202])("PKIOperation answered %i application/x-pki-message with an empty body; the NDES profile stays pending", async (status) => {
    up.script(on("PKIOperation", (_req, res) => res.writeHead(status, { "content-type": "application/x-pki-message" }).end()));
    expect(await ask("PKIOperation")).toEqual(failed);
    expect(events.at(-1)).toMatchObject({ operation: "PKIOperation", outcome: "upstream_error", reason: "upstream_failed", upstream: { reason: "other" } });
    expect(events.at(-1)!.requeued).toBeUndefined();
    expect(await profiles.get(KEY)).toMatchObject({ status: "pending" });
  });

  it.each([
    ["an empty body (application/x-x509-ca-ra-cert)", "application/x-x509-ca-ra-cert", Buffer.alloc(0)],
    ["an empty body (application/x-x509-ca-cert)", "application/x-x509-ca-cert", Buffer.alloc(0)],
    ["a PKCS#7 SignedData without a certificates field", "application/x-x509-ca-ra-cert", signedData(undefined)],
    ["a PKCS#7 SignedData with an empty certificate set", "application/x-x509-ca-ra-cert", signedData([])],
    // @scep/core's parser reads BER, as iOS and old CAs send it; the hand-rolled DER walker gave up on it and passed it on.
    ["a BER (indefinite-length) PKCS#7 SignedData without a certificates field", "application/x-x509-ca-ra-cert", berSignedData(undefined)],
    ["a BER (indefinite-length) PKCS#7 SignedData with an empty certificate set", "application/x-x509-ca-ra-cert", berSignedData([])],
  ])("GetCACert answered with %s", async (_label, type, body) => {
    up.script(on("GetCACert", (_req, res) => res.writeHead(200, { "content-type": type }).end(body)));
    expect(await ask("GetCACert")).toEqual(failed);
    expect(events.at(-1)).toMatchObject({ operation: "GetCACert", outcome: "upstream_error", upstream: { reason: "other" } });
  });

  it("a custom CA's PKIOperation answered 200 with an empty body: 502, the challenge stays spent (the CA may have processed it), the retry is 400 challenge failed", async () => {
    const challenges = new MemoryChallengeStore();
    const key = { hostId: "h1", profileId: "p1", caName: "corp" };
    await profiles.put({ ...key, status: "pending", updatedAt: 0 });
    const custom = createScepProxy({ profiles, challenges, cas: new MemoryCaRegistry([{ name: "corp", type: "custom", url: up.url }]), onEvent: (e) => events.push(e) });
    const url = buildProxyUrl("http://proxy.test/scep", { ...key, challenge: await challenges.issue({ profile: "corp", ttlMs: 3_600_000 }) });
    up.script(on("PKIOperation", (_req, res) => res.writeHead(200, { "content-type": "application/x-pki-message" }).end()));
    const first = await custom.fetch(new Request(`${url}?operation=PKIOperation`, { method: "POST", body: MSG }));
    expect([first.status, await first.text(), first.headers.get("retry-after")]).toEqual([502, "upstream failed", null]);
    expect(events.at(-1)).toMatchObject({ upstream: { reason: "other" } });
    expect(events.at(-1)!.challengeReleased).toBeUndefined();
    up.script(wellBehaved());
    const retry = await custom.fetch(new Request(`${url}?operation=PKIOperation`, { method: "POST", body: MSG }));
    expect([retry.status, await retry.text()]).toEqual([400, "challenge failed"]);
  });
});

describe("usable answers still pass unchanged", () => {
  it("a degenerate PKCS#7 with RA and CA certificates, and a single DER certificate", async () => {
    const pki = await createTestPki();
    const ra = await pki.ra("CN=SCEP Test RA", 0x20, "0a");
    for (const certs of [[ra.certificate, pki.ca.certificate], [pki.ca.certificate]]) {
      const { body, contentType } = await buildGetCaCertResponse(certs);
      expect(unusableAnswer("GetCACert", body)).toBeUndefined();
      up.script(on("GetCACert", (_req, res) => res.writeHead(200, { "content-type": contentType }).end(Buffer.from(body))));
      expect(await ask("GetCACert")).toEqual({ status: 200, type: contentType, body: Buffer.from(body) });
    }
  });

  it("bytes @scep/core's parser cannot read (a placeholder, a bare SEQUENCE, an HTML page, a PEM text without a block) are not judged: passed on", async () => {
    for (const body of [Buffer.from("CA-CERT-PLACEHOLDER"), Buffer.from([0x30, 0x03, 0x02, 0x01, 0x07]), Buffer.from("<html>login</html>"), Buffer.from("-----BEGIN PKCS7-----\n")]) {
      expect(unusableAnswer("GetCACert", body)).toBeUndefined();
      up.script(on("GetCACert", (_req, res) => res.writeHead(200, { "content-type": "application/x-x509-ca-cert" }).end(body)));
      expect(await ask("GetCACert")).toEqual({ status: 200, type: "application/x-x509-ca-cert", body });
    }
    expect(unusableAnswer("GetCACert", berSignedData(undefined))).toBe("upstream answered GetCACert with a PKCS#7 that holds no certificate");
  });
});
