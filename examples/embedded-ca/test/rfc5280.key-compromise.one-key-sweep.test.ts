// CA/B BR §4.9.1.1: a keyCompromise revoke revokes every other unexpired certificate of the key in the same call. With
// the file revocation store the sweep's revocations are revokeMany calls of up to 2 000 (each one locked append, one
// fdatasync, so another worker waits for one batch, not the whole sweep), not one revoke per certificate: 20 000
// certificates of one key took over a minute one at a time (417.8 s under load, 4.6 s batched:
// bench/key-compromise-one-key.ts). The result is the same: every certificate of the key revoked keyCompromise at the
// revoke's time, `alsoRevoked` sorted, expired ones left alone, nothing written by a second revoke.
import { appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import type { RevocationReason, RevokeResult } from "@scep/core";
import { FileRevocationStore, REVOCATIONS_FILE, openFileCa } from "../src/index.js";
import { encodeIndexLine } from "../src/issuance-index.js";
import { opensslCsr, tempDir } from "./helpers.js";

const NOW = new Date("2026-06-01T12:00:00.000Z");
const COUNT = 2_500;

/** A FileRevocationStore (real files) that counts the calls FileCa makes of it. */
class CountingStore extends FileRevocationStore {
  revokes = 0;
  batches: number[] = [];
  override revoke(options: { serialNumber: string; reason: RevocationReason; revokedAt?: Date }): Promise<RevokeResult> {
    this.revokes += 1;
    return super.revoke(options);
  }
  override revokeMany(revocations: readonly { serialNumber: string; reason: RevocationReason; revokedAt?: Date }[]): Promise<RevokeResult[]> {
    this.batches.push(revocations.length);
    return super.revokeMany(revocations);
  }
}

it(`a keyCompromise revoke of a key with ${COUNT} other certificates: all of them revoked keyCompromise in revokeMany batches of 2 000 and 500, with the revoke's time; a second revoke writes nothing`, async () => {
  const dir = tempDir();
  const dataDir = join(dir, "data");
  const store = new CountingStore(dataDir, { now: () => NOW });
  const ca = await openFileCa({ dataDir, clock: () => NOW, certificateFiles: false, revocations: store });
  const issued = await ca.issue({ csrDer: opensslCsr(dir, "device", { subject: "/CN=compromised" }) });
  const certificate = Buffer.from(issued.certificateDer).toString("base64");
  // COUNT more certificates of the key (the same certificate bytes under other serials, as the sweep matches the key in
  // the DER), and one of them expired: RFC 5280 §3.3, an expired certificate need not be revoked.
  const serialOf = (n: number): string => "41" + n.toString(16).padStart(32, "0");
  const line = (serial: string, notAfter: string): Uint8Array =>
    encodeIndexLine({ serial, subject: "CN=compromised", notBefore: "2026-01-01T00:00:00.000Z", notAfter, issuedAt: "2026-01-01T00:00:00.000Z", certificate });
  const others = Array.from({ length: COUNT }, (_, n) => serialOf(n));
  appendFileSync(join(dataDir, "index.jsonl"), Buffer.concat([...others.map((s) => line(s, "2027-01-01T00:00:00.000Z")), line("42" + "0".repeat(32), "2026-05-31T00:00:00.000Z")]));

  const first = await ca.revoke(issued.serialNumber, "keyCompromise");
  expect(first.created).toBe(true);
  expect(first.alsoRevoked).toEqual(others); // sorted, the expired one left out
  expect([store.revokes, store.batches.filter((n) => n > 1)]).toEqual([1, [2_000, 500]]);
  const listed = await new FileRevocationStore(dataDir).list();
  expect(listed).toHaveLength(COUNT + 1);
  expect(listed.every((e) => e.reason === "keyCompromise" && e.revokedAt.getTime() === NOW.getTime())).toBe(true);
  expect(new Set(listed.map((e) => e.serialNumber))).toEqual(new Set([issued.serialNumber, ...others]));

  const lines = readFileSync(join(dataDir, REVOCATIONS_FILE), "utf8").length;
  const again = await ca.revoke(issued.serialNumber, "keyCompromise");
  expect([again.created, again.updated, again.alsoRevoked]).toEqual([false, false, []]);
  expect(readFileSync(join(dataDir, REVOCATIONS_FILE), "utf8").length).toBe(lines);
});
