/**
 * RFC 8894 §3.2.1.4.5 failInfoText: a FAILURE's reason for a human, id-scep-failInfoText (1.3.6.1.5.5.7.24.1, a
 * UTF8String). Smallstep step-ca 0.19 sends it under the arc id-scep itself (1.3.6.1.5.5.7.24); the client read
 * nothing there and the CA's reason ("wrong password provided") never reached the caller. The vector is a real
 * step-ca FAILURE CertRep (test/vectors/README.md, step-ca/).
 */
import { describe, expect, it } from "vitest";
import { Certificate, readCertRep } from "../src/index.js";
import * as der from "../src/lib/der.js";
import * as oids from "../src/oids.js";
import { readScepAttributesOf } from "../src/message/attributes.js";
import { vector, vectorText } from "./support/vectors.js";

const STEP_CA_TID = "42B69B02F1469BB7DD072DDA312FA9FEBE206A4C6F37280014FB40D062218E78";
const STEP_CA_NONCE = Uint8Array.from(Buffer.from("6c6fdb8b8561e582de2b49c07e610a76", "hex"));

describe("RFC 8894 §3.2.1.4.5 failInfoText", () => {
  it("step-ca 0.19's FAILURE badRequest: its text under id-scep (1.3.6.1.5.5.7.24) is read, the signature verified by its intermediate", async () => {
    const rep = await readCertRep(vector("step-ca/certrep-failure-badrequest.step-ca.der"), {
      caCertificates: [Certificate.from(vectorText("step-ca/intermediate.pem"))],
      request: { transactionId: STEP_CA_TID, senderNonce: STEP_CA_NONCE },
    });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "wrong password provided", transactionId: STEP_CA_TID });
    expect(rep.signerCertificate.subject).toBe("O=scep-sdk interop, CN=step-ca Interop Intermediate CA");
  });

  const attrs = (extra: [string, der.Der[]][]): Map<string, der.Tlv[]> =>
    new Map<string, der.Tlv[]>([
      [oids.id_messageType, [der.parse(der.encode(der.printable("3")))]],
      [oids.id_senderNonce, [der.parse(der.encode(der.tlv(der.Tag.OCTET_STRING, new Uint8Array(16))))]],
      [oids.id_pkiStatus, [der.parse(der.encode(der.printable("2")))]],
      [oids.id_failInfo, [der.parse(der.encode(der.printable("2")))]],
      ...extra.map(([oid, values]): [string, der.Tlv[]] => [oid, values.map((v) => der.parse(der.encode(v)))]),
    ]);

  it("id-scep-failInfoText wins over id-scep when both are present", () => {
    const a = readScepAttributesOf(attrs([[oids.id_scep_failInfoText, [der.printable("the real one")]], [oids.id_scep, [der.printable("the arc")]]]), "T");
    expect(a.failInfoText).toBe("the real one");
  });

  it("anything but one string under id-scep is ignored, never a reason to refuse the reply", () => {
    expect(readScepAttributesOf(attrs([[oids.id_scep, [der.int(5)]]]), "T").failInfoText).toBeUndefined();
    expect(readScepAttributesOf(attrs([[oids.id_scep, [der.printable("a"), der.printable("b")]]]), "T").failInfoText).toBeUndefined();
    expect(readScepAttributesOf(attrs([]), "T")).toMatchObject({ failInfo: "badRequest", pkiStatus: "2" });
  });
});
