/**
 * `scep getcrl`: the CRL that covers a certificate (GetCRL, RFC 8894 §3.3.5).
 *
 * @module
 */
import { Certificate, buildGetCrl, toPem } from "@scep/core";
import { COMMON_HELP, COMMON_OPTIONS, caIdentifierOption, parse, required, timeoutOption, urlOption } from "../lib/args.js";
import { PIN_HELP, PIN_OPTIONS, pinOptions } from "../lib/ca-pin.js";
import type { Command } from "../lib/command.js";
import { CliError, ExitCode } from "../lib/exit.js";
import { assertWritable, writeOutput } from "../lib/files.js";
import { checkCrlIssuer } from "../lib/crl-issuer.js";
import { query, readCertificateFile, requesterSigner, SIGNER_HELP } from "../lib/query.js";

const GETCRL_OPTIONS = { ...COMMON_OPTIONS, ...PIN_OPTIONS, cert: { type: "string" }, key: { type: "string" }, out: { type: "string" } } as const;

export const getcrl: Command = {
  name: "getcrl",
  options: GETCRL_OPTIONS,
  summary: "fetch the CRL that covers a certificate of the CA (GetCRL)",
  help: `Usage: scep getcrl --url URL --cert cert.pem [--out crl.der|crl.pem]
                  [--key FILE] [--timeout MS] [--ca-identifier TEXT]
                  [--ca-fingerprint sha256:HEX]... [--ca-cert FILE]...

Asks the CA for the CRL that covers a certificate it issued (GetCRL,
RFC 8894 §3.3.5), named by the certificate's issuer and serial number. The
CRL must be issued by the CA certificate (in GetCACert's reply) that issued
--cert: its issuer name, its authority key identifier where present, and its
signature are checked (RFC 5280 §6.3.3); a name alone is not enough. With
--out the CRL is written as DER, or as PEM when FILE ends in .pem; without
it, printed as PEM.

Options:
${COMMON_HELP}
  --cert FILE         a certificate the CA issued, PEM (required); the first
                      one in FILE
  --out FILE          write the CRL to FILE: PEM for *.pem, else DER
${SIGNER_HELP}
${PIN_HELP}

--cert must be issued by a CA certificate of GetCACert's reply: one of
another CA (even one with the same name) ends with exit 1 before GetCRL is
sent.

Exit codes: 0 ok, 2 FAILURE (badCertId: the CA knows no certificate with
--cert's issuer and serial), 4 HTTP/network error, 5 the CA does not match
--ca-fingerprint/--ca-cert, 64 usage error, 66 unreadable
--cert/--key/--ca-cert, 73 --out cannot be written (nothing is sent),
1 anything else (--cert of another CA: nothing is sent; a CRL that is not
the issuing CA's: nothing is written).`,
  async run(argv, ctx) {
    const v = parse("getcrl", argv, GETCRL_OPTIONS);
    const url = urlOption("getcrl", v.url);
    const timeoutMs = timeoutOption("getcrl", v.timeout);
    const certFile = required("getcrl", "cert", v.cert);
    if (v.out !== undefined) assertWritable(ctx, "getcrl", "--out", v.out);
    const pin = pinOptions(ctx, "getcrl", v);
    const cert = readCertificateFile(ctx, certFile, "certificate", (text) => Certificate.fromPem(text))[0]!;
    const signer = await requesterSigner(ctx, "getcrl", cert, v.key, certFile);
    // badCertId to a GetCRL: the CA knows no certificate by that issuer and serial (--cert is another CA's, or unknown).
    const explain = {
      meaning: (failInfo: string) => (failInfo === "badCertId" ? `the CA knows no certificate of issuer ${cert.issuer} with serial ${cert.serialNumberHex}, so no CRL for it` : undefined),
      hint: (failInfo: string) => (failInfo === "badCertId" ? `is --cert ${certFile} a certificate this CA issued?` : undefined),
    };
    const { rep, caCertificates } = await query({ url, timeoutMs, ...caIdentifierOption("getcrl", v["ca-identifier"]), pin, signer, operation: "GetCRL", explain }, (recipient, caCertificates) => {
      // No CA certificate of GetCACert issued --cert (another CA, perhaps one with the same name, as every example CA
      // has): whatever the CA answers, no CRL of it can be checked against --cert's issuer, so ask nothing.
      if (!caCertificates.some((ca) => cert.isIssuedBy(ca))) {
        throw new CliError(
          `--cert ${certFile} was not issued by this CA (its issuer is ${cert.issuer}, and none of the CA certificates GetCACert returned signed it), so this CA has no CRL for it; nothing was sent: ask the CA that issued it`,
          ExitCode.ERROR,
        );
      }
      return buildGetCrl({ issuer: cert.issuerDer, serialNumber: cert.serialNumber, signer, recipient });
    });
    const crl = rep.crls[0];
    if (!crl) throw new CliError("the CA's SUCCESS reply holds no CRL", ExitCode.ERROR);
    checkCrlIssuer(crl, cert, caCertificates, certFile);
    if (v.out === undefined) {
      ctx.out(toPem("X509 CRL", crl).trimEnd());
      return;
    }
    const asPem = /\.pem$/i.test(v.out);
    const path = asPem ? writeOutput(ctx, v.out, toPem("X509 CRL", crl)) : writeOutput(ctx, v.out, crl);
    ctx.out(`wrote the CRL of ${cert.issuer} (${asPem ? `PEM of ${crl.length} bytes of DER` : `${crl.length} bytes DER`}) to ${path}`);
  },
};
