// A real @scep/core server on loopback with one profile per capability set, and `scep enroll` against it in process:
// what the CLI's algorithm-warning tests (RFC 8894 §3.5.2) enroll with. Each profile's GetCACaps answers its list.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { Certificate, createScepServer, type ContentCipher, type DigestAlgorithm, type IssueContext } from "@scep/core";
import { createTestCa, issuingHook } from "../../../../packages/core/test/support/server-pki.js";
import { fetchListener, listenLoopback, runInProcess } from "./in-process.js";

/** What one enrollment gave: the CLI's stderr lines, and the algorithms the server decoded. */
export interface EnrollResult {
  err: string[];
  cipher: ContentCipher | undefined;
  digest: DigestAlgorithm | undefined;
}

/** The server, its issuances since the last {@link CapabilityProfiles.reset}, and the CLI against it. */
export interface CapabilityProfiles<P extends string> {
  /** `scep enroll` against `profile` with `extra` options; expects exit 0, the certificate, its key and one issuance. */
  enroll(profile: P, cn: string, ...extra: string[]): Promise<EnrollResult>;
  /** Forgets the issuances seen so far (call before each test). */
  reset(): void;
  close(): Promise<void>;
}

/** Starts the server: profile `name` at `/<name>` advertises `profiles[name]` (static challenge, issuing CA `caName`). */
export async function startCapabilityProfiles<P extends string>(caName: string, profiles: Record<P, readonly string[]>): Promise<CapabilityProfiles<P>> {
  const challenge = "rfc8894-capability-profiles";
  const dir = mkdtempSync(join(tmpdir(), "scep-cli-capabilities-"));
  const ca = await createTestCa(caName);
  const calls: IssueContext[] = [];
  const server = createScepServer({
    profiles: Object.entries<readonly string[]>(profiles).map(([name, capabilities]) => ({
      name,
      path: `/${name}`,
      caCertificate: ca.cert,
      signer: ca.key,
      challenge: { type: "static" as const, password: challenge },
      capabilities,
      issue: issuingHook(ca, calls),
    })),
  });
  const backend = await listenLoopback(fetchListener((request) => server.fetch(request)));
  return {
    async enroll(profile, cn, ...extra) {
      const cwd = mkdtempSync(join(dir, `${cn}-`));
      const r = await runInProcess(["enroll", "--url", `${backend.base}/${profile}`, "--challenge", challenge, "--cn", cn, "--out", "cert.pem", ...extra], cwd);
      expect(r.code, r.err.join("\n")).toBe(0);
      expect(calls).toHaveLength(1);
      const cert = Certificate.from(readFileSync(join(cwd, "cert.pem"), "utf8"));
      expect(cert.subject).toBe(`CN=${cn}`);
      expect(cert.isIssuedBy(ca.cert)).toBe(true);
      expect(existsSync(join(cwd, "cert.key"))).toBe(true);
      expect(r.out.join("\n")).toContain(`serial:      ${cert.serialNumberHex}`);
      return { err: r.err, cipher: calls[0]!.request?.contentCipher, digest: calls[0]!.request?.digestAlgorithm };
    },
    reset: () => void (calls.length = 0),
    async close() {
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
