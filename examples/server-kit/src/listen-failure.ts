// Why a listen failed, in one line a user can act on (shared by the example servers and the example proxy).

/**
 * The one-line reason a listen failed, for the errors a user can fix by
 * configuration (port taken, privileged port, no such address); undefined for
 * anything else.
 */
export function listenFailure(error: unknown, host: string, port: number): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const where = `cannot listen on ${host.includes(":") ? `[${host}]` : host}:${port}`;
  if (code === "EADDRINUSE") return `${where}: the port is already in use (EADDRINUSE); choose another with --port or PORT`;
  if (code === "EACCES") return `${where}: permission denied (EACCES); ports below 1024 need privileges, choose another with --port or PORT`;
  if (code === "EADDRNOTAVAIL") return `${where}: no such local address (EADDRNOTAVAIL); check --host or HOST`;
  return undefined;
}
