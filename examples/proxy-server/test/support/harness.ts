/**
 * What the proxy's end-to-end tests start, on loopback, and stop again:
 * upstream CAs (a real micromdm `scepserver`, or our Express example server as
 * a child process with its own data dir) and example proxy processes
 * (`node dist/main.mjs`, the bundle `pnpm start:proxy` runs, configured by a JSON file in a temp dir and
 * the documented environment). Tests wait for lines the processes print, never
 * for wall-clock time.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomChallenge, startMicromdmServer, startStepCa, type MicromdmServer, type StepCa } from "../../../../test-support/peers";
import { ExampleProcess } from "../../../server-kit/test/support/example-process.js";

export const PROXY_DIR = fileURLToPath(new URL("../..", import.meta.url));
const EXPRESS_DIR = fileURLToPath(new URL("../../../express-server", import.meta.url));

/** The admin token every test proxy gets. */
export const ADMIN_TOKEN = "proxy-admin-token-0123456789abcdef";

/** An upstream SCEP CA the proxy forwards to. */
export interface Upstream {
  kind: "micromdm" | "example" | "step-ca";
  /** Its SCEP URL (`http://127.0.0.1:PORT/scep`). */
  url: string;
  /** The static challenge devices put into their CSR. */
  challenge: string;
  /** The CA certificate (PEM) issued certificates chain to (step-ca: its root; `untrustedPem` is its intermediate). */
  caPem: string;
  /** step-ca only: the intermediate between `caPem` and the issued certificates. */
  untrustedPem?: string;
  /** step-ca only: the running server. */
  stepCa?: StepCa;
  /** micromdm only: the running server (depot, index). */
  micromdm?: MicromdmServer;
  /** The upstream's process id (for CPU accounting in the bench). */
  pid: number;
  stop(): Promise<void>;
}

/** micromdm `scepserver` on a free loopback port with a fresh depot and a static challenge. */
export async function startMicromdmUpstream(): Promise<Upstream> {
  const challenge = randomChallenge();
  const server = await startMicromdmServer({ challenge });
  return { kind: "micromdm", url: server.url, challenge, caPem: server.caCertPem, micromdm: server, pid: server.daemon.pid, stop: () => server.stop() };
}

/**
 * Smallstep step-ca 0.19 (built from Debian's sources, test-support/peers/step-ca.ts) with a SCEP provisioner and a
 * static challenge, on plain HTTP (`insecureAddress`). The first start of a run builds it (about a minute).
 */
export async function startStepCaUpstream(): Promise<Upstream> {
  const challenge = randomChallenge();
  const ca = await startStepCa({ challenge });
  return { kind: "step-ca", url: ca.url, challenge, caPem: ca.rootPem, untrustedPem: ca.intermediatePem, stepCa: ca, pid: ca.daemon.pid, stop: () => ca.stop() };
}

/** Our Express example server (its bundle, as `pnpm start` runs it) with a fresh data dir and a static challenge. */
export async function startExampleUpstream(): Promise<Upstream> {
  const challenge = randomChallenge();
  const dir = mkdtempSync(join(tmpdir(), "scep-proxy-upstream-"));
  const proc = new ExampleProcess(EXPRESS_DIR, { SCEP_DATA_DIR: dir, SCEP_CHALLENGE: challenge });
  const stop = async (): Promise<void> => {
    await proc.terminate();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const listening = (await proc.waitForJson("listening")) as { port: number; caCertificate: string };
    return {
      kind: "example",
      url: `http://127.0.0.1:${listening.port}/scep`,
      challenge,
      caPem: readFileSync(listening.caCertificate, "utf8"),
      pid: proc.child.pid!,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** One CA entry of the proxy's JSON configuration file. */
export interface CaEntry {
  name: string;
  type: "ndes" | "smallstep" | "custom";
  url: string;
  challengeTtlMs?: number;
  exemptPlatforms?: string[];
  challenge?: string;
}

/** A running example proxy. */
export interface RunningProxy {
  proc: ExampleProcess;
  /** `http://127.0.0.1:PORT` */
  base: string;
  /** Calls the admin API with the bearer token (or `token`: `null` for none). */
  admin(method: string, path: string, body?: unknown, token?: string | null): Promise<Response>;
  /** `POST /admin/profiles`: the device's URL and what else the MDM puts into the profile. */
  register(entry: { hostId: string; profileId: string; caName?: string; platform?: string; challengeRetrievedAt?: number }): Promise<Registration>;
  /** The record of one profile, from `GET /admin/profiles`. */
  profile(hostId: string, profileId: string, caName: string): Promise<Record<string, unknown> | undefined>;
  /** The proxy's JSON event lines so far (`type: "proxy"`). */
  events(): Record<string, unknown>[];
  stop(): Promise<void>;
}

/** What `POST /admin/profiles` answers. */
export interface Registration {
  hostId: string;
  profileId: string;
  caName: string;
  status: string;
  url: string;
  challengePassword?: string;
}

/** Starts the example proxy in front of `cas`, with the given extra environment (e.g. `SCEP_REDIS_URL`), file keys and flags. */
export async function startProxy(cas: CaEntry[], env: Record<string, string> = {}, file: Record<string, unknown> = {}, args: readonly string[] = []): Promise<RunningProxy> {
  const dir = mkdtempSync(join(tmpdir(), "scep-proxy-config-"));
  const configPath = join(dir, "proxy.json");
  writeFileSync(configPath, JSON.stringify({ cas, ...file }, null, 2));
  const proc = new ExampleProcess(PROXY_DIR, { SCEP_PROXY_CONFIG: configPath, PROXY_ADMIN_TOKEN: ADMIN_TOKEN, ...env }, args);
  const stop = async (): Promise<void> => {
    await proc.terminate();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const listening = (await proc.waitForJson("listening")) as { port: number };
    const base = `http://127.0.0.1:${listening.port}`;
    const admin = (method: string, path: string, body?: unknown, token: string | null = ADMIN_TOKEN): Promise<Response> =>
      fetch(`${base}${path}`, {
        method,
        headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
    return {
      proc,
      base,
      admin,
      async register(entry) {
        const res = await admin("POST", "/admin/profiles", entry);
        const json = (await res.json()) as Registration & { error?: string };
        if (res.status !== 201) throw new Error(`POST /admin/profiles answered ${res.status}: ${json.error}`);
        return json;
      },
      async profile(hostId, profileId, caName) {
        const res = await admin("GET", `/admin/profiles?hostId=${encodeURIComponent(hostId)}`);
        const json = (await res.json()) as { profiles: Record<string, unknown>[] };
        return json.profiles.find((p) => p.hostId === hostId && p.profileId === profileId && p.caName === caName);
      },
      events: () => proc.events("proxy"),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
