/**
 * decodePkiMessage reads the caller's bytes and never writes them: an HTTP
 * body arrives as a Buffer, and the SignerInfo's signed attributes are
 * verified over their SET re-tagging (RFC 5652 §5.4), which must be done on a
 * copy. Before, a Buffer's `slice()` (a view, unlike Uint8Array's) made that
 * re-tagging overwrite the message's [0] IMPLICIT tag with 0x31 in place, so
 * decoding the same Buffer a second time failed.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { buildPkcsReq, decodePkiMessage } from "../src/index.js";
import * as der from "../src/lib/der.js";
import { NOW, createTestPki, type TestPki } from "./support/pki.js";

let pki: TestPki;
beforeAll(async () => {
  pki = await createTestPki();
});

describe("decodePkiMessage leaves its input unchanged (RFC 5652 §5.4 signed attributes re-tagged on a copy)", () => {
  it("a Buffer PKCSReq decodes twice to the same request and keeps every byte", async () => {
    const r = pki.requesters.rsa;
    const built = await buildPkcsReq({ csr: r.csr, signer: r.signer, recipient: pki.ca.certificate, now: NOW });
    const body = Buffer.from(built.der);
    const before = Buffer.from(body);
    const first = await decodePkiMessage(body, { decrypters: pki.ca });
    expect(Buffer.compare(body, before)).toBe(0);
    const second = await decodePkiMessage(body, { decrypters: pki.ca });
    expect(second.transactionId).toBe(first.transactionId);
    expect(second.csr!.der).toEqual(first.csr!.der);
    expect(second.csr!.challengePassword).toBe("s3cret");
  });

  it("der.retag returns a copy for a Buffer as for a Uint8Array (x690 tag replaced, source untouched)", () => {
    const src = Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x05]);
    const out = der.retag(src, der.Tag.SET);
    expect([...out]).toEqual([0x31, 0x03, 0x02, 0x01, 0x05]);
    expect([...src]).toEqual([0xa0, 0x03, 0x02, 0x01, 0x05]);
  });
});
