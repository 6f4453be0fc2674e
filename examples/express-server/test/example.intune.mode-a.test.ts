/**
 * Mode A (Microsoft's Intune SCEP validation API, shared/INTUNE.md) end to
 * end through the example server started with a configuration file, with real
 * clients (strongSwan `pki --scep` and the SDK CLI `scep`) and the loopback
 * Entra ID / Graph / Intune fake of @scep/intune's tests: a CSR the fake
 * approves is issued and successNotification names the delivered
 * certificate's thumbprint, serial and expiry; a refused one is FAILURE with
 * the mapped failInfo and no certificate; a failing successNotification
 * means no certificate is delivered (and an `undelivered` line names it for
 * revocation). The client secret and the bearer tokens never appear in the
 * server's output or stats.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLIENT_ID, CLIENT_SECRET, TENANT, startFakeIntune, type FakeIntune } from "../../../packages/intune/test/support/fake-intune.js";
import { allOutput, cliEnroll, eventAfter, notificationFacts, startWithConfig, strongswanEnroll, type RunningExample } from "./support/intune-example.js";

const STATIC_CHALLENGE = "static-profile-secret-4711";
let fake: FakeIntune;
let ex: RunningExample;

beforeAll(async () => {
  fake = await startFakeIntune();
  ex = await startWithConfig(
    {
      profiles: [
        { path: "/scep" },
        { path: "/intune", intune: { mode: "api", tenantId: TENANT, clientId: CLIENT_ID, clientSecretEnv: "INTUNE_CLIENT_SECRET", loginBaseUrl: fake.base, graphBaseUrl: fake.base, timeoutMs: 5_000, retries: 0 } },
      ],
    },
    { INTUNE_CLIENT_SECRET: CLIENT_SECRET, SCEP_CHALLENGE: STATIC_CHALLENGE },
  );
});
afterAll(async () => {
  await ex?.stop();
  await fake?.close();
});

/** The ScepActions calls made since request `mark` of the fake. */
const actionsSince = (mark: number): string[] => fake.requests.slice(mark).filter((r) => r.path.includes("/ScepActions/")).map((r) => r.path.split("/").pop()!);

describe("Mode A through the example server (configuration file, profile /intune)", () => {
  it("the banner and the listening line name both profiles and where the secret comes from, never the secret", async () => {
    expect(ex.proc.banner("profile /intune")).toBe(`Intune API (tenant ${TENANT}, client ${CLIENT_ID}, secret from $INTUNE_CLIENT_SECRET); issued at once, 365 days`);
    expect(ex.proc.banner("profile /scep")).toBe("static challenge (given; not shown); issued at once, 365 days");
    const listening = ex.lines("listening")[0]!;
    expect(listening.profiles).toEqual([
      { name: "/scep", path: "/scep", challenge: "static" },
      { name: "/intune", path: "/intune", challenge: "intune-api" },
    ]);
    expect(listening.urls).toEqual([`${ex.base}/scep`, `${ex.base}/intune`]);
  });

  it("strongSwan: a CSR Intune approves is issued; validateRequest saw its CSR, successNotification names the delivered certificate", async () => {
    const mark = fake.requests.length;
    const lines = ex.proc.lines.length;
    const r = await strongswanEnroll(ex, "/intune", { dn: "CN=intune-ss-1", password: "intune-encrypted-challenge-from-strongswan" });
    expect(r.messages.filter((m) => /fail|error/i.test(m))).toEqual([]);
    expect(r.ok).toBe(true);
    const cert = r.certificate!;
    expect(cert.subject).toBe("CN=intune-ss-1");
    expect(actionsSince(mark)).toEqual(["validateRequest", "successNotification"]);
    const validate = JSON.parse(fake.of("validateRequest").at(-1)!.body).request;
    const notification = JSON.parse(fake.of("successNotification").at(-1)!.body).notification;
    expect(notification).toEqual({
      transactionId: validate.transactionId,
      certificateRequest: validate.certificateRequest,
      ...notificationFacts(cert),
      issuingCertificateAuthority: cert.issuer,
      callerInfo: expect.stringMatching(/^scep-sdk @scep\/intune\//),
    });
    const event = await eventAfter(ex, "CN=intune-ss-1", lines);
    expect(event).toMatchObject({ profile: "/intune", transactionId: validate.transactionId, outcome: "success", reason: "issued", serial: cert.serialNumberHex });
  });

  it("the SDK CLI: issued likewise; the token request carried the client secret to the fake, and the calls the Intune bearer token", async () => {
    const mark = fake.requests.length;
    const r = await cliEnroll(ex, "/intune", { cn: "intune-cli-1", challenge: "intune-encrypted-challenge-from-cli" });
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(actionsSince(mark)).toEqual(["validateRequest", "successNotification"]);
    expect(JSON.parse(fake.of("successNotification").at(-1)!.body).notification).toMatchObject(notificationFacts(r.certificate!));
    const token = fake.of("token")[0]!;
    expect(new URLSearchParams(token.body).get("client_secret")).toBe(CLIENT_SECRET);
    const intuneToken = fake.issued.find((t) => t.scope === "https://api.manage.microsoft.com//.default")!.token;
    expect(fake.of("successNotification").at(-1)!.headers.authorization).toBe(`Bearer ${intuneToken}`);
  });

  it("Intune refuses (ChallengeExpired): the CLI gets FAILURE badTime and no certificate; strongSwan (SignatureValidationFailed) none either; nothing was notified", async () => {
    const mark = fake.requests.length;
    const lines = ex.proc.lines.length;
    fake.next("validateRequest", { json: { code: "ChallengeExpired", errorDescription: "challenge is older than 60 minutes" } });
    const r = await cliEnroll(ex, "/intune", { cn: "intune-cli-expired", challenge: "stale-challenge" });
    expect([r.code, r.stderr.trim(), r.certificate]).toEqual([2, "FAILURE: badTime: the CA did not accept a time (the request's signingTime, a challenge that expired, or the validity of the certificate that signed it) (the CA said \"Intune refused the challenge: ChallengeExpired\")", undefined]);
    expect(await eventAfter(ex, "CN=intune-cli-expired", lines)).toMatchObject({ outcome: "failure", reason: "ChallengeExpired", failInfo: "badTime", status: 200 });

    fake.next("validateRequest", { json: { code: "SignatureValidationFailed", errorDescription: "" } });
    const s = await strongswanEnroll(ex, "/intune", { dn: "CN=intune-ss-forged", password: "forged-challenge" });
    expect([s.ok, s.certDer]).toEqual([false, undefined]);
    expect(await eventAfter(ex, "CN=intune-ss-forged", lines)).toMatchObject({ outcome: "failure", reason: "SignatureValidationFailed", failInfo: "badMessageCheck" });
    expect(actionsSince(mark)).toEqual(["validateRequest", "validateRequest"]);
  });

  it("a failing successNotification: the certificate was issued but is not delivered (FAILURE); an `undelivered` line names its serial for revocation", async () => {
    const lines = ex.proc.lines.length;
    fake.next("successNotification", { json: { code: "Unknown", errorDescription: "" } });
    const r = await cliEnroll(ex, "/intune", { cn: "intune-cli-unacked", challenge: "good-challenge" });
    expect([r.code, r.stderr.trim(), r.certificate]).toEqual([2, "FAILURE: badRequest: the CA does not permit or support this request (the CA said \"Intune did not acknowledge the issued certificate\")", undefined]);
    const event = await eventAfter(ex, "CN=intune-cli-unacked", lines);
    expect(event).toMatchObject({ outcome: "failure", reason: "intune_notification_failed", status: 200 });
    const notified = JSON.parse(fake.of("successNotification").at(-1)!.body).notification;
    const undelivered = await ex.proc.waitForJson("undelivered", (u) => u.transactionId === event.transactionId);
    expect(undelivered).toMatchObject({ profile: "/intune", reason: "intune_notification_failed", subject: "CN=intune-cli-unacked" });
    expect(String(undelivered.serial).toUpperCase()).toBe(notified.certificateSerialNumber);
    expect(await ex.proc.waitForJson("intune-error", (e) => e.operation === "successNotification")).toMatchObject({ profile: "/intune", code: "ERR_INTUNE_REJECTED" });

    // strongSwan likewise gets no certificate.
    fake.next("successNotification", { json: {}, status: 500 });
    const s = await strongswanEnroll(ex, "/intune", { dn: "CN=intune-ss-unacked", password: "good-challenge" });
    expect([s.ok, s.certDer]).toEqual([false, undefined]);
    expect(await eventAfter(ex, "CN=intune-ss-unacked", lines)).toMatchObject({ reason: "intune_notification_failed" });
  });

  it("Intune down: FAILURE intune_unavailable over HTTP 200 (never a 5xx), an intune-error line; the static profile next to it is unaffected", async () => {
    const lines = ex.proc.lines.length;
    fake.next("validateRequest", { json: {}, status: 503 });
    const r = await cliEnroll(ex, "/intune", { cn: "intune-cli-down", challenge: "good-challenge" });
    expect([r.code, r.stderr.trim()]).toEqual([2, "FAILURE: badRequest: the CA does not permit or support this request (the CA said \"Intune challenge validation is unavailable; try again later\")"]);
    expect(await eventAfter(ex, "CN=intune-cli-down", lines)).toMatchObject({ reason: "intune_unavailable", status: 200 });
    const s = await cliEnroll(ex, "/scep", { cn: "static-cli-1", challenge: STATIC_CHALLENGE });
    expect(s.code).toBe(0);
    expect(s.certificate!.subject).toBe("CN=static-cli-1");
  });

  it("stats count the reason labels; no secret (client secret, bearer tokens, static challenge) in any line, the banner or the stats", async () => {
    const stats = await ex.stats("/intune");
    expect(stats.reasons).toMatchObject({ issued: 2, ChallengeExpired: 1, SignatureValidationFailed: 1, intune_notification_failed: 2, intune_unavailable: 1 });
    const everything = allOutput(ex) + JSON.stringify(await ex.stats("/intune")) + JSON.stringify(await ex.stats("/scep"));
    for (const secret of [CLIENT_SECRET, STATIC_CHALLENGE, ...fake.issued.map((t) => t.token)]) expect(everything).not.toContain(secret);
    expect(fake.issued.length).toBeGreaterThanOrEqual(2);
  });
});
