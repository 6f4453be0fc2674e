// Command-line flags of the example servers (the SCEP servers and the proxy) on node:util parseArgs: `--name -value`
// for a string flag whose value starts with a dash (a static challenge may), and one-line errors.
import { parseArgs, type ParseArgsConfig } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * `--name -value` as `--name=-value` for a string option when `-value` is no option (parseArgs alone refuses it as
 * ambiguous, and its hint is cut off in a one-line error). `--name --other` is left alone: a forgotten value.
 */
export function joinDashValues(argv: readonly string[], options: Options): string[] {
  const shorts = new Set(Object.values(options).flatMap((o) => (o.short ? [`-${o.short}`] : [])));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const name = arg.startsWith("--") && !arg.includes("=") ? arg.slice(2) : undefined;
    if (name !== undefined && Object.hasOwn(options, name) && options[name]!.type === "string" && next !== undefined && /^-[^-]/.test(next) && !shorts.has(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

/**
 * Parses `argv` strictly (no positionals). A parse problem throws an Error whose message is one lower-case line,
 * without parseArgs' explanation of its own syntax.
 */
export function parseFlags(argv: readonly string[], options: Options): Record<string, string | boolean | undefined> {
  try {
    return parseArgs({ args: joinDashValues(argv, options), options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (e) {
    const message = (e as Error).message;
    const ambiguous = /^Option '(--[\w-]+)(?: <value>)?' argument is ambiguous/.exec(message);
    if (ambiguous) throw new Error(`${ambiguous[1]} has no value (for a value that starts with a dash write ${ambiguous[1]}=VALUE)`);
    // node:util's wording ("Unknown option '--x'. To specify a positional…"): its first sentence, lower-case.
    const first = message.split(/\.(\s|$)/)[0] ?? "";
    throw new Error(first.charAt(0).toLowerCase() + first.slice(1));
  }
}
