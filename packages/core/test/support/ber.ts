/**
 * Re-encodes a DER PKIMessage the way iOS sends it (INTEROP quirk 3): the
 * ContentInfo → SignedData → EncapsulatedContentInfo path with indefinite
 * lengths, and the eContent OCTET STRING as a constructed string of small
 * segments. Signed attributes and certificates keep their DER bytes, so the
 * signature still verifies (the messageDigest is over the joined octets).
 */
import * as der from "../../src/lib/der.js";

const EOC = new Uint8Array([0, 0]);

function indefinite(tag: number, ...body: Uint8Array[]): Uint8Array {
  return der.concat([new Uint8Array([tag, 0x80]), ...body, EOC]);
}

/** A constructed, indefinite-length OCTET STRING of `segment`-byte primitive pieces. */
export function constructedOctets(data: Uint8Array, segment: number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let o = 0; o < data.length; o += segment) parts.push(der.encode(der.octetString(data.subarray(o, o + segment))));
  return indefinite(0x24, ...parts);
}

/** The BER form of a DER ContentInfo(SignedData) with encapsulated content. */
export function signedDataToBer(bytes: Uint8Array, segment = 1000): Uint8Array {
  const [typeT, contentT] = der.children(der.parse(bytes));
  const sd = der.children(der.explicit(contentT!, 0, "content"));
  const [version, digestAlgs, encap, ...rest] = sd;
  const [eType, eContentT] = der.children(encap!);
  const eContent = der.octets(der.explicit(eContentT!, 0, "eContent"));
  const newEncap = indefinite(0x30, der.raw(eType!), indefinite(0xa0, constructedOctets(eContent, segment)));
  const newSd = indefinite(0x30, der.raw(version!), der.raw(digestAlgs!), newEncap, ...rest.map((t) => der.raw(t)));
  return indefinite(0x30, der.raw(typeT!), indefinite(0xa0, newSd));
}
