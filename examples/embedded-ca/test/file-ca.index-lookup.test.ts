// A serial look-up (getCertificate: GetCert RFC 8894 §3.3.4, GetCRL's issuer check, revoke) costs a stat and, when
// the index grew, a read of what was appended: not a read of the whole index.jsonl. IndexLookup's byte counter says
// what each look-up read; FileCa instances sharing a data directory stand in for the server's worker processes.
import { appendFileSync, readFileSync, renameSync, statSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { openFileCa, type IssuedCertificate } from "../src/index.js";
import { IndexLookup } from "../src/index-lookup.js";
import { encodeIndexLine, type IndexLine } from "../src/issuance-index.js";
import { opensslCsr, tempDir } from "./helpers.js";

const LINES = 20_000;
let dir: string;
let csrDer: Uint8Array;
let certificate: string; // base64 DER of one real certificate, reused by the synthetic lines

/** A 17-octet serial as this CA writes them (first octet 0x40), distinct per n. */
function serialOf(n: number): string {
  return "40" + n.toString(16).padStart(32, "0");
}

function line(serial: string, subject = `CN=device-${serial.slice(-6)}`): IndexLine {
  return { serial, subject, notBefore: "2026-01-01T00:00:00.000Z", notAfter: "2027-01-01T00:00:00.000Z", issuedAt: "2026-01-01T00:00:00.000Z", certificate };
}

function bytes(record: IndexLine): number {
  return encodeIndexLine(record).length;
}

/** Writes an index of `count` synthetic lines; returns its path and size in bytes. */
function writeSyntheticIndex(path: string, count: number): number {
  const parts: Uint8Array[] = [];
  for (let n = 0; n < count; n += 1) parts.push(encodeIndexLine(line(serialOf(n))));
  writeFileSync(path, Buffer.concat(parts));
  return statSync(path).size;
}

beforeAll(async () => {
  dir = tempDir();
  csrDer = opensslCsr(dir, "device", { subject: "/O=Acme Devices/CN=lookup-0001", san: "DNS:lookup-0001.example" });
  const ca = await openFileCa({ dataDir: join(dir, "seed"), certificateFiles: false });
  certificate = Buffer.from((await ca.issue({ csrDer })).certificateDer).toString("base64");
});

describe("IndexLookup reads the index once, then only what was appended", () => {
  it(`on a ${LINES}-line index: the first look-up reads the file once, a hit then reads only its line, a miss nothing`, async () => {
    const path = join(dir, "big.jsonl");
    const size = writeSyntheticIndex(path, LINES);
    const lookup = new IndexLookup(path);

    expect(await lookup.find(serialOf(12_345))).toEqual(line(serialOf(12_345)));
    const lineBytes = bytes(line(serialOf(12_345)));
    expect(lookup.bytesRead).toBe(size + lineBytes); // the build, then the line (its `\n` included)

    const before = lookup.bytesRead;
    expect(await lookup.find(serialOf(7))).toEqual(line(serialOf(7)));
    expect(lookup.bytesRead - before).toBe(bytes(line(serialOf(7))));
    expect(await lookup.find(serialOf(LINES))).toBeUndefined();
    expect(await lookup.find("41")).toBeUndefined();
    expect(lookup.bytesRead - before).toBe(bytes(line(serialOf(7)))); // misses: a stat, no read
  });

  it("a line appended later is found by reading the tail only (plus one byte: the `\\n` the indexed part ends with)", async () => {
    const path = join(dir, "tail.jsonl");
    writeSyntheticIndex(path, LINES);
    const lookup = new IndexLookup(path);
    expect(await lookup.find(serialOf(0))).toBeDefined();
    const appended = [line(serialOf(LINES)), line(serialOf(LINES + 1))];
    appendFileSync(path, Buffer.concat(appended.map(encodeIndexLine)));

    const before = lookup.bytesRead;
    expect(await lookup.find(serialOf(LINES + 1))).toEqual(appended[1]);
    expect(lookup.bytesRead - before).toBe(1 + bytes(appended[0]!) + bytes(appended[1]!) + bytes(appended[1]!));
  });

  it("a last line without its `\\n` (a write in flight) is not found until it is complete; then it is", async () => {
    const path = join(dir, "partial.jsonl");
    writeSyntheticIndex(path, 3);
    const lookup = new IndexLookup(path);
    const record = line(serialOf(3));
    const encoded = Buffer.from(encodeIndexLine(record));
    appendFileSync(path, encoded.subarray(0, encoded.length - 1)); // the whole record, but not its newline
    expect(await lookup.find(serialOf(3))).toBeUndefined();
    expect(await lookup.find(serialOf(2))).toEqual(line(serialOf(2)));
    appendFileSync(path, "\n");
    expect(await lookup.find(serialOf(3))).toEqual(record);
  });

  it("a truncated index and a replaced one (another inode) are read again from the start", async () => {
    const path = join(dir, "rebuilt.jsonl");
    writeSyntheticIndex(path, 10);
    const lookup = new IndexLookup(path);
    expect(await lookup.find(serialOf(9))).toEqual(line(serialOf(9)));

    truncateSync(path, bytes(line(serialOf(0))) * 5); // the first five lines are left
    expect(await lookup.find(serialOf(9))).toBeUndefined();
    expect(await lookup.find(serialOf(4))).toEqual(line(serialOf(4)));

    // Replaced by rename with a LONGER file whose lines sit at other offsets (other subjects).
    const other = join(dir, "rebuilt.jsonl.new");
    const replacement = [line(serialOf(4), "CN=replacement-with-a-longer-subject"), line(serialOf(100), "CN=new")];
    writeFileSync(other, Buffer.concat([...replacement, ...Array.from({ length: 10 }, (_, n) => line(serialOf(200 + n)))].map(encodeIndexLine)));
    renameSync(other, path);
    expect(await lookup.find(serialOf(4))).toEqual(replacement[0]);
    expect(await lookup.find(serialOf(100))).toEqual(replacement[1]);
    expect(await lookup.find(serialOf(9))).toBeUndefined();
  });

  it("an index rewritten in place (same inode, lines moved) is noticed when a hit's line no longer holds its serial", async () => {
    const path = join(dir, "in-place.jsonl");
    writeSyntheticIndex(path, 4);
    const lookup = new IndexLookup(path);
    expect(await lookup.find(serialOf(3))).toEqual(line(serialOf(3)));
    // Same size, serials in another order: every offset now holds another serial.
    writeFileSync(path, Buffer.concat([3, 2, 1, 0].map((n) => encodeIndexLine(line(serialOf(n))))));
    expect(await lookup.find(serialOf(3))).toEqual(line(serialOf(3)));
    expect(await lookup.find(serialOf(0))).toEqual(line(serialOf(0)));
  });

  it("an index rewritten in place at the same size is noticed by its mtime: a serial the rewrite put in is found (a miss, no mismatching hit)", async () => {
    const path = join(dir, "same-size.jsonl");
    writeSyntheticIndex(path, 4);
    const lookup = new IndexLookup(path);
    expect(await lookup.find(serialOf(2))).toEqual(line(serialOf(2)));
    const { mtimeMs } = statSync(path);
    // As an editor saves in place (same inode, O_TRUNC): line 2 now holds another serial of the same length.
    const changed = line(serialOf(0xabc), `CN=device-${serialOf(2).slice(-6)}`);
    writeFileSync(path, Buffer.concat([line(serialOf(0)), line(serialOf(1)), changed, line(serialOf(3))].map(encodeIndexLine)));
    // A person's edit comes seconds after the look-up; utimes stands for that time, without sleeping (a rewrite
    // within the file system's timestamp granularity of the last stat is the documented blind spot).
    utimesSync(path, new Date(), new Date(mtimeMs + 5_000));
    expect(await lookup.find(serialOf(0xabc))).toEqual(changed); // not in the map built before: only a rebuild finds it
    expect(await lookup.find(serialOf(2))).toBeUndefined();
    expect((await lookup.page()).records.map((r) => r.serial)).toEqual([3, 0xabc, 1, 0].map(serialOf));
  });

  it("keeps readIndex's tolerance: torn and foreign lines skipped, a record glued onto a torn one found, the FIRST line of a duplicated serial, any spelling", async () => {
    const path = join(dir, "tolerant.jsonl");
    const first = line(serialOf(1), "CN=first");
    const glued = line(serialOf(2), "CN=glued");
    const high = line("80c0ffee01", "CN=high");
    writeFileSync(
      path,
      [
        JSON.stringify(first),
        "not json at all",
        '{"serial":"4000torn' + JSON.stringify(glued),
        JSON.stringify(line(serialOf(1), "CN=second")),
        "",
        JSON.stringify(high),
      ].join("\n") + "\n",
    );
    const lookup = new IndexLookup(path);
    expect(await lookup.find(serialOf(1))).toEqual(first);
    expect(await lookup.find(serialOf(2))).toEqual(glued);
    expect(await lookup.find("0080c0ffee01")).toEqual(high); // the canonical spelling of 80c0ffee01
    // A later duplicate in an appended tail does not displace the first either.
    appendFileSync(path, encodeIndexLine(line(serialOf(1), "CN=third")));
    expect(await lookup.find(serialOf(1))).toEqual(first);
  });

  it("concurrent look-ups on a fresh lookup build the map once (one read of the file, then one read per hit)", async () => {
    const path = join(dir, "concurrent.jsonl");
    const size = writeSyntheticIndex(path, 2_000);
    const lookup = new IndexLookup(path);
    const asked = Array.from({ length: 50 }, (_, n) => serialOf(n * 37));
    const found = await Promise.all(asked.map((s) => lookup.find(s)));
    expect(found).toEqual(asked.map((s) => line(s)));
    expect(lookup.bytesRead).toBe(size + asked.reduce((sum, s) => sum + bytes(line(s)), 0));
  });

  it("page(): newest first, and a page reads only its own lines (adjacent ones in one read), the serial filter none", async () => {
    const path = join(dir, "pages.jsonl");
    const size = writeSyntheticIndex(path, LINES);
    const lookup = new IndexLookup(path);
    const first = await lookup.page({ offset: 0, limit: 50 });
    expect(first.total).toBe(LINES);
    expect(first.records.map((r) => r.serial)).toEqual(Array.from({ length: 50 }, (_, n) => serialOf(LINES - 1 - n)));
    expect(first.records[0]).toEqual({ ...line(serialOf(LINES - 1)), canonicalSerial: serialOf(LINES - 1) });
    const pageBytes = (from: number, count: number): number =>
      Array.from({ length: count }, (_, n) => bytes(line(serialOf(from - n)))).reduce((a, b) => a + b, 0);
    expect(lookup.bytesRead).toBe(size + pageBytes(LINES - 1, 50)); // the build, then the page

    let before = lookup.bytesRead;
    const third = await lookup.page({ offset: 100, limit: 50 });
    expect(third.records.map((r) => r.serial)).toEqual(Array.from({ length: 50 }, (_, n) => serialOf(LINES - 101 - n)));
    expect(lookup.bytesRead - before).toBe(pageBytes(LINES - 101, 50));

    before = lookup.bytesRead;
    const bySerial = await lookup.page({ serial: (s) => s.endsWith("4e2"), limit: 2 }); // 0x4e2 = 1250, 0x14e2, 0x24e2, 0x34e2, 0x44e2
    expect([bySerial.total, bySerial.records.map((r) => r.serial)]).toEqual([5, [serialOf(0x44e2), serialOf(0x34e2)]]);
    expect(lookup.bytesRead - before).toBe(bytes(line(serialOf(0x44e2))) * 2); // two lines apart: two reads, nothing else

    before = lookup.bytesRead;
    const bySubject = await lookup.page({ record: (r) => r.subject.endsWith("4e2"), offset: 1, limit: 2 });
    expect([bySubject.total, bySubject.records.map((r) => r.serial)]).toEqual([5, [serialOf(0x34e2), serialOf(0x24e2)]]);
    expect(lookup.bytesRead - before).toBe(size); // a subject is not in memory: every line is read

    expect(await lookup.page({ offset: LINES, limit: 50 })).toEqual({ records: [], total: LINES });
  });

  it("a missing index is empty", async () => {
    const lookup = new IndexLookup(join(dir, "absent.jsonl"));
    expect(await lookup.find(serialOf(1))).toBeUndefined();
    expect(lookup.bytesRead).toBe(0);
  });
});

describe("FileCa: getCertificate and revoke through the look-up (RFC 8894 §3.3.4 GetCert, RFC 5280 §5.3.1)", () => {
  it(`on a ${LINES}-line index getCertificate and revoke find the right line`, async () => {
    const dataDir = join(dir, "ca-big");
    const ca = await openFileCa({ dataDir, certificateFiles: false });
    writeSyntheticIndex(join(dataDir, "index.jsonl"), LINES);
    const issued = await ca.issue({ csrDer }); // appended after the synthetic lines
    const der = new Uint8Array(Buffer.from(certificate, "base64"));
    const synthetic = await ca.getCertificate("00:" + serialOf(19_999).toUpperCase());
    expect(synthetic?.certificateDer).toEqual(der);
    expect(synthetic?.serialNumber).toBe(serialOf(19_999));
    expect(await ca.getCertificate(issued.serialNumber)).toEqual(issued);
    // superseded, not keyCompromise: every synthetic line holds the same certificate, so a keyCompromise revoke would
    // sweep all 20,000 (CA/B BR §4.9.1.1) and the test would time the sweep, not the look-up (it timed out under load).
    expect(await ca.revoke(serialOf(42), "superseded")).toMatchObject({ created: true, subject: `CN=device-${serialOf(42).slice(-6)}` });
    await expect(ca.revoke(serialOf(LINES + 5), "superseded")).rejects.toMatchObject({ code: "UNKNOWN_SERIAL" });
  });

  it("a certificate another FileCa on the same data directory (another worker) issues after the first look-up is found, and revocable", async () => {
    const dataDir = join(dir, "workers");
    const one = await openFileCa({ dataDir, certificateFiles: false });
    const two = await openFileCa({ dataDir, certificateFiles: false });
    const mine = await one.issue({ csrDer });
    expect(await one.getCertificate(mine.serialNumber)).toEqual(mine); // the map is built now
    const theirs: IssuedCertificate[] = await Promise.all([two.issue({ csrDer }), two.issue({ csrDer })]);
    for (const t of theirs) expect(await one.getCertificate(t.serialNumber)).toEqual(t);
    expect((await one.revoke(theirs[1]!.serialNumber, "superseded")).created).toBe(true);
    const later = await two.issue({ csrDer });
    expect(await one.getCertificate(later.serialNumber)).toEqual(later);
    expect(readFileSync(join(dataDir, "index.jsonl"), "utf8").split("\n").filter(Boolean)).toHaveLength(4);
  });
});
