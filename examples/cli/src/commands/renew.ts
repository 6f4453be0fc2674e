/**
 * `scep renew`: a renewal signed by the old certificate.
 *
 * @module
 */
import { createPublicKey } from "node:crypto";
import { Certificate, CertificationRequest, LocalKey, generateCsr, type SanInput } from "@scep/core";
import { COMMON_HELP, COMMON_OPTIONS, parse, required } from "../lib/args.js";
import type { Command } from "../lib/command.js";
import { pinOptions } from "../lib/ca-pin.js";
import { CHALLENGE_OPTIONS, challengeHelp, challengeOption } from "../lib/challenge.js";
import { enrollWithCa } from "../lib/enrollment.js";
import { CliError, ExitCode, UsageError } from "../lib/exit.js";
import { enrollSavingKey } from "../lib/pending-key.js";
import { assertWritable, keyPathNextTo, readInput, writeOutput } from "../lib/files.js";
import { createKeyPair, isRsa, loadKeyPair } from "../lib/keys.js";
import { reportIssued } from "../lib/report.js";
import type { Context } from "../lib/context.js";
import { rewriteCommand, subjectFromCn } from "./enroll.js";
import { REQUEST_HELP, REQUEST_OPTIONS, requestSettings } from "../lib/request-options.js";

function sansOf(cert: Certificate): SanInput | undefined {
  const { dns, email, ip, uri, upn } = cert.subjectAltNames;
  return dns.length + email.length + ip.length + uri.length + upn.length > 0 ? { dns, email, ip, uri, upn } : undefined;
}

function readCertificates(pem: string, file: string): Certificate[] {
  try {
    return Certificate.fromPem(pem);
  } catch {
    throw new CliError(`cannot read certificate ${file}: no PEM CERTIFICATE block`, ExitCode.NO_INPUT);
  }
}

/**
 * The certificate to renew: the one in `pem` for the key (a file may hold the
 * chain too, in any order), found by public key, not by position.
 */
function certificateForKey(certs: readonly Certificate[], file: string, keyPem: string, keyFile: string): Certificate {
  const spki = createPublicKey(keyPem).export({ type: "spki", format: "der" });
  const cert = certs.find((c) => Buffer.from(c.spki).equals(spki));
  if (!cert) throw new CliError(`cannot use ${keyFile} with ${file}: no certificate in ${file} is for that key`, ExitCode.NO_INPUT);
  return cert;
}


const RENEW_OPTIONS = {
  ...COMMON_OPTIONS,
  ...REQUEST_OPTIONS,
  cert: { type: "string" },
  key: { type: "string" },
  out: { type: "string" },
  "renewal-req": { type: "boolean" },
  "new-key": { type: "boolean" },
  "key-out": { type: "string" },
  ...CHALLENGE_OPTIONS,
} as const;

export const renew: Command = {
  name: "renew",
  options: RENEW_OPTIONS,
  summary: "renew a certificate: a request signed by the old certificate",
  help: `Usage: scep renew --url URL --cert old.pem --key old.key [--out new.pem]
                 [--renewal-req] [--new-key [--key-out new.key] [--key-size BITS]]
                 [--challenge SECRET | --challenge-file F]
                 [--cipher …] [--digest …]
                 [--poll-interval S] [--max-poll S] [--post|--get] [--timeout MS]
                 [--ca-fingerprint sha256:HEX]... [--ca-cert FILE]...
                 [--ca-identifier TEXT]

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
${challengeHelp("challenge password, for CAs that want one on renewal too")}
${REQUEST_HELP}

A key made with --new-key is written only with the new certificate, when the
CA answers PENDING (the pending request is for it), or when the request was
sent and no answer came, or Ctrl-C or SIGTERM came before it (the CA may
hold the request or have issued for it): then stderr prints the scep enroll
--key command that polls it (running renew again would make another key, a
new request).

A revoked --cert cannot be renewed: enroll anew with --new-key and
--challenge (a PKCSReq, no --renewal-req). Its key must not be certified
again: it may be compromised, and a CA that knows it was (revocation reason
keyCompromise, RFC 5280 §5.3.1) refuses it.

Exit codes: 0 issued, 2 FAILURE, 3 still PENDING, 4 HTTP/network error,
5 the CA does not match --ca-fingerprint/--ca-cert, 64 usage error,
66 unreadable --cert/--key/--ca-cert, 73 --out or the key file cannot be
written (nothing is sent), 1 anything else.`,
  async run(argv, ctx) {
    const v = parse("renew", argv, RENEW_OPTIONS);
    const settings = requestSettings("renew", v);
    const pin = pinOptions(ctx, "renew", v);
    const challenge = challengeOption(ctx, "renew", v);
    const certFile = required("renew", "cert", v.cert);
    const keyFile = required("renew", "key", v.key);
    if (v["key-out"] !== undefined && !v["new-key"]) throw new UsageError("renew: --key-out only applies with --new-key");
    if (v["new-key"] && v.out === undefined && v["key-out"] === undefined) throw new UsageError("renew: --new-key needs --out or --key-out to know where to write the key");

    if (v.out !== undefined) assertWritable(ctx, "renew", "--out", v.out);
    const certs = readCertificates(readInput(ctx, certFile, "certificate"), certFile);
    const current = await loadKeyPair(ctx, keyFile);
    const old = certificateForKey(certs, certFile, current.pem, keyFile);
    if (!isRsa(current.keys)) {
      // A renewal is signed with the certificate being renewed, which also receives the reply: only an RSA key can.
      throw new CliError(
        `cannot renew ${certFile}: its key ${keyFile} is not an RSA key, and a renewal is signed with the certificate being renewed, whose key must receive the CA's reply by RSA key transport (RFC 8894 §3.3.2); enroll anew instead (scep enroll --key ${keyFile} --challenge …)`,
        ExitCode.NO_INPUT,
      );
    }
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
      ...(challenge ? { challengePassword: challenge.value } : {}),
      ...(san ? { san } : {}),
    });
    const enrollment = {
      ...settings,
      csr,
      signer,
      pin,
      challengeSent: challenge !== undefined, ...(challenge ? { challengeFrom: challenge.from } : {}),
      renewing: { certificate: old, file: certFile },
      newKey: fresh !== undefined,
      renewal: v["renewal-req"] ?? false,
    };
    let issued;
    if (fresh) {
      // Running this command again would make yet another key (another transaction): the poll is the enroll command
      // for the saved key, which re-sends this request's key and subject (RFC 8894 §3.3.3).
      const poll = await pollCommand(ctx, argv, csr, old, fresh.keys);
      const how = (keyPath: string): string =>
        poll ? `poll again with: ${poll(keyPath)}` : `poll with a client that re-sends a PKCSReq for that key and subject ${old.subject} (scep enroll sends a CN-only subject)`;
      [issued] = await enrollSavingKey(ctx, argv, enrollment, fresh, {
        noun: "new key",
        how,
        instead: (keyPath) => `${how(keyPath)} (running this renew again would make another key, another request)`,
        stillPending: " (the pending request is for it)",
        // A CA may not keep its answer to a renewal signed by the old certificate for a re-send (the @scep/core server
        // keeps it for a self-signed PKCSReq only): the enroll command may get another certificate for the same key.
        resend: (keyPath) => `the CA may have issued a certificate for it, or hold the request; to get the certificate for this key, ${how(keyPath)}`,
      });
    } else [issued] = await enrollWithCa(ctx, enrollment);
    const freshPath = fresh?.save();
    if (v.out === undefined) {
      ctx.out(issued!.toPem().trimEnd());
      return;
    }
    reportIssued(ctx, issued!, { certificate: writeOutput(ctx, v.out, issued!.toPem()), key: freshPath });
  },
};

/**
 * The `scep enroll` command, for the path `keys` is saved at, that polls the PENDING request a `renew --new-key` run
 * sent for them: a PKCSReq with the same key, subject and SANs, which a CA answers with the transaction's state
 * (RFC 8894 §3.3.3); this command's --cert, --key, --new-key, --key-out and --renewal-req dropped, the challenge a
 * placeholder. Undefined when `scep enroll --cn` cannot make that subject (more than a CN, or the CN in another
 * string type), since a request for another subject would be a new enrollment.
 */
async function pollCommand(ctx: Context, argv: readonly string[], csr: Uint8Array, old: Certificate, keys: CryptoKeyPair): Promise<((keyPath: string) => string) | undefined> {
  const cn = CertificationRequest.from(csr).commonName;
  if (cn === undefined) return undefined;
  const probe = CertificationRequest.from(await generateCsr({ keys, subject: subjectFromCn(cn) }));
  if (!Buffer.from(probe.subjectDer).equals(old.subjectDer)) return undefined;
  const san = sansOf(old);
  const sans = san ? (["dns", "ip", "email", "uri", "upn"] as const).flatMap((t) => (san[t] ?? []).flatMap((v) => ["--san", `${t}:${v}`])) : [];
  const out = argv.some((a) => a === "--out" || a.startsWith("--out=")) ? [] : ["--out", "<new.pem>"];
  return (keyPath) => rewriteCommand(ctx.program ?? "scep", "enroll", argv, {
    drop: new Set(["--cert", "--key", "--key-out"]),
    dropFlags: new Set(["--new-key", "--renewal-req"]),
    append: ["--cn", cn, ...sans, ...out, "--key", keyPath],
  });
}
