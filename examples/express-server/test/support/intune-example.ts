/**
 * Shared by the Intune end-to-end tests of the example server: a temp
 * directory with a configuration file, the example started with it, the SDK
 * CLI and strongSwan enrolling against one of its profiles, and the JSON event
 * lines read back.
 */
import { createHash, generateKeyPairSync } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Certificate } from "@scep/core";
import { runStrongswanScep, type StrongswanScepResult } from "../../../../test-support/peers";
import { runCli } from "../../../cli/test/support/run-cli.js";
import { startExample, type ExampleProcess } from "../../../server-kit/test/support/example-process.js";

export const EXAMPLE_DIR = new URL("../..", import.meta.url).pathname;
export const ADMIN_TOKEN = "intune-admin-token-0123456789";

/** One RSA device key for every enrollment of a file (PKCS#8 PEM): key generation stays out of the test time. */
export const DEVICE_KEY_PEM = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();

export interface RunningExample {
  proc: ExampleProcess;
  base: string;
  dir: string;
  caPem: string;
  /** The `scep` JSON event lines so far. */
  events(): Record<string, unknown>[];
  /** Every JSON line of a type. */
  lines(type: string): Record<string, unknown>[];
  /** GET /admin/scep/stats of one profile. */
  stats(profile: string): Promise<{ outcomes: Record<string, number>; reasons: Record<string, number> }>;
  stop(): Promise<void>;
}

/** Writes `config` (the file's JSON) into a new temp dir and starts the example (Express unless `exampleDir` says) with it. */
export async function startWithConfig(config: unknown, env: Record<string, string>, options: { dir?: string; prepare?: (dir: string) => void; exampleDir?: string } = {}): Promise<RunningExample> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "scep-intune-e2e-"));
  const file = join(dir, "scep-config.json");
  if (!existsSync(file)) writeFileSync(file, JSON.stringify(config, null, 2));
  options.prepare?.(dir);
  const { proc, base, listening } = await startExample(options.exampleDir ?? EXAMPLE_DIR, { SCEP_DATA_DIR: join(dir, "data"), SCEP_CONFIG: file, SCEP_ADMIN_TOKEN: ADMIN_TOKEN, ...env });
  const parse = (): Record<string, unknown>[] => proc.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    proc,
    base,
    dir,
    caPem: readFileSync(listening.caCertificate, "utf8"),
    events: () => parse().filter((e) => e.type === "scep"),
    lines: (type) => parse().filter((e) => e.type === type),
    async stats(profile) {
      const res = await fetch(`${base}/admin/scep/stats`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      const body = (await res.json()) as { stats: { profile: string; outcomes: Record<string, number>; reasons: Record<string, number> }[] };
      return body.stats.find((s) => s.profile === profile)!;
    },
    async stop() {
      await proc.terminate();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The PKCSReq event of `subject` written after stdout line `mark` (take `ex.proc.lines.length` before enrolling):
 * waits for it, since the server may write it just after answering.
 */
export async function eventAfter(ex: RunningExample, subject: string, mark: number): Promise<Record<string, unknown>> {
  const lines = ex.proc.lines;
  const line = await ex.proc.waitForLine((l) => {
    if (!l.startsWith("{") || lines.indexOf(l) < mark) return false;
    const e = JSON.parse(l) as Record<string, unknown>;
    return e.type === "scep" && e.operation === "PKCSReq" && e.subject === subject;
  });
  return JSON.parse(line) as Record<string, unknown>;
}

/** `scep enroll` (the SDK CLI) with the shared device key; the issued certificate when there is one. */
export async function cliEnroll(ex: RunningExample, path: string, o: { cn: string; challenge: string; sans?: string[]; keyPem?: string }) {
  const out = join(ex.dir, `${o.cn}-${Math.random().toString(36).slice(2)}.pem`);
  // The shared device key, or `keyPem` (another device: another transactionID, so never a re-send of the shared key's request).
  const keyFile = o.keyPem ? join(ex.dir, `${Math.random().toString(36).slice(2)}.key`) : join(ex.dir, "device.key");
  if (o.keyPem) writeFileSync(keyFile, o.keyPem, { mode: 0o600 });
  else if (!existsSync(keyFile)) writeFileSync(keyFile, DEVICE_KEY_PEM, { mode: 0o600 });
  const r = await runCli(["enroll", "--url", `${ex.base}${path}`, "--cn", o.cn, "--challenge", o.challenge, "--key", keyFile, "--out", out, ...(o.sans ?? []).flatMap((s) => ["--san", s])], { cwd: ex.dir, timeoutMs: 90_000 });
  const certificate = existsSync(out) ? Certificate.from(readFileSync(out, "utf8")) : undefined;
  return { ...r, certificate };
}

/** `pki --scep` (strongSwan) with the shared device key. */
export async function strongswanEnroll(ex: RunningExample, path: string, o: { dn: string; password: string; sans?: string[] }): Promise<StrongswanScepResult & { certificate: Certificate | undefined }> {
  const r = await runStrongswanScep({ url: `${ex.base}${path}`, key: DEVICE_KEY_PEM, dn: o.dn, password: o.password, ...(o.sans ? { sans: o.sans } : {}), caCertEnc: ex.caPem, caCertSig: ex.caPem, cipher: "aes", timeoutMs: 90_000 });
  return { ...r, certificate: r.certDer ? Certificate.from(r.certDer) : undefined };
}

/** What Intune is told about an issued certificate: SHA-1 thumbprint and serial (upper-case hex), expiry (ISO 8601). */
export function notificationFacts(c: Certificate): { certificateThumbprint: string; certificateSerialNumber: string; certificateExpirationDateUtc: string } {
  return {
    certificateThumbprint: createHash("sha1").update(c.der).digest("hex").toUpperCase(),
    certificateSerialNumber: c.serialNumberHex.toUpperCase(),
    certificateExpirationDateUtc: c.notAfter.toISOString(),
  };
}

/** Everything the server wrote (stdout JSON lines, stderr banner) as one string, to look for secrets in. */
export function allOutput(ex: RunningExample): string {
  return [...ex.proc.lines, ...ex.proc.errLines].join("\n");
}
