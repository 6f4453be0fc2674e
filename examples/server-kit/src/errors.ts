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
