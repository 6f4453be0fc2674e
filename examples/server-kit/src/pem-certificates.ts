// The CERTIFICATE blocks of an operator's PEM bundle, each parsed: the next CA a server announces through
// GetNextCACert (`--next-ca-cert`) and the example proxy's `ndesAccess.caFile`. Written once so both split a bundle
// the same way and name a damaged certificate the same way.

/** A CERTIFICATE block {@link parsePemCertificates} could not parse: the `index`-th (from 1) of `count`. */
export class UnreadablePemCertificate extends Error {
  override name = "UnreadablePemCertificate";
  /** Which block, counted from 1 in file order. */
  readonly index: number;
  /** How many CERTIFICATE blocks the text holds. */
  readonly count: number;
  constructor(index: number, count: number, options?: ErrorOptions) {
    super(`certificate ${index} of ${count} cannot be parsed`, options);
    this.index = index;
    this.count = count;
  }
}

const BEGIN = "-----BEGIN CERTIFICATE-----";
const END = "-----END CERTIFICATE-----";

/**
 * The `-----BEGIN CERTIFICATE-----` blocks of PEM text (RFC 7468 §5), in file order, each handed to `parse` both
 * decoded (DER) and as written (the block's PEM text, armour included). Text outside the blocks (explanatory lines,
 * other labels) is skipped; a BEGIN with no END after it ends the scan. One pass over the text: an unterminated block
 * costs no rescan.
 *
 * The DER comes from Node's lenient base64 decoder, which skips characters outside the alphabet: a parser that must
 * judge a block as OpenSSL's TLS will (a stray `!`, an extra line) reads the PEM text instead.
 *
 * @param text - PEM text (a file read as UTF-8).
 * @param parse - Reads one certificate from its DER (bytes) or its PEM block (text); throws when it cannot.
 * @returns What `parse` returned for each block; empty when the text holds none (the caller's error to name).
 * @throws UnreadablePemCertificate (its `cause` what `parse` threw) for the first block `parse` refuses.
 *
 * @example
 * ```ts
 * import { X509Certificate } from "node:crypto";
 * const certificates = parsePemCertificates(readFileSync("bundle.pem", "utf8"), (_der, pem) => new X509Certificate(pem));
 * ```
 */
export function parsePemCertificates<T>(text: string, parse: (der: Buffer, pem: string) => T): T[] {
  const blocks: { body: string; pem: string }[] = [];
  for (let begin = text.indexOf(BEGIN); begin >= 0; ) {
    const end = text.indexOf(END, begin + BEGIN.length);
    if (end < 0) break;
    blocks.push({ body: text.slice(begin + BEGIN.length, end), pem: text.slice(begin, end + END.length) });
    begin = text.indexOf(BEGIN, end + END.length);
  }
  return blocks.map(({ body, pem }, i) => {
    try {
      return parse(Buffer.from(body.replace(/\s+/g, ""), "base64"), `${pem}\n`);
    } catch (e) {
      throw new UnreadablePemCertificate(i + 1, blocks.length, { cause: e });
    }
  });
}
