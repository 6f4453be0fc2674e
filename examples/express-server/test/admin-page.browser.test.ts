/**
 * The admin page (/admin/scep) in a real browser: Debian's chromium driven headless by playwright-core, against
 * the Express example as a child process on loopback, after real enrollments with the SDK's client. Screenshots
 * of each tab go to examples/express-server/test-artifacts/ (gitignored).
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CertificationRequest,
  ScepClient,
  buildCertPoll,
  buildPkcsReq,
  createSelfSignedSigner,
  generateCsr,
  generateRsaKeyPair,
  readCertRep,
  selectIssuerName,
  selectRecipient,
} from "@scep/core";
import { startExample, type ExampleProcess } from "../../server-kit/test/support/example-process.js";

const EXAMPLE_DIR = fileURLToPath(new URL("..", import.meta.url));
const ARTIFACTS = fileURLToPath(new URL("../test-artifacts/", import.meta.url));
const TOKEN = "page-admin-token-5d1e0b7a";
const CHALLENGE = "static-challenge-for-page-test";
const tmp = mkdtempSync(join(tmpdir(), "scep-admin-page-"));
let proc: ExampleProcess;
let base: string;
let browser: Browser;

/** A PKCSReq (answered PENDING by the --pending server, or FAILURE for a wrong challenge) and its CertPoll. */
async function enroll(subject: string, challenge: string) {
  const keys = await generateRsaKeyPair(2048);
  const client = new ScepClient({ url: `${base}/scep` });
  const csr = await generateCsr({ keys, subject, challengePassword: challenge });
  const signer = await createSelfSignedSigner({ keys, subject });
  const caCerts = await client.getCaCert();
  const req = await buildPkcsReq({ csr, signer, recipient: selectRecipient(caCerts) });
  const first = await readCertRep(await client.pkiOperation(req.der), { decrypter: signer, caCertificates: caCerts, request: req });
  const poll = async () => {
    const built = await buildCertPoll({ issuerName: selectIssuerName(caCerts), subject: CertificationRequest.from(csr).subjectDer, transactionId: req.transactionId, signer, recipient: selectRecipient(caCerts) });
    return readCertRep(await client.pkiOperation(built.der), { decrypter: signer, caCertificates: caCerts, request: built });
  };
  return { first, transactionId: req.transactionId, poll };
}

const api = (path: string, body?: unknown) =>
  fetch(`${base}/admin/scep/${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

/** A page signed in with the token (typed into the form, as a person would). */
async function signedIn(path = "/admin/scep"): Promise<Page> {
  const page = await browser.newPage();
  page.on("pageerror", (e) => {
    throw e;
  });
  await page.goto(`${base}${path}`);
  await page.locator("#login").waitFor({ state: "visible" });
  await page.fill("#token", TOKEN);
  await page.click("#login button[type=submit]");
  await page.locator("#forget").waitFor({ state: "visible" });
  return page;
}

let pendingOne: Awaited<ReturnType<typeof enroll>>;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const s = await startExample(EXAMPLE_DIR, { SCEP_ADMIN_TOKEN: TOKEN, SCEP_CHALLENGE: CHALLENGE, SCEP_DATA_DIR: join(tmp, "data") }, ["--pending"]);
  proc = s.proc;
  base = s.base;
  // Real enrollments: one issued (approved through the API, then polled), one wrong challenge, one left PENDING.
  const issued = await enroll("CN=page-issued,O=page tests", CHALLENGE);
  expect(issued.first.status).toBe("PENDING");
  expect((await api("approve", { transactionId: issued.transactionId })).status).toBe(200);
  expect((await issued.poll()).status).toBe("SUCCESS");
  const wrong = await enroll("CN=page-wrong-challenge,O=page tests", "not-the-challenge");
  expect([wrong.first.status, wrong.first.failInfo]).toEqual(["FAILURE", "badRequest"]);
  pendingOne = await enroll("CN=page-pending,O=page tests", CHALLENGE);
  expect(pendingOne.first.status).toBe("PENDING");
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox"] });
});

afterAll(async () => {
  await browser?.close();
  await proc?.terminate();
  rmSync(tmp, { recursive: true, force: true });
});

describe("the admin page in chromium", () => {
  it("asks for the token; keeps it in sessionStorage only (no cookie, no localStorage); a new session asks again; a wrong token is refused", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/admin/scep`);
    await expect.poll(() => page.locator("#login-message").textContent()).toBe("Enter the admin token (SCEP_ADMIN_TOKEN) to load the data.");
    await page.fill("#token", "wrong-token-wrong-token");
    await page.click("#login button[type=submit]");
    await expect.poll(() => page.locator("#login-message").textContent()).toBe("The server refused this token; enter it again.");
    await page.fill("#token", TOKEN);
    await page.click("#login button[type=submit]");
    await page.locator("article.card[data-profile='/scep']").waitFor();
    expect(await page.evaluate(() => [sessionStorage.getItem("scep-admin-token"), localStorage.length, document.cookie])).toEqual([TOKEN, 0, ""]);
    expect(await page.locator("#token").inputValue()).toBe("");
    expect((await context.cookies()).length).toBe(0);
    await page.reload();
    await page.locator("article.card[data-profile='/scep']").waitFor(); // same tab: the session keeps it
    const other = await browser.newContext();
    const fresh = await other.newPage();
    await fresh.goto(`${base}/admin/scep`);
    await fresh.locator("#login").waitFor({ state: "visible" });
    await Promise.all([context.close(), other.close()]);
  });

  it("Profiles: a card per profile with the challenge-set and memory badges and the CA's expiry in the good band", async () => {
    const page = await signedIn();
    const card = page.locator("article.card[data-profile='/scep']");
    await card.waitFor();
    expect(await card.locator("[data-badge]").allTextContents()).toEqual(["challenge set (static)", "memory"]);
    expect(await card.locator("tr[data-role=ca] .expiry").getAttribute("data-band")).toBe("good");
    expect(await card.locator("tr[data-role=ca] td").first().textContent()).toBe("CN=SCEP Example CA, O=scep-sdk");
    expect(await card.locator(".counts").textContent()).toMatch(/pending 1$/);
    await page.screenshot({ path: join(ARTIFACTS, "admin-profiles.png"), fullPage: true });
    await page.close();
  });

  it("expiry bands: ≥ 30 days good, 7–30 warn, < 7 bad, past notAfter EXPIRED (the page fed crafted snapshots)", async () => {
    const page = await browser.newPage();
    const day = 86_400_000;
    const now = Date.now();
    const cert = (days: number) => ({ subject: `CN=ca-${days}`, issuer: "CN=x", serialNumber: "01", notBefore: new Date(now - day).toISOString(), notAfter: new Date(now + days * day + 3_600_000).toISOString(), daysLeft: days });
    const profile = (name: string, days: number) => ({ profile: name, path: name, ca: cert(days), ra: [], challenge: { configured: true, type: "static", kind: "static" }, counters: { outcomes: {}, reasons: {} }, pending: 0, redis: true });
    await page.route("**/admin/scep/profiles", (route) =>
      route.fulfill({ contentType: "application/json", body: JSON.stringify({ profiles: [profile("/a", 30), profile("/b", 29), profile("/c", 7), profile("/d", 6), profile("/e", 0), { ...profile("/f", -1), ca: { ...cert(-1), notAfter: new Date(now - 1000).toISOString(), daysLeft: -1 } }] }) }),
    );
    await page.goto(`${base}/admin/scep`);
    await page.evaluate((t) => sessionStorage.setItem("scep-admin-token", t), TOKEN);
    await page.reload();
    await page.locator("article.card[data-profile='/f']").waitFor();
    const bands = await page.locator("tr[data-role=ca] .expiry").evaluateAll((els) => els.map((e) => [e.getAttribute("data-band"), e.firstChild?.textContent]));
    expect(bands).toEqual([["good", "30 days"], ["warn", "29 days"], ["warn", "7 days"], ["bad", "6 days"], ["bad", "0 days"], ["expired", "EXPIRED"]]);
    expect(await page.locator("article.card[data-profile='/a'] [data-badge]").allTextContents()).toEqual(["challenge set (static)", "Redis"]);
    await page.close();
  });

  it("Recent activity: the filter chips narrow the table; ?tab=activity survives a reload", async () => {
    const page = await signedIn("/admin/scep?tab=activity");
    await page.locator("#activity-table tbody tr").first().waitFor();
    expect(await page.locator("#tab-activity").getAttribute("aria-selected")).toBe("true");
    const all = await page.locator("#activity-table tbody tr").count();
    await page.click(".chip[data-filter=initial]");
    await expect.poll(() => page.locator(".chip[data-filter=initial]").getAttribute("aria-pressed")).toBe("true");
    await expect.poll(() => page.locator("#activity-table tbody tr").count()).toBe(3);
    expect(await page.locator("#activity-table tbody tr").evaluateAll((rows) => rows.map((r) => [r.getAttribute("data-kind"), r.getAttribute("data-outcome")]))).toEqual([
      ["initial", "pending"],
      ["initial", "failure"],
      ["initial", "pending"],
    ]);
    expect(all).toBeGreaterThan(3);
    await page.click(".chip[data-filter=renewal]");
    await expect.poll(() => page.locator("#activity-table tbody tr").count()).toBe(0);
    expect(await page.locator("#activity-empty").isVisible()).toBe(true);
    await page.click(".chip[data-filter=static]");
    await expect.poll(() => page.locator("#activity-table tbody tr").count()).toBeGreaterThan(0);
    expect(new Set(await page.locator("#activity-table tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-challenge"))))).toEqual(new Set(["static"]));
    await page.click(".chip[data-filter=all]");
    await expect.poll(() => page.locator("#activity-table tbody tr").count()).toBe(all);
    await page.reload();
    await page.locator("#activity-table tbody tr").first().waitFor();
    expect([await page.locator("#tab-activity").getAttribute("aria-selected"), await page.locator("#panel-activity").isVisible(), await page.locator("#panel-profiles").isVisible()]).toEqual(["true", true, false]);
    await page.screenshot({ path: join(ARTIFACTS, "admin-activity.png"), fullPage: true });
    await page.close();
  });

  it("approve from the page issues the pending certificate: the client's next CertPoll gets it", async () => {
    expect((await pendingOne.poll()).status).toBe("PENDING");
    const page = await signedIn("/admin/scep?tab=activity");
    const row = page.locator(`#pending-table tr[data-transaction-id="${pendingOne.transactionId}"]`);
    await row.waitFor();
    expect(await row.locator("td").nth(1).textContent()).toBe("CN=page-pending, O=page tests");
    await row.locator("button.approve").click();
    await expect.poll(() => page.locator("#status").textContent()).toBe("Approved CN=page-pending, O=page tests: ISSUED");
    await row.waitFor({ state: "detached" });
    expect(await page.locator("#pending-empty").isVisible()).toBe(true);
    const rep = await pendingOne.poll();
    expect([rep.status, rep.certificates[0]?.subject]).toEqual(["SUCCESS", "CN=page-pending, O=page tests"]);
    await proc.waitForJson("admin", (e) => e.action === "approve" && e.transactionId === pendingOne.transactionId);
    await page.close();
  });

  it("Intune tab: says when no profile checks Intune challenges", async () => {
    const page = await signedIn("/admin/scep?tab=intune");
    await expect.poll(() => page.locator("#intune-cards").textContent()).toBe("No profile checks Intune challenges.");
    await page.screenshot({ path: join(ARTIFACTS, "admin-intune.png"), fullPage: true });
    await page.close();
  });

  it("the page and its script load without a token and carry a strict CSP; no log line holds the token", async () => {
    const res = await fetch(`${base}/admin/scep?tab=intune`);
    expect([res.status, res.headers.get("content-type")]).toEqual([200, "text/html; charset=utf-8"]);
    expect(res.headers.get("content-security-policy")).toMatch(/^default-src 'none'; script-src 'self'; style-src 'sha256-[A-Za-z0-9+/=]+'; connect-src 'self';/);
    const html = await res.text();
    expect(html).toContain('<a role="tab" id="tab-intune" href="?tab=intune" aria-controls="panel-intune" aria-selected="true">Intune</a>');
    expect(html).not.toContain(TOKEN);
    const script = await fetch(`${base}/admin/scep/app.js`);
    expect([script.status, script.headers.get("content-type")]).toEqual([200, "text/javascript; charset=utf-8"]);
    expect(proc.lines.join("\n") + proc.stderr).not.toContain(TOKEN);
    expect(proc.lines.join("\n")).not.toContain(CHALLENGE);
  });
});
