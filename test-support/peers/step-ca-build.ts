/**
 * Builds Smallstep step-ca 0.19 for the interop tests, once per CI run.
 *
 * Debian packages step-ca's Go sources (`golang-github-smallstep-certificates-dev`,
 * installed by `scripts/ensure-peers.mjs` with `golang-go`) but no `step-ca`
 * binary and no `cmd/` directory. `test-support/step-ca/main.go` (ours, 30
 * lines) wraps step-ca's own command, `commands.AppCommand`, and is built in
 * GOPATH mode against `/usr/share/gocode` (no network: every dependency is a
 * Debian package):
 *
 *     GOPATH=/usr/share/gocode GO111MODULE=off go build -o step-ca-harness .
 *
 * The binary lands in `<repo>/.cache/step-ca/<key>/step-ca-harness` (git-ignored),
 * `<key>` being the Debian package's version, `go version` and a hash of
 * main.go: a package upgrade or an edit of main.go builds afresh, anything else
 * reuses the binary (about 50 s to build on two cores, 25 MB). Test files in
 * several vitest workers (the interop and proxy-server projects run side by
 * side) build it once: the build runs under a lock directory
 * (`.cache/step-ca/build.lock`, created with `mkdir`, which is atomic; its
 * `owner` file names the building pid, and a lock whose pid is gone is taken
 * over), and the others wait for the binary to appear. The binary is written
 * under a temporary name and renamed into place, so nobody runs half of it.
 * Go's build cache lives in `.cache/step-ca/go-build` (no `$HOME` needed).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PeerError, requireBinary, runCommand, waitFor } from "./process";

/** The Debian packages step-ca is built from (`scripts/ensure-peers.mjs` installs them). */
export const STEP_CA_PACKAGES = ["golang-go", "golang-github-smallstep-certificates-dev"] as const;

/** Where Debian puts step-ca's sources (GOPATH layout). */
export const STEP_CA_GOPATH = "/usr/share/gocode";
const STEP_CA_SOURCES = `${STEP_CA_GOPATH}/src/github.com/smallstep/certificates`;

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const MAIN_DIR = join(REPO, "test-support", "step-ca");
/** `<repo>/.cache/step-ca`: git-ignored (`.cache/`). */
export const STEP_CA_CACHE = join(REPO, ".cache", "step-ca");
const LOCK = join(STEP_CA_CACHE, "build.lock");
const GO_BUILD_CACHE = join(STEP_CA_CACHE, "go-build");
/** Longest a build may take (a cold Go cache on a busy two-core CI machine). */
const BUILD_TIMEOUT_MS = 15 * 60_000;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function cacheKey(go: string): Promise<string> {
  const dpkg = await runCommand("dpkg-query", ["-W", "-f=${Version}", "golang-github-smallstep-certificates-dev"], { timeoutMs: 30_000 });
  if (dpkg.code !== 0 || dpkg.stdout.trim() === "") {
    throw new PeerError(
      `step-ca's sources are not installed: run \`node scripts/ensure-peers.mjs\` as root (apt-get install -y ${STEP_CA_PACKAGES.join(" ")})`,
      dpkg,
    );
  }
  const goVersion = (await runCommand(go, ["version"], { timeoutMs: 30_000, check: true })).stdout.trim();
  const main = createHash("sha256").update(readFileSync(join(MAIN_DIR, "main.go"))).update(goVersion).digest("hex").slice(0, 12);
  // e.g. 0.19.0-1-go1.19.8-3f2a…: readable, and safe as a directory name.
  const goRelease = /go(\d+\.\d+(?:\.\d+)?)/.exec(goVersion)?.[1] ?? "";
  return `${dpkg.stdout.trim()}-go${goRelease}-${main}`.replace(/[^\w.+-]/g, "_");
}

/** Takes the build lock, or returns false when a live process holds it. */
function tryLock(): boolean {
  try {
    mkdirSync(LOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    let owner = Number.NaN;
    try {
      owner = Number(readFileSync(join(LOCK, "owner"), "utf8"));
    } catch {
      // the owner file is written right after mkdir: the holder is starting, wait for it
      return false;
    }
    if (Number.isInteger(owner) && pidAlive(owner)) return false;
    rmSync(LOCK, { recursive: true, force: true }); // its builder died: take over
    return tryLock();
  }
  writeFileSync(join(LOCK, "owner"), String(process.pid));
  return true;
}

let building: Promise<string> | undefined;

/**
 * The path of the step-ca binary built from Debian's sources, building it first
 * when this package version has none yet (one build at a time across processes).
 *
 * @throws Error when Go or step-ca's sources are missing (the test fails, never skips), or
 *   PeerError with Go's output when the build fails.
 */
export function stepCaBinary(): Promise<string> {
  building ??= build().catch((error: unknown) => {
    building = undefined;
    throw error;
  });
  return building;
}

async function build(): Promise<string> {
  const go = requireBinary("go", "golang-go");
  if (!existsSync(join(STEP_CA_SOURCES, "commands", "app.go"))) {
    throw new Error(
      `step-ca's Go sources are missing (${STEP_CA_SOURCES}). Install the Debian package "golang-github-smallstep-certificates-dev" (run \`node scripts/ensure-peers.mjs\` as root).`,
    );
  }
  const key = await cacheKey(go);
  const dir = join(STEP_CA_CACHE, key);
  const binary = join(dir, "step-ca-harness");
  if (existsSync(binary)) return binary;
  mkdirSync(STEP_CA_CACHE, { recursive: true });
  await waitFor(() => (existsSync(binary) || tryLock() ? true : undefined), {
    timeoutMs: BUILD_TIMEOUT_MS,
    intervalMs: 250,
    what: `the step-ca build lock ${LOCK} (another test process is building step-ca)`,
  });
  if (existsSync(binary)) return binary; // another process built it while we waited
  try {
    mkdirSync(dir, { recursive: true });
    const partial = `${binary}.${process.pid}.partial`;
    const result = await runCommand(go, ["build", "-trimpath", "-o", partial, "."], {
      cwd: MAIN_DIR,
      timeoutMs: BUILD_TIMEOUT_MS,
      env: { GOPATH: STEP_CA_GOPATH, GO111MODULE: "off", GOCACHE: GO_BUILD_CACHE, GOFLAGS: "" },
    });
    if (result.code !== 0 || result.timedOut) {
      rmSync(partial, { force: true });
      throw new PeerError("could not build step-ca from Debian's sources", result);
    }
    renameSync(partial, binary);
    // A partial build of a process killed mid-build is never used: remove it.
    for (const name of readdirSync(dir)) if (name.endsWith(".partial")) rmSync(join(dir, name), { force: true });
    // Binaries of other package versions or of an older main.go are stale.
    for (const name of readdirSync(STEP_CA_CACHE)) {
      if (name !== key && name !== "go-build" && name !== "build.lock") rmSync(join(STEP_CA_CACHE, name), { recursive: true, force: true });
    }
    return binary;
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
