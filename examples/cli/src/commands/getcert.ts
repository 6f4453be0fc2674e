/**
 * `scep getcert`: a certificate the CA issued, by issuer and serial (GetCert, RFC 8894 §3.3.4).
 *
 * @module
 */
import { Certificate, buildGetCert, formatName, normalizeSerialNumber, sameName, selectIssuerName, serialNumberOctets } from "@scep/core";
import { COMMON_HELP, COMMON_OPTIONS, caIdentifierOption, parse, required, timeoutOption, urlOption } from "../lib/args.js";
import { PIN_HELP, PIN_OPTIONS, pinOptions } from "../lib/ca-pin.js";
import type { Command } from "../lib/command.js";
import { CliError, ExitCode, UsageError } from "../lib/exit.js";
import { assertWritable, writeOutput } from "../lib/files.js";
import { query, readCertificateFile, requesterSigner, SIGNER_HELP } from "../lib/query.js";
import { reportIssued } from "../lib/report.js";

const GETCERT_OPTIONS = {
  ...COMMON_OPTIONS,
  ...PIN_OPTIONS,
  serial: { type: "string" },
  "issuer-cert": { type: "string" },
  key: { type: "string" },
  cert: { type: "string" },
  out: { type: "string" },
} as const;

/**
 * `--serial` in any hex spelling (`0A:1B`, `00ff01`, `FF01`; `-7FFF` for a negative serial), also with the `serial=`
 * that `openssl x509 -serial` prints before it (its whole line pasted), as the INTEGER's DER content octets, and its
 * canonical spelling.
 */
function serialOption(value: string): { octets: Uint8Array; canonical: string; given: string } {
  const given = value.trim().replace(/^serial\s*=\s*/i, "");
  try {
    return { octets: serialNumberOctets(given), canonical: normalizeSerialNumber(given), given };
  } catch {
    throw new UsageError(`getcert: --serial must be the serial number in hex (colons allowed, at most 20 octets, -7FFF for a negative one), got "${value}"`);
  }
}

/** The serial as the user wrote it, and how the CA spells it when that differs in more than case and colons. */
function serialAsGiven(given: string, canonical: string): string {
  return given.replace(/[:\s]/g, "").toLowerCase() === canonical ? given : `${given} (${canonical})`;
}

/** Whether a certificate's serial (content octets) is the INTEGER `canonical` names; an over-long one is none. */
function sameSerial(content: Uint8Array, canonical: string): boolean {
  try {
    return normalizeSerialNumber(content) === canonical;
  } catch {
    return false;
  }
}

export const getcert: Command = {
  name: "getcert",
  options: GETCERT_OPTIONS,
  summary: "fetch a certificate the CA issued, by serial number (GetCert)",
  help: `Usage: scep getcert --url URL --serial HEX [--issuer-cert ca.pem] [--out cert.pem]
                   [--key FILE --cert FILE] [--timeout MS] [--ca-identifier TEXT]
                   [--ca-fingerprint sha256:HEX]... [--ca-cert FILE]...

Asks the CA for the certificate it issued with this serial number (GetCert,
RFC 8894 §3.3.4) and prints it as PEM, or writes it to --out. The issuer is
the CA from GetCACert unless --issuer-cert names another.

Options:
${COMMON_HELP}
  --serial HEX        the serial number, hex in any spelling: 0A:1B:2C,
                      0a1b2c, with or without leading zeros, or the line
                      openssl x509 -serial -noout prints (serial=0A1B2C;
                      serial=-7FFF for a negative serial) (required)
  --issuer-cert FILE  the issuing CA's certificate, PEM (default: the CA from
                      GetCACert)
  --out FILE          write the certificate, PEM, to FILE
${SIGNER_HELP}
  --cert FILE         the certificate of --key, PEM
${PIN_HELP}

Exit codes: 0 found, 2 FAILURE (badCertId: the CA has no such certificate),
4 HTTP/network error, 5 the CA does not match --ca-fingerprint/--ca-cert,
64 usage error, 66 unreadable --issuer-cert/--key/--cert/--ca-cert,
73 --out cannot be written (nothing is sent), 1 anything else.`,
  async run(argv, ctx) {
    const v = parse("getcert", argv, GETCERT_OPTIONS);
    const url = urlOption("getcert", v.url);
    const timeoutMs = timeoutOption("getcert", v.timeout);
    const { octets: serialNumber, canonical: wanted, given: serialText } = serialOption(required("getcert", "serial", v.serial));
    if (v.cert !== undefined && v.key === undefined) throw new UsageError("getcert: --cert needs --key (the key that signs the request)");
    if (v.out !== undefined) assertWritable(ctx, "getcert", "--out", v.out);
    const pin = pinOptions(ctx, "getcert", v);
    const issuerCert = v["issuer-cert"] === undefined ? undefined : readCertificateFile(ctx, v["issuer-cert"], "issuer certificate", (pem) => Certificate.fromPem(pem))[0]!;
    const own = v.cert === undefined ? undefined : readCertificateFile(ctx, v.cert, "certificate", (pem) => Certificate.fromPem(pem))[0]!;
    const signer = await requesterSigner(ctx, "getcert", own, v.key, v.cert);
    let issuer: Uint8Array | undefined;
    // badCertId: name what was asked (the serial as written, the issuer chosen), as getcrl does.
    const explain = {
      meaning: (failInfo: string) => (failInfo === "badCertId" ? `the CA has no certificate of issuer ${formatName(issuer!)} with serial ${serialAsGiven(serialText, wanted)}` : undefined),
      hint: (failInfo: string) => (failInfo === "badCertId" ? (issuerCert ? "check --serial and --issuer-cert" : "check --serial, and give --issuer-cert when the CA has more than one issuer") : undefined),
    };
    const { rep } = await query({ url, timeoutMs, ...caIdentifierOption("getcert", v["ca-identifier"]), pin, signer, operation: "GetCert", explain }, (recipient, caCertificates) => {
      issuer = issuerCert?.subjectDer ?? selectIssuerName(caCertificates);
      return buildGetCert({ issuer, serialNumber, signer, recipient });
    });
    const found = rep.certificates.find((c) => sameSerial(c.serialNumber, wanted) && sameName(c.issuerDer, issuer!));
    if (!found) {
      const sent = rep.certificates.length === 1 ? "the 1 certificate" : `the ${rep.certificates.length} certificates`;
      throw new CliError(`the CA answered SUCCESS for serial ${serialAsGiven(serialText, wanted)}, but none of ${sent} it sent has that serial and issuer`, ExitCode.ERROR);
    }
    if (v.out === undefined) {
      ctx.out(found.toPem().trimEnd());
      return;
    }
    reportIssued(ctx, found, { certificate: writeOutput(ctx, v.out, found.toPem()) });
  },
};
