/**
 * Harness for driving the REAL SCEP peers from vitest: micromdm
 * `scepserver`/`scepclient`, strongSwan `pki`, certmonger (`scep-submit` and a
 * private daemon), the `openssl` CLI as referee, and a private `redis-server`
 * for the shared stores, and Smallstep step-ca 0.19 (built from Debian's Go
 * sources) as a second real SCEP CA.
 *
 * Import it by relative path from a test:
 *
 * ```ts
 * import { startMicromdmServer, runScepclient, opensslVerifyChain } from "../../../test-support/peers";
 *
 * const server = await startMicromdmServer({ challenge: "secret" });
 * try {
 *   const r = await runScepclient({ url: server.url, challenge: "secret", cn: "device-1" });
 *   expect(r.ok).toBe(true);
 *   await opensslVerifyChain(r.certPem!, server.caCertPem);
 * } finally {
 *   await server.stop();
 * }
 * ```
 *
 * Rules the helpers keep: a missing peer throws (tests fail, never skip);
 * every process runs in its own process group under a hard timeout and is
 * killed with its group on timeout, on `stop()` and at process exit; every
 * temp dir lives under `os.tmpdir()` and is removed. Only loopback is used.
 * Peer facts (flags, defaults, formats, quirks) are documented in each
 * module: `peers/micromdm.ts`, `peers/strongswan.ts`, `peers/certmonger.ts`,
 * `peers/openssl.ts`, `peers/redis.ts`, `peers/step-ca.ts`.
 *
 * @module
 */
export {
  DEFAULT_TIMEOUT_MS,
  PEERS,
  PeerError,
  describeResult,
  ensurePeer,
  findBinary,
  freePort,
  freeStablePort,
  httpGet,
  makeTempDir,
  requireBinary,
  runCommand,
  startDaemon,
  startOnFreePorts,
  waitFor,
  withTempDir,
} from "./peers/process";
export type { Daemon, DaemonOptions, FreePortStart, HttpResponse, PeerName, RunOptions, RunResult, TempDir } from "./peers/process";

export { derToPem, looksLikePem, pemBlocks, pemToDer, toDer, toPem } from "./peers/pem";
export type { PemBlock } from "./peers/pem";

export { pkiMessageOf, startRecordingProxy } from "./peers/proxy";
export type { RecordedExchange, RecordingProxy } from "./peers/proxy";

export { parseScepclientFailure, randomChallenge, runScepclient, startMicromdmServer } from "./peers/micromdm";
export type {
  DepotIndexEntry,
  MicromdmServer,
  MicromdmServerOptions,
  ScepclientFailure,
  ScepclientOptions,
  ScepclientResult,
} from "./peers/micromdm";

export { runStrongswanGen, runStrongswanReq, runStrongswanScep, runStrongswanScepca, strongswanMessages } from "./peers/strongswan";
export type {
  PemOrDer,
  StrongswanGenOptions,
  StrongswanKey,
  StrongswanReqOptions,
  StrongswanResult,
  StrongswanScepOptions,
  StrongswanScepResult,
  StrongswanScepcaResult,
} from "./peers/strongswan";

export { SCEP_SUBMIT_EXIT, parseGetcertList, runScepSubmit, startCertmonger } from "./peers/certmonger";
export type {
  AddScepCaOptions,
  CertmongerDaemon,
  CertmongerOptions,
  CertmongerRequestOptions,
  CertmongerRequestResult,
  ScepSubmitOptions,
  ScepSubmitResult,
} from "./peers/certmonger";

export { startStepCa } from "./peers/step-ca";
export type { StepCa, StepCaOptions } from "./peers/step-ca";
export { STEP_CA_CACHE, STEP_CA_PACKAGES, stepCaBinary } from "./peers/step-ca-build";

export { redisInline, redisPing, startRedisServer } from "./peers/redis";
export type { RedisServer, RedisServerOptions } from "./peers/redis";

export {
  opensslCmsDecrypt,
  opensslCmsEncrypt,
  opensslCmsPrint,
  opensslCmsSign,
  opensslCmsVerify,
  opensslCreateCa,
  opensslVerifyChain,
  opensslX509Text,
  runOpenssl,
} from "./peers/openssl";
export type {
  CaMaterial,
  CmsEncryptOptions,
  CmsSignOptions,
  CmsVerifyOptions,
  CreateCaOptions,
  OpensslCipher,
  OpensslDigest,
  VerifyChainOptions,
} from "./peers/openssl";
