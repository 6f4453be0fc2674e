#!/usr/bin/env node
/**
 * Checks every published (non-private) package under packages/* and
 * examples/* the way a consumer will meet it:
 *
 *   1. `pnpm pack` into a temp dir (runs the package's `prepack` build, and
 *      rewrites `workspace:` ranges as a publish would);
 *   2. the manifest says where the package comes from and what it needs, the
 *      same way for every package (`repository` with its `directory`,
 *      `homepage`, `bugs`, `license`, the root's `engines`), and the tarball
 *      carries the LICENSE;
 *   3. `publint --strict <tgz>` and `attw <tgz>` with the workspace's own
 *      binaries: any error or warning fails the package;
 *   4. `npm init -y` + `npm install <tgz>` in a fresh temp project outside the
 *      workspace (with the tarballs of any sibling workspace packages it
 *      depends on), then from there an ESM `import` and a CJS `require` of the
 *      package, each running the package's smoke test (for @scep/core a full
 *      enrollment round trip); for a command-line package (`bin`, no
 *      `exports`: @scep/cli) instead `npx <bin> --version` and a `getcacaps`
 *      against a live example server; and for @scep/core an esbuild bundle of a
 *      consumer that only uses the CSR generator (the bundler honours
 *      `"sideEffects": false`; the run proves the reflect-metadata import that
 *      @peculiar/x509 needs survives it).
 *
 * Prints one line per package and a closing `N passed, N failed` line; exits 1
 * when any package fails.
 *
 * Usage: node scripts/check-packages.mjs [packages/<dir> ...]
 *   KEEP_TMP=1 keeps the temp dir for inspection.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);

/** Environment for npm/node children: without the npm_* variables pnpm sets, which npm would read as its own config. */
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));

class CheckError extends Error {
  constructor(step, message, details = "") {
    super(`${step}: ${message}`);
    this.step = step;
    this.details = details;
  }
}

function run(step, cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, env: cleanEnv, ...options });
  const output = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  if (r.error) throw new CheckError(step, `${cmd} could not run: ${r.error.message}`);
  if (r.status !== 0 && !options.allowFailure) {
    throw new CheckError(step, `\`${[cmd, ...args].join(" ")}\` exited ${r.status ?? r.signal}`, output);
  }
  return { status: r.status, output, stdout: r.stdout ?? "" };
}

function readPackage(dir) {
  return { dir, manifest: JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) };
}

/** Non-private packages under packages/* and examples/* (the `scep` CLI is published from examples/cli). */
function workspacePackages() {
  return ["packages", "examples"].flatMap((top) =>
    readdirSync(join(root, top), { withFileTypes: true })
      .filter((e) => e.isDirectory() && existsSync(join(root, top, e.name, "package.json")))
      .map((e) => readPackage(join(root, top, e.name)))
      .filter((p) => !p.manifest.private),
  );
}

/** The packages to check: those named on the command line, else every workspace package. */
function selectedPackages(all) {
  if (process.argv.length <= 2) return all;
  return process.argv.slice(2).map((d) => {
    const dir = resolve(d);
    return all.find((p) => p.dir === dir) ?? readPackage(dir);
  });
}

function pack(pkg, dest) {
  mkdirSync(dest, { recursive: true });
  const before = new Set(readdirSync(dest));
  run("pnpm pack", "pnpm", ["pack", "--pack-destination", dest], { cwd: pkg.dir, env: process.env });
  const made = readdirSync(dest).filter((f) => f.endsWith(".tgz") && !before.has(f));
  if (made.length !== 1) throw new CheckError("pnpm pack", `expected one new tarball in ${dest}, found ${made.length}`);
  return join(dest, made[0]);
}

/** Metadata every published package carries, compared with the root package.json. */
function manifest(pkg, tgz) {
  const rootManifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const m = pkg.manifest;
  const repo = rootManifest.repository.url;
  const web = repo.replace(/^git\+/, "").replace(/\.git$/, "");
  const dir = relative(root, pkg.dir).split(sep).join("/");
  const problems = [];
  const expect = (what, got, want) => {
    if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${what} is ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  };
  expect("repository", m.repository, { type: "git", url: repo, directory: dir });
  expect("homepage", m.homepage, `${web}/tree/main/${dir}#readme`);
  expect("bugs", m.bugs, rootManifest.bugs);
  expect("license", m.license, rootManifest.license);
  expect("engines", m.engines, rootManifest.engines);
  if (typeof m.description !== "string" || m.description.length < 10) problems.push("description is missing");
  const files = run("tar", "tar", ["-tzf", tgz]).stdout.split("\n");
  if (!files.includes("package/LICENSE")) problems.push("the tarball has no LICENSE");
  if (!files.includes("package/README.md")) problems.push("the tarball has no README.md");
  if (problems.length) throw new CheckError("manifest", `${problems.length} problem(s)`, problems.join("\n"));
  return "ok";
}

function publint(tgz) {
  // --strict turns warnings into errors; suggestions are printed but do not fail.
  const r = run("publint", bin("publint"), ["run", "--strict", tgz], { cwd: root, allowFailure: true });
  if (r.status !== 0 || /\bErrors?:|\bWarnings?:/.test(r.output)) {
    throw new CheckError("publint --strict", "reported problems", r.output);
  }
  return /Suggestions?:/.test(r.output) ? "ok (with suggestions)" : "ok";
}

function attw(tgz) {
  const r = run("attw", bin("attw"), [tgz, "--format", "json"], { cwd: root, allowFailure: true });
  let report;
  try {
    report = JSON.parse(r.stdout);
  } catch {
    throw new CheckError("attw", `exited ${r.status} without a JSON report`, r.output);
  }
  const problems = Object.values(report.problems ?? report.analysis?.problems ?? {}).flat();
  if (r.status !== 0 || problems.length > 0) {
    const table = run("attw", bin("attw"), [tgz, "--format", "table", "--no-color", "--no-emoji"], { cwd: root, allowFailure: true });
    throw new CheckError("attw", `${problems.length} problem(s): ${[...new Set(problems.map((p) => p.kind))].join(", ")}`, table.output);
  }
  const resolutions = Object.keys(Object.values(report.analysis.entrypoints ?? {})[0]?.resolutions ?? {});
  return `ok (${resolutions.join(", ")})`;
}

function installConsumer(pkg, tgz, tarballs, dir) {
  mkdirSync(dir, { recursive: true });
  run("npm init", "npm", ["init", "-y"], { cwd: dir });
  // The package plus any sibling workspace packages it depends on (they are not on the registry yet).
  const deps = { ...pkg.manifest.dependencies, ...pkg.manifest.peerDependencies };
  const siblings = Object.keys(deps).filter((d) => tarballs.has(d)).map((d) => tarballs.get(d));
  run("npm install", "npm", ["install", tgz, ...siblings, "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir });
  const installed = join(dir, "node_modules", ...pkg.manifest.name.split("/"), "package.json");
  if (!existsSync(installed)) throw new CheckError("npm install", `${pkg.manifest.name} is not in the consumer's node_modules`);
}

/**
 * Smoke test bodies, run with `mod` bound to the imported/required package.
 * Each prints one JSON line; ESM and CJS must print the same.
 */
const CORE_ROUND_TRIP = `
  const assert = (cond, what) => { if (!cond) throw new Error("assertion failed: " + what); };
  const caKeys = await mod.generateRsaKeyPair(2048);
  const caSelf = await mod.createSelfSignedSigner({ keys: caKeys, subject: "CN=pack smoke CA" });
  const ca = mod.LocalKey.fromPem(caSelf.certificate.toPem(), await mod.exportPrivateKeyPem(caKeys.privateKey));
  const keys = await mod.generateRsaKeyPair(2048);
  const csr = await mod.generateCsr({ keys, subject: "CN=pack-smoke-device", challengePassword: "secret", san: { dns: ["device.example"] } });
  const device = await mod.createSelfSignedSigner({ keys, subject: "CN=pack-smoke-device" });
  const built = await mod.buildPkcsReq({ csr, signer: device, recipient: ca.certificate });
  const req = await mod.decodePkiMessage(built.der, { decrypters: [ca] });
  assert(req.messageTypeName === "PKCSReq", "messageType");
  assert(req.transactionId === built.transactionId, "transactionID");
  assert(req.csr.challengePassword === "secret", "challengePassword");
  const reply = await mod.buildCertRep({ request: req, signer: ca, status: "SUCCESS", certificates: [device.certificate, ca.certificate] });
  const rep = await mod.readCertRep(reply, { decrypter: device, request: built });
  let garbage;
  try { await mod.decodePkiMessage(new Uint8Array([1, 2, 3]), { decrypters: [ca] }); } catch (e) { garbage = e; }
  assert(mod.isScepError(garbage) && garbage instanceof mod.ScepError, "typed error");
  console.log(JSON.stringify({
    request: [req.messageTypeName, req.csr.subject, req.csr.challengePassword, req.contentCipher, req.digestAlgorithm],
    reply: [rep.status, rep.contentCipher, rep.signerCertificate.subject, ...rep.certificates.map((c) => c.subject)],
    garbage: [garbage.name, garbage.code, garbage.failInfo],
  }));
`;
const CORE_EXPECTED = JSON.stringify({
  request: ["PKCSReq", "CN=pack-smoke-device", "secret", "aes128", "sha256"],
  reply: ["SUCCESS", "aes128", "CN=pack smoke CA", "CN=pack-smoke-device", "CN=pack smoke CA"],
  garbage: ["Asn1Error", "ERR_ASN1", "badRequest"],
});
const GENERIC = `console.log(JSON.stringify({ exports: Object.keys(mod).filter((k) => k !== "default" && k !== "module.exports").sort() }));`;

const INTUNE_STORES = `
  const cache = new mod.MemoryReplayCache();
  const replay = [await cache.checkAndInsert("n", 60000), await cache.checkAndInsert("n", 60000)];
  let refused;
  try { mod.TrustAnchorPool.fromPem(""); } catch (e) { refused = [e.name, e.code, mod.isIntuneError(e)]; }
  console.log(JSON.stringify({ replay, refused }));
`;

const PROXY_IDENTIFIER = `
  const id = mod.buildIdentifier({ hostId: "host 1", profileId: "wifi,eap", caName: "corp", challenge: "a+b/c" });
  let refused;
  try { mod.parseIdentifier("only-one-field"); } catch (e) { refused = [e.name, e.code, e.reason, mod.isProxyError(e)]; }
  const proxy = mod.createScepProxy({ profiles: new mod.MemoryProfileStore(), cas: new mod.MemoryCaRegistry([{ name: "corp", type: "ndes", url: "http://127.0.0.1:9/scep" }]) });
  const res = await proxy.fetch(new Request("http://localhost/scep/only-one-field?operation=GetCACaps"));
  console.log(JSON.stringify({ id, parsed: mod.parseIdentifier(id), refused, answer: [res.status, await res.text()] }));
`;

const SMOKE = {
  "@scep/core": { body: CORE_ROUND_TRIP, expected: CORE_EXPECTED, label: "enrollment round trip", bundle: true },
  "@scep/intune": { body: INTUNE_STORES, expected: JSON.stringify({ replay: [true, false], refused: ["TrustAnchorError", "ERR_TRUST_ANCHORS", true] }), label: "replay cache + typed error" },
  "@scep/proxy": {
    body: PROXY_IDENTIFIER,
    expected: JSON.stringify({
      id: "host%201,wifi%2Ceap,corp,a%2Bb%2Fc",
      parsed: { hostId: "host 1", profileId: "wifi,eap", caName: "corp", challenge: "a+b/c" },
      refused: ["IdentifierError", "ERR_PROXY_IDENTIFIER", "field_count", true],
      answer: [400, "invalid identifier"],
    }),
    label: "identifier round trip + typed error + handler answer",
  },
};

/**
 * A package's README conformance example (the file `examples/quick-start` holds word for word), run with the
 * workspace's vitest in the consumer project against the installed `./testing` entry: a suite that carries its own
 * copy of the library's classes (its `toBeInstanceOf(UpstreamError)` then fails on the package's own implementation)
 * fails here. Only examples that run as they are (the others declare stores of the reader's own).
 */
const TESTING = {
  "@scep/proxy": "examples/quick-start/src/readme/proxy-conformance.ts",
};

/**
 * The package's `./testing` entry as a consumer runs it: the workspace's vitest linked into the consumer project,
 * running its {@link TESTING} file there; every test must pass. Returns the step's label.
 */
function testingSmoke(pkg, dir) {
  symlinkSync(join(root, "node_modules", "vitest"), join(dir, "node_modules", "vitest"), "dir");
  writeFileSync(join(dir, "conformance.test.ts"), readFileSync(join(root, TESTING[pkg.manifest.name]), "utf8"));
  const vitest = join(root, "node_modules", "vitest", "vitest.mjs");
  const { output } = run("./testing conformance", process.execPath, [vitest, "run", "--root", dir, "conformance.test.ts"], { cwd: dir, env: childEnv({ CI: "1" }) });
  const passed = /Tests\s+(\d+) passed \((\d+)\)/.exec(output.replace(/\x1b\[[0-9;]*m/g, ""));
  if (!passed || passed[1] !== passed[2]) throw new CheckError("./testing conformance", "not every test passed", output);
  return `./testing conformance ${passed[1]} tests ok`;
}

/** Environment for a child started from here: without pnpm's and npm's own variables (INIT_CWD would move the CLI's relative paths). */
const childEnv = (extra = {}) => ({
  ...Object.fromEntries(Object.entries(cleanEnv).filter(([k]) => k !== "INIT_CWD" && k !== "NODE_OPTIONS")),
  ...extra,
});

/**
 * A command-line package (`bin`, no `exports`): from the consumer directory,
 * `npx --no-install <bin> --version` prints "<bin> <version>", and
 * `<bin> getcacaps` against a live Express example server (started from
 * source on a free loopback port) prints the server's capabilities.
 */
async function binSmoke(pkg, dir) {
  const [binName] = Object.keys(pkg.manifest.bin);
  const npx = (args) => run(`${binName} ${args[0]}`, "npx", ["--no-install", binName, ...args], { cwd: dir, env: childEnv() });
  const version = npx(["--version"]).stdout.trim();
  if (version !== `${binName} ${pkg.manifest.version}`) throw new CheckError(`${binName} --version`, `printed ${JSON.stringify(version)}, expected "${binName} ${pkg.manifest.version}"`);

  const { spawn } = await import("node:child_process");
  const example = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: join(root, "examples", "express-server"),
    env: childEnv({ PORT: "0", HOST: "127.0.0.1", SCEP_DATA_DIR: join(dir, "scep-data") }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  try {
    const port = await new Promise((resolvePort, reject) => {
      const onData = (chunk) => {
        output += chunk;
        for (const line of output.split("\n").slice(0, -1)) {
          if (!line.startsWith("{")) continue;
          const event = JSON.parse(line);
          if (event.type === "listening") return resolvePort(event.port);
        }
      };
      example.stdout.setEncoding("utf8").on("data", onData);
      example.stderr.setEncoding("utf8").on("data", (chunk) => (output += chunk));
      example.once("exit", (code) => reject(new CheckError("example server", `exited (${code}) before listening`, output)));
    });
    const caps = npx(["getcacaps", "--url", `http://127.0.0.1:${port}/scep`]).stdout.split("\n");
    for (const cap of ["POSTPKIOperation", "SCEPStandard", "SHA-256", "AES"]) {
      if (!caps.includes(cap)) throw new CheckError(`${binName} getcacaps`, `no ${cap} line`, caps.join("\n"));
    }
    return `${binName} --version "${version}"; ${binName} getcacaps against the Express example`;
  } finally {
    const exited = new Promise((r) => (example.exitCode !== null ? r() : example.once("exit", r)));
    example.kill("SIGTERM");
    await exited;
  }
}

function smoke(pkg, dir) {
  const name = pkg.manifest.name;
  const spec = SMOKE[name] ?? { body: GENERIC, label: "exports" };
  const esm = `
    const where = import.meta.resolve(${JSON.stringify(name)});
    if (!where.startsWith(${JSON.stringify(pathToFileURL(dir).href + "/")})) throw new Error("resolved outside the consumer: " + where);
    const mod = await import(${JSON.stringify(name)});
    ${spec.body}`;
  const cjs = `
    const where = require.resolve(${JSON.stringify(name)});
    if (!where.startsWith(${JSON.stringify(dir + "/")})) throw new Error("resolved outside the consumer: " + where);
    (async () => { const mod = require(${JSON.stringify(name)}); ${spec.body} })().catch((e) => { console.error(e); process.exit(1); });`;
  const a = run("ESM import", process.execPath, ["--input-type=module", "-e", esm], { cwd: dir }).stdout.trim();
  const b = run("CJS require", process.execPath, ["--input-type=commonjs", "-e", cjs], { cwd: dir }).stdout.trim();
  if (spec.expected && a !== spec.expected) throw new CheckError("ESM import", `unexpected result`, `got      ${a}\nexpected ${spec.expected}`);
  if (a !== b) throw new CheckError("CJS require", "ESM and CJS disagree", `ESM ${a}\nCJS ${b}`);
  if (!spec.expected && JSON.parse(a).exports.length === 0) throw new CheckError("ESM import", "the package exports nothing");
  return spec.label;
}

/**
 * Bundles a consumer that imports only the CSR generator with esbuild (which
 * applies `"sideEffects": false` tree shaking) and runs the bundle: tsyringe,
 * under @peculiar/x509, throws at load unless the Reflect polyfill ran first.
 */
async function bundleSmoke(pkg, dir) {
  const esbuildPath = createRequire(createRequire(join(root, "package.json")).resolve("tsup")).resolve("esbuild");
  const esbuild = await import(pathToFileURL(esbuildPath).href);
  const entry = join(dir, "bundle-entry.mjs");
  writeFileSync(
    entry,
    `import { generateRsaKeyPair, generateCsr, CertificationRequest } from ${JSON.stringify(pkg.manifest.name)};
const keys = await generateRsaKeyPair(2048);
const csr = CertificationRequest.from(await generateCsr({ keys, subject: "CN=bundled" }));
console.log(csr.subject, csr.verify(), typeof Reflect.getMetadata);
`,
  );
  const outfile = join(dir, "bundle.mjs");
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile,
    absWorkingDir: dir,
    logLevel: "silent",
  });
  if (result.errors.length) throw new CheckError("esbuild bundle", "errors", JSON.stringify(result.errors, null, 2));
  const out = run("esbuild bundle", process.execPath, [outfile], { cwd: dir }).stdout.trim();
  if (out !== "CN=bundled true function") throw new CheckError("esbuild bundle", "unexpected result", out);
  return "esbuild bundle ok";
}

async function main() {
  const workspace = workspacePackages();
  const packages = selectedPackages(workspace);
  if (packages.length === 0) {
    console.error("check-packages: no non-private packages found");
    process.exit(1);
  }
  const tmp = mkdtempSync(join(tmpdir(), "scep-check-packages-"));
  let passed = 0;
  let failed = 0;
  try {
    // Pack the workspace's packages first, so a package can be installed with the siblings it depends on.
    const tarballs = new Map();
    const packErrors = new Map();
    for (const pkg of [...new Set([...packages, ...workspace])]) {
      try {
        tarballs.set(pkg.manifest.name, pack(pkg, join(tmp, "packs")));
      } catch (e) {
        packErrors.set(pkg.manifest.name, e);
      }
    }
    for (const pkg of packages) {
      const id = `${pkg.manifest.name}@${pkg.manifest.version}`;
      const started = performance.now();
      const steps = [];
      try {
        if (packErrors.has(pkg.manifest.name)) throw packErrors.get(pkg.manifest.name);
        const tgz = tarballs.get(pkg.manifest.name);
        steps.push(`manifest ${manifest(pkg, tgz)}`);
        steps.push(`publint --strict ${publint(tgz)}`);
        const cli = pkg.manifest.bin !== undefined && pkg.manifest.exports === undefined;
        if (!cli) steps.push(`attw ${attw(tgz)}`);
        const consumer = join(tmp, "consumer-" + pkg.manifest.name.replace(/[@/]/g, "_"));
        installConsumer(pkg, tgz, tarballs, consumer);
        steps.push("npm install ok");
        if (cli) steps.push(`${await binSmoke(pkg, consumer)} ok`);
        else steps.push(`ESM import + CJS require ${smoke(pkg, consumer)} ok`);
        if (SMOKE[pkg.manifest.name]?.bundle) steps.push(await bundleSmoke(pkg, consumer));
        if (TESTING[pkg.manifest.name]) steps.push(testingSmoke(pkg, consumer));
        passed++;
        console.log(`✔ ${id}: ${steps.join("; ")} [${((performance.now() - started) / 1000).toFixed(1)}s]`);
      } catch (e) {
        failed++;
        const done = steps.length ? ` (after: ${steps.join("; ")})` : "";
        console.log(`✘ ${id}: ${e instanceof CheckError ? e.message : e?.stack ?? e}${done}`);
        if (e instanceof CheckError && e.details) console.log(e.details.trimEnd().replace(/^/gm, "    "));
      }
    }
  } finally {
    if (process.env.KEEP_TMP) console.log(`check-packages: kept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`check-packages: ${passed} passed, ${failed} failed`);
  if (failed > 0) process.exit(1);
}

await main();
