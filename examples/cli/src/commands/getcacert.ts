/**
 * `scep getcacert`: the CA (and RA) certificates.
 *
 * @module
 */
import { ScepClient, selectRecipient } from "@scep/core";
import { COMMON_HELP, COMMON_OPTIONS, parse, timeoutOption, urlOption } from "../lib/args.js";
import type { Command } from "../lib/command.js";
import { fingerprint, pemBundle, writeOutput } from "../lib/files.js";

export const getcacert: Command = {
  name: "getcacert",
  summary: "print the CA/RA certificates (GetCACert); --out writes them as PEM",
  help: `Usage: scep getcacert --url URL [--out ca.pem] [--timeout MS]

Sends GetCACert and prints, for each certificate, its subject and SHA-256
fingerprint (compare it with the one your CA operator gave you), and which one
requests are encrypted to.

Options:
${COMMON_HELP}
  --out FILE          write every certificate, PEM, to FILE`,
  async run(argv, ctx) {
    const v = parse("getcacert", argv, { ...COMMON_OPTIONS, out: { type: "string" } });
    const client = new ScepClient({ url: urlOption("getcacert", v.url), timeoutMs: timeoutOption("getcacert", v.timeout) });
    const certs = await client.getCaCert();
    const recipient = selectRecipient(certs);
    for (const cert of certs) {
      const role = [cert.isCa ? "CA" : "RA", ...(cert === recipient ? ["encrypt requests to"] : [])].join(", ");
      ctx.out(`${cert.subject} (${role})`);
      ctx.out(`  SHA-256 ${fingerprint(cert)}`);
    }
    if (v.out !== undefined) ctx.out(`wrote ${certs.length} certificate${certs.length === 1 ? "" : "s"} to ${writeOutput(ctx, v.out, pemBundle(certs))}`);
  },
};
