/**
 * decodePkiMessage reads the caller's bytes and never writes them: an HTTP
 * body arrives as a Buffer, and the SignerInfo's signed attributes are
 * verified over their SET re-tagging (RFC 5652 §5.4), which must be done on a
 * copy. Before, a Buffer's `slice()` (a view, unlike Uint8Array's) made that
 * re-tagging overwrite the message's [0] IMPLICIT tag with 0x31 in place, so
 * decoding the same Buffer a second time failed. The copy is now written into
 * a buffer reused from call to call (`der.withRetagged`), held here to leave
 * the source alone, to be zeroed after, and to give a nested call bytes of
 * its own.
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

  it("der.withRetagged hands over a re-tagged copy for a Buffer as for a Uint8Array (source untouched, copy zeroed after)", () => {
    for (const src of [Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x05]), new Uint8Array([0xa0, 0x03, 0x02, 0x01, 0x05])]) {
      let seen: Uint8Array | undefined;
      const read = der.withRetagged(src, der.Tag.SET, (bytes) => {
        seen = bytes;
        return [...bytes];
      });
      expect(read).toEqual([0x31, 0x03, 0x02, 0x01, 0x05]);
      expect([...src]).toEqual([0xa0, 0x03, 0x02, 0x01, 0x05]);
      expect([...seen!]).toEqual([0, 0, 0, 0, 0]); // nothing of one message left in the reused buffer for the next
    }
  });

  it("a nested der.withRetagged / der.withEncoding gets bytes of its own, and the outer bytes stay as they were", () => {
    const outer = new Uint8Array([0xa0, 0x03, 0x02, 0x01, 0x07]);
    const inner = der.seq(der.int(9));
    const got = der.withRetagged(outer, der.Tag.SET, (o) => {
      const before = [...o];
      const nested = der.withEncoding(inner, (i) => [...i]);
      return { before, nested, after: [...o] };
    });
    expect(got.before).toEqual([0x31, 0x03, 0x02, 0x01, 0x07]);
    expect(got.nested).toEqual([0x30, 0x03, 0x02, 0x01, 0x09]);
    expect(got.after).toEqual(got.before);
  });
});
