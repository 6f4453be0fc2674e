// Which CA a Redis key prefix belongs to. Everything an example server keeps in Redis (PENDING transactions, one-time
// challenges, revocations, CRL numbers, counters, Intune caches) is keyed by the prefix and a profile path, never by
// the CA: two deployments with different CAs on one Redis db and one prefix (staging and production, two customers)
// would accept each other's one-time challenges, list each other's PENDING requests and put each other's revoked
// serials on their CRLs. So at start (and on each reload) a server claims its prefix for the CA certificates it
// serves: `<prefix>ca-fingerprints`, a Redis set of their SHA-256 fingerprints, created when absent. A server that
// serves none of the CAs named there is refused (exit 2, one line); one that serves one of them joins and adds the
// others it serves. That is how a CA rollover keeps the prefix: the servers that announce the next CA
// (`--next-ca-cert`) add it, and once the switch is done a server with the new CA alone still finds it named. The set
// only grows (a fingerprint is never dropped: a replica still on the old CA keeps passing); delete the key to start
// it over.
import type Redis from "ioredis";
import { ConfigError } from "./errors.js";

/** The key, after the prefix, of the set of CA fingerprints the prefix belongs to. */
export const NAMESPACE_KEY = "ca-fingerprints";

// Atomic check-and-add (one script: two starts at once cannot both create a set for different CAs). KEYS[1]: the set;
// ARGV: this server's fingerprints. Replies {"claimed"} (created), {"joined", added} (one of ARGV was named; `added`
// how many ARGV were new), {"other", members…} (none named), {"type", type} (the key is not a set: not ours).
const CLAIM_SCRIPT = `
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'none' then
  redis.call('SADD', KEYS[1], unpack(ARGV))
  return {'claimed'}
end
if kind ~= 'set' then return {'type', kind} end
for i = 1, #ARGV do
  if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 1 then
    return {'joined', tostring(redis.call('SADD', KEYS[1], unpack(ARGV)))}
  end
end
local found = redis.call('SMEMBERS', KEYS[1])
table.sort(found)
table.insert(found, 1, 'other')
return found
`;

/** What {@link claimRedisNamespace} did: created the set, or joined it (adding `added` fingerprints it lacked). */
export type NamespaceClaim = { kind: "claimed" } | { kind: "joined"; added: number };

/**
 * Claims `<keyPrefix>ca-fingerprints` for the CA certificates a server serves (see the file's header).
 *
 * @param client - the stores' connected ioredis client (its own `keyPrefix` from a `?keyPrefix=` URL query applies too).
 * @param options.keyPrefix - the prefix of the server's keys (`--redis-key-prefix`).
 * @param options.fingerprints - SHA-256 fingerprints (colon hex) of every CA certificate the server serves: its CA,
 *   the next CA it announces (GetNextCACert, RFC 8894 §4.7), and the profiles' own CAs. At least one.
 * @param options.where - the Redis URL with its credentials masked, for the error line.
 * @throws ConfigError (one line, no usage) when the set names none of `fingerprints` ("… is in use by another CA …:
 *   give this deployment its own --redis-key-prefix or Redis db"), when the key holds something else than a set, or
 *   when Redis does not answer ("cannot claim …").
 */
export async function claimRedisNamespace(client: Redis, options: { keyPrefix: string; fingerprints: readonly string[]; where: string }): Promise<NamespaceClaim> {
  const { keyPrefix, fingerprints, where } = options;
  const key = `${keyPrefix}${NAMESPACE_KEY}`;
  const at = `Redis ${where} key prefix ${JSON.stringify(keyPrefix)}`;
  let reply: unknown;
  try {
    reply = await client.eval(CLAIM_SCRIPT, 1, key, ...fingerprints);
  } catch (e) {
    throw new ConfigError(`cannot claim ${at} (${key}) for this server's CA: ${(e as Error).message.split("\n", 1)[0]}`, { showUsage: false });
  }
  const [kind, ...rest] = Array.isArray(reply) ? (reply as unknown[]).map(String) : [];
  if (kind === "claimed") return { kind };
  if (kind === "joined") return { kind, added: Number(rest[0]) };
  const found = kind === "other" ? `SHA-256 ${rest.join(", ")}` : `${key} is a Redis ${rest[0] ?? "value"}, not a set of CA fingerprints`;
  throw new ConfigError(
    `${at} is in use by another CA (${found}; this server's: SHA-256 ${fingerprints.join(", ")}): give this deployment its own --redis-key-prefix or Redis db`,
    { showUsage: false },
  );
}
