/**
 * The shape every command module exports.
 *
 * @module
 */
import type { ParseArgsConfig } from "node:util";
import type { Context } from "./context.js";

/** A `scep` sub-command. */
export interface Command {
  /** The word typed after `scep`. */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Full `--help` text: its usage lines and its Options section name every entry of {@link Command.options}. */
  help: string;
  /** The options `run` parses (parseArgs' table): the one list the help is checked against. */
  options: NonNullable<ParseArgsConfig["options"]>;
  /** Runs with the arguments after the command name; resolves on success, throws a CliError (or anything) on failure. */
  run(argv: readonly string[], ctx: Context): Promise<void>;
}
