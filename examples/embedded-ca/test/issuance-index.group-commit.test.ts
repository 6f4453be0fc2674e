// Group commit of the index: concurrent records share one write(2), made durable by an O_DSYNC descriptor (or one
// fdatasync after it), and no append resolves before its record is durable.
import { constants, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { IndexWriter } from "../src/issuance-index.js";
import { GroupAppender } from "../src/lib/durable-fs.js";
import { UnsettledIssues } from "../src/unsettled-issues.js";
import { fileHandlePrototype, tempDir } from "./helpers.js";

const line = (n: number): Uint8Array => Buffer.from(`{"serial":"${n.toString(16).padStart(4, "0")}"}\n`);

afterEach(() => {
  vi.restoreAllMocks();
});

/** Whether descriptor `fd` of this process was opened with O_DSYNC (Linux: /proc/self/fdinfo's flags, octal). */
const hasDsync = (fd: number): boolean =>
  (Number.parseInt(/^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))![1]!, 8) & constants.O_DSYNC) !== 0;

/** Whether each `write` of a FileHandle from now on goes to a descriptor opened with O_DSYNC, in call order. */
async function recordDsyncOfWrites(): Promise<boolean[]> {
  const proto = await fileHandlePrototype();
  const realWrite = proto.write;
  const seen: boolean[] = [];
  vi.spyOn(proto, "write").mockImplementation(async function (this: { fd: number }, ...args: unknown[]) {
    seen.push(hasDsync(this.fd));
    return realWrite.apply(this, args);
  });
  return seen;
}

// The tests read descriptors' flags in /proc: Linux, where O_DSYNC is the default (on macOS Node's fdatasync is
// F_FULLFSYNC, which an O_DSYNC write does not match, so the fdatasync stays there).
describe("the appenders' default, Linux", () => {
  it("the issuance index, unsettled.jsonl and a GroupAppender without options write through O_DSYNC descriptors", async () => {
    const dir = tempDir();
    const seen = await recordDsyncOfWrites();
    await new IndexWriter(join(dir, "index.jsonl")).append({ serial: "0a", subject: "CN=a", notBefore: "x", notAfter: "y", issuedAt: "z" });
    await new UnsettledIssues(dir).record("0b");
    await new GroupAppender(join(dir, "other.jsonl")).append(line(0));
    expect(seen).toEqual([true, true, true]);
    expect(readFileSync(join(dir, "unsettled.jsonl"), "utf8")).toBe('{"serial":"0b"}\n');
  });
});

// Where each batch becomes durable: an O_DSYNC write (the default here, Linux), or a plain write and then fdatasync.
describe.each([
  { mode: "an O_DSYNC descriptor (the default)", syncWrites: true, durable: "write" },
  { mode: "write + fdatasync (syncWrites: false, a platform without O_DSYNC)", syncWrites: false, durable: "datasync" },
] as const)("GroupAppender, $mode", ({ syncWrites, durable }) => {
  const appenderAt = (path: string): GroupAppender => new GroupAppender(path, { syncWrites });

  it("writes 50 concurrent records with one write and one sync, resolving them only after it", async () => {
    const path = join(tempDir(), "index.jsonl");
    const proto = await fileHandlePrototype();
    const events: string[] = [];
    const dsync: boolean[] = [];
    const realWrite = proto.write;
    const realDatasync = proto.datasync;
    const write = vi.spyOn(proto, "write").mockImplementation(async function (this: { fd: number }, ...args: unknown[]) {
      dsync.push(hasDsync(this.fd));
      events.push("write start");
      const written = await realWrite.apply(this, args);
      events.push("write end");
      return written;
    });
    const datasync = vi.spyOn(proto, "datasync").mockImplementation(async function (this: unknown) {
      events.push("datasync start");
      await realDatasync.call(this);
      events.push("datasync end");
    });

    const appender = appenderAt(path);
    const done = Array.from({ length: 50 }, (_, i) => appender.append(line(i)).then(() => events.push(`resolved ${i}`)));
    await Promise.all(done);

    expect(write).toHaveBeenCalledTimes(1);
    expect(datasync).toHaveBeenCalledTimes(syncWrites ? 0 : 1);
    expect(dsync).toEqual([syncWrites]);
    const durableEnd = events.indexOf(`${durable} end`);
    expect(durableEnd).toBeGreaterThan(-1);
    expect(events.findIndex((e) => e.startsWith("resolved"))).toBe(durableEnd + 1);
    expect(events.slice(durableEnd + 1)).toEqual(Array.from({ length: 50 }, (_, i) => `resolved ${i}`));
    expect(readFileSync(path, "utf8")).toBe(Array.from({ length: 50 }, (_, i) => Buffer.from(line(i)).toString()).join(""));
  });

  it("queues records that arrive while a batch is made durable into the next batch, which resolves only after its own", async () => {
    const path = join(tempDir(), "index.jsonl");
    const proto = await fileHandlePrototype();
    const real = proto[durable];
    const appender = appenderAt(path);
    const order: string[] = [];
    let syncs = 0;
    let late: Promise<void> | undefined;
    vi.spyOn(proto, durable).mockImplementation(async function (this: unknown, ...args: unknown[]) {
      syncs += 1;
      order.push(`sync ${syncs} start`);
      // While the first batch is made durable, two more records arrive.
      if (syncs === 1) late = Promise.all([appender.append(line(2)), appender.append(line(3))]).then(() => void order.push("late resolved"));
      const result = await real.apply(this, args);
      order.push(`sync ${syncs} end`);
      return result;
    });

    await Promise.all([appender.append(line(0)), appender.append(line(1))]).then(() => order.push("first resolved"));
    await late;
    // The second batch starts after the first is durable (its promises may settle before or after it starts).
    expect(order.filter((e) => e !== "first resolved")).toEqual(["sync 1 start", "sync 1 end", "sync 2 start", "sync 2 end", "late resolved"]);
    expect(order.indexOf("first resolved")).toBeGreaterThan(order.indexOf("sync 1 end"));
    expect(readFileSync(path, "utf8").split("\n").filter(Boolean)).toHaveLength(4);
  });

  it("rejects the whole batch when making it durable fails, and recovers for the next one", async () => {
    const path = join(tempDir(), "index.jsonl");
    const proto = await fileHandlePrototype();
    const appender = appenderAt(path);
    vi.spyOn(proto, durable).mockRejectedValueOnce(Object.assign(new Error(`EIO: i/o error, ${durable}`), { code: "EIO" }));
    const results = await Promise.allSettled([appender.append(line(0)), appender.append(line(1))]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect((results[0] as PromiseRejectedResult).reason).toMatchObject({ code: "EIO" });
    vi.restoreAllMocks();
    const seen = await recordDsyncOfWrites();
    await appender.append(line(2)); // on a descriptor opened again, the same way
    expect(seen).toEqual([syncWrites]);
    // The failed batch's bytes may be in the file (never acknowledged); the next record follows them.
    expect(readFileSync(path, "utf8").split("\n").filter(Boolean).at(-1)).toBe('{"serial":"0002"}');
  });
});

describe("GroupAppender", () => {
  it("keeps its descriptor from one batch to the next and closes it once idle for idleCloseMs", async () => {
    const path = join(tempDir(), "index.jsonl");
    // The descriptors this process holds on the file (Linux: /proc/self/fd links to the path).
    const openOnPath = (): string[] =>
      readdirSync("/proc/self/fd").filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === path;
        } catch {
          return false; // closed meanwhile (readdir's own descriptor, for one)
        }
      });
    const appender = new GroupAppender(path, { idleCloseMs: 50 });
    await appender.append(line(0));
    const first = openOnPath();
    expect(first).toHaveLength(1);
    await appender.append(line(1)); // a second batch, after the first resolved: the same descriptor
    expect(openOnPath()).toEqual(first);
    await vi.waitFor(() => expect(openOnPath()).toEqual([]), { timeout: 10_000, interval: 20 });
    // A record after the close opens the file again (with O_DSYNC again) and lands after the others.
    const seen = await recordDsyncOfWrites();
    await appender.append(line(2));
    expect(seen).toEqual([true]);
    expect(readFileSync(path, "utf8").split("\n").filter(Boolean)).toEqual(['{"serial":"0000"}', '{"serial":"0001"}', '{"serial":"0002"}']);
  });

  it("rejects everything waiting when the file cannot be opened", async () => {
    const appender = new GroupAppender(join(tempDir(), "missing-dir", "index.jsonl"));
    const results = await Promise.allSettled([appender.append(line(0)), appender.append(line(1))]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: "ENOENT" });
  });
});
