#!/usr/bin/env node
// Makes sure the real SCEP peers the interop tests drive are installed.
//
// Run first by `pnpm test`. When everything is present it only stats a few
// files (well under a second). When something is missing it installs the
// Debian packages with apt-get (as root, or through passwordless `sudo -n`),
// and otherwise exits non-zero with a clear message: the interop tests must
// fail, never silently skip, without their peers.
//
// Peers: micromdm scepserver/scepclient (scep), strongSwan pki with its curl
// fetcher (strongswan-pki, libstrongswan-extra-plugins), certmonger with its
// scep-submit helper (certmonger; pulls in dbus), openssl, unshare/mount
// (util-linux, mount) for the certmonger legacy-provider namespace, and
// redis-server for the @scep/redis and multi-replica tests (the tests start
// their own on loopback; Debian's package also enables a system service, which
// nothing here uses), and Debian's chromium, which the admin page's browser
// test drives headless through playwright-core (executablePath /usr/bin/chromium),
// and Smallstep step-ca 0.19 as a second real SCEP CA: Debian ships its Go
// sources (golang-github-smallstep-certificates-dev, ~180 packages with its
// dependencies) but no binary, so the tests build test-support/step-ca/main.go
// with golang-go once per package version into .cache/step-ca/
// (test-support/peers/step-ca-build.ts, about a minute).
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import process from "node:process";

const BASE_PACKAGES = ["scep", "strongswan-pki", "libstrongswan-extra-plugins", "certmonger", "openssl", "redis-server", "chromium", "golang-go", "golang-github-smallstep-certificates-dev"];

/** [what to look for, how to test it, Debian package] */
const REQUIREMENTS = [
  ["scepserver", "exec", "scep"],
  ["scepclient", "exec", "scep"],
  ["pki", "exec", "strongswan-pki"],
  ["/usr/lib/ipsec/plugins/libstrongswan-curl.so", "read", "libstrongswan-extra-plugins"],
  ["/usr/lib/certmonger/scep-submit", "exec", "certmonger"],
  ["certmonger", "exec", "certmonger"],
  ["getcert", "exec", "certmonger"],
  ["openssl", "exec", "openssl"],
  ["unshare", "exec", "util-linux"],
  ["mount", "exec", "mount"],
  ["redis-server", "exec", "redis-server"],
  ["/usr/bin/chromium", "exec", "chromium"],
  ["go", "exec", "golang-go"],
  ["/usr/share/gocode/src/github.com/smallstep/certificates/commands/app.go", "read", "golang-github-smallstep-certificates-dev"],
];

function can(path, mode) {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

function present(name, kind) {
  const mode = kind === "exec" ? constants.X_OK : constants.R_OK;
  if (isAbsolute(name)) return can(name, mode);
  // sbin dirs too: certmonger lives in /usr/sbin, which a non-root PATH may lack.
  const dirs = (process.env.PATH ?? "").split(delimiter).concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]);
  return dirs.some((dir) => dir !== "" && can(join(dir, name), mode));
}

function missing() {
  return REQUIREMENTS.filter(([name, kind]) => !present(name, kind));
}

function fail(message) {
  process.stderr.write(`\nensure-peers: ${message}\n\n`);
  process.exit(1);
}

function run(argv, { quiet = false } = {}) {
  const [cmd, ...args] = argv;
  if (!quiet) process.stderr.write(`ensure-peers: $ ${argv.join(" ")}\n`);
  const result = spawnSync(cmd, args, {
    stdio: quiet ? "ignore" : "inherit",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  if (result.error) return false;
  return result.status === 0;
}

let absent = missing();
if (absent.length === 0) process.exit(0);

const names = absent.map(([name, , pkg]) => `${name} (${pkg})`).join(", ");
process.stderr.write(`ensure-peers: missing SCEP interop peers: ${names}\n`);

if (process.platform !== "linux" || !present("apt-get", "exec")) {
  fail(
    `cannot install them: this is not a Debian/Ubuntu system with apt-get.\n` +
      `Install the equivalents of: ${BASE_PACKAGES.join(" ")}.`,
  );
}

let prefix;
if (typeof process.getuid === "function" && process.getuid() === 0) {
  prefix = [];
} else if (present("sudo", "exec") && run(["sudo", "-n", "true"], { quiet: true })) {
  prefix = ["sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive"];
} else {
  fail(
    `not root and passwordless sudo is unavailable, so they cannot be installed.\n` +
      `Run as root:  DEBIAN_FRONTEND=noninteractive apt-get update && ` +
      `apt-get install -y --no-install-recommends ${BASE_PACKAGES.join(" ")}`,
  );
}

const packages = [...new Set([...BASE_PACKAGES, ...absent.map(([, , pkg]) => pkg)])];
if (!run([...prefix, "apt-get", "update"])) fail("apt-get update failed (see the output above).");
if (!run([...prefix, "apt-get", "install", "-y", "--no-install-recommends", "--no-upgrade", ...packages])) {
  fail(`apt-get install ${packages.join(" ")} failed (see the output above).`);
}

absent = missing();
if (absent.length > 0) {
  fail(`still missing after installing ${packages.join(" ")}: ${absent.map(([name]) => name).join(", ")}`);
}
process.stderr.write("ensure-peers: all SCEP interop peers are installed.\n");
