/**
 * `scep getcacaps`: the CA's capabilities, one per line.
 *
 * @module
 */
import { ScepClient } from "@scep/core";
import { COMMON_HELP, COMMON_OPTIONS, caIdentifierOption, parse, timeoutOption, urlOption } from "../lib/args.js";
import type { Command } from "../lib/command.js";
import { scepFetch } from "../lib/scep-fetch.js";
import { CHECK_PATH, CliError, ExitCode } from "../lib/exit.js";
import { printable } from "../lib/printable.js";

/** RFC 8894 §3.5.2's capabilities, and the older ones CAs still send (draft-nourse-scep's Update, SHA-224…). */
const KNOWN_CAPS = new Set(["aes", "des3", "getnextcacert", "postpkioperation", "renewal", "sha-1", "sha-224", "sha-256", "sha-384", "sha-512", "scepstandard", "update"]);

export const getcacaps: Command = {
  name: "getcacaps",
  options: COMMON_OPTIONS,
  summary: "print the CA's capabilities (GetCACaps), one per line",
  help: `Usage: scep getcacaps --url URL [--timeout MS] [--ca-identifier TEXT]

Sends GetCACaps and prints the capabilities, one per line, as the CA sent them
(control and non-ASCII characters escaped, each cut at 200 characters).

Options:
${COMMON_HELP}`,
  async run(argv, ctx) {
    const v = parse("getcacaps", argv, COMMON_OPTIONS);
    const client = new ScepClient({ url: urlOption("getcacaps", v.url), timeoutMs: timeoutOption("getcacaps", v.timeout), ...caIdentifierOption("getcacaps", v["ca-identifier"]), fetch: scepFetch });
    const caps = await client.getCaCaps();
    // A text/plain 200 with no SCEP capability at all (a health check's "ok") is some other endpoint; an empty list
    // is a CA with no capabilities (RFC 8894 §3.5.2), and one known keyword is enough.
    if (caps.list.length > 0 && !caps.list.some((cap) => KNOWN_CAPS.has(cap.toLowerCase()))) {
      throw new CliError(`GetCACaps: the reply "${printable(caps.list.join(" "), 40)}" names no SCEP capability: ${CHECK_PATH}`, ExitCode.TRANSPORT);
    }
    for (const cap of caps.list) ctx.out(printable(cap, 200));
  },
};
