/**
 * One private redis-server (Debian's, on a free loopback port) and one
 * connected ioredis client for a test file: started before its tests,
 * stopped after them.
 */
import Redis, { type RedisOptions } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { startRedisServer, type RedisServer } from "../../../../test-support/peers";
import { redisClientOptions } from "../../src/index.js";

/** The server and client of {@link usePrivateRedis}, set once `beforeAll` has run. */
export interface PrivateRedis {
  readonly server: RedisServer;
  readonly client: Redis;
}

/** Registers the file's beforeAll/afterAll; read `server` and `client` inside tests only. `clientOptions` are added to the client's. */
export function usePrivateRedis(clientOptions: RedisOptions = {}): PrivateRedis {
  const state = {} as { server: RedisServer; client: Redis };
  beforeAll(async () => {
    state.server = await startRedisServer();
    state.client = new Redis({ ...state.server.connection, ...redisClientOptions, ...clientOptions, lazyConnect: true });
    await state.client.connect();
  });
  afterAll(async () => {
    state.client?.disconnect();
    await state.server?.stop();
  });
  return state;
}
