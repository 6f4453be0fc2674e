// Why a listen failed, in one line a user can act on (shared by the example servers and the example proxy).
import { isIP } from "node:net";

/** The options a user sets the address with, named in the lines below (default: `--host or HOST`, `--port or PORT`). */
export interface ListenOptionNames {
  /** Where the host comes from, e.g. `--host or HOST`. */
  host: string;
  /** Where the port comes from, e.g. `--port or PORT`. */
  port: string;
}

const DEFAULT_NAMES: ListenOptionNames = { host: "--host or HOST", port: "--port or PORT" };

/**
 * The one-line reason a listen failed, naming the address and what to check, for every error a listen can raise:
 * the ones a user fixes by configuration (port taken, privileged port, no such local address, a host name that does
 * not resolve, an invalid address) have their own words; any other error is its code and first message line, with
 * the options to check. Never more than one line, never a stack.
 */
export function listenFailure(error: unknown, host: string, port: number, names: ListenOptionNames = DEFAULT_NAMES): string {
  const e = error as (NodeJS.ErrnoException & { message?: unknown }) | undefined;
  const code = typeof e?.code === "string" ? e.code : undefined;
  const where = `cannot listen on ${host.includes(":") ? `[${host}]` : host}:${port}`;
  switch (code) {
    case "EADDRINUSE":
      return `${where}: the port is already in use (EADDRINUSE); choose another with ${names.port}`;
    case "EACCES":
      return `${where}: permission denied (EACCES); ports below 1024 need privileges, choose another with ${names.port}`;
    case "EADDRNOTAVAIL":
      return `${where}: no such local address (EADDRNOTAVAIL); check ${names.host}`;
    case "ENOTFOUND":
      return `${where}: no such host name (ENOTFOUND); check ${names.host}: a local IP address or a name that resolves to one, without a port`;
    case "EAI_AGAIN":
      return `${where}: the host name could not be resolved now (EAI_AGAIN: the DNS did not answer); check ${names.host} and the DNS, or give an IP address`;
    case "EINVAL":
      return `${where}: the address is not valid for listening (EINVAL); check ${names.host} and ${names.port}`;
    case "EAFNOSUPPORT":
      return `${where}: this address family is not supported here (EAFNOSUPPORT: IPv6 disabled?); check ${names.host}`;
  }
  const first = typeof e?.message === "string" ? e.message.split("\n", 1)[0]!.trim() : "";
  const what = first || (code ?? "unknown error");
  return `${where}: ${what}${code && !what.includes(code) ? ` (${code})` : ""}; check ${names.host} and ${names.port}`;
}

/**
 * Why `value` cannot be a host to listen on, or undefined when it can: a host with a port (`localhost:8080`), a
 * bracketed IPv6 address (`[::1]`) or other text with `:` that is no IPv6 address. Names and IPv4 addresses pass
 * (resolving them is the listen's job, {@link listenFailure} words its errors).
 */
export function hostProblem(value: string): string | undefined {
  if (value.trim() === "") return "must not be empty";
  if (/^\[.*\]$/.test(value) && isIP(value.slice(1, -1)) === 6) return `takes an IPv6 address without brackets (${value.slice(1, -1)}), got ${JSON.stringify(value)}`;
  if (value.includes(":") && isIP(value) !== 6) return `takes an address or host name without a port (e.g. 127.0.0.1, localhost or ::1; the port is --port), got ${JSON.stringify(value)}`;
  return undefined;
}
