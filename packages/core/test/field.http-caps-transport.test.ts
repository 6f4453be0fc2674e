/**
 * Field reports about GetCACaps and how a PKIOperation travels (RFC 8894 §3.5.2 capabilities, §4.1 HTTP POST and GET,
 * §4.3 the PKIOperation over both), rebuilt against our server.
 *
 * - macOS's PKIOperation failed at a jscep server until POSTPKIOperation was advertised, and macOS then POSTs with
 *   `Content-Type: application/octet-stream` and `Content-Transfer-Encoding: binary` (seize-the-dave/jscep#35,
 *   https://github.com/seize-the-dave/jscep/issues/35; the headers captured in micromdm/scep#146,
 *   https://github.com/micromdm/scep/pull/146). Other servers want `application/x-pki-message`
 *   (jessepeterson/mdmb#12, https://github.com/jessepeterson/mdmb/issues/12). We take both, and none.
 * - OpenXPKI advertised POST in its caps while its POST wrapper did not work (openxpki/openxpki#69,
 *   https://github.com/openxpki/openxpki/issues/69): every capability we advertise is exercised here.
 * - iOS 10 refused a server whose caps named no SHA-1/SHA-256/SHA-512 and no 3DES/AES (micromdm/scep#23,
 *   https://github.com/micromdm/scep/issues/23); clients fell back to deprecated algorithms when GetCACaps gave
 *   nothing usable (dogtagpki/pki#541, https://github.com/dogtagpki/pki/pull/541).
 * - A GET PKIOperation's `message` is base64 of the CMS bytes, URL-encoded; a server that handed the base64 text to
 *   its DER parser answered "tags don't match" (fullsailor/pkcs7#41, https://github.com/fullsailor/pkcs7/issues/41).
 * - A hand-typed `operation= PKIOperation` got an HTTP 500 with an HTML body that sscep rejects
 *   (openxpki/openxpki#859, https://github.com/openxpki/openxpki/pull/859): an unknown operation is a 400 in plain
 *   text, never a 5xx.
 */
import { describe, expect, it } from "vitest";
import { LocalKey, buildPkcsReq, createScepServer, parseGetNextCaCertResponse, type ScepServer } from "../src/index.js";
import { DAY, NOW, ORIGIN, b64, createDevice, createTestCa, csrFor, getOp, getPki, hex, issuingHook, postPki, readReply, staticScep } from "./support/server-pki.js";

const CHALLENGE = "http-caps";
const { ca, device, log, server, profile } = await staticScep({ caName: "HTTP Caps CA", deviceCn: "http-caps-device", challenge: CHALLENGE });

async function caps(s: ScepServer): Promise<string[]> {
  const res = await getOp(s, "/scep", "GetCACaps");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
  return (await res.text()).split(/\r?\n/).filter((l) => l !== "");
}

async function pkcsReq(transactionId: string, options: { cipher?: "aes128" | "aes256" | "des3"; digest?: "sha1" | "sha256" | "sha512" } = {}) {
  const next = await createDevice({ cn: "http-caps-device", challengePassword: CHALLENGE });
  const built = await buildPkcsReq({ csr: next.csr, signer: next.signer, recipient: ca.cert, now: NOW, transactionId, ...options });
  return { built, signer: next.signer };
}

describe("jscep#35, micromdm/scep#146, mdmb#12: POSTPKIOperation is advertised and a POST works with each content type (RFC 8894 §4.1, §4.3)", () => {
  it("GetCACaps names POSTPKIOperation (and SCEPStandard, which implies it)", async () => {
    expect(await caps(server)).toEqual(expect.arrayContaining(["POSTPKIOperation", "SCEPStandard"]));
  });

  it("macOS's POST (application/octet-stream, Content-Transfer-Encoding: binary) enrolls", async () => {
    const { built, signer } = await pkcsReq("HC-MACOS");
    const res = await server.fetch(
      new Request(`${ORIGIN}/scep?operation=PKIOperation`, {
        method: "POST",
        body: built.der as Uint8Array<ArrayBuffer>,
        headers: { "content-type": "application/octet-stream", "content-transfer-encoding": "binary", "user-agent": "mdmclient/960 CFNetwork/811.11 Darwin/16.7.0 (x86_64)" },
      }),
    );
    expect((await readReply(res, built, { decrypter: signer, caCertificates: [ca.cert] })).status).toBe("SUCCESS");
  });

  it.each([["application/x-pki-message"], [null]])("a POST with content type %s enrolls too", async (type) => {
    const { built, signer } = await pkcsReq(`HC-TYPE-${type ?? "none"}`);
    expect((await readReply(await postPki(server, "/scep", built.der, type), built, { decrypter: signer, caCertificates: [ca.cert] })).status).toBe("SUCCESS");
  });
});

describe("micromdm/scep#23, dogtagpki/pki#541: the caps iOS needs, and each advertised capability works (openxpki#69; RFC 8894 §3.5.2)", () => {
  it("a SHA-2 digest and a modern cipher are advertised: SHA-256, SHA-512, AES, DES3 (no DES, no MD5)", async () => {
    const list = await caps(server);
    expect(list).toEqual(expect.arrayContaining(["SHA-256", "SHA-512", "AES", "DES3", "Renewal"]));
    expect(list).not.toContain("DES");
    expect(list).not.toContain("MD5");
  });

  it.each([
    ["AES + SHA-256", { cipher: "aes128", digest: "sha256" }],
    ["AES + SHA-512", { cipher: "aes256", digest: "sha512" }],
    ["DES3 + SHA-1", { cipher: "des3", digest: "sha1" }],
  ] as const)("%s, each advertised, enrolls", async (name, algs) => {
    const { built, signer } = await pkcsReq(`HC-ALG-${name}`, algs);
    expect((await readReply(await postPki(server, "/scep", built.der), built, { decrypter: signer, caCertificates: [ca.cert] })).status).toBe("SUCCESS");
  });

  it("Renewal, advertised: a RenewalReq signed by a certificate of this CA is issued", async () => {
    const old = LocalKey.from(await ca.issue(device.csr, { notBefore: new Date(NOW.getTime() - DAY), notAfter: new Date(NOW.getTime() + 30 * DAY) }), device.keys.privateKey);
    const built = await buildPkcsReq({ csr: await csrFor(device.keys, "http-caps-device"), signer: old, recipient: ca.cert, renewal: true, now: NOW, transactionId: "HC-RENEW" });
    expect((await readReply(await postPki(server, "/scep", built.der), built, { decrypter: old, caCertificates: [ca.cert] })).status).toBe("SUCCESS");
  });

  it("GetNextCACert is advertised only with a next CA configured, and then answers it", async () => {
    expect(await caps(server)).not.toContain("GetNextCACert");
    const next = await createTestCa("HTTP Caps Next CA");
    const rollover = createScepServer({ profiles: [{ ...profile, nextCaCertificates: [next.cert], issue: issuingHook(ca) }], now: () => NOW });
    expect(await caps(rollover)).toContain("GetNextCACert");
    const res = await getOp(rollover, "/scep", "GetNextCACert");
    expect(res.status).toBe(200);
    const certs = parseGetNextCaCertResponse(new Uint8Array(await res.arrayBuffer()), [ca.cert]);
    expect(certs.map((c) => hex(c.der))).toEqual([hex(next.cert.der)]);
  });
});

describe("fullsailor/pkcs7#41: a GET PKIOperation's message is base64, URL-encoded (RFC 8894 §4.3)", () => {
  it("the percent-encoded base64 of the CMS bytes is decoded before parsing, and enrolls", async () => {
    const { built, signer } = await pkcsReq("HC-GET");
    const res = await getPki(server, "/scep", encodeURIComponent(b64(built.der)));
    expect((await readReply(res, built, { decrypter: signer, caCertificates: [ca.cert] })).status).toBe("SUCCESS");
  });
});

describe("openxpki/openxpki#859: a mistyped operation is a 400 in plain text, never a 5xx (RFC 8894 §4.1)", () => {
  it.each([["%20PKIOperation"], ["PKIOperation%20"], ["Foo"], [""]])("operation=%s → 400 text/plain", async (op) => {
    const res = await server.fetch(new Request(`${ORIGIN}/scep?operation=${op}`, { method: "POST", body: new Uint8Array([0x30, 0x00]) }));
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
  });

  it("nothing here ended in a 5xx", () => {
    expect(log.events.filter((e) => e.status >= 500 || e.outcome === "error")).toEqual([]);
  });
});
