/**
 * GetCACaps answered 200 with a page instead of capabilities (RFC 8894 §3.5.2: caps are keywords, one per line), as
 * met in the field: an access gateway's login page in front of the CA (the case @scep/proxy refuses for its own
 * upstream, test/field.upstream-html-caps.test.ts), a web server's "soft 404", an XML error. No keyword starts with
 * `<`, so such a body is never caps, whatever its content type; and real caps come under odd content types (text/html
 * from old CAs, none at all), so the content type decides nothing.
 *
 * Before, `getCaCaps()` split the page into words and returned them as capabilities (`<!DOCTYPE`, `html>`, …, and
 * any word the page happens to hold, "AES" or "POSTPKIOperation" included, which `enroll` then acted on).
 */
import { describe, expect, it } from "vitest";
import { MessageMalformedError, ScepClient } from "../src/index.js";
import { staticScep } from "./support/server-pki.js";

const LOGIN_PAGE = `<!DOCTYPE html>
<html><head><title>Sign in</title><style>body { font: 12px sans-serif }</style></head>
<body><h1>Sign in to continue</h1>
<p>Supported:</p>
AES
POSTPKIOperation
SHA-256
</body></html>
`;

/** A client whose GetCACaps is answered `body` with `contentType` (none when null). */
function capsClient(body: string, contentType: string | null): ScepClient {
  const fetch = (async () => new Response(body, contentType === null ? {} : { headers: { "content-type": contentType } })) as typeof globalThis.fetch;
  return new ScepClient({ url: "http://ca.test/scep", fetch });
}

describe("RFC 8894 §3.5.2: a GetCACaps body that is markup is refused, judged by the body, not the content type", () => {
  it("an HTML login page, text/html → ERR_MESSAGE_MALFORMED naming its content type, size and first text", async () => {
    const error = await capsClient(LOGIN_PAGE, "text/html; charset=utf-8").getCaCaps().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MessageMalformedError);
    expect(error).toMatchObject({
      code: "ERR_MESSAGE_MALFORMED",
      message: `GetCACaps reply (content-type text/html; charset=utf-8, ${new TextEncoder().encode(LOGIN_PAGE).length} bytes) is a markup page, not a capability list: is the URL a SCEP endpoint? (Sign in to continue Supported: AES POSTPKIOperation SHA-256)`,
    });
  });

  it.for([
    ["the same page as text/plain", LOGIN_PAGE, "text/plain"],
    ["the same page with no content type", LOGIN_PAGE, null],
    ["an XML error after a BOM and blank lines", "\uFEFF\r\n\n  <?xml version=\"1.0\"?><Error><Code>AccessDenied</Code></Error>", "application/xml"],
    ["a bare tag", "<p>", "text/plain"],
  ] as const)("%s → ERR_MESSAGE_MALFORMED", async ([, body, type]) => {
    await expect(capsClient(body, type).getCaCaps()).rejects.toMatchObject({ code: "ERR_MESSAGE_MALFORMED", message: expect.stringMatching(/^GetCACaps reply \(.*\) is a markup page, not a capability list: is the URL a SCEP endpoint\?/) });
  });

  it.for([
    ["text/html (old CAs)", "text/html"],
    ["no content type", null],
    ["application/octet-stream", "application/octet-stream"],
  ] as const)("real caps sent as %s are read as caps", async ([, type]) => {
    const caps = await capsClient("POSTPKIOperation\r\nSHA-256\r\nAES\r\n", type).getCaCaps();
    expect(caps.list).toEqual(["POSTPKIOperation", "SHA-256", "AES"]);
  });

  it("an empty body is no capabilities (RFC 8894 §3.5.2), not a page", async () => {
    expect((await capsClient("", "text/plain").getCaCaps()).list).toEqual([]);
  });

  it("enroll: a page instead of caps means no capabilities (as an HTTP error there does), not the words it holds: GET, SHA-1, DES3", async () => {
    const s = await staticScep({ caName: "HTML Caps CA", deviceCn: "html-caps", challenge: "pw" });
    const methods: string[] = [];
    const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = new Request(input, init);
      const op = new URL(request.url).searchParams.get("operation");
      if (op === "GetCACaps") return new Response(LOGIN_PAGE, { headers: { "content-type": "text/html" } });
      if (op === "PKIOperation") methods.push(request.method);
      return s.server.fetch(request);
    }) as typeof globalThis.fetch;
    const rep = await new ScepClient({ url: "http://ca.test/scep", fetch }).enroll({ csr: s.device.csr, signer: s.device.signer });
    expect([rep.status, rep.caps.list, methods, rep.digestAlgorithm, rep.contentCipher]).toEqual(["SUCCESS", [], ["GET"], "sha1", "des3"]);
  });
});
