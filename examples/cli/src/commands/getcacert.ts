/**
 * `scep getcacert`: the CA (and RA) certificates.
 *
 * @module
 */
import { ScepClient, caFingerprint, isCaInSet, selectRecipient, type Certificate } from "@scep/core";
import { COMMON_HELP, COMMON_OPTIONS, caIdentifierOption, parse, timeoutOption, urlOption } from "../lib/args.js";
import { PIN_HELP, PIN_OPTIONS, pinOptions } from "../lib/ca-pin.js";
import type { Command } from "../lib/command.js";
import { assertWritable, fingerprint, pemBundle, writeOutput } from "../lib/files.js";
import { scepFetch } from "../lib/scep-fetch.js";
import { nameText } from "../lib/printable.js";

const GETCACERT_OPTIONS = { ...COMMON_OPTIONS, ...PIN_OPTIONS, out: { type: "string" } } as const;

export const getcacert: Command = {
  name: "getcacert",
  options: GETCACERT_OPTIONS,
  summary: "print the CA/RA certificates (GetCACert); --out writes them as PEM",
  help: `Usage: scep getcacert --url URL [--out ca.pem] [--ca-fingerprint sha256:HEX]...
                     [--ca-cert FILE]... [--timeout MS] [--ca-identifier TEXT]

Sends GetCACert and prints, for each certificate, its subject, role and SHA-256
fingerprint (compare it with the one your CA operator gave you), and which one
requests are encrypted to. With --ca-fingerprint or --ca-cert the set is
checked first: it prints which pinned certificate matched, or exits 5.

Options:
${COMMON_HELP}
  --out FILE          write every certificate, PEM, to FILE
${PIN_HELP}

Exit codes: 0 ok, 4 HTTP/network error, 5 the CA does not match the pin,
64 usage error, 66 unreadable --ca-cert, 73 --out cannot be written
(nothing is sent).`,
  async run(argv, ctx) {
    const v = parse("getcacert", argv, GETCACERT_OPTIONS);
    if (v.out !== undefined) assertWritable(ctx, "getcacert", "--out", v.out);
    const pin = pinOptions(ctx, "getcacert", v);
    const client = new ScepClient({ url: urlOption("getcacert", v.url), timeoutMs: timeoutOption("getcacert", v.timeout), ...caIdentifierOption("getcacert", v["ca-identifier"]), ...pin, fetch: scepFetch });
    const certs = await client.getCaCert();
    const recipient = selectRecipient(certs);
    for (const cert of certs) {
      const role = [isCaInSet(cert, certs) ? "CA" : "RA", ...(cert === recipient ? ["encrypt requests to"] : [])].join(", ");
      ctx.out(`${nameText(cert.subject)} (${role})`);
      ctx.out(`  SHA-256 ${fingerprint(cert)}`);
    }
    for (const line of pinMatches(certs, pin)) ctx.out(line);
    if (v.out !== undefined) ctx.out(`wrote ${certs.length} certificate${certs.length === 1 ? "" : "s"} to ${writeOutput(ctx, v.out, pemBundle(certs))}`);
  },
};

/** One line per CA certificate of the set that matched the pin. */
function pinMatches(certs: readonly Certificate[], pin: { caFingerprints?: readonly string[]; trustedCaCertificates?: readonly Certificate[] }): string[] {
  const out: string[] = [];
  for (const cert of certs) {
    if (!isCaInSet(cert, certs)) continue;
    const fp = caFingerprint(cert);
    if (pin.caFingerprints?.includes(fp)) out.push(`pinned CA matches: ${fp} (${nameText(cert.subject)})`);
    else {
      const by = pin.trustedCaCertificates?.find((t) => t.der.length === cert.der.length && caFingerprint(t) === fp) ?? pin.trustedCaCertificates?.find((t) => cert.isIssuedBy(t));
      if (by) out.push(`pinned CA matches: ${fp} (${nameText(cert.subject)}${caFingerprint(by) === fp ? "" : `, issued by ${nameText(by.subject)} from --ca-cert`})`);
    }
  }
  return out;
}
