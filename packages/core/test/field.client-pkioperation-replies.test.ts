/**
 * PKIOperation answered with a 200 whose body is no CertRep at all, rebuilt against our `ScepClient` (RFC 8894 §4.3:
 * the reply is a CMS SignedData, `application/x-pki-message`).
 *
 * NDES behind IIS, a reverse proxy or a web application firewall answer a PKIOperation with an HTML page (sscep saw
 * `text/html` from NDES and said only "wrong (or missing) MIME content type": certnanny/sscep#60,
 * https://github.com/certnanny/sscep/issues/60; OpenXPKI's front answered sscep's GetCRL with `text/html`:
 * openxpki/openxpki#859, https://github.com/openxpki/openxpki/pull/859). With a 200 status our client handed the
 * page to the CMS reader and threw `ERR_ASN1` "ASN.1 length exceeds the data", which says nothing of what came back.
 * Now it is `ERR_CERTREP` naming the content type, the size, the ASN.1 reason and the page's first text.
 */
import { describe, expect, it } from "vitest";
import { ScepClient } from "../src/index.js";
import { staticScep } from "./support/server-pki.js";

const { server, device } = await staticScep({ caName: "PKIOperation Replies CA", deviceCn: "pkioperation-replies", challenge: "pw" });

/** Our server for GetCACaps and GetCACert; `pki` answers every PKIOperation. */
function withPkiAnswer(pki: () => Response): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    if (new URL(request.url).searchParams.get("operation") === "PKIOperation") return pki();
    return server.fetch(request);
  }) as typeof fetch;
}

describe("RFC 8894 §4.3: a 200 to PKIOperation that is no CertRep is ERR_CERTREP saying what came (sscep#60, openxpki#859)", () => {
  it("an IIS/NDES-style HTML page → its content type, size and text on one line", async () => {
    const page = "<html><head><title>Error</title></head>\n<body><h1>Service Unavailable</h1>\n<p>The NDES service is not running.</p></body></html>";
    const client = new ScepClient({ url: "http://ca.test/scep", fetch: withPkiAnswer(() => new Response(page, { headers: { "content-type": "text/html; charset=utf-8" } })) });
    const error = await client.enroll({ csr: device.csr, signer: device.signer }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      name: "CertRepError",
      code: "ERR_CERTREP",
      message: `PKIOperation reply (content-type text/html; charset=utf-8, ${page.length} bytes) is not a CertRep: ASN.1 trailing data after the element (Service Unavailable The NDES service is not running.)`,
    });
    expect((error as Error).cause).toMatchObject({ code: "ERR_ASN1" });
  });

  it("a JSON error body → its text", async () => {
    const client = new ScepClient({ url: "http://ca.test/scep", fetch: withPkiAnswer(() => new Response('{"error":"upstream timeout"}', { headers: { "content-type": "application/json" } })) });
    await expect(client.enroll({ csr: device.csr, signer: device.signer })).rejects.toMatchObject({
      code: "ERR_CERTREP",
      message: 'PKIOperation reply (content-type application/json, 28 bytes) is not a CertRep: ASN.1 length exceeds the data ({"error":"upstream timeout"})',
    });
  });

  it("an empty body with no content type → 0 bytes", async () => {
    const client = new ScepClient({ url: "http://ca.test/scep", fetch: withPkiAnswer(() => new Response(null, { status: 200 })) });
    await expect(client.enroll({ csr: device.csr, signer: device.signer })).rejects.toMatchObject({
      code: "ERR_CERTREP",
      message: "PKIOperation reply (0 bytes) is not a CertRep: ASN.1 element truncated",
    });
  });

  it("the real reply still enrolls", async () => {
    const rep = await new ScepClient({ url: "http://ca.test/scep", fetch: ((i: RequestInfo | URL, init?: RequestInit) => server.fetch(new Request(i, init))) as typeof fetch }).enroll({ csr: device.csr, signer: device.signer });
    expect(rep.status).toBe("SUCCESS");
  });
});
