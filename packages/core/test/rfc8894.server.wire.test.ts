/**
 * The SCEP server on the wire (RFC 8894 §4, INTEROP quirks 1, 2 and 10):
 * every GET `message` encoding real clients send, POST with any content type,
 * path suffixes, arbitrary `message=` values on GetCACaps/GetCACert, exact
 * content types, size limits, HTTP 4xx for what cannot be answered with a
 * CertRep, and FAILURE CertReps (never a 500) for requests whose sender is
 * known but whose message is bad.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  Certificate,
  buildPkcsReq,
  createScepServer,
  parseCaCaps,
  parseGetCaCertResponse,
  pkiMessageFromGetParam,
  rawQueryParam,
  readCertRep,
  type BuiltRequest,
  type ScepEvent,
  type ScepServer,
} from "../src/index.js";
import { NOW, ORIGIN, b64, createTestCa, eventLog, getOp, getPki, hex, issuingHook, postPki, readReply, staticScep } from "./support/server-pki.js";

const CHALLENGE = "s3cret-wire";
const DEFAULT_CAPS = "AES\nDES3\nPOSTPKIOperation\nRenewal\nSHA-1\nSHA-256\nSHA-384\nSHA-512\nSCEPStandard";

const [{ ca, device, log, server }, foreign] = await Promise.all([staticScep({ caName: "Wire CA", deviceCn: "wire-device", challenge: CHALLENGE }), createTestCa("Foreign CA")]);

// Nothing a client sends here is a server fault: no request of any test may end in a 5xx.
afterEach(() => {
  expect(log.events.filter((e) => e.status >= 500 || e.outcome === "error")).toEqual([]);
});

/** A PKCSReq whose base64 has `=` padding, `+` and `/` (so every encoding below is really exercised). */
// Each request has a transactionID of its own: the same one again would be a re-send (RFC 8894 §3.3.3), answered
// from the recorded transaction rather than issued.
let requests = 0;
async function paddedRequest(): Promise<{ built: BuiltRequest; base64: string }> {
  const n = ++requests;
  for (let extra = 0; extra < 12; extra++) {
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW, transactionId: `WIRE-TID-${n}-${"X".repeat(extra)}` });
    const base64 = b64(built.der);
    if (base64.endsWith("=") && base64.includes("+") && base64.includes("/")) return { built, base64 };
  }
  throw new Error("could not build a request whose base64 has padding, + and /");
}

async function expectIssued(res: Response, built: BuiltRequest): Promise<void> {
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("application/x-pki-message");
  const rep = await readReply(res, built, { decrypter: device.signer, caCertificates: [ca.cert] });
  expect(rep.status).toBe("SUCCESS");
  expect(rep.transactionId).toBe(built.transactionId);
  expect(rep.certificates[0]!.subject).toBe(new Certificate(device.signer.certificate.der).subject);
  expect(rep.certificates[0]!.issuer).toBe(ca.cert.subject);
  expect(hex(rep.certificates[1]!.der)).toBe(hex(ca.cert.der));
}

async function lastEventAfter(n: number, run: () => Promise<Response>): Promise<{ res: Response; event: ScepEvent }> {
  const before = log.events.length;
  const res = await run();
  expect(log.events.length).toBe(before + n);
  return { res, event: log.events[log.events.length - 1]! };
}

describe("GET PKIOperation: every message encoding real clients send (quirk 1)", () => {
  const encodings: [string, (s: string) => string][] = [
    ["standard base64, percent-encoded", (s) => encodeURIComponent(s)],
    ["iOS: + turned into spaces (%20)", (s) => s.replace(/\+/g, "%20").replace(/=/g, "%3D")],
    ["iOS: + turned into literal spaces in the URL", (s) => s.replace(/\+/g, " ")],
    ["macOS: only = escaped, + and / raw", (s) => s.replace(/=/g, "%3D")],
    ["nothing escaped at all", (s) => s],
    ["sscep/strongSwan: 64-char lines joined by %0A, + as %2B, / raw", (s) => (s.match(/.{1,64}/g) ?? []).join("\n").replace(/\+/g, "%2B").replace(/=/g, "%3D").replace(/\n/g, "%0A") + "%0A"],
    ["Cisco: CRLF lines (%0D%0A)", (s) => (s.match(/.{1,64}/g) ?? []).map((l) => encodeURIComponent(l)).join("%0D%0A")],
    ["old micromdm: URL-safe base64 without padding", (s) => s.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")],
    ["URL-safe base64 with padding", (s) => s.replace(/\+/g, "-").replace(/\//g, "_")],
  ];
  for (const [name, encode] of encodings) {
    it(`issues a certificate: ${name}`, async () => {
      const { built, base64 } = await paddedRequest();
      const { res, event } = await lastEventAfter(1, () => getPki(server, "/scep", encode(base64)));
      await expectIssued(res, built);
      expect(event).toMatchObject({ operation: "PKCSReq", outcome: "success", reason: "issued", status: 200, transactionId: built.transactionId });
    });
  }
});

describe("rawQueryParam: the query as the client meant it (RFC 8894 §4.1, quirk 1)", () => {
  it("keeps a literal +, percent-decodes the rest, takes the first occurrence and matches the name case-insensitively", () => {
    expect(rawQueryParam("http://ca.example/scep?operation=PKIOperation&message=MIIB+a%2Fb%3D&message=x", "message")).toBe("MIIB+a/b=");
    expect(rawQueryParam("?OPERATION=GetCACaps", "operation")).toBe("GetCACaps");
    expect(rawQueryParam("?operation=GetCACert&message#frag", "message")).toBe("");
    expect(rawQueryParam("http://ca.example/scep?a=%zz%41&b=%C3", "a")).toBe("%zzA");
    expect(rawQueryParam("http://ca.example/scep?b=%C3%28", "b")).toBe("\u00c3(");
    expect(rawQueryParam("http://ca.example/scep", "operation")).toBeUndefined();
    expect(rawQueryParam("?", "operation")).toBeUndefined();
  });
});

describe("POST PKIOperation: any content type or none (quirk 10)", () => {
  for (const contentType of ["application/x-pki-message", "application/octet-stream", null, "text/plain"]) {
    it(`issues a certificate with content-type ${contentType ?? "(none)"}`, async () => {
      const { built } = await paddedRequest();
      await expectIssued(await postPki(server, "/scep", built.der, contentType), built);
    });
  }

  it("issues a certificate when the POST body is base64 text rather than DER", async () => {
    const { built, base64 } = await paddedRequest();
    await expectIssued(await postPki(server, "/scep", new TextEncoder().encode(base64), "application/x-pki-message"), built);
  });
});

describe("RFC 8894 §4.1: the POST body is the DER PKIMessage; its base64 or PEM text is taken, anything else is a 400 saying so", () => {
  const NOT_DER = "the POST body must be the DER PKIMessage (RFC 8894 section 4.1), or its base64 or PEM text; this is none of them\n";

  it.each([
    ["CRLF, as sscep -v prints it", "\r\n"],
    ["LF", "\n"],
    ["CR alone", "\r"],
  ])("PEM text (BEGIN PKCS7, 64-character lines, %s) → issued", async (_what, eol) => {
    const { built, base64 } = await paddedRequest();
    const pem = `-----BEGIN PKCS7-----${eol}${base64.replace(/(.{64})/g, `$1${eol}`)}${eol}-----END PKCS7-----${eol}`;
    await expectIssued(await postPki(server, "/scep", new TextEncoder().encode(pem), "application/x-pki-message"), built);
  });

  it.each([
    ["a form-encoded message= field", (base64: string) => `message=${encodeURIComponent(base64)}`],
    ["hex of the DER", (base64: string) => Buffer.from(base64, "base64").toString("hex").toUpperCase()],
    ["base64 of something that is not a SEQUENCE", () => Buffer.from("hello, world").toString("base64")],
    ["PEM armour without its END line", (base64: string) => `-----BEGIN PKCS7-----\n${base64}\n`],
  ])("%s → HTTP 400 naming what the body must be (no 5xx)", async (_what, body) => {
    const { base64 } = await paddedRequest();
    const { res, event } = await lastEventAfter(1, () => postPki(server, "/scep", new TextEncoder().encode(body(base64)), "application/x-pki-message"));
    expect(res.status).toBe(400);
    expect(await res.text()).toBe(NOT_DER);
    expect(event).toMatchObject({ outcome: "rejected", reason: "body_not_der", status: 400 });
  });
});

describe("path suffixes and arbitrary message values (quirk 2)", () => {
  // `/cgi-bin` alone: Windows profiles deployed by Intune point there and append nothing (INTUNE.md, "Renewal").
  // `/certsrv/mscep/mscep.dll/pkiclient.exe`: an NDES-style URL kept by a client after a move off NDES.
  for (const suffix of ["", "/", "/pkiclient.exe", "/cgi-bin/pkiclient.exe", "/CGI-BIN/PKICLIENT.EXE", "/cgi-bin", "/CGI-BIN/", "/certsrv/mscep/mscep.dll/pkiclient.exe"]) {
    it(`routes /scep${suffix}`, async () => {
      const caps = await getOp(server, `/scep${suffix}`, "GetCACaps");
      expect(caps.status).toBe(200);
      expect(await caps.text()).toBe(DEFAULT_CAPS);
      const { built } = await paddedRequest();
      await expectIssued(await postPki(server, `/scep${suffix}`, built.der), built);
    });
  }

  for (const path of ["/scep/cgi", "/scep/cgi-bin/other", "/scep/pkiclient.exe.bak", "/scep/xcgi-bin", "/scepx/pkiclient.exe"]) {
    it(`does not route ${path}: no SCEP suffix`, async () => {
      expect((await getOp(server, path, "GetCACaps")).status).toBe(404);
    });
  }

  for (const message of ["CAIdentifier", "0", "default", "SCEP%20Authority", "SCEP+Authority", ""]) {
    it(`answers GetCACaps and GetCACert with message=${message}`, async () => {
      const caps = await getOp(server, "/scep", "GetCACaps", message);
      expect(caps.status).toBe(200);
      expect(caps.headers.get("content-type")).toBe("text/plain");
      expect(parseCaCaps(await caps.text()).list).toEqual(DEFAULT_CAPS.split("\n"));
      const cert = await getOp(server, "/scep", "GetCACert", message);
      expect(cert.status).toBe(200);
      expect(cert.headers.get("content-type")).toBe("application/x-x509-ca-cert");
      expect(hex(new Uint8Array(await cert.arrayBuffer()))).toBe(hex(ca.cert.der));
    });
  }

  it("treats the operation name case-insensitively", async () => {
    const res = await getOp(server, "/scep", "getcacaps");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(DEFAULT_CAPS);
  });
});

describe("content types (quirk 10)", () => {
  it("GetCACaps is text/plain, one capability per line", async () => {
    const { res, event } = await lastEventAfter(1, () => getOp(server, "/scep", "GetCACaps"));
    expect(res.headers.get("content-type")).toBe("text/plain");
    expect(await res.text()).toBe(DEFAULT_CAPS);
    expect(event).toMatchObject({ operation: "GetCACaps", profile: "/scep", outcome: "success", reason: "caps", status: 200 });
  });

  it("GetCACert with one certificate is the DER certificate as application/x-x509-ca-cert", async () => {
    const { res, event } = await lastEventAfter(1, () => getOp(server, "/scep", "GetCACert"));
    expect(res.headers.get("content-type")).toBe("application/x-x509-ca-cert");
    expect(hex(new Uint8Array(await res.arrayBuffer()))).toBe(hex(ca.cert.der));
    expect(event).toMatchObject({ operation: "GetCACert", outcome: "success", reason: "ca_cert", status: 200 });
  });

  it("GetCACert with an RA is a PKCS#7 of RA then CA as application/x-x509-ca-ra-cert, and the RA answers PKIOperations", async () => {
    const ra = await ca.ra("CN=Wire RA, O=scep-sdk server tests");
    const raServer = createScepServer({
      profiles: [{ path: "/scep", caCertificate: ca.cert, signer: ra, challenge: { type: "static", password: CHALLENGE }, issue: issuingHook(ca) }],
      now: () => NOW,
    });
    const res = await getOp(raServer, "/scep", "GetCACert");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-x509-ca-ra-cert");
    const certs = parseGetCaCertResponse(new Uint8Array(await res.arrayBuffer()), res.headers.get("content-type") ?? undefined);
    expect(certs.map((c) => hex(c.der))).toEqual([hex(ra.certificate.der), hex(ca.cert.der)]);

    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ra.certificate, now: NOW });
    const rep = await readReply(await postPki(raServer, "/scep", built.der), built, { decrypter: device.signer, caCertificates: certs });
    expect(rep.status).toBe("SUCCESS");
    expect(hex(rep.signerCertificate.der)).toBe(hex(ra.certificate.der));
    expect(rep.certificates[0]!.issuer).toBe(ca.cert.subject);
  });

  it("PKIOperation replies are application/x-pki-message", async () => {
    const { built } = await paddedRequest();
    const res = await postPki(server, "/scep", built.der);
    expect(res.headers.get("content-type")).toBe("application/x-pki-message");
  });
});

describe("size limits", () => {
  let small: ScepServer;
  let smallLog: ReturnType<typeof eventLog>;
  afterEach(() => {
    expect(smallLog.events.filter((e) => e.status >= 500)).toEqual([]);
  });
  beforeAll(() => {
    smallLog = eventLog();
    small = createScepServer({
      profiles: [{ path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: CHALLENGE }, issue: issuingHook(ca) }],
      maxBodyBytes: 1024,
      onEvent: smallLog.onEvent,
      now: () => NOW,
    });
  });

  it("answers 413 to a POST whose content-length is over the limit", async () => {
    const { built } = await paddedRequest();
    expect(built.der.length).toBeGreaterThan(1024);
    const res = await postPki(small, "/scep", built.der);
    expect(res.status).toBe(413);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(smallLog.events.at(-1)).toMatchObject({ operation: "PKIOperation", outcome: "rejected", reason: "body_too_large", status: 413 });
  });

  it("answers 413 to a chunked POST without content-length once the stream passes the limit", async () => {
    let pulled = 0;
    const chunk = new Uint8Array(300).fill(0x30);
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1;
        if (pulled > 100) controller.close();
        else controller.enqueue(chunk.slice());
      },
    });
    const req = new Request(`${ORIGIN}/scep?operation=PKIOperation`, { method: "POST", body: stream, duplex: "half" } as RequestInit);
    expect(req.headers.get("content-length")).toBeNull();
    const res = await small.fetch(req);
    expect(res.status).toBe(413);
    expect(await res.text()).toBe("message too large\n");
    // It stopped reading soon after the limit rather than draining the stream.
    expect(pulled).toBeLessThan(10);
    expect(smallLog.events.at(-1)).toMatchObject({ outcome: "rejected", reason: "body_too_large", status: 413 });
  });

  it("answers 414 URI Too Long (RFC 9110 §15.5.15) to a GET message longer than the limit allows: the message is in the URI, not the content (413)", async () => {
    const { base64 } = await paddedRequest();
    const res = await getPki(small, "/scep", encodeURIComponent(base64 + base64));
    expect([res.status, res.headers.get("content-type"), await res.text()]).toEqual([414, "text/plain; charset=utf-8", "URI too long\n"]);
    expect(smallLog.events.at(-1)).toMatchObject({ operation: "PKIOperation", outcome: "rejected", reason: "uri_too_long", status: 414 });
  });

  it("answers 414 URI Too Long (RFC 9110 §15.5.15) to a GET message whose DER is over the limit, and 413 to a POST of the same bytes (pkiMessageFromGetParam); one at the limit is issued", async () => {
    const { built, base64 } = await paddedRequest();
    const at = (maxBodyBytes: number): { server: ScepServer; log: ReturnType<typeof eventLog> } => {
      const log = eventLog();
      const profile = { path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static" as const, password: CHALLENGE }, issue: issuingHook(ca) };
      return { server: createScepServer({ profiles: [profile], maxBodyBytes, onEvent: log.onEvent, now: () => NOW }), log };
    };
    // 100 bytes over the limit: the base64 still passes the parameter's own bound (4/3 of the limit, plus 1024).
    const over = at(built.der.length - 100);
    expect(base64.length).toBeLessThanOrEqual(Math.ceil(((built.der.length - 100) * 4) / 3) + 1024);
    const res = await getPki(over.server, "/scep", encodeURIComponent(base64));
    expect([res.status, await res.text()]).toEqual([414, "URI too long\n"]);
    expect(over.log.events.at(-1)).toMatchObject({ operation: "PKIOperation", reason: "uri_too_long", status: 414 });
    expect((await postPki(over.server, "/scep", built.der)).status).toBe(413);
    expect(over.log.events.at(-1)).toMatchObject({ operation: "PKIOperation", reason: "body_too_large", status: 413 });
    await expectIssued(await getPki(at(built.der.length).server, "/scep", encodeURIComponent(base64)), built);
  });

  it("pkiMessageFromGetParam (the server's and @scep/proxy's GET reader): missing, not base64, over the limit, and the bytes in every client encoding", () => {
    expect(pkiMessageFromGetParam("/scep?operation=PKIOperation", 1024)).toBe("missing");
    expect(pkiMessageFromGetParam("/scep?operation=PKIOperation&message=", 1024)).toBe("missing");
    expect(pkiMessageFromGetParam("/scep?operation=PKIOperation&message=%%%", 1024)).toBe("not-base64");
    expect(pkiMessageFromGetParam(`?message=${"A".repeat(Math.ceil((1024 * 4) / 3) + 1025)}`, 1024)).toBe("too-large");
    // MAMCAQA= is 30 03 02 01 00: escaped, iOS's space for +-free text, and cut into lines (sscep's %0A) alike.
    for (const query of ["?message=MAMCAQA%3D", "?MESSAGE=MAMCAQA=", "?message=MAMC%0AAQA%3D"]) {
      expect(pkiMessageFromGetParam(`http://ca.example/scep${query}`, 1024)).toEqual(Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00));
    }
    expect(pkiMessageFromGetParam("?message=MAMCAQA%3D", 4)).toBe("too-large");
  });

  it("pkiMessageFromGetParam refuses what pkiMessageFromPostBody refuses: no bytes, or bytes that are not a SEQUENCE (\"not-der\"); the server answers 400 decode_error without decoding", async () => {
    const hello = encodeURIComponent(b64(new TextEncoder().encode("hello")));
    expect([pkiMessageFromGetParam("?message=%3D%3D", 1024), pkiMessageFromGetParam(`?message=${hello}`, 1024), pkiMessageFromGetParam("?message=AgEA", 1024)]).toEqual(["not-der", "not-der", "not-der"]);
    // Over the limit is told first, as before: 414, not 400.
    expect(pkiMessageFromGetParam(`?message=${hello}`, 4)).toBe("too-large");
    for (const message of ["%3D%3D", hello, "AgEA"]) {
      const { res, event } = await lastEventAfter(1, () => getPki(server, "/scep", message));
      expect([res.status, await res.text()]).toEqual([400, "malformed PKIOperation: the message is not a DER PKIMessage (RFC 8894 section 4.1)\n"]);
      expect(event).toMatchObject({ operation: "PKIOperation", outcome: "rejected", reason: "decode_error", status: 400 });
    }
  });

  it("accepts a chunked POST without content-length under the limit", async () => {
    const { built } = await paddedRequest();
    const parts = [built.der.slice(0, 100), built.der.slice(100, 1000), built.der.slice(1000)];
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const p of parts) controller.enqueue(p);
        controller.close();
      },
    });
    const res = await server.fetch(new Request(`${ORIGIN}/scep?operation=PKIOperation`, { method: "POST", body: stream, duplex: "half" } as RequestInit));
    await expectIssued(res, built);
  });
});

describe("HTTP errors for what a CertRep cannot answer", () => {
  it("unknown operation → 400", async () => {
    const { res, event } = await lastEventAfter(1, () => getOp(server, "/scep", "GetEverything"));
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await res.text()).toBe("unknown operation\n");
    expect(event).toMatchObject({ operation: "unknown", profile: "/scep", outcome: "rejected", reason: "unknown_operation", status: 400 });
  });

  it("missing operation → 400", async () => {
    const { res, event } = await lastEventAfter(1, () => server.fetch(new Request(`${ORIGIN}/scep`)));
    expect(res.status).toBe(400);
    expect(await res.text()).toBe("missing operation parameter\n");
    expect(event).toMatchObject({ operation: "unknown", outcome: "rejected", reason: "missing_operation", status: 400 });
  });

  it("unknown path → 404 (no profile in the event)", async () => {
    const { res, event } = await lastEventAfter(1, () => getOp(server, "/other", "GetCACaps"));
    expect(res.status).toBe(404);
    expect(await res.text()).toBe("no SCEP endpoint at this path\n");
    expect(event).toMatchObject({ operation: "GetCACaps", outcome: "rejected", reason: "unknown_path", status: 404 });
    expect(event.profile).toBeUndefined();
    for (const path of ["/scepx", "/scep/other", "/scep/pkiclient.exe/more", "/"]) expect((await getOp(server, path, "GetCACaps")).status).toBe(404);
  });

  it("unsupported method → 405, Allow listing what the target answers (RFC 9110 §15.5.6): HEAD too, but not for a PKIOperation", async () => {
    const res = await server.fetch(new Request(`${ORIGIN}/scep?operation=GetCACaps`, { method: "PUT", body: "x" }));
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD, POST");
    const op = await server.fetch(new Request(`${ORIGIN}/scep?operation=PKIOperation`, { method: "PUT", body: "x" }));
    expect([op.status, op.headers.get("allow")]).toEqual([405, "GET, POST"]);
  });

  it("GET PKIOperation without message → 400", async () => {
    const res = await getOp(server, "/scep", "PKIOperation");
    expect(res.status).toBe(400);
    expect(await res.text()).toBe("missing message parameter\n");
    expect(log.events.at(-1)).toMatchObject({ reason: "missing_message", status: 400 });
  });

  it("GET message that is not base64 → 400", async () => {
    const res = await getPki(server, "/scep", "%21%21not*base64%21%21");
    expect(res.status).toBe(400);
    expect(await res.text()).toBe("message is not base64\n");
    expect(log.events.at(-1)).toMatchObject({ reason: "bad_base64", status: 400 });
  });

  it("empty POST → 400", async () => {
    const res = await postPki(server, "/scep", new Uint8Array());
    expect(res.status).toBe(400);
    expect(await res.text()).toBe("empty message\n");
    expect(log.events.at(-1)).toMatchObject({ reason: "empty_message", status: 400 });
  });

  const garbage: [string, Uint8Array][] = [
    ["ASCII text", new TextEncoder().encode("hello, this is not a PKIMessage")],
    ["a truncated SEQUENCE", Uint8Array.from([0x30, 0x82, 0x10, 0x00, 0x02, 0x01])],
    ["a certificate instead of a PKIMessage", new Uint8Array(0)],
    ["random bytes", Uint8Array.from({ length: 700 }, (_, i) => (i * 97 + 13) & 0xff)],
  ];
  for (const [name, bytes] of garbage) {
    it(`garbage (${name}) → 400 with a short reason`, async () => {
      const body = bytes.length ? bytes : ca.cert.der;
      const sends = [["POST", () => postPki(server, "/scep", body)], ["GET", () => getPki(server, "/scep", encodeURIComponent(b64(body)))]] as const;
      for (const [how, send] of sends) {
        const res = await send();
        expect(res.status).toBe(400);
        expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
        const text = await res.text();
        // A POST body that is not even a SEQUENCE (nor base64/PEM of one) is told what the body must be (RFC 8894 §4.1).
        const notDer = how === "POST" && body[0] !== 0x30;
        if (notDer) expect(text).toBe("the POST body must be the DER PKIMessage (RFC 8894 section 4.1), or its base64 or PEM text; this is none of them\n");
        else expect(text.startsWith("malformed PKIOperation: ")).toBe(true);
        expect(text.length).toBeLessThan(200);
        expect(text.endsWith("\n")).toBe(true);
        expect(log.events.at(-1)).toMatchObject({ operation: "PKIOperation", outcome: "rejected", reason: notDer ? "body_not_der" : "decode_error", status: 400 });
      }
    });
  }
});

describe("FAILURE CertReps for bad messages from a known sender (quirk 10)", () => {
  it("a broken signature with readable attributes → FAILURE badMessageCheck", async () => {
    const { built } = await paddedRequest();
    const tampered = built.der.slice();
    // The SignerInfo's signature is the last field of the DER SignedData.
    tampered[tampered.length - 1]! ^= 0x01;
    const { res, event } = await lastEventAfter(1, () => postPki(server, "/scep", tampered));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-pki-message");
    const rep = await readReply(res, built, { caCertificates: [ca.cert] });
    expect(rep.status).toBe("FAILURE");
    expect(rep.failInfo).toBe("badMessageCheck");
    expect(rep.failInfoText).toBeTypeOf("string");
    expect(hex(rep.recipientNonce)).toBe(hex(built.senderNonce));
    expect(rep.transactionId).toBe(built.transactionId);
    expect(event).toMatchObject({ operation: "PKCSReq", outcome: "failure", reason: "signature_invalid", failInfo: "badMessageCheck", status: 200, transactionId: built.transactionId });
  });

  it("a request encrypted to a key the server lacks → FAILURE badMessageCheck", async () => {
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: foreign.cert, now: NOW });
    const { res, event } = await lastEventAfter(1, () => postPki(server, "/scep", built.der));
    const rep = await readReply(res, built, { caCertificates: [ca.cert] });
    expect(rep.status).toBe("FAILURE");
    expect(rep.failInfo).toBe("badMessageCheck");
    expect(rep.failInfoText).toBe("the envelope is not encrypted to any configured key");
    expect(event).toMatchObject({ operation: "PKCSReq", outcome: "failure", reason: "no_recipient", failInfo: "badMessageCheck", status: 200 });
  });

  it("an MD5-signed request → FAILURE badAlg, answered with SHA-256", async () => {
    const built = await buildPkcsReq({
      csr: device.csr,
      signer: device.signer,
      recipient: ca.cert,
      digest: "md5",
      signatureAlgorithm: { scheme: "rsa-pkcs1", digest: "md5", rsaOid: "withDigest" },
      now: NOW,
    });
    const { res, event } = await lastEventAfter(1, () => postPki(server, "/scep", built.der));
    const rep = await readReply(res, built, { caCertificates: [ca.cert] });
    expect(rep.status).toBe("FAILURE");
    expect(rep.failInfo).toBe("badAlg");
    expect(rep.failInfoText).toBe("SignerInfo: digest md5 is not allowed by policy");
    expect(rep.digestAlgorithm).toBe("sha256");
    expect(event).toMatchObject({ outcome: "failure", reason: "algorithm_not_allowed", failInfo: "badAlg", status: 200 });
  });

  it("an MD5-signed request is issued when the policy allows MD5", async () => {
    const md5Server = createScepServer({
      profiles: [{ path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: CHALLENGE }, issue: issuingHook(ca), algorithmPolicy: { allowMd5: true } }],
      now: () => NOW,
    });
    const built = await buildPkcsReq({
      csr: device.csr,
      signer: device.signer,
      recipient: ca.cert,
      digest: "md5",
      signatureAlgorithm: { scheme: "rsa-pkcs1", digest: "md5", rsaOid: "withDigest" },
      now: NOW,
    });
    const rep = await readReply(await postPki(md5Server, "/scep", built.der), built, { decrypter: device.signer });
    expect(rep.status).toBe("SUCCESS");
    expect(rep.digestAlgorithm).toBe("md5");
  });

  it("a reply to a CertRep sent as a request → FAILURE badRequest", async () => {
    const { built } = await paddedRequest();
    const certRep = new Uint8Array(await (await postPki(server, "/scep", built.der)).arrayBuffer());
    const res = await postPki(server, "/scep", certRep);
    expect(res.status).toBe(200);
    // The CertRep's own senderNonce becomes the recipientNonce of the answer.
    const orig = await readCertRep(certRep, { caCertificates: [ca.cert] });
    const rep = await readCertRep(new Uint8Array(await res.arrayBuffer()), { request: { transactionId: orig.transactionId, senderNonce: orig.senderNonce } });
    expect(rep.status).toBe("FAILURE");
    expect(rep.failInfo).toBe("badRequest");
    expect(log.events.at(-1)).toMatchObject({ operation: "PKIOperation", outcome: "failure", reason: "message_type", failInfo: "badRequest" });
  });

});

describe("HEAD", () => {
  it("answers GetCACaps headers without a body, Content-Length that of the GET (RFC 9110 §9.3.2)", async () => {
    const res = await server.fetch(new Request(`${ORIGIN}/scep?operation=GetCACaps`, { method: "HEAD" }));
    const get = await server.fetch(new Request(`${ORIGIN}/scep?operation=GetCACaps`));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain");
    expect(res.headers.get("content-length")).toBe(String((await get.arrayBuffer()).byteLength));
    expect(res.body).toBeNull();
  });
});
