/**
 * `scep enroll`: a first enrollment with a challenge password.
 *
 * @module
 */
import { isIP } from "node:net";
import { createSelfSignedSigner, generateCsr, type SanInput } from "@scep/core";
import { COMMON_HELP, COMMON_OPTIONS, parse, required } from "../lib/args.js";
import type { Command } from "../lib/command.js";
import type { Context } from "../lib/context.js";
import { enrollWithCa } from "../lib/enrollment.js";
import { UsageError } from "../lib/exit.js";
import { keyPathNextTo, writeOutput } from "../lib/files.js";
import { createKeyPair, loadKeyPair } from "../lib/keys.js";
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

export const enroll: Command = {
  name: "enroll",
  summary: "enroll a new certificate with a challenge password (PKCSReq)",
  help: `Usage: scep enroll --url URL --cn NAME --out cert.pem [--challenge SECRET]
                  [--san dns:NAME|ip:ADDR|email:ADDR|uri:URI|upn:NAME]...
                  [--key key.pem | --key-out key.pem] [--cipher …] [--digest …]
                  [--poll-interval S] [--max-poll S] [--post|--get] [--timeout MS]

Builds a PKCS#10 request for CN=NAME with the challenge password and SANs,
signs a PKCSReq with a self-signed certificate for the key, sends it, polls
while the CA answers PENDING, and writes the issued certificate as PEM.
Without --key a new RSA key is generated and written (mode 0600) to --key-out,
or next to --out (cert.pem -> cert.key) before the request is sent.

Options:
${COMMON_HELP}
  --cn NAME           subject common name (required)
  --challenge SECRET  challenge password (omit for CAs without one)
  --san TYPE:VALUE    subject alternative name; repeatable
  --out FILE          where to write the issued certificate, PEM (required)
  --key FILE          use this private key (PEM: PKCS#1, SEC1 or PKCS#8)
  --key-out FILE      where to write a generated key (default: next to --out)
${REQUEST_HELP}

Exit codes: 0 issued, 2 FAILURE, 3 still PENDING, 4 HTTP/network error,
64 usage error, 66 unreadable --key, 1 anything else.`,
  async run(argv, ctx) {
    const v = parse("enroll", argv, {
      ...COMMON_OPTIONS,
      ...REQUEST_OPTIONS,
      cn: { type: "string" },
      challenge: { type: "string" },
      san: { type: "string", multiple: true },
      out: { type: "string" },
      key: { type: "string" },
      "key-out": { type: "string" },
    });
    const settings = requestSettings("enroll", v);
    const cn = required("enroll", "cn", v.cn);
    const out = required("enroll", "out", v.out);
    const san = parseSans(v.san ?? []);
    if (v.key !== undefined && v["key-out"] !== undefined) throw new UsageError("enroll: --key-out only applies when no --key is given");

    const { keys, keyPath } = await requesterKey(ctx, v.key, v["key-out"] ?? keyPathNextTo(out), settings.keySize);
    const subject = subjectFromCn(cn);
    const csr = await generateCsr({
      keys,
      subject,
      ...(v.challenge !== undefined ? { challengePassword: v.challenge } : {}),
      ...(san ? { san } : {}),
      digest: settings.digest === "sha1" || settings.digest === "sha384" || settings.digest === "sha512" ? settings.digest : "sha256",
    });
    const signer = await createSelfSignedSigner({ keys, subject });
    const [issued] = await enrollWithCa(ctx, { ...settings, csr, signer });
    const certPath = writeOutput(ctx, out, issued!.toPem());
    reportIssued(ctx, issued!, { certificate: certPath, key: keyPath });
  },
};

async function requesterKey(ctx: Context, key: string | undefined, keyOut: string, bits: number): Promise<{ keys: CryptoKeyPair; keyPath?: string }> {
  if (key !== undefined) return { keys: (await loadKeyPair(ctx, key)).keys };
  const created = await createKeyPair(ctx, "enroll", keyOut, bits);
  return { keys: created.keys, keyPath: created.path };
}
