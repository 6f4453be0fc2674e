/**
 * The admin API finds a serial in every spelling normalizeSerialNumber (@scep/core) folds into one (`80…` and `0080…`
 * are one positive number; `-7fff` is the negative INTEGER 80 01, RFC 5280 §4.1.2.2, a number of its own): `POST /admin/scep/revoke` and
 * `GET /admin/scep/certificates?serial=` with a serial whose first octet is 0x80 or more, written with and without
 * its `00`, and with redundant leading zeros, against a real embedded CA whose index holds such serials (an index
 * written elsewhere: this CA's own serials start at 0x40).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateCsr, generateRsaKeyPair, type ScepServer } from "@scep/core";
import { openFileCa, type FileCa } from "@scep-examples/embedded-ca";
import { createAdminApi } from "../src/admin-api.js";

const TOKEN = "serial-spellings-admin-token";
let dir: string;
let ca: FileCa;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-admin-serials-"));
  ca = await openFileCa({ dataDir: dir });
  const keys = await generateRsaKeyPair();
  await ca.issue({ csrDer: await generateCsr({ keys, subject: "CN=serial-spellings" }) });
  const index = join(dir, "index.jsonl");
  const line = JSON.parse(readFileSync(index, "utf8")) as Record<string, string>;
  writeFileSync(index, [{ ...line, serial: "80c0ffee01" }, { ...line, serial: "000012ab" }, { ...line, serial: "-7fff" }, { ...line, serial: "008001" }].map((l) => JSON.stringify(l) + "\n").join(""));
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const api = () => createAdminApi({ token: TOKEN, server: { profiles: () => [{ profile: "/scep" }] } as unknown as ScepServer, defaultProfile: "/scep", log: () => {}, ca });
const call = (method: string, path: string, body?: unknown) =>
  api().fetch(new Request(`http://127.0.0.1${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) }));
const serialsOf = async (query: string) => ((await (await call("GET", `/admin/scep/certificates?serial=${query}`)).json()) as { certificates: { serialNumber: string }[] }).certificates.map((c) => c.serialNumber);

describe("admin API: one serial, every spelling (normalizeSerialNumber)", () => {
  it("GET certificates?serial= finds index line 80c0ffee01 by 80c0ffee01, 0080C0FFEE01, 00:00:80:c0:ff:ee:01 and the part c0ffee", async () => {
    for (const q of ["80c0ffee01", "0080C0FFEE01", "00:00:80:c0:ff:ee:01", "c0ffee"]) expect(await serialsOf(encodeURIComponent(q))).toEqual(["0080c0ffee01"]);
    expect(await serialsOf("12ab")).toEqual(["12ab"]);
    expect(await serialsOf("0012ab")).toEqual(["12ab"]);
  });

  it("POST revoke by 80c0ffee01, then by 0080c0ffee01: one revocation (the second keeps the first), listed as revoked", async () => {
    // superseded: these test certificates share one key, which a keyCompromise revoke would revoke whole (alsoRevoked).
    const first = await call("POST", "/admin/scep/revoke", { serialNumber: "80c0ffee01", reason: "superseded" });
    const body = (await first.json()) as Record<string, unknown>;
    expect([first.status, body]).toEqual([200, { serialNumber: "0080c0ffee01", subject: "CN=serial-spellings", reason: "superseded", revokedAt: expect.any(String), created: true, updated: false, alsoRevoked: [] }]);
    const again = await call("POST", "/admin/scep/revoke", { serialNumber: "0080c0ffee01", reason: "cessationOfOperation" });
    expect([again.status, await again.json()]).toEqual([200, { ...body, created: false }]);
    const listed = (await (await call("GET", "/admin/scep/certificates?serial=80c0ffee01")).json()) as { certificates: { revoked: unknown }[] };
    expect(listed.certificates.map((c) => c.revoked)).toEqual([{ reason: "superseded", revokedAt: body.revokedAt }]);
  });

  it("POST revoke by 0000000012ab revokes index line 000012ab as 12ab", async () => {
    const res = await call("POST", "/admin/scep/revoke", { serialNumber: "0000000012ab", reason: "superseded" });
    expect([res.status, ((await res.json()) as { serialNumber: string }).serialNumber]).toEqual([200, "12ab"]);
    expect((await ca.revocations.list()).map((r) => r.serialNumber).sort()).toEqual(["0080c0ffee01", "12ab"]);
  });

  it("RFC 5280 §4.1.2.2: a negative serial (index line -7fff: content 80 01) and 0x8001 (008001) are two certificates: GET by -7FFF and by 80:01, POST revoke -7FFF", async () => {
    expect(await serialsOf("-7FFF")).toEqual(["-7fff"]);
    expect(await serialsOf("80%3A01")).toEqual(["008001"]);
    const res = await call("POST", "/admin/scep/revoke", { serialNumber: "-7FFF", reason: "superseded" }); // not keyCompromise: these certificates share a key
    expect([res.status, ((await res.json()) as { serialNumber: string }).serialNumber]).toEqual([200, "-7fff"]);
    expect(await ca.revocations.get("8001")).toBeUndefined();
  });

  it("POST revoke of a serial never issued: 404 naming the serial as the caller wrote it (DEADBEEF), the CA's spelling after it only when it differs", async () => {
    for (const [given, said] of [
      ["DEADBEEF", "DEADBEEF (00deadbeef)"],
      ["7e:ad:be:ef", "7e:ad:be:ef"],
      ["-7FFE", "-7FFE"],
    ]) {
      const res = await call("POST", "/admin/scep/revoke", { serialNumber: given, reason: "superseded" });
      expect([res.status, await res.json()]).toEqual([404, { error: `this CA issued no certificate with serial ${said}` }]);
    }
  });
});
