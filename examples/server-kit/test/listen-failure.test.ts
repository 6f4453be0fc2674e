/**
 * listenFailure: every error a listen can raise is one line naming the address and what to check (the example
 * servers print it and exit 2). The errors a loopback machine can produce are real listens; the rest (EACCES
 * needs a privileged port as a non-root user, EAI_AGAIN a DNS that does not answer) are errno-shaped errors as
 * Node raises them.
 */
import { createServer, type Server } from "node:net";
import { describe, expect, it } from "vitest";
import { hostProblem, listenFailure } from "../src/listen-failure.js";

/** The error a real listen on host:port raises (fails the test when it listens). */
async function listenError(host: string, port: number, occupied?: Server): Promise<unknown> {
  const server = createServer();
  try {
    return await new Promise((ok, fail) => server.once("error", ok).listen(port, host, () => fail(new Error(`listened on ${host}:${port}`))));
  } finally {
    server.close();
    occupied?.close();
  }
}

const errno = (code: string, message: string): NodeJS.ErrnoException => Object.assign(new Error(message), { code });

describe("listenFailure: one line for every listen error", () => {
  it("a host name that does not resolve (ENOTFOUND; EAI_AGAIN where no DNS server answers), from a real listen", async () => {
    // .invalid never resolves (RFC 6761 §6.4): a DNS server says so (ENOTFOUND); a machine without one times out (EAI_AGAIN).
    const error = (await listenError("nosuch.invalid", 0)) as NodeJS.ErrnoException;
    expect(["ENOTFOUND", "EAI_AGAIN"]).toContain(error.code);
    expect(listenFailure(error, "nosuch.invalid", 0)).toBe(
      error.code === "ENOTFOUND"
        ? "cannot listen on nosuch.invalid:0: no such host name (ENOTFOUND); check --host or HOST: a local IP address or a name that resolves to one, without a port"
        : "cannot listen on nosuch.invalid:0: the host name could not be resolved now (EAI_AGAIN: the DNS did not answer); check --host or HOST and the DNS, or give an IP address",
    );
  });

  it("an address not on this machine (EADDRNOTAVAIL), from a real listen", async () => {
    expect(listenFailure(await listenError("192.0.2.1", 0), "192.0.2.1", 0)).toBe("cannot listen on 192.0.2.1:0: no such local address (EADDRNOTAVAIL); check --host or HOST");
  });

  it("a port in use (EADDRINUSE), from a real listen, with the admin listener's option names", async () => {
    const occupier = createServer();
    await new Promise<void>((ok) => occupier.listen(0, "127.0.0.1", ok));
    const port = (occupier.address() as { port: number }).port;
    const names = { host: "--admin-listen or SCEP_ADMIN_LISTEN", port: "--admin-listen or SCEP_ADMIN_LISTEN" };
    expect(listenFailure(await listenError("127.0.0.1", port, occupier), "127.0.0.1", port, names)).toBe(
      `cannot listen on 127.0.0.1:${port}: the port is already in use (EADDRINUSE); choose another with --admin-listen or SCEP_ADMIN_LISTEN`,
    );
  });

  it.each([
    ["EACCES", "listen EACCES: permission denied 0.0.0.0:80", "0.0.0.0", 80, "cannot listen on 0.0.0.0:80: permission denied (EACCES); ports below 1024 need privileges, choose another with --port or PORT"],
    ["EAI_AGAIN", "getaddrinfo EAI_AGAIN scep.example", "scep.example", 8080, "cannot listen on scep.example:8080: the host name could not be resolved now (EAI_AGAIN: the DNS did not answer); check --host or HOST and the DNS, or give an IP address"],
    ["EINVAL", "listen EINVAL: invalid argument", "::1", 8080, "cannot listen on [::1]:8080: the address is not valid for listening (EINVAL); check --host or HOST and --port or PORT"],
    ["EAFNOSUPPORT", "listen EAFNOSUPPORT: address family not supported ::1:8080", "::1", 8080, "cannot listen on [::1]:8080: this address family is not supported here (EAFNOSUPPORT: IPv6 disabled?); check --host or HOST"],
    ["EMFILE", "listen EMFILE: too many open files\n    at stack", "127.0.0.1", 8080, "cannot listen on 127.0.0.1:8080: listen EMFILE: too many open files; check --host or HOST and --port or PORT"],
  ])("%s", (code, message, host, port, line) => {
    expect(listenFailure(errno(code, message), host, port)).toBe(line);
  });

  it("an error with an unknown code and no message, or no error object at all", () => {
    expect(listenFailure(errno("EWHATEVER", ""), "127.0.0.1", 1)).toBe("cannot listen on 127.0.0.1:1: EWHATEVER; check --host or HOST and --port or PORT");
    expect(listenFailure(new RangeError("Port should be >= 0 and < 65536. Received 70000."), "127.0.0.1", 70000)).toBe(
      "cannot listen on 127.0.0.1:70000: Port should be >= 0 and < 65536. Received 70000.; check --host or HOST and --port or PORT",
    );
    expect(listenFailure(undefined, "127.0.0.1", 1)).toBe("cannot listen on 127.0.0.1:1: unknown error; check --host or HOST and --port or PORT");
  });
});

describe("hostProblem: a host to listen on is checked before the listen", () => {
  it.each(["127.0.0.1", "0.0.0.0", "::", "::1", "fe80::1%lo", "localhost", "scep.example"])("%s passes", (host) => {
    expect(hostProblem(host)).toBeUndefined();
  });

  it.each([
    ["localhost:8080", 'takes an address or host name without a port (e.g. 127.0.0.1, localhost or ::1; the port is --port), got "localhost:8080"'],
    ["127.0.0.1:80", 'takes an address or host name without a port (e.g. 127.0.0.1, localhost or ::1; the port is --port), got "127.0.0.1:80"'],
    ["[::1]", 'takes an IPv6 address without brackets (::1), got "[::1]"'],
    ["[::1]:8080", 'takes an address or host name without a port (e.g. 127.0.0.1, localhost or ::1; the port is --port), got "[::1]:8080"'],
    ["", "must not be empty"],
  ])("%j is refused", (host, problem) => {
    expect(hostProblem(host)).toBe(problem);
  });
});
