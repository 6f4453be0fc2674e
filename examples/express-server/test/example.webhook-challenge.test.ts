/**
 * A webhook challenge profile (@scep/core's webhookChallenge, step-ca's
 * SCEPCHALLENGE/NOTIFYING model) from the configuration file, end to end
 * with the SDK CLI and a receiver on loopback started by the test: the
 * receiver sees the CSR, challenge and transactionID in a body signed with
 * the secret from the named file, and the Authorization value from the named
 * variable; it allows one challenge (the certificate is delivered after the
 * `issued` notification named its serial) and denies another (FAILURE with
 * its reason label). Neither secret appears in the server's output.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyWebhookSignature } from "@scep/core";
import { allOutput, cliEnroll, eventAfter, startWithConfig, type RunningExample } from "./support/intune-example.js";

const SECRET = "webhook-hmac-secret-0f1e2d3c4b5a";
const AUTHORIZATION = "Bearer mdm-webhook-token-9a8b7c";
interface Call {
  path: string;
  headers: IncomingMessage["headers"];
  raw: string;
  body: Record<string, unknown>;
}
const calls: Call[] = [];
let receiver: Server;
let ex: RunningExample;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const body = JSON.parse(raw) as Record<string, unknown>;
      calls.push({ path: req.url ?? "", headers: req.headers, raw, body });
      const answer = body.type === "scepchallenge" ? (body.scepChallenge === "let-me-in" ? { allow: true, data: { owner: "alice" } } : { allow: false, reason: "unknown_device", message: "this device is not enrolled in the MDM" }) : {};
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((done) => receiver.listen(0, "127.0.0.1", done));
  const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  ex = await startWithConfig(
    { profiles: [{ path: "/mdm", webhook: { url: `${base}/scep/challenge`, notifyUrl: `${base}/scep/notify`, secretFile: "webhook.secret", authorizationEnv: "MDM_WEBHOOK_AUTH", id: "scep-example" } }] },
    { MDM_WEBHOOK_AUTH: AUTHORIZATION },
    { prepare: (dir) => writeFileSync(join(dir, "webhook.secret"), `${SECRET}\n`) },
  );
});
afterAll(async () => {
  await ex?.stop();
  await new Promise((done) => receiver?.close(done));
});

describe("webhook challenge profile through the example server", () => {
  it("the banner names the endpoints and where the secret comes from", () => {
    const port = (receiver.address() as AddressInfo).port;
    expect(ex.proc.banner("profile /mdm")).toBe(`webhook http://127.0.0.1:${port}/scep/challenge, notifications to http://127.0.0.1:${port}/scep/notify, signed with the secret from ${join(ex.dir, "webhook.secret")}; issued at once, 365 days`);
  });

  it("an allowed challenge: the receiver saw the signed call, then the issued notification naming the delivered certificate", async () => {
    const r = await cliEnroll(ex, "/mdm", { cn: "webhook-device-1", challenge: "let-me-in" });
    expect([r.code, r.stderr]).toEqual([0, ""]);
    const [challenge, notify] = calls.slice(-2);
    expect(challenge!.path).toBe("/scep/challenge");
    expect(challenge!.body).toMatchObject({ type: "scepchallenge", profile: "/mdm", scepChallenge: "let-me-in", scepMessageType: "PKCSReq", x509CertificateRequest: { subject: "CN=webhook-device-1", commonName: "webhook-device-1" } });
    expect(verifyWebhookSignature(challenge!.raw, challenge!.headers["x-scep-signature"] as string, SECRET)).toBe(true);
    expect([challenge!.headers.authorization, challenge!.headers["x-scep-webhook-id"]]).toEqual([AUTHORIZATION, "scep-example"]);
    expect(notify!.path).toBe("/scep/notify");
    expect(notify!.body).toMatchObject({ type: "notify", event: "issued", scepTransactionID: challenge!.body.scepTransactionID, x509Certificate: { serialNumber: r.certificate!.serialNumberHex.toUpperCase() } });
    expect(verifyWebhookSignature(notify!.raw, notify!.headers["x-scep-signature"] as string, SECRET)).toBe(true);
  });

  it("a denied challenge: FAILURE with the receiver's text, the event names its reason label; nothing issued or notified", async () => {
    const before = calls.length;
    const mark = ex.proc.lines.length;
    const r = await cliEnroll(ex, "/mdm", { cn: "webhook-device-2", challenge: "guess" });
    expect([r.code, r.stderr.trim(), r.certificate]).toEqual([2, "FAILURE: badRequest: the CA does not permit or support this request (the CA said \"this device is not enrolled in the MDM\")", undefined]);
    expect(await eventAfter(ex, "CN=webhook-device-2", mark)).toMatchObject({ outcome: "failure", reason: "unknown_device", failInfo: "badRequest" });
    expect(calls.slice(before).map((c) => c.path)).toEqual(["/scep/challenge"]);
  });

  it("neither the signing secret nor the Authorization value appears in the server's output or stats", async () => {
    const everything = allOutput(ex) + JSON.stringify(await ex.stats("/mdm"));
    expect(everything).not.toContain(SECRET);
    expect(everything).not.toContain("mdm-webhook-token-9a8b7c");
  });
});
