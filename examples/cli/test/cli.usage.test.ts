/**
 * The command line itself, in-process: help, usage errors (exit 64),
 * unreadable inputs (exit 66), and where relative paths resolve. No network.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { createSelfSignedSigner, importKeyPairPem } from "@scep/core";
import { COMMANDS } from "../src/run.js";
import { invocationDir } from "../src/lib/context.js";
import { cliVersion } from "../src/lib/version.js";
import { parseSans, subjectFromCn } from "../src/commands/enroll.js";
import { parse } from "../src/lib/args.js";
import { runInProcess } from "./support/in-process.js";

const dir = mkdtempSync(join(tmpdir(), "scep-cli-usage-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const { code, out, err } = await runInProcess(argv, dir);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const URL = "http://127.0.0.1:9/scep"; // never contacted: every case fails before the network

describe("help", () => {
  it("prints the command list on --help (exit 0) and on no arguments (stderr, exit 64)", async () => {
    const help = await run("--help");
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: scep <command> \[options\]/);
    for (const name of ["getcacaps", "getcacert", "enroll", "renew", "getcert", "getcrl"]) expect(help.out).toContain(`  ${name} `);
    const none = await run();
    expect(none.code).toBe(64);
    expect(none.err).toBe(help.out);
  });

  it.each(["getcacaps", "getcacert", "enroll", "renew", "getcert", "getcrl"])("%s --help prints its own usage and exits 0", async (name) => {
    const r = await run(name, "--help");
    expect(r.code).toBe(0);
    expect(r.out.startsWith(`Usage: scep ${name} --url URL`)).toBe(true);
    expect(r.out).toContain("--timeout MS");
    expect((await run("help", name)).out).toBe(r.out);
  });
});

describe("each command's help against the options it parses", () => {
  const flags = (text: string): string[] => [...new Set([...text.matchAll(/(?<![\w-])--([a-z][a-z-]*)/g)].map((m) => m[1]!))].sort();
  it.each(COMMANDS.map((c) => [c.name, c] as const))("%s: the usage lines and the Options section name exactly the options it takes", (_, command) => {
    const usage = command.help.slice(0, command.help.indexOf("\n\n"));
    const options = command.help.slice(command.help.indexOf("\nOptions:\n")).split("\n\n")[0]!;
    const taken = Object.keys(command.options).sort();
    expect(flags(usage)).toEqual(taken.filter((name) => name !== "help"));
    // Each option starts a line of the Options section (-h, --help included); no line names an option it does not take.
    const terms = options.split("\n").filter((l) => /^ {2}(?:-\w, )?--/.test(l)).map((l) => l.trim().split(/ {2,}/)[0]!);
    const described = terms.flatMap(flags);
    expect([...new Set(described)].sort()).toEqual(taken);
    expect(flags(options).filter((name) => !taken.includes(name))).toEqual([]);
  });
});

describe("--version (issue 7 §14)", () => {
  it("reads the nearest package.json above the module, from src/lib or from a bundled dist/", () => {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new globalThis.URL("../package.json", import.meta.url)), "utf8")) as { version: string };
    expect(cliVersion(fileURLToPath(new globalThis.URL("../src/lib/version.ts", import.meta.url)))).toBe(pkg.version);
    expect(cliVersion(fileURLToPath(new globalThis.URL("../dist/scep.js", import.meta.url)))).toBe(pkg.version);
  });

  it.each(["--version", "-v"])("%s prints the package.json version and exits 0", async (flag) => {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new globalThis.URL("../package.json", import.meta.url)), "utf8")) as { version: string };
    expect(await run(flag)).toEqual({ code: 0, out: `scep ${pkg.version}`, err: "" });
  });
});

describe("usage errors exit 64 with one line and a pointer to --help", () => {
  it.each([
    [["frobnicate"], 'scep: unknown command "frobnicate"; commands: getcacaps, getcacert, enroll, renew, getcert, getcrl'],
    [["getcacaps"], "scep: getcacaps: --url is required"],
    [["getcacaps", "--url", "ftp://x/scep"], "scep: getcacaps: --url must be http: or https:, got ftp:"],
    [["getcacaps", "--url", "not a url"], "scep: getcacaps: --url not a url is not a URL"],
    // host:port/path without a scheme: not a URL, or (a host name) one with the scheme "localhost:"
    [["getcacaps", "--url", "127.0.0.1:8080/scep"], "scep: getcacaps: --url 127.0.0.1:8080/scep has no http:// or https://; did you mean http://127.0.0.1:8080/scep?"],
    [["getcacaps", "--url", "localhost:8080/scep"], "scep: getcacaps: --url localhost:8080/scep has no http:// or https://; did you mean http://localhost:8080/scep?"],
    [["getcacaps", "--url", "scep.example.com/scep"], "scep: getcacaps: --url scep.example.com/scep has no http:// or https://; did you mean http://scep.example.com/scep?"],
    [["getcacaps", "--url", URL, "--verbose"], "scep: getcacaps: Unknown option '--verbose'"],
    // A typo names the option meant (a newcomer's report: `--challange` got no hint); nothing close, no guess.
    [["enroll", "--url", URL, "--challange", "pw"], "scep: enroll: Unknown option '--challange'; did you mean --challenge?"],
    [["getcacaps", "--url", URL, "--timout", "5"], "scep: getcacaps: Unknown option '--timout'; did you mean --timeout?"],
    [["getcacaps", "--uri", URL], "scep: getcacaps: Unknown option '--uri'; did you mean --url?"],
    [["getcacaps", "--url", URL, "--x"], "scep: getcacaps: Unknown option '--x'"],
    [["getcacaps", "--url", URL, "extra"], "scep: getcacaps: Unexpected argument 'extra'. This command does not take positional arguments"],
    [["getcacaps", "--url", URL, "--timeout", "0"], 'scep: getcacaps: --timeout must be an integer from 1 to 2147483647, got "0"'],
    // A longer timer fires at once (Node: after 1 ms), so the request would time out before it is sent.
    [["getcacaps", "--url", URL, "--timeout", "2147483648"], 'scep: getcacaps: --timeout must be an integer from 1 to 2147483647, got "2147483648"'],
    [["getcacert", "--url"], "scep: getcacert: Option '--url <value>' argument missing"],
    [["enroll", "--url", URL, "--out", "c.pem"], "scep: enroll: --cn is required"],
    [["enroll", "--url", URL, "--cn", "d"], "scep: enroll: --out is required"],
    [["enroll", "--url", URL, "--cn", "d", "--out", "c.pem", "--cipher", "rc2"], 'scep: enroll: --cipher must be one of aes128, aes192, aes256, des3, des, got "rc2"'],
    [["enroll", "--url", URL, "--cn", "d", "--out", "c.pem", "--digest", "md5"], 'scep: enroll: --digest must be one of sha1, sha256, sha384, sha512, got "md5"'],
    [["enroll", "--url", URL, "--cn", "d", "--out", "c.pem", "--post", "--get"], "scep: enroll: --post and --get exclude each other"],
    [["enroll", "--url", URL, "--cn", "d", "--out", "c.pem", "--max-poll=-1"], 'scep: enroll: --max-poll must be a number >= 0, got "-1"'],
    [["enroll", "--url", URL, "--cn", "d", "--out", "c.pem", "--san", "dn:x"], 'scep: enroll: --san must be dns:VALUE, ip:VALUE, email:VALUE, uri:VALUE, upn:VALUE; got "dn:x"'],
    [["enroll", "--url", URL, "--cn", "d", "--out", "c.pem", "--san", "ip:1.2.3"], "scep: enroll: --san ip:1.2.3 is not an IPv4 or IPv6 address"],
    [["enroll", "--url", URL, "--cn", "d", "--out", "c.pem", "--key", "k.pem", "--key-out", "x.pem"], "scep: enroll: --key-out only applies when no --key is given"],
    [["renew", "--url", URL, "--key", "k.pem"], "scep: renew: --cert is required"],
    [["enroll", "--url", URL, "--cn", "d", "--out", "c.pem", "--ca-fingerprint", "md5:00"], 'scep: enroll: --ca-fingerprint must be sha256:<64 hex digits> (colons allowed), got "md5:00"'],
    [["renew", "--url", URL, "--cert", "c.pem", "--key", "k.pem", "--ca-fingerprint", "abc"], 'scep: renew: --ca-fingerprint must be sha256:<64 hex digits> (colons allowed), got "abc"'],
    [["renew", "--url", URL, "--cert", "c.pem", "--key", "k.pem", "--new-key"], "scep: renew: --new-key needs --out or --key-out to know where to write the key"],
    [["enroll", "--url", URL, "--cn", "d", "--out", "c.pem", "--max-poll", "-1"], 'scep: enroll: --max-poll must be a number >= 0, got "-1"'],
    [["getcert", "--url", URL], "scep: getcert: --serial is required"],
    [["getcert", "--url", URL, "--serial", "xyz"], 'scep: getcert: --serial must be the serial number in hex (colons allowed, at most 20 octets, -7FFF for a negative one), got "xyz"'],
    [["getcert", "--url", URL, "--serial", "0a", "--cert", "c.pem"], "scep: getcert: --cert needs --key (the key that signs the request)"],
    [["getcrl", "--url", URL, "--out", "crl.der"], "scep: getcrl: --cert is required"],
    [["getcacaps", "--url", "--timeout", "5"], "scep: getcacaps: --url has no value (for a value that starts with a dash write --url=VALUE)"],
  ])("%j", async (argv, message) => {
    const r = await run(...argv);
    expect(r.code).toBe(64);
    expect(r.out).toBe("");
    const [first, second] = r.err.split("\n");
    expect(first?.split(". To specify")[0]).toBe(message);
    expect(second).toMatch(/^Try "scep (\w+ )?--help"\.$/);
  });

  it("refuses to overwrite an existing key file instead of generating over it", async () => {
    writeFileSync(join(dir, "mine.key"), "precious");
    const r = await run("enroll", "--url", URL, "--cn", "d", "--out", "mine.pem");
    expect(r.code).toBe(64);
    expect(r.err.split("\n")[0]).toBe("scep: enroll: mine.key already exists; pass --key mine.key to reuse that key, or choose another --key-out");
  });
});

describe("unreadable inputs exit 66", () => {
  it("a missing --key", async () => {
    const r = await run("enroll", "--url", URL, "--cn", "d", "--out", "c.pem", "--key", "absent.pem");
    expect(r).toEqual({ code: 66, out: "", err: "scep: cannot read key absent.pem: no such file (ENOENT)" });
  });

  it("a --ca-cert that is a directory, a --cert that is missing: the reason in words", async () => {
    expect(await run("getcacert", "--url", URL, "--ca-cert", ".")).toEqual({ code: 66, out: "", err: "scep: cannot read CA certificate .: it is a directory, not a file (EISDIR)" });
    expect(await run("renew", "--url", URL, "--cert", "nope.pem", "--key", "absent.key")).toEqual({ code: 66, out: "", err: "scep: cannot read certificate nope.pem: no such file (ENOENT)" });
    expect(await run("getcert", "--url", URL, "--serial", "0a", "--issuer-cert", "nope.pem")).toEqual({ code: 66, out: "", err: "scep: cannot read issuer certificate nope.pem: no such file (ENOENT)" });
    expect(await run("getcrl", "--url", URL, "--cert", "nope.pem")).toEqual({ code: 66, out: "", err: "scep: cannot read certificate nope.pem: no such file (ENOENT)" });
  });

  it("fileErrorReason: words for a known code, Node's first line (without the path) for another", async () => {
    const { fileErrorReason } = await import("../src/lib/files.js");
    expect(fileErrorReason(Object.assign(new Error("EACCES: permission denied, open '/x'"), { code: "EACCES" }))).toBe("permission denied (EACCES)");
    expect(fileErrorReason(Object.assign(new Error("ESTRANGE: odd failure, open '/x'"), { code: "ESTRANGE" }))).toBe("ESTRANGE: odd failure");
    expect(fileErrorReason("not an error")).toBe("unknown error");
  });

  it("a --key that is not a private key", async () => {
    writeFileSync(join(dir, "junk.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    const r = await run("enroll", "--url", URL, "--cn", "d", "--out", "c.pem", "--key", "junk.pem");
    expect(r.code).toBe(66);
    expect(r.err).toMatch(/^scep: cannot use key junk\.pem: /);
  });

  it("an EC --key where the signer must receive the reply (renew, getcert/getcrl --cert --key): one line before anything is sent (RFC 8894 §3.3.2)", async () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    writeFileSync(join(dir, "ec.key"), privateKey.export({ type: "sec1", format: "pem" }));
    const signer = await createSelfSignedSigner({ keys: await importKeyPairPem(readFileSync(join(dir, "ec.key"), "utf8")), subject: "CN=ec-device" });
    writeFileSync(join(dir, "ec.pem"), signer.certificate.toPem());
    expect(await run("renew", "--url", URL, "--cert", "ec.pem", "--key", "ec.key")).toEqual({
      code: 66,
      out: "",
      err: "scep: cannot renew ec.pem: its key ec.key is not an RSA key, and a renewal is signed with the certificate being renewed, whose key must receive the CA's reply by RSA key transport (RFC 8894 §3.3.2); enroll anew instead (scep enroll --key ec.key --challenge …)",
    });
    for (const argv of [["getcert", "--url", URL, "--serial", "0a"], ["getcrl", "--url", URL]]) {
      const command = argv[0]!;
      expect(await run(...argv, "--cert", "ec.pem", "--key", "ec.key")).toEqual({
        code: 66,
        out: "",
        err: `scep: cannot sign the ${command} request with ec.key: it is not an RSA key, and the signer certificate receives the CA's reply by RSA key transport (RFC 8894 §3.3.2); leave out --cert and --key to ask with a throwaway RSA key`,
      });
    }
  });

  it("a --cert without a certificate", async () => {
    writeFileSync(join(dir, "empty.pem"), "nothing here\n");
    const r = await run("renew", "--url", URL, "--cert", "empty.pem", "--key", "absent.key");
    expect(r).toEqual({ code: 66, out: "", err: "scep: cannot read certificate empty.pem: no PEM CERTIFICATE block" });
  });
});

describe("building blocks", () => {
  it("escapes a CN so it stays one RDN attribute (RFC 4514)", () => {
    expect(subjectFromCn("device-1")).toBe("CN=device-1");
    expect(subjectFromCn("a, b+c=d")).toBe("CN=a\\, b\\+c\\=d");
    expect(subjectFromCn("#x ")).toBe("CN=\\#x\\ ");
  });

  it("splits --san on the first colon only", () => {
    expect(parseSans(["uri:https://x.example/p?q=1", "DNS:a.example", "ip:::1", "upn:u@corp"])).toEqual({
      dns: ["a.example"],
      ip: ["::1"],
      email: [],
      uri: ["https://x.example/p?q=1"],
      upn: ["u@corp"],
    });
    expect(parseSans([])).toBeUndefined();
  });

  it("resolves relative paths against INIT_CWD only when pnpm runs the root scep script", () => {
    expect(invocationDir({ INIT_CWD: "/home/u/certs", npm_lifecycle_event: "scep" }, "/repo")).toBe("/home/u/certs");
    // a stale INIT_CWD from an outer `pnpm test` is ignored
    expect(invocationDir({ INIT_CWD: "/repo", npm_lifecycle_event: "test" }, "/tmp/x")).toBe("/tmp/x");
    expect(invocationDir({}, "/tmp/x")).toBe("/tmp/x");
  });
});

describe("a value that starts with a dash", () => {
  const options = { challenge: { type: "string" }, url: { type: "string" }, help: { type: "boolean", short: "h" } } as const;
  it("is taken as the value of a string option (a base64url one-time challenge can start with '-')", () => {
    expect(parse("enroll", ["--challenge", "-Xy_z0", "--url", URL], options)).toEqual({ challenge: "-Xy_z0", url: URL });
    expect(parse("enroll", ["--challenge=-Xy_z0"], options)).toEqual({ challenge: "-Xy_z0" });
  });
  it("but not when it is an option of the command (-h) or looks like a long option (a forgotten value)", () => {
    expect(() => parse("enroll", ["--challenge", "-h"], options)).toThrow("enroll: --challenge has no value");
    expect(() => parse("enroll", ["--challenge", "--url", URL], options)).toThrow("enroll: --challenge has no value");
  });
});
