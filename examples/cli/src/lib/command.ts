/**
 * The shape every command module exports.
 *
 * @module
 */
import type { Context } from "./context.js";

/** A `scep` sub-command. */
export interface Command {
  /** The word typed after `scep`. */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Full `--help` text. */
  help: string;
  /** Runs with the arguments after the command name; resolves on success, throws a CliError (or anything) on failure. */
  run(argv: readonly string[], ctx: Context): Promise<void>;
}
