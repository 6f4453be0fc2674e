/**
 * `scep getcacaps`: the CA's capabilities, one per line.
 *
 * @module
 */
import { ScepClient } from "@scep/core";
import { COMMON_HELP, COMMON_OPTIONS, parse, timeoutOption, urlOption } from "../lib/args.js";
import type { Command } from "../lib/command.js";
import { scepFetch } from "../lib/scep-fetch.js";

export const getcacaps: Command = {
  name: "getcacaps",
  options: COMMON_OPTIONS,
  summary: "print the CA's capabilities (GetCACaps), one per line",
  help: `Usage: scep getcacaps --url URL [--timeout MS]

Sends GetCACaps and prints the capabilities, one per line, as the CA sent them.

Options:
${COMMON_HELP}`,
  async run(argv, ctx) {
    const v = parse("getcacaps", argv, COMMON_OPTIONS);
    const client = new ScepClient({ url: urlOption("getcacaps", v.url), timeoutMs: timeoutOption("getcacaps", v.timeout), fetch: scepFetch });
    const caps = await client.getCaCaps();
    for (const cap of caps.list) ctx.out(cap);
  },
};
