/**
 * `redisClientOptions` and a connection that drops under a write. A command
 * in flight when the connection closes must not be sent again on the next
 * connection (it fails by its command timeout): the store has already answered 503 and sent
 * its undo (which the dropped connection refused, the offline queue being
 * off), so a resend would land the write after its undo, the very "late write"
 * the stores undo (a transaction create whose challenge was given back, a
 * consumed challenge, a replay entry). ioredis resends unanswered commands
 * after a reconnect unless `autoResendUnfulfilledCommands` is false.
 * Real redis-server on loopback, paused (SIGSTOP) so the write is unanswered.
 */
import Redis from "ioredis";
import { describe, expect, it } from "vitest";
import { usePrivateRedis } from "./support/private-redis.js";
import { redisClientOptions } from "../src/index.js";

// A long command timeout: the write must still be waiting when the new connection is ready.
const redis = usePrivateRedis({ commandTimeout: 30_000 });

describe("redisClientOptions: no resend of a write after a reconnect", () => {
  it("a write in flight when the connection drops is not sent again on the new connection", async () => {
    expect(redisClientOptions).toMatchObject({ enableOfflineQueue: false, autoResendUnfulfilledCommands: false });
    const { client, server } = redis;
    await client.set("resend:k", "0");
    await server.pause();
    let answered = false;
    const write = client.incr("resend:k").then(() => void (answered = true));
    write.catch(() => undefined); // ends by its command timeout (or the client's disconnect after the file)
    await new Promise((resolve) => setTimeout(resolve, 50)); // written to the socket, unanswered
    const reconnected = new Promise<void>((resolve) => client.once("close", () => client.once("ready", () => resolve())));
    (client as unknown as { stream: { destroy(): void } }).stream.destroy();
    server.resume();
    await reconnected;
    // A command on the new connection is answered after anything sent before it on that connection, a resent INCR included.
    const value = Number(await client.get("resend:k"));
    expect(answered).toBe(false);
    // Redis ran what reached it on the old connection (at most once); nothing was sent again.
    expect(value).toBeLessThanOrEqual(1);
    const stats = await server.command("INFO commandstats");
    expect(Number(/cmdstat_incr:calls=(\d+)/.exec(stats)?.[1] ?? 0)).toBe(value);
  });
});
