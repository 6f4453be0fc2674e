/**
 * `scep enroll`: a first enrollment with a challenge password.
 *
 * @module
 */
import { isIP } from "node:net";
import { type LocalKey, createSelfSignedSigner, generateCsr, generateRsaKeyPair, type SanInput } from "@scep/core";
import { COMMON_HELP, COMMON_OPTIONS, parse, required } from "../lib/args.js";
import type { Command } from "../lib/command.js";
import type { Context } from "../lib/context.js";
import { pinOptions } from "../lib/ca-pin.js";
import { CHALLENGE_ENV, CHALLENGE_OPTIONS, challengeHelp, challengeOption } from "../lib/challenge.js";
import { UnansweredError, enrollWithCa } from "../lib/enrollment.js";
import { UsageError } from "../lib/exit.js";
import { enrollSavingKey } from "../lib/pending-key.js";
import { assertWritable, keyPathNextTo, writeOutput } from "../lib/files.js";
import { type GeneratedKey, createKeyPair, isRsa, loadKeyPair } from "../lib/keys.js";
import { reportIssued } from "../lib/report.js";
import { REQUEST_HELP, REQUEST_OPTIONS, requestSettings } from "../lib/request-options.js";

/** RFC 4514 escaping, so a CN with `,` `+` `=` … stays one attribute. */
export function subjectFromCn(cn: string): string {
  let v = cn.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`);
  if (v.startsWith(" ") || v.startsWith("#")) v = `\\${v}`;
  if (v.endsWith(" ") && !v.endsWith("\\ ")) v = `${v.slice(0, -1)}\\ `;
  return `CN=${v}`;
}

const SAN_TYPES = ["dns", "ip", "email", "uri", "upn"] as const;

/** Parses `--san type:value` options into a {@link SanInput}. */
export function parseSans(values: readonly string[]): SanInput | undefined {
  if (values.length === 0) return undefined;
  const san: Record<(typeof SAN_TYPES)[number], string[]> = { dns: [], ip: [], email: [], uri: [], upn: [] };
  for (const entry of values) {
    const colon = entry.indexOf(":");
    const type = entry.slice(0, colon).toLowerCase();
    const value = entry.slice(colon + 1);
    if (colon < 0 || !(SAN_TYPES as readonly string[]).includes(type) || value === "") {
      throw new UsageError(`enroll: --san must be ${SAN_TYPES.map((t) => `${t}:VALUE`).join(", ")}; got "${entry}"`);
    }
    if (type === "ip" && isIP(value) === 0) throw new UsageError(`enroll: --san ip:${value} is not an IPv4 or IPv6 address`);
    san[type as (typeof SAN_TYPES)[number]].push(value);
  }
  return san;
}

const ENROLL_OPTIONS = {
  ...COMMON_OPTIONS,
  ...REQUEST_OPTIONS,
  cn: { type: "string" },
  ...CHALLENGE_OPTIONS,
  san: { type: "string", multiple: true },
  out: { type: "string" },
  key: { type: "string" },
  "key-out": { type: "string" },
} as const;

export const enroll: Command = {
  name: "enroll",
  options: ENROLL_OPTIONS,
  summary: "enroll a new certificate with a challenge password (PKCSReq)",
  help: `Usage: scep enroll --url URL --cn NAME --out cert.pem
                  [--challenge SECRET | --challenge-file F]
                  [--san dns:NAME|ip:ADDR|email:ADDR|uri:URI|upn:NAME]...
                  [--key key.pem | --key-out key.pem] [--key-size BITS]
                  [--cipher …] [--digest …] [--poll-interval S] [--max-poll S]
                  [--post|--get] [--timeout MS] [--ca-identifier TEXT]
                  [--ca-fingerprint sha256:HEX]... [--ca-cert FILE]...

Builds a PKCS#10 request for CN=NAME with the challenge password and SANs,
signs a PKCSReq with a self-signed certificate for the key, sends it, polls
while the CA answers PENDING, and writes the issued certificate as PEM.
Without --key a new RSA key is generated and written (mode 0600) to --key-out,
or next to --out (cert.pem -> cert.key; never over an existing file), once
it is needed: with the issued certificate, as soon as the CA first answers
PENDING (before polling: stderr says how to poll again with it, and says so
again whatever ends the polling: --max-poll, an HTTP error, a FAILURE, Ctrl-C
or SIGTERM), or when the request was sent and no answer came (the
connection closed, a timeout, an HTTP 5xx other than 503: the CA may have
issued; stderr says to run the same command with --key to collect that
certificate), or at Ctrl-C or SIGTERM once the request was sent, before the
CA answered (the CA may hold it; stderr says how to poll). After any other
failure before a PENDING (a 503 or 429 included: the server did not process
it) nothing is left behind: run the same command again. A command printed
to poll shows --challenge as <challenge> and keeps --challenge-file F (read
again then); with ${CHALLENGE_ENV}, keep it set. With an EC --key the
request is signed, and the reply received, with a one-time RSA key (the CA's
reply needs RSA key transport); the certificate is still for --key. Never
give --key the key of a revoked certificate: it may be compromised, and a CA
that knows it was (revocation reason keyCompromise, RFC 5280 §5.3.1) refuses
it; enroll without --key.

Options:
${COMMON_HELP}
  --cn NAME           subject common name (required)
${challengeHelp("challenge password (omit for CAs without one)")}
  --san TYPE:VALUE    subject alternative name; repeatable
  --out FILE          where to write the issued certificate, PEM (required)
  --key FILE          use this private key (PEM: PKCS#1, SEC1 or PKCS#8; RSA or EC)
  --key-out FILE      where to write a generated key (default: next to --out)
${REQUEST_HELP}

Exit codes: 0 issued, 2 FAILURE, 3 still PENDING, 4 HTTP/network error,
5 the CA does not match --ca-fingerprint/--ca-cert, 64 usage error,
66 unreadable --key or --ca-cert, 73 --out or the key file cannot be
written (nothing is sent), 1 anything else.`,
  async run(argv, ctx) {
    const v = parse("enroll", argv, ENROLL_OPTIONS);
    const settings = requestSettings("enroll", v);
    const pin = pinOptions(ctx, "enroll", v);
    const challenge = challengeOption(ctx, "enroll", v);
    const cn = required("enroll", "cn", v.cn);
    const out = required("enroll", "out", v.out);
    assertWritable(ctx, "enroll", "--out", out);
    const san = parseSans(v.san ?? []);
    if (v.key !== undefined && v["key-out"] !== undefined) throw new UsageError("enroll: --key-out only applies when no --key is given");

    const { keys, generated } = await requesterKey(ctx, v.key, v["key-out"] ?? keyPathNextTo(out), settings.keySize);
    const subject = subjectFromCn(cn);
    const csr = await generateCsr({
      keys,
      subject,
      ...(challenge ? { challengePassword: challenge.value } : {}),
      ...(san ? { san } : {}),
      digest: settings.digest === "sha1" || settings.digest === "sha384" || settings.digest === "sha512" ? settings.digest : "sha256",
    });
    const signer = await messageSigner(ctx, keys, subject);
    if (challenge === undefined) ctx.err("note: no --challenge given: the request carries no challenge password");
    const enrollment = { ...settings, csr, signer, pin, challengeSent: challenge !== undefined, ...(challenge ? { challengeFrom: challenge.from } : {}) };
    let issued;
    try {
      if (generated) {
        const poll = (keyPath: string): string => resumeCommand("enroll", argv, keyPath, ctx.program);
        [issued] = await enrollSavingKey(ctx, argv, enrollment, generated, {
          noun: "key",
          how: (keyPath) => `poll again with: ${poll(keyPath)}`,
          instead: (keyPath) => `poll again, run this instead of the same command (which would make a new key, a new request): ${poll(keyPath)}`,
          resend: (keyPath) => `run the same command with --key to collect the certificate it may have issued (not a second one): ${poll(keyPath)}`,
        });
      } else [issued] = await enrollWithCa(ctx, enrollment);
    } catch (error) {
      // Sent, no answer: the CA may have issued for --key; a re-send with it (same transactionID) collects that certificate.
      if (!generated && error instanceof UnansweredError) throw new UnansweredError(`${error.message}; run the same command again with the same --key to collect the certificate it may have issued (not a second one)`);
      throw error;
    }
    const keyPath = generated?.save();
    const certPath = writeOutput(ctx, out, issued!.toPem());
    reportIssued(ctx, issued!, { certificate: certPath, key: keyPath });
  },
};

/**
 * The self-signed certificate that signs the PKIMessage and receives the reply: of the requester's key when it is
 * RSA, else (an EC --key) of a one-time RSA key, since the CA encrypts its reply to that certificate with RSA key
 * transport (RFC 8894 §3.3.2) and an EC key cannot receive it. RFC 8894 §2.3 says the self-signed certificate
 * SHOULD hold the request's key, not MUST; the CSR still proves possession of the EC key with its own signature.
 */
async function messageSigner(ctx: Context, keys: CryptoKeyPair, subject: string): Promise<LocalKey> {
  if (isRsa(keys)) return createSelfSignedSigner({ keys, subject });
  ctx.err("note: --key is not an RSA key: the request is signed, and the reply encrypted, with a one-time RSA key (the CA's reply needs RSA key transport, RFC 8894 §3.3.2); the certificate is for --key");
  return createSelfSignedSigner({ keys: await generateRsaKeyPair(2048), subject });
}

async function requesterKey(ctx: Context, key: string | undefined, keyOut: string, bits: number): Promise<{ keys: CryptoKeyPair; generated?: GeneratedKey }> {
  if (key !== undefined) return { keys: (await loadKeyPair(ctx, key)).keys };
  const generated = await createKeyPair(ctx, "enroll", keyOut, bits);
  return { keys: generated.keys, generated };
}

const SECRET_OPTIONS = new Set(["--challenge"]);

/** Quotes one argument for a POSIX shell when it needs it. */
function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * The same command line with `--key PATH` instead of `--key-out`, and secrets
 * replaced by a placeholder (a challenge never goes to a log), started with
 * `program`: how the user typed the CLI (`pnpm -s scep` in a clone, see
 * `invokedAs`), so it runs as printed.
 */
export function resumeCommand(command: string, argv: readonly string[], keyPath: string, program = "scep"): string {
  return rewriteCommand(program, command, argv, { drop: new Set(["--key-out"]), append: ["--key", keyPath] });
}

/**
 * `program command` and `argv` without the options in `drop` (each with its value) and `dropFlags` (booleans), the
 * challenge replaced by `<challenge>`, then `append`; every argument quoted for a POSIX shell where it needs it.
 */
export function rewriteCommand(
  program: string,
  command: string,
  argv: readonly string[],
  { drop, dropFlags = new Set(), append = [] }: { drop: ReadonlySet<string>; dropFlags?: ReadonlySet<string>; append?: readonly string[] },
): string {
  const out: string[] = [program, command];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [name, inline] = arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), true] : [arg, false];
    if (dropFlags.has(name)) continue;
    if (drop.has(name)) {
      if (!inline) i++;
      continue;
    }
    if (SECRET_OPTIONS.has(name)) {
      if (!inline) i++;
      out.push(name, "<challenge>");
      continue;
    }
    out.push(shellQuote(arg));
  }
  out.push(...append.map(shellQuote));
  return out.join(" ");
}
