/**
 * The Hono example serves a configuration file's profiles like the Express
 * one (both are built by the server kit): a static-challenge profile and a
 * Mode B (signed-token) profile side by side, each at its own path, enrolled
 * by the SDK CLI; a token used again in another request is `replay`, the
 * same request sent again gets its certificate again.
 */
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { anchor, mint, type Anchor } from "../../../packages/intune/test/support/tokens.js";
import { cliEnroll, eventAfter, startWithConfig, type RunningExample } from "../../express-server/test/support/intune-example.js";

const HONO_DIR = new URL("..", import.meta.url).pathname;
const AUDIENCE = "https://scep.example.test/mdm";
let signer: Anchor;
let ex: RunningExample;

beforeAll(async () => {
  signer = await anchor("p256", "CN=MDM challenge signer", new Date(), 30);
  ex = await startWithConfig({ profiles: [{ path: "/scep" }, { path: "/mdm", intune: { mode: "signed-token", trustAnchors: "anchors.pem", audience: AUDIENCE } }] }, { SCEP_CHALLENGE: "hono-static-secret" }, {
    exampleDir: HONO_DIR,
    prepare: (dir) => writeFileSync(join(dir, "anchors.pem"), signer.pem),
  });
});
afterAll(() => ex?.stop());

describe("Hono example with a configuration file", () => {
  it("serves both profiles: the static one issues; the signed-token one issues a matching token once, then replay", async () => {
    expect(ex.lines("listening")[0]!.profiles).toEqual([
      { name: "/scep", path: "/scep", challenge: "static" },
      { name: "/mdm", path: "/mdm", challenge: "intune-signed-token" },
    ]);
    const s = await cliEnroll(ex, "/scep", { cn: "hono-static-1", challenge: "hono-static-secret" });
    expect([s.code, s.certificate?.subject]).toEqual([0, "CN=hono-static-1"]);
    const now = Math.floor(Date.now() / 1000);
    const t = mint(signer.privateKey, { iss: "mdm", sub: "hono-device", aud: AUDIENCE, iat: now - 10, exp: now + 600, nonce: `hono-${process.pid}`, device_name: "hono-device-1" });
    const firstMark = ex.proc.lines.length;
    const first = await cliEnroll(ex, "/mdm", { cn: "hono-device-1", challenge: t });
    expect([first.code, first.certificate?.subject]).toEqual([0, "CN=hono-device-1"]);
    // The first enrollment's event line, awaited before the mark: the server writes it a loop turn after its answer, so
    // on a loaded machine it could come after the mark and be taken for the replay's (same subject).
    expect(await eventAfter(ex, "CN=hono-device-1", firstMark)).toMatchObject({ profile: "/mdm", outcome: "success", reason: "issued" });
    // The same request again (its reply lost: same key, CSR and token) is a re-send: the same certificate (RFC 8894
    // §3.3.3). The token in another device's request is a replay.
    const resent = await cliEnroll(ex, "/mdm", { cn: "hono-device-1", challenge: t });
    expect([resent.code, resent.certificate?.serialNumberHex]).toEqual([0, first.certificate?.serialNumberHex]);
    const mark = ex.proc.lines.length;
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const again = await cliEnroll(ex, "/mdm", { cn: "hono-device-1", challenge: t, keyPem: other });
    expect(again.code).toBe(2);
    expect(await eventAfter(ex, "CN=hono-device-1", mark)).toMatchObject({ profile: "/mdm", outcome: "failure", reason: "replay" });
  });
});
