/**
 * A BER PKIMessage through the proxy (RFC 8894 §3 on BER input, INTEROP quirk 3; RFC 8894 §4.3 POST and GET). Fleet's
 * SCEP proxy passed Android's PKCSReq to its upstream, which answered 500 "ber2der: BER tag length is more than
 * available data" (fleetdm/fleet#38579, https://github.com/fleetdm/fleet/issues/38579); jscep-based Android clients
 * and iOS send indefinite lengths and constructed OCTET STRINGs (micromdm/scep#20). Here the same PKCSReq, re-encoded
 * the way iOS/BouncyCastle send it, goes through the proxy (its one-time URL) into a @scep/core upstream over loopback
 * HTTP, as a POST body and as a GET `message`; both are issued and the CertRep reaches the client intact.
 */
import { buildPkcsReq, generateCsr, readCertRep, toBase64 } from "@scep/core";
import { beforeAll, describe, expect, it } from "vitest";
import { CHALLENGE } from "../../core/test/support/adapter-fixture.js";
import { signedDataToBer } from "../../core/test/support/ber.js";
import { coreServerUpstream } from "./support/core-server-upstream.js";
import { customCaProxy, type CustomCaProxy } from "./support/custom-ca-proxy.js";

const upstream = coreServerUpstream();
const BASE = "http://proxy.test/mdm/scep";

describe("RFC 8894 §3, §4.3: a BER PKCSReq through the proxy into a @scep/core upstream (fleetdm/fleet#38579)", () => {
  let px: CustomCaProxy;
  beforeAll(() => {
    px = customCaProxy({ url: upstream.url });
  });

  const cases: [string, (url: string, ber: Uint8Array) => Request][] = [
    ["POST body", (url, ber) => new Request(`${url}?operation=PKIOperation`, { method: "POST", body: ber as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/x-pki-message" } })],
    ["GET message", (url, ber) => new Request(`${url}?operation=PKIOperation&message=${encodeURIComponent(toBase64(ber))}`)],
  ];
  let n = 0;
  for (const [label, send] of cases) {
    it(`${label}: issued by the upstream, the CertRep read back by the client`, async () => {
      const key = { hostId: `host-ber-${++n}`, profileId: "wifi", caName: "core" };
      const url = await px.oneTimeUrl(BASE, key);
      const r = upstream.fx.pki.requesters.rsa;
      const csr = await generateCsr({ keys: r.keys, subject: "CN=requester-rsa, O=scep-sdk tests", challengePassword: CHALLENGE, san: { dns: [`${key.hostId}.example.test`] } });
      const built = await buildPkcsReq({ csr, signer: r.signer, recipient: upstream.fx.pki.ca.certificate, transactionId: `PROXY-BER-${n}` });
      const ber = signedDataToBer(built.der, 200);
      expect(ber[1]).toBe(0x80); // really indefinite-length at the top

      const res = await px.proxy.fetch(send(url, ber));
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/x-pki-message");
      const rep = await readCertRep(new Uint8Array(await res.arrayBuffer()), { request: built, decrypter: r.signer, caCertificates: [upstream.fx.pki.ca.certificate] });
      expect(rep.status).toBe("SUCCESS");
      expect(rep.certificates[0]!.isIssuedBy(upstream.fx.pki.ca.certificate)).toBe(true);
      expect(px.events.at(-1)).toMatchObject({ operation: "PKIOperation", outcome: "forwarded" });
      expect(upstream.fx.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "success", reason: "issued" });
    });
  }
});
