/**
 * The admin page (/admin/scep) in a real browser: Debian's chromium driven headless by playwright-core, against
 * the Express example as a child process on loopback (a configuration file with three profiles: /scep static
 * challenge in PENDING mode, /mdm Intune Mode B signed tokens, /short with its own CA that expires in 20 days),
 * after real enrollments with the SDK's client: one issued (Intune token), one wrong challenge, one Intune replay,
 * one pending. Screenshots of each tab go to examples/express-server/test-artifacts/ (gitignored).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGetCrl, normalizeSerialNumber, readCertRep, selectRecipient } from "@scep/core";
import { anchor, mint, type Anchor } from "../../../packages/intune/test/support/tokens.js";
import { startExample, type ExampleProcess } from "../../server-kit/test/support/example-process.js";
import { pkcsReqAndPoll } from "../../server-kit/test/support/pkcs-req.js";

const EXAMPLE_DIR = fileURLToPath(new URL("..", import.meta.url));
const ARTIFACTS = fileURLToPath(new URL("../test-artifacts/", import.meta.url));
const TOKEN = "page-admin-token-5d1e0b7a";
const CHALLENGE = "static-challenge-for-page-test";
const tmp = mkdtempSync(join(tmpdir(), "scep-admin-page-"));
let proc: ExampleProcess;
let base: string;
let browser: Browser;
let signer: Anchor;
const AUDIENCE = "https://scep.example.test/mdm";
const MDM_DEVICE = { cn: "mdm-page-device", dns: "mdm-page-device.corp.example.test", sub: "device-guid-page" };
let nonces = 0;

/** A Mode B token for the MDM device, valid now, with a fresh nonce (minted as in @scep/intune's tests). */
function token(): string {
  const now = Math.floor(Date.now() / 1000);
  return mint(signer.privateKey, {
    iss: "mdm-connector-1", sub: MDM_DEVICE.sub, aud: AUDIENCE, iat: now - 30, exp: now + 600, nonce: `page-${process.pid}-${++nonces}`,
    device_name: MDM_DEVICE.cn, san_dns: [MDM_DEVICE.dns], version: "v1",
  });
}

/** A PKCSReq (answered PENDING by the --pending server, or FAILURE for a wrong challenge) and its CertPoll. */
const enroll = (subject: string, challenge: string, path = "/scep", dns?: string) => pkcsReqAndPoll(`${base}${path}`, { subject, challenge, ...(dns ? { dns } : {}) });

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
  // The Intune signer's anchor expires in 5 days (the Intune tab's bad band); /short's CA in 20 (the warn band).
  signer = await anchor("p256", "CN=MDM challenge signer", new Date(), 5);
  writeFileSync(join(tmp, "anchors.pem"), signer.pem);
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes", "-days", "20", "-subj", "/CN=Short-lived CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature,keyEncipherment", "-keyout", "short-ca.key", "-out", "short-ca.pem"], { cwd: tmp, stdio: "ignore" });
  const config = {
    profiles: [
      { path: "/scep", pending: true },
      { path: "/mdm", intune: { mode: "signed-token", trustAnchors: "anchors.pem", audience: AUDIENCE } },
      { path: "/short", ca: { cert: "short-ca.pem", key: "short-ca.key" } },
    ],
  };
  writeFileSync(join(tmp, "scep-config.json"), JSON.stringify(config));
  const s = await startExample(EXAMPLE_DIR, { SCEP_ADMIN_TOKEN: TOKEN, SCEP_CHALLENGE: CHALLENGE, SCEP_DATA_DIR: join(tmp, "data"), SCEP_CONFIG: join(tmp, "scep-config.json") });
  proc = s.proc;
  base = s.base;
  // Real enrollments: one issued (an Intune token), the same token again (replay), one wrong challenge, one PENDING.
  const mdmToken = token();
  const issued = await enroll(`CN=${MDM_DEVICE.cn}`, mdmToken, "/mdm", MDM_DEVICE.dns);
  expect(issued.first.status).toBe("SUCCESS");
  const replay = await enroll(`CN=${MDM_DEVICE.cn}`, mdmToken, "/mdm", MDM_DEVICE.dns);
  expect([replay.first.status, replay.first.failInfo]).toEqual(["FAILURE", "badMessageCheck"]);
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

  it("Profiles: a card per profile with the challenge-set, Intune and store badges and each CA's expiry band", async () => {
    const page = await signedIn();
    await page.locator("article.card[data-profile='/short']").waitFor();
    const badges = (p: string) => page.locator(`article.card[data-profile='${p}'] [data-badge]`).allTextContents();
    expect(await badges("/scep")).toEqual(["challenge set (static)", "memory"]);
    expect(await badges("/mdm")).toEqual(["challenge set (intune)", "Intune · signed-token", "memory"]);
    expect(await badges("/short")).toEqual(["challenge set (static)", "memory"]);
    const ca = (p: string) => page.locator(`article.card[data-profile='${p}'] tr[data-role=ca]`);
    expect([await ca("/scep").locator(".expiry").getAttribute("data-band"), await ca("/scep").locator("td").first().textContent()]).toEqual(["good", "CN=SCEP Example CA, O=scep-sdk"]);
    expect([await ca("/short").locator(".expiry").getAttribute("data-band"), await ca("/short").locator("td").first().textContent()]).toEqual(["warn", "CN=Short-lived CA"]);
    expect(await ca("/short").locator(".expiry").evaluate((e) => e.firstChild?.textContent)).toMatch(/^(19|20) days$/);
    expect(await page.locator("article.card[data-profile='/scep'] .counts").textContent()).toBe("requests: success 2 · failure 1 · pending 1");
    expect(await page.locator("article.card[data-profile='/scep'] .waiting").textContent()).toBe("waiting for approval: 1");
    expect(await page.locator("article.card[data-profile='/short'] .counts").textContent()).toBe("requests: none yet");
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
    await expect.poll(() => page.locator("#activity-table tbody tr").count()).toBe(4);
    expect(await page.locator("#activity-table tbody tr").evaluateAll((rows) => rows.map((r) => [r.getAttribute("data-kind"), r.getAttribute("data-challenge"), r.getAttribute("data-outcome")]))).toEqual([
      ["initial", "static", "pending"],
      ["initial", "static", "failure"],
      ["initial", "intune", "failure"],
      ["initial", "intune", "success"],
    ]);
    expect(all).toBeGreaterThanOrEqual(4);
    await page.click(".chip[data-filter=intune]");
    await expect.poll(() => page.locator("#activity-table tbody tr").count()).toBe(2);
    expect(await page.locator("#activity-table tbody tr td:nth-child(6)").allTextContents()).toEqual(["replay", "issued"]);
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
    await expect.poll(() => page.locator("#status").textContent()).toMatch(/^Approved CN=page-pending, O=page tests: ISSUED, serial ([0-9a-f]+)$/);
    const shownSerial = /serial ([0-9a-f]+)$/.exec((await page.locator("#status").textContent()) ?? "")![1];
    await row.waitFor({ state: "detached" });
    expect(await page.locator("#pending-empty").isVisible()).toBe(true);
    const rep = await pendingOne.poll();
    expect([rep.status, rep.certificates[0]?.subject]).toEqual(["SUCCESS", "CN=page-pending, O=page tests"]);
    expect(shownSerial).toBe(normalizeSerialNumber(rep.certificates[0]!.serialNumberHex));
    await proc.waitForJson("admin", (e) => e.action === "approve" && e.transactionId === pendingOne.transactionId);
    await page.close();
  });

  it("Intune tab: per-reason counters, the trust anchor's expiry band, recent failures", async () => {
    const page = await signedIn("/admin/scep?tab=intune");
    const card = page.locator("#intune-cards article.card[data-profile='/mdm']");
    await card.waitFor();
    expect(await page.locator("#intune-cards article.card").count()).toBe(1);
    const reasons = await card.locator("table.reasons tbody tr").evaluateAll((rows) => rows.map((r) => [r.getAttribute("data-reason"), r.querySelector("td.num")?.textContent]));
    expect(reasons).toEqual(expect.arrayContaining([["issued", "1"], ["replay", "1"]]));
    expect(await card.locator("table.anchors td").first().textContent()).toBe("CN=MDM challenge signer");
    expect(await card.locator("table.anchors .expiry").getAttribute("data-band")).toBe("bad");
    expect(await card.locator("table.failures tbody tr").evaluateAll((rows) => rows.map((r) => Array.from(r.querySelectorAll("td")).slice(1, 4).map((td) => td.textContent)))).toEqual([["replay", "badMessageCheck", `CN=${MDM_DEVICE.cn}`]]);
    await page.screenshot({ path: join(ARTIFACTS, "admin-intune.png"), fullPage: true });
    await page.close();
  });

  it("Intune tab: the reload button asks first; cancel changes nothing, confirm reloads, a bad file is an error and the old anchors stay in use", async () => {
    const page = await signedIn("/admin/scep?tab=intune");
    const card = page.locator("#intune-cards article.card[data-profile='/mdm']");
    await card.waitFor();
    const dialogs: string[] = [];
    let answer = false;
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void (answer ? d.accept() : d.dismiss());
    });
    const reloads = () => proc.lines.filter((l) => l.includes('"action":"reload-trust"')).length;
    // cancel
    await card.locator("button.reload").click();
    await expect.poll(() => card.locator(".reload-status").textContent()).toBe("Reload cancelled.");
    expect(dialogs).toEqual(["Reload the Intune trust anchors of /mdm from their file?"]);
    expect(reloads()).toBe(0);
    // confirm, good file
    answer = true;
    await card.locator("button.reload").click();
    await proc.waitForJson("admin", (e) => e.action === "reload-trust" && e.anchors === 1);
    await expect.poll(() => page.locator("#intune-cards article.card[data-profile='/mdm'] .reload-status").textContent()).toBe("Reloaded: 1 trust anchor(s).");
    expect(dialogs).toHaveLength(2);
    // confirm, bad file: the error shows, the old pool stays (a fresh token is still accepted)
    writeFileSync(join(tmp, "anchors.pem"), "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n");
    const again = page.locator("#intune-cards article.card[data-profile='/mdm']");
    await again.locator("button.reload").click();
    await expect.poll(() => again.locator(".reload-status").textContent()).toMatch(/^Reload failed: the trust anchors were not reloaded \(the old ones stay in use\): /);
    expect(await again.locator(".reload-status").getAttribute("data-kind")).toBe("error");
    expect(dialogs).toHaveLength(3);
    const stillOk = await enroll(`CN=${MDM_DEVICE.cn}`, token(), "/mdm", MDM_DEVICE.dns);
    expect(stillOk.first.status).toBe("SUCCESS");
    // The same through the API: 422 { profile, error } now, 200 { profile, anchors } with the good file back.
    const bad = await api("reload-trust", { profile: "/mdm" });
    expect([bad.status, await bad.json()]).toEqual([422, { profile: "/mdm", error: expect.stringMatching(/^the trust anchors were not reloaded \(the old ones stay in use\): /) }]);
    writeFileSync(join(tmp, "anchors.pem"), signer.pem);
    const good = await api("reload-trust", { profile: "/mdm" });
    expect([good.status, await good.json()]).toEqual([200, { profile: "/mdm", anchors: [{ subject: "CN=MDM challenge signer", notAfter: expect.any(String), fingerprintSha256: expect.any(String) }] }]);
    const none = await api("reload-trust", { profile: "/scep" });
    expect([none.status, await none.json()]).toEqual([404, { error: "profile /scep has no Intune trust anchors to reload" }]);
    await page.close();
  });

  it("a profile with its own CA: GET certificates and POST revoke take the profile; its GetCRL (RFC 8894 §3.3.5) lists the serial", async () => {
    const e = await enroll("CN=short-device", CHALLENGE, "/short");
    expect(e.first.status).toBe("SUCCESS");
    const cert = e.first.certificates[0]!;
    const serial = cert.serialNumberHex.toLowerCase();
    const own = (await (await api("certificates?profile=/short")).json()) as { certificates: { serialNumber: string; subject: string }[] };
    expect(own.certificates.map((c) => [c.serialNumber, c.subject])).toEqual([[serial, "CN=short-device"]]);
    const server = (await (await api("certificates")).json()) as { certificates: { serialNumber: string }[] };
    expect(server.certificates.map((c) => c.serialNumber)).not.toContain(serial);
    expect((await api("revoke", { serialNumber: serial, reason: "cessationOfOperation" })).status).toBe(404); // not the server CA's
    const revoked = await api("revoke", { serialNumber: serial, reason: "cessationOfOperation", profile: "/short" });
    expect([revoked.status, ((await revoked.json()) as { subject: string }).subject]).toEqual([200, "CN=short-device"]);
    const req = await buildGetCrl({ issuer: cert.issuerDer, serialNumber: cert.serialNumber, signer: e.signer, recipient: selectRecipient(e.caCerts) });
    const rep = await readCertRep(await e.client.pkiOperation(req.der), { decrypter: e.signer, caCertificates: e.caCerts, request: req });
    expect([rep.status, rep.crls.length]).toEqual(["SUCCESS", 1]);
    writeFileSync(join(tmp, "short.crl"), rep.crls[0]!);
    const text = execFileSync("openssl", ["crl", "-inform", "DER", "-in", "short.crl", "-noout", "-text", "-CAfile", "short-ca.pem", "-verify"], { cwd: tmp, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    expect(text).toContain(`Serial Number: ${serial.toUpperCase()}`);
    expect(text).toContain("Issuer: CN = Short-lived CA");
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
