/**
 * One private redis-server (Debian's, on a free loopback port) and one
 * connected ioredis client for a test file (two with `second`: two replicas
 * on one server): started before its tests, stopped after them.
 */
import Redis, { type RedisOptions } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { startRedisServer, type RedisServer } from "../../../../test-support/peers";
import { redisClientOptions } from "../../src/index.js";

/** The server and client of {@link usePrivateRedis}, set once `beforeAll` has run. */
export interface PrivateRedis {
  readonly server: RedisServer;
  readonly client: Redis;
  /** Another connection to the same server, with the same options (a second replica); set with `{ second: true }` only. */
  readonly second: Redis;
}

/** Registers the file's beforeAll/afterAll; read `server` and `client` inside tests only. `clientOptions` are added to the client's. */
export function usePrivateRedis(clientOptions: RedisOptions = {}, options: { second?: boolean } = {}): PrivateRedis {
  const state = {} as { server: RedisServer; client: Redis; second: Redis };
  beforeAll(async () => {
    state.server = await startRedisServer();
    const connect = async (): Promise<Redis> => {
      const client = new Redis({ ...state.server.connection, ...redisClientOptions, ...clientOptions, lazyConnect: true });
      await client.connect();
      return client;
    };
    state.client = await connect();
    if (options.second) state.second = await connect();
  });
  afterAll(async () => {
    state.client?.disconnect();
    state.second?.disconnect();
    await state.server?.stop();
  });
  return state;
}
