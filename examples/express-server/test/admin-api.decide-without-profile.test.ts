/**
 * POST /admin/scep/approve and /reject without "profile", against the Express example with two PENDING
 * profiles (a configuration file) as a child process on loopback: the transaction is decided in the profile where
 * it waits (RFC 8894 §3.3.3: the next CertPoll of that profile gets the certificate), an ID pending in both
 * profiles is a 409 naming them, and an ID pending nowhere is a 404 naming the profiles searched. Also the banner of
 * that server: a space after each profile label, and whether /metrics needs a token. And HEAD of every admin GET route
 * as of a GET, and 405s with Allow (RFC 9110 §9.3.2, §15.5.6).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startExample, type ExampleProcess } from "../../server-kit/test/support/example-process.js";
import { pkcsReqAndPoll } from "../../server-kit/test/support/pkcs-req.js";
import { expectAdminHeadLikeGet } from "../../server-kit/test/support/admin-head-suite.js";

const EXAMPLE_DIR = fileURLToPath(new URL("..", import.meta.url));
const TOKEN = "admin-token-for-tests-5d1e8b47";
const tmp = mkdtempSync(join(tmpdir(), "scep-admin-decide-"));
let proc: ExampleProcess;
let base: string;

beforeAll(async () => {
  const config = join(tmp, "scep.json");
  writeFileSync(config, JSON.stringify({ profiles: [{ path: "/scep", pending: true }, { name: "lab", path: "/lab", pending: true }] }));
  ({ proc, base } = await startExample(EXAMPLE_DIR, { SCEP_ADMIN_TOKEN: TOKEN, SCEP_CHALLENGE: "decide-secret", SCEP_DATA_DIR: join(tmp, "data"), SCEP_CONFIG: config }));
}, 120_000);
afterAll(async () => {
  await proc?.terminate();
  rmSync(tmp, { recursive: true, force: true });
});

const decide = (action: "approve" | "reject", body: unknown) =>
  fetch(`${base}/admin/scep/${action}`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(body) });

/** A PKCSReq to `path` answered PENDING, with the given transactionID, and a CertPoll for it. */
async function pendingRequest(path: string, subject: string, transactionId: string) {
  const { first, poll } = await pkcsReqAndPoll(`${base}${path}`, { subject, challenge: "decide-secret", transactionId });
  expect(first.status).toBe("PENDING");
  return poll;
}

// First, while nothing is pending: a pending request's ageSeconds may tick between a GET and its HEAD.
describe("HEAD and 405 on the admin API (RFC 9110 §9.3.2, §15.5.6)", () => {
  it("HEAD of every GET route gets the GET's header fields and no content; a wrong method 405 with Allow", async () => {
    await expectAdminHeadLikeGet(Number(new URL(base).port), TOKEN);
  });
});

describe("approve and reject without a profile", () => {
  it("decides in the one profile where the transactionID is pending (here not the first profile)", async () => {
    const poll = await pendingRequest("/lab", "CN=lab-device", "lab-only-7");
    const res = await decide("approve", { transactionId: "lab-only-7" });
    expect([res.status, await res.json()]).toEqual([200, { profile: "lab", transactionId: "lab-only-7", status: "ISSUED", subject: "CN=lab-device", serialNumber: expect.stringMatching(/^[0-9a-f]+$/) }]);
    expect((await poll()).status).toBe("SUCCESS");
  }, 120_000);

  it("409 naming the profiles when the transactionID is pending in two; with \"profile\" it is decided there", async () => {
    await pendingRequest("/scep", "CN=twin-a", "twin-9");
    await pendingRequest("/lab", "CN=twin-b", "twin-9");
    const ambiguous = await decide("reject", { transactionId: "twin-9" });
    expect([ambiguous.status, await ambiguous.json()]).toEqual([409, { error: 'transaction twin-9 is pending in profiles /scep, lab: give "profile"', profiles: ["/scep", "lab"] }]);
    const named = await decide("reject", { transactionId: "twin-9", profile: "lab" });
    expect([named.status, await named.json()]).toEqual([200, { profile: "lab", transactionId: "twin-9", status: "REJECTED", subject: "CN=twin-b" }]);
  }, 120_000);

  it("409 with the status when the transaction was decided already, with or without \"profile\": approve after approve or reject, reject after approve", async () => {
    // lab-only-7 was approved (ISSUED) and twin-9 rejected in lab (REJECTED) above; twin-9 is still PENDING in /scep.
    const issued = { error: "transaction lab-only-7 in profile lab is already ISSUED", profile: "lab", transactionId: "lab-only-7", status: "ISSUED" };
    const rejectIssued = await decide("reject", { transactionId: "lab-only-7" });
    expect([rejectIssued.status, await rejectIssued.json()]).toEqual([409, issued]);
    const approveIssued = await decide("approve", { transactionId: "lab-only-7", profile: "lab" });
    expect([approveIssued.status, await approveIssued.json()]).toEqual([409, issued]);
    const approveRejected = await decide("approve", { transactionId: "twin-9", profile: "lab" });
    expect([approveRejected.status, await approveRejected.json()]).toEqual([409, { error: "transaction twin-9 in profile lab is already REJECTED", profile: "lab", transactionId: "twin-9", status: "REJECTED" }]);
    // Not in /lab's PENDING list but in /scep's: decided there (the one profile where it waits).
    const rejectTwin = await decide("reject", { transactionId: "twin-9" });
    expect([rejectTwin.status, await rejectTwin.json()]).toEqual([200, { profile: "/scep", transactionId: "twin-9", status: "REJECTED", subject: "CN=twin-a" }]);
    const lines = proc.events("admin");
    expect(lines.find((l) => l.action === "reject" && l.transactionId === "twin-9" && l.profile === "/scep")).toEqual({
      time: expect.any(String), type: "admin", action: "reject", profile: "/scep", transactionId: "twin-9", status: "REJECTED", subject: "CN=twin-a", clientAddress: "127.0.0.1",
    });
  }, 120_000);

  it("404 naming the profiles searched, or the profile given", async () => {
    const none = await decide("approve", { transactionId: "nowhere-1" });
    expect([none.status, await none.json()]).toEqual([404, { error: "no pending transaction nowhere-1 in profiles /scep, lab" }]);
    const inLab = await decide("approve", { transactionId: "nowhere-1", profile: "lab" });
    expect([inLab.status, await inLab.json()]).toEqual([404, { error: "no pending transaction nowhere-1 in profile lab" }]);
  }, 120_000);
});

describe("the banner of a server with a configuration file", () => {
  it("separates each profile's label from its description by a space, and says whether /metrics needs a token", () => {
    const lines = proc.stderr.split("\n");
    expect(lines.filter((l) => l.startsWith("  profile "))).toEqual([
      "  profile /scep:   static challenge (given; not shown); PENDING until approved, 365 days",
      "  profile lab (/lab): static challenge (given; not shown); PENDING until approved, 365 days",
    ]);
    expect(lines).toContain("  metrics:         /metrics (open: set SCEP_METRICS_TOKEN to require a token)");
  });
});
