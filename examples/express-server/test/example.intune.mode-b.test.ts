/**
 * Mode B (signed-token challenge, shared/INTUNE.md) end to end through the
 * example server started with a configuration file, with real clients
 * (strongSwan `pki --scep` and the SDK CLI `scep`) sending tokens minted in
 * the test (ES256, a P-256 trust anchor written to the profile's bundle): a
 * token whose claims match the CSR is issued; the same token again is
 * `replay`; a token for another device is `claim_mismatch`; the fourth
 * accepted enrollment of one device within 24 h is `rate_limited`; the reason
 * labels show in the JSON event lines and in /admin/stats; a reload (SIGHUP)
 * keeps the nonces and counts; and no token appears in any output.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { anchor, mint, type Anchor } from "../../../packages/intune/test/support/tokens.js";
import { allOutput, cliEnroll, eventAfter, startWithConfig, strongswanEnroll, type RunningExample } from "./support/intune-example.js";

const AUDIENCE = "https://scep.example.test/mdm";
const DEVICE = { cn: "mdm-device-0001", dns: "mdm-device-0001.corp.example.test", sub: "device-guid-0001" };
const OTHER = { cn: "mdm-device-0002", dns: "mdm-device-0002.corp.example.test", sub: "device-guid-0002" };

let signer: Anchor;
let ex: RunningExample;
let nonces = 0;

/** A token for `device`, valid now, with a fresh nonce. */
function token(device: typeof DEVICE): string {
  const now = Math.floor(Date.now() / 1000);
  return mint(signer.privateKey, {
    iss: "mdm-connector-1", sub: device.sub, aud: AUDIENCE, iat: now - 30, exp: now + 600, nonce: `nonce-${process.pid}-${++nonces}`,
    device_name: device.cn, san_dns: [device.dns], version: "v1",
  });
}

beforeAll(async () => {
  signer = await anchor("p256", "CN=MDM challenge signer", new Date(), 30);
  ex = await startWithConfig({ profiles: [{ path: "/scep" }, { path: "/mdm", intune: { mode: "signed-token", trustAnchors: "anchors.pem", audience: AUDIENCE } }] }, {}, {
    prepare: (dir) => writeFileSync(join(dir, "anchors.pem"), signer.pem),
  });
});
afterAll(() => ex?.stop());

describe("Mode B through the example server (configuration file, profile /mdm)", () => {
  const tokens: string[] = [];

  it("the banner names the anchors, audience and rate limit", () => {
    expect(ex.proc.banner("profile /mdm")).toBe(`signed tokens (anchors ${join(ex.dir, "anchors.pem")}, audience ${AUDIENCE}, at most 3 per device in 86400 s); issued at once, 365 days`);
  });

  it("strongSwan: a token whose claims match the CSR (CN, DNS SAN) is issued", async () => {
    const t = token(DEVICE);
    tokens.push(t);
    const mark = ex.proc.lines.length;
    const r = await strongswanEnroll(ex, "/mdm", { dn: `CN=${DEVICE.cn}`, password: t, sans: [`dns:${DEVICE.dns}`] });
    expect(r.messages.filter((m) => /fail|error/i.test(m))).toEqual([]);
    expect(r.certificate?.subject).toBe(`CN=${DEVICE.cn}`);
    expect(await eventAfter(ex, `CN=${DEVICE.cn}`, mark)).toMatchObject({ profile: "/mdm", outcome: "success", reason: "issued" });
  });

  it("the same token again (CLI) → FAILURE badMessageCheck, reason replay", async () => {
    const mark = ex.proc.lines.length;
    const r = await cliEnroll(ex, "/mdm", { cn: DEVICE.cn, challenge: tokens[0]!, sans: [`dns:${DEVICE.dns}`] });
    expect([r.code, r.certificate]).toEqual([2, undefined]);
    expect(r.stderr).toMatch(/^FAILURE: badMessageCheck: .* \(the CA said "/);
    expect(await eventAfter(ex, `CN=${DEVICE.cn}`, mark)).toMatchObject({ outcome: "failure", reason: "replay", failInfo: "badMessageCheck", status: 200 });
  });

  it("a token for another device (CLI, this device's CSR) → FAILURE badRequest, reason claim_mismatch", async () => {
    const mark = ex.proc.lines.length;
    const t = token(OTHER);
    tokens.push(t);
    const r = await cliEnroll(ex, "/mdm", { cn: DEVICE.cn, challenge: t, sans: [`dns:${DEVICE.dns}`] });
    expect([r.code, r.certificate]).toEqual([2, undefined]);
    expect(r.stderr).toMatch(/^FAILURE: badRequest: .* \(the CA said "/);
    expect(await eventAfter(ex, `CN=${DEVICE.cn}`, mark)).toMatchObject({ outcome: "failure", reason: "claim_mismatch", failInfo: "badRequest" });
  });

  it("two more accepted enrollments of the device (CLI, strongSwan), then the fourth within 24 h → rate_limited", async () => {
    const second = token(DEVICE);
    const third = token(DEVICE);
    const fourth = token(DEVICE);
    tokens.push(second, third, fourth);
    // Each enrollment's event line is awaited before the next mark: the server writes it a loop turn after its answer,
    // so on a loaded machine b's "issued" line could come after the mark below and be taken for c's (same subject).
    const markA = ex.proc.lines.length;
    const a = await cliEnroll(ex, "/mdm", { cn: DEVICE.cn, challenge: second, sans: [`dns:${DEVICE.dns}`] });
    expect(a.code).toBe(0);
    expect(a.certificate!.subject).toBe(`CN=${DEVICE.cn}`);
    expect(await eventAfter(ex, `CN=${DEVICE.cn}`, markA)).toMatchObject({ outcome: "success", reason: "issued" });
    const markB = ex.proc.lines.length;
    const b = await strongswanEnroll(ex, "/mdm", { dn: `CN=${DEVICE.cn}`, password: third, sans: [`dns:${DEVICE.dns}`] });
    expect(b.certificate?.subject).toBe(`CN=${DEVICE.cn}`);
    expect(await eventAfter(ex, `CN=${DEVICE.cn}`, markB)).toMatchObject({ outcome: "success", reason: "issued" });
    const mark = ex.proc.lines.length;
    const c = await cliEnroll(ex, "/mdm", { cn: DEVICE.cn, challenge: fourth, sans: [`dns:${DEVICE.dns}`] });
    expect([c.code, c.certificate]).toEqual([2, undefined]);
    expect(r(c.stderr)).toBe("FAILURE: badRequest");
    expect(await eventAfter(ex, `CN=${DEVICE.cn}`, mark)).toMatchObject({ outcome: "failure", reason: "rate_limited", failInfo: "badRequest" });
    // Another device is not limited by this one's count.
    const other = await cliEnroll(ex, "/mdm", { cn: OTHER.cn, challenge: token(OTHER), sans: [`dns:${OTHER.dns}`] });
    expect(other.code).toBe(0);
  });

  it("a reload (SIGHUP) rebuilds the profile but forgets no nonce and no count: the first token is still a replay, the device still limited", async () => {
    const mark = ex.proc.lines.length;
    process.kill(ex.proc.child.pid!, "SIGHUP");
    const reloaded = await ex.proc.waitForLine((l) => ex.proc.lines.indexOf(l) >= mark && /"type":"(reloaded|reload-failed)"/.test(l));
    expect(JSON.parse(reloaded)).toMatchObject({ type: "reloaded", trigger: "SIGHUP" });
    const replayed = await cliEnroll(ex, "/mdm", { cn: DEVICE.cn, challenge: tokens[0]!, sans: [`dns:${DEVICE.dns}`] });
    expect(replayed.code).toBe(2);
    expect(await eventAfter(ex, `CN=${DEVICE.cn}`, mark)).toMatchObject({ outcome: "failure", reason: "replay" });
    const fresh = token(DEVICE);
    tokens.push(fresh);
    const after = ex.proc.lines.length;
    const limited = await cliEnroll(ex, "/mdm", { cn: DEVICE.cn, challenge: fresh, sans: [`dns:${DEVICE.dns}`] });
    expect(limited.code).toBe(2);
    expect(await eventAfter(ex, `CN=${DEVICE.cn}`, after)).toMatchObject({ outcome: "failure", reason: "rate_limited" });
  });

  it("/admin/stats counts each reason label; no token appears in any line, the banner or the stats", async () => {
    const stats = await ex.stats("/mdm");
    expect(stats.reasons).toMatchObject({ issued: 4, replay: 2, claim_mismatch: 1, rate_limited: 2 });
    expect(Object.keys(stats.reasons).sort()).toEqual(["ca_cert", "caps", "claim_mismatch", "issued", "rate_limited", "replay"]);
    const everything = allOutput(ex) + JSON.stringify(stats);
    for (const t of tokens) {
      expect(everything).not.toContain(t);
      expect(everything).not.toContain(t.split(".")[2]!);
    }
  });
});

/** The failInfo part of the CLI's `FAILURE: badRequest: <meaning> (the CA said "…")` line. */
function r(stderr: string): string {
  return stderr.trim().replace(/^(FAILURE: \w+):.*$/, "$1");
}
