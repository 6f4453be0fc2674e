// The example servers' configuration error, shared by flags/environment (config.ts) and the configuration file (config-file.ts).

/** A configuration mistake: the message says which setting and why. */
export class ConfigError extends Error {
  override name = "ConfigError";
  /** Whether "run with --help" would help (false when the message already says what to do). */
  readonly showUsage: boolean;
  constructor(message: string, options: { showUsage?: boolean } = {}) {
    super(message);
    this.showUsage = options.showUsage ?? true;
  }
}

/**
 * Names the configuration file in front of a {@link ConfigError} about one of its profiles (`profiles[2].…`), so every
 * error line about the file starts with its path, as the file's own schema errors do. Other errors are returned as
 * they are, and so is a message that already names the file.
 */
export function inConfigFile(e: unknown, file: string | undefined): unknown {
  if (file === undefined || !(e instanceof ConfigError) || !e.message.startsWith("profiles[")) return e;
  return new ConfigError(`${file}: ${e.message}`, { showUsage: e.showUsage });
}
