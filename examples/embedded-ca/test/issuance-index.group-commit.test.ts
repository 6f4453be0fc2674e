// Group commit of the index: concurrent records share one write(2) and one
// fdatasync, and no append resolves before the fdatasync covering its record.
import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { GroupAppender } from "../src/lib/durable-fs.js";
import { tempDir } from "./helpers.js";

const line = (n: number): Uint8Array => Buffer.from(`{"serial":"${n.toString(16).padStart(4, "0")}"}\n`);

/** The FileHandle prototype, whose write/datasync/close the appender calls. */
async function fileHandlePrototype(): Promise<{ write: unknown; datasync: unknown; close: unknown }> {
  const handle = await open(join(tempDir(), "probe"), "w");
  const proto = Object.getPrototypeOf(handle) as { write: unknown; datasync: unknown; close: unknown };
  await handle.close();
  return proto;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("GroupAppender", () => {
  it("writes 50 concurrent records with one write and one fdatasync, resolving them only after it", async () => {
    const path = join(tempDir(), "index.jsonl");
    const proto = (await fileHandlePrototype()) as unknown as { write: (...a: unknown[]) => Promise<unknown>; datasync: () => Promise<void> };
    const events: string[] = [];
    const write = vi.spyOn(proto, "write");
    const realDatasync = proto.datasync;
    const datasync = vi.spyOn(proto, "datasync").mockImplementation(async function (this: unknown) {
      events.push("datasync start");
      await realDatasync.call(this);
      events.push("datasync end");
    });

    const appender = new GroupAppender(path);
    const done = Array.from({ length: 50 }, (_, i) => appender.append(line(i)).then(() => events.push(`resolved ${i}`)));
    await Promise.all(done);

    expect(write).toHaveBeenCalledTimes(1);
    expect(datasync).toHaveBeenCalledTimes(1);
    expect(events.slice(0, 2)).toEqual(["datasync start", "datasync end"]);
    expect(events.slice(2)).toEqual(Array.from({ length: 50 }, (_, i) => `resolved ${i}`));
    expect(readFileSync(path, "utf8")).toBe(Array.from({ length: 50 }, (_, i) => Buffer.from(line(i)).toString()).join(""));
  });

  it("queues records that arrive during a sync into the next batch, which resolves only after its own sync", async () => {
    const path = join(tempDir(), "index.jsonl");
    const proto = (await fileHandlePrototype()) as unknown as { datasync: () => Promise<void> };
    const realDatasync = proto.datasync;
    const appender = new GroupAppender(path);
    const order: string[] = [];
    let syncs = 0;
    let late: Promise<void> | undefined;
    vi.spyOn(proto, "datasync").mockImplementation(async function (this: unknown) {
      syncs += 1;
      order.push(`sync ${syncs} start`);
      // While the first batch syncs, two more records arrive.
      if (syncs === 1) late = Promise.all([appender.append(line(2)), appender.append(line(3))]).then(() => void order.push("late resolved"));
      await realDatasync.call(this);
      order.push(`sync ${syncs} end`);
    });

    await Promise.all([appender.append(line(0)), appender.append(line(1))]).then(() => order.push("first resolved"));
    await late;
    expect(order).toEqual(["sync 1 start", "sync 1 end", "first resolved", "sync 2 start", "sync 2 end", "late resolved"]);
    expect(readFileSync(path, "utf8").split("\n").filter(Boolean)).toHaveLength(4);
  });

  it("rejects the whole batch when fdatasync fails, and recovers for the next one", async () => {
    const path = join(tempDir(), "index.jsonl");
    const proto = (await fileHandlePrototype()) as unknown as { datasync: () => Promise<void> };
    const appender = new GroupAppender(path);
    vi.spyOn(proto, "datasync").mockRejectedValueOnce(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
    const results = await Promise.allSettled([appender.append(line(0)), appender.append(line(1))]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect((results[0] as PromiseRejectedResult).reason).toMatchObject({ code: "EIO" });
    await appender.append(line(2));
    // The failed batch's bytes may be in the file (never acknowledged); the next record follows them.
    expect(readFileSync(path, "utf8").split("\n").filter(Boolean).at(-1)).toBe('{"serial":"0002"}');
  });

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
    const appender = new GroupAppender(path, 0o644, 50);
    await appender.append(line(0));
    const first = openOnPath();
    expect(first).toHaveLength(1);
    await appender.append(line(1)); // a second batch, after the first resolved: the same descriptor
    expect(openOnPath()).toEqual(first);
    await vi.waitFor(() => expect(openOnPath()).toEqual([]), { timeout: 10_000, interval: 20 });
    // A record after the close opens the file again and lands after the others.
    await appender.append(line(2));
    expect(readFileSync(path, "utf8").split("\n").filter(Boolean)).toEqual(['{"serial":"0000"}', '{"serial":"0001"}', '{"serial":"0002"}']);
  });

  it("rejects everything waiting when the file cannot be opened", async () => {
    const appender = new GroupAppender(join(tempDir(), "missing-dir", "index.jsonl"));
    const results = await Promise.allSettled([appender.append(line(0)), appender.append(line(1))]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: "ENOENT" });
  });
});
