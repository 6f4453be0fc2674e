/**
 * `scep renew`: a renewal signed by the old certificate.
 *
 * @module
 */
import { Certificate, LocalKey, generateCsr, type SanInput } from "@scep/core";
import { COMMON_HELP, COMMON_OPTIONS, parse, required } from "../lib/args.js";
import type { Command } from "../lib/command.js";
import { enrollWithCa } from "../lib/enrollment.js";
import { CliError, ExitCode, UsageError } from "../lib/exit.js";
import { keyPathNextTo, readInput, writeOutput } from "../lib/files.js";
import { createKeyPair, loadKeyPair } from "../lib/keys.js";
import { reportIssued } from "../lib/report.js";
import { REQUEST_HELP, REQUEST_OPTIONS, requestSettings } from "../lib/request-options.js";

function sansOf(cert: Certificate): SanInput | undefined {
  const { dns, email, ip, uri, upn } = cert.subjectAltNames;
  return dns.length + email.length + ip.length + uri.length + upn.length > 0 ? { dns, email, ip, uri, upn } : undefined;
}

function firstCertificate(pem: string, file: string): Certificate {
  let cert: Certificate | undefined;
  try {
    cert = Certificate.fromPem(pem)[0];
  } catch {
    cert = undefined;
  }
  if (!cert) throw new CliError(`cannot read certificate ${file}: no PEM CERTIFICATE block`, ExitCode.NO_INPUT);
  return cert;
}

export const renew: Command = {
  name: "renew",
  summary: "renew a certificate: a request signed by the old certificate",
  help: `Usage: scep renew --url URL --cert old.pem --key old.key [--out new.pem]
                 [--renewal-req] [--new-key [--key-out new.key]] [--challenge SECRET]
                 [--cipher …] [--digest …] [--poll-interval S] [--max-poll S]
                 [--post|--get] [--timeout MS]

Requests a new certificate with the old certificate's subject and SANs, signed
by the old certificate and its key (how macOS, Cisco, sscep and jscep renew):
a PKCSReq by default, a RenewalReq (messageType 17) with --renewal-req. The
new certificate is for the same key, or with --new-key for a fresh RSA key.
Without --out the new certificate is printed as PEM on stdout.

Options:
${COMMON_HELP}
  --cert FILE         the certificate to renew, PEM (required)
  --key FILE          its private key, PEM (required)
  --out FILE          where to write the new certificate, PEM
  --renewal-req       send RenewalReq instead of PKCSReq
  --new-key           generate a new key for the new certificate
  --key-out FILE      where to write it (default: next to --out)
  --challenge SECRET  challenge password, for CAs that want one on renewal too
${REQUEST_HELP}

Exit codes: 0 issued, 2 FAILURE, 3 still PENDING, 4 HTTP/network error,
64 usage error, 66 unreadable --cert/--key, 1 anything else.`,
  async run(argv, ctx) {
    const v = parse("renew", argv, {
      ...COMMON_OPTIONS,
      ...REQUEST_OPTIONS,
      cert: { type: "string" },
      key: { type: "string" },
      out: { type: "string" },
      "renewal-req": { type: "boolean" },
      "new-key": { type: "boolean" },
      "key-out": { type: "string" },
      challenge: { type: "string" },
    });
    const settings = requestSettings("renew", v);
    const certFile = required("renew", "cert", v.cert);
    const keyFile = required("renew", "key", v.key);
    if (v["key-out"] !== undefined && !v["new-key"]) throw new UsageError("renew: --key-out only applies with --new-key");
    if (v["new-key"] && v.out === undefined && v["key-out"] === undefined) throw new UsageError("renew: --new-key needs --out or --key-out to know where to write the key");

    const certPem = readInput(ctx, certFile, "certificate");
    const old = firstCertificate(certPem, certFile);
    const current = await loadKeyPair(ctx, keyFile);
    let signer: LocalKey;
    try {
      signer = LocalKey.fromPem(old.toPem(), current.pem);
    } catch (error) {
      throw new CliError(`cannot use ${keyFile} with ${certFile}: ${(error as Error).message}`, ExitCode.NO_INPUT);
    }
    const fresh = v["new-key"] ? await createKeyPair(ctx, "renew", v["key-out"] ?? keyPathNextTo(v.out!), settings.keySize) : undefined;
    const san = sansOf(old);
    const csr = await generateCsr({
      keys: fresh?.keys ?? current.keys,
      subject: old.subjectDer,
      ...(v.challenge !== undefined ? { challengePassword: v.challenge } : {}),
      ...(san ? { san } : {}),
    });
    const [issued] = await enrollWithCa(ctx, { ...settings, csr, signer, renewal: v["renewal-req"] ?? false });
    if (v.out === undefined) {
      ctx.out(issued!.toPem().trimEnd());
      return;
    }
    reportIssued(ctx, issued!, { certificate: writeOutput(ctx, v.out, issued!.toPem()), key: fresh?.path });
  },
};
