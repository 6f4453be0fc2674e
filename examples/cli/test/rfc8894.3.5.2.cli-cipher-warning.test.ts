/**
 * RFC 8894 §3.5.2 (and IANA's SCEP CA Capabilities registry): `AES` says the CA supports AES128-CBC, and
 * `SCEPStandard` implies AES (and SHA-256, POSTPKIOperation). No capability promises AES-192 or AES-256, so
 * `--cipher aes192|aes256` is sent with one `warning:` line on stderr, whatever the CA advertises (jscep#61/#64:
 * CAs that decrypt only AES-128). `--cipher aes128` and `--digest sha256` to a CA that advertises AES/SHA-256 or
 * SCEPStandard are not warned about; `--cipher des3` without DES3 still is. The warning changes nothing else: a real
 * @scep/core server on loopback (default algorithm policy: it decrypts every AES) issues, and the request it decoded
 * carries the cipher asked for.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Certificate, createScepServer, type ContentCipher, type IssueContext } from "@scep/core";
import { createTestCa, issuingHook } from "../../../packages/core/test/support/server-pki.js";
import { fetchListener, listenLoopback, runInProcess, type Loopback } from "./support/in-process.js";

const CHALLENGE = "rfc8894-cipher-warning";
/** Each profile's path and the capabilities its GetCACaps answers. */
const PROFILES = {
  aes: ["AES", "POSTPKIOperation", "SHA-256", "Renewal"],
  standard: ["SCEPStandard"],
  des3: ["DES3", "POSTPKIOperation", "SHA-256"],
  none: [],
} as const satisfies Record<string, readonly string[]>;
type Profile = keyof typeof PROFILES;

let dir: string;
let backend: Loopback;
let ca: Awaited<ReturnType<typeof createTestCa>>;
const calls: IssueContext[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-cli-cipher-warning-"));
  ca = await createTestCa("Cipher Warning CA");
  const server = createScepServer({
    profiles: Object.entries(PROFILES).map(([name, capabilities]) => ({
      name,
      path: `/${name}`,
      caCertificate: ca.cert,
      signer: ca.key,
      challenge: { type: "static" as const, password: CHALLENGE },
      capabilities,
      issue: issuingHook(ca, calls),
    })),
  });
  backend = await listenLoopback(fetchListener((request) => server.fetch(request)));
});
afterAll(async () => {
  await backend?.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  calls.length = 0;
});

/** `scep enroll` against `profile` with `extra` options; expects exit 0, the certificate written and one issuance. */
async function enroll(profile: Profile, cn: string, ...extra: string[]): Promise<{ err: string[]; cipher: ContentCipher | undefined }> {
  const cwd = mkdtempSync(join(dir, `${cn}-`));
  const r = await runInProcess(["enroll", "--url", `${backend.base}/${profile}`, "--challenge", CHALLENGE, "--cn", cn, "--out", "cert.pem", ...extra], cwd);
  expect(r.code, r.err.join("\n")).toBe(0);
  expect(calls).toHaveLength(1);
  const cert = Certificate.from(readFileSync(join(cwd, "cert.pem"), "utf8"));
  expect(cert.subject).toBe(`CN=${cn}`);
  expect(cert.isIssuedBy(ca.cert)).toBe(true);
  expect(existsSync(join(cwd, "cert.key"))).toBe(true);
  expect(r.out.join("\n")).toContain(`serial:      ${cert.serialNumberHex}`);
  return { err: r.err, cipher: calls[0]!.request?.contentCipher };
}

const longer = (advertised: string, cipher: string): string => `warning: the CA advertises ${advertised}, which RFC 8894 §3.5.2 defines as AES-128; sending ${cipher} anyway`;

describe("RFC 8894 §3.5.2: AES is AES-128; no capability promises AES-192 or AES-256", () => {
  it.each(["aes256", "aes192"])("--cipher %s to a CA that advertises AES: one warning, then issued as before", async (cipher) => {
    expect(await enroll("aes", `aes-${cipher}`, "--cipher", cipher)).toEqual({ err: [longer("AES", cipher)], cipher });
  });

  it.each(["aes256", "aes192"])("--cipher %s to a CA that advertises SCEPStandard alone: the warning names it", async (cipher) => {
    expect(await enroll("standard", `standard-${cipher}`, "--cipher", cipher)).toEqual({ err: [longer("AES (implied by SCEPStandard)", cipher)], cipher });
  });

  it.each([
    ["DES3 but no AES", "des3"],
    ["no capabilities at all", "none"],
  ] as const)("--cipher aes256 to a CA that advertises %s: it does not advertise AES", async (_, profile) => {
    expect(await enroll(profile, `${profile}-aes256`, "--cipher", "aes256")).toEqual({ err: ["warning: the CA does not advertise AES; sending aes256 anyway"], cipher: "aes256" });
  });

  it.each(["aes", "standard"] as const)("--cipher aes128 to the %s CA: no warning", async (profile) => {
    expect(await enroll(profile, `${profile}-aes128`, "--cipher", "aes128")).toEqual({ err: [], cipher: "aes128" });
  });

  it.each(["aes", "standard"] as const)("no --cipher to the %s CA: aes128 (the client's default), no warning", async (profile) => {
    expect(await enroll(profile, `${profile}-default`)).toEqual({ err: [], cipher: "aes128" });
  });

  it("--digest sha256 to a CA that advertises SCEPStandard alone: no warning (it implies SHA-256)", async () => {
    expect(await enroll("standard", "standard-sha256", "--digest", "sha256")).toEqual({ err: [], cipher: "aes128" });
    expect(calls[0]!.request?.digestAlgorithm).toBe("sha256");
  });

  it("--cipher des3 to a CA that advertises AES but not DES3: the existing warning stays", async () => {
    expect(await enroll("aes", "aes-des3", "--cipher", "des3")).toEqual({ err: ["warning: the CA does not advertise DES3; sending des3 anyway"], cipher: "des3" });
  });
});
