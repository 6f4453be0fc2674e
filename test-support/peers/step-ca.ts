/**
 * Smallstep step-ca 0.19 as a real SCEP CA (built from Debian's sources by
 * `step-ca-build.ts`), on loopback with a fresh root and intermediate.
 *
 * What step-ca 0.19 does (read in `/usr/share/gocode/src/github.com/smallstep/certificates`,
 * `scep/api/api.go`, `scep/authority.go`, `authority/provisioner/scep.go`, `ca/ca.go`):
 *
 * - SCEP lives at `/scep/<provisioner name>` (also `/scep/<name>/<anything>`),
 *   on the HTTPS `address` (TLS certificate issued by the intermediate for the
 *   `dnsNames`) and, when `insecureAddress` is set, on plain HTTP too (RFC 8894
 *   §4.1 says HTTP). This harness sets both; `url` is the HTTP one.
 * - The provisioner (`"type": "SCEP"`): `name`, `challenge` (one static
 *   password, compared in constant time; an empty or absent challenge matches
 *   only an absent one), `capabilities` (replaces the default list),
 *   `includeRoot` (GetCACert sends root too), `minimumPublicKeyLength` (bits,
 *   default 2048), `forceCN`, `encryptionAlgorithmIdentifier` (the CertRep's
 *   content cipher whatever the request used: 0 DES-CBC (default), 1
 *   AES-128-CBC, 2 AES-256-CBC, 3 AES-128-GCM, 4 AES-256-GCM), `claims`
 *   (`defaultTLSCertDuration`, default 24h) and `options` (templates).
 * - GetCACaps: `Renewal SHA-1 SHA-256 AES DES3 SCEPStandard POSTPKIOperation`
 *   joined by CRLF, `text/plain`.
 * - GetCACert: the intermediate alone (DER, `application/x-x509-ca-cert`), or
 *   intermediate + root (degenerate PKCS#7, `application/x-x509-ca-ra-cert`)
 *   with `includeRoot`. The intermediate signs CertReps and decrypts requests;
 *   its key must be RSA.
 * - PKIOperation by POST only: a GET PKIOperation answers `200 text/plain`
 *   with an empty body (not implemented in 0.19).
 * - Requests decrypt with DES-CBC, 3DES, AES-128-CBC, AES-256-CBC (and GCM);
 *   AES-192 or anything it cannot parse or decrypt is HTTP 500 with a text
 *   body, no CertRep.
 * - PKCSReq and RenewalReq both need the challenge; a wrong one is FAILURE
 *   badRequest. No CertPoll, GetCert or GetCRL (HTTP 500), never PENDING.
 * - A CertRep's senderNonce is the request's senderNonce again (as is its
 *   recipientNonce), and its failInfoText sits under the arc id-scep
 *   (1.3.6.1.5.5.7.24), not id-scep-failInfoText (1.3.6.1.5.5.7.24.1).
 * - An unknown provisioner name is HTTP 500 `provisioner <name> not found`.
 *
 * @module
 */
import { X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { httpGet, makeTempDir, PeerError, startDaemon, startOnFreePorts, waitFor, type Daemon } from "./process";
import { runOpenssl } from "./openssl";
import { stepCaBinary } from "./step-ca-build";

/** Options for {@link startStepCa}. */
export interface StepCaOptions {
  /** The provisioner's static `challenge` (default: none configured). */
  challenge?: string;
  /** Provisioner name, the last path segment of the SCEP URL (default `scep-interop`). */
  provisioner?: string;
  /** `includeRoot`: GetCACert sends the root after the intermediate. */
  includeRoot?: boolean;
  /** `encryptionAlgorithmIdentifier`, the CertRep's content cipher (0 DES-CBC … 4 AES-256-GCM; step-ca's default 0). */
  encryptionAlgorithmIdentifier?: number;
  /** `minimumPublicKeyLength` in bits (step-ca's default 2048). */
  minimumPublicKeyLength?: number;
  /** `forceCN`. */
  forceCN?: boolean;
  /** `capabilities`, replacing step-ca's default list. */
  capabilities?: string[];
  /** `claims.defaultTLSCertDuration` of the provisioner, a Go duration (step-ca's default `24h`). */
  certDuration?: string;
  /**
   * keyUsage of the intermediate (OpenSSL form). Default `critical,keyCertSign,cRLSign`, what `step ca init`
   * gives its intermediate: step-ca signs CertReps and decrypts with it all the same.
   */
  intermediateKeyUsage?: string;
  /** How long to wait for the first answer (default 30 s). */
  startTimeoutMs?: number;
}

/** A running step-ca. */
export interface StepCa {
  /** `http://127.0.0.1:PORT/scep/<provisioner>` (insecureAddress). */
  readonly url: string;
  /** `https://127.0.0.1:PORT/scep/<provisioner>` (address; its TLS certificate chains to `rootPem`). */
  readonly httpsUrl: string;
  readonly provisioner: string;
  readonly challenge: string | undefined;
  readonly rootPem: string;
  readonly intermediatePem: string;
  /** The intermediate's key, unencrypted PKCS#8 PEM (it decrypts SCEP requests). */
  readonly intermediateKeyPem: string;
  /** step-ca's output so far (startup lines, then one JSON line per request). */
  logs(): string;
  /** The JSON request lines of the log, parsed (`path`, `status`, `error`, …). */
  requests(): Record<string, unknown>[];
  /** Kills step-ca and removes its directory. */
  stop(): Promise<void>;
  readonly daemon: Daemon;
}

async function createChain(dir: string, intermediateKeyUsage: string): Promise<void> {
  const p = (name: string): string => join(dir, name);
  await runOpenssl([
    "req", "-x509", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", p("root.key"), "-out", p("root.pem"), "-days", "3650",
    "-subj", "/O=scep-sdk interop/CN=step-ca Interop Root CA",
    "-addext", "basicConstraints=critical,CA:TRUE,pathlen:1", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-addext", "subjectKeyIdentifier=hash",
  ]);
  await runOpenssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", p("intermediate.key"), "-out", p("intermediate.csr"), "-subj", "/O=scep-sdk interop/CN=step-ca Interop Intermediate CA"]);
  writeFileSync(p("intermediate.ext"), `basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=${intermediateKeyUsage}\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n`);
  await runOpenssl([
    "x509", "-req", "-in", p("intermediate.csr"), "-CA", p("root.pem"), "-CAkey", p("root.key"), "-CAcreateserial", "-days", "3650",
    "-extfile", p("intermediate.ext"), "-out", p("intermediate.pem"),
  ]);
}

/**
 * Starts step-ca (building it first if this run has not) with a fresh root and
 * intermediate and one SCEP provisioner, on two free loopback ports (HTTPS and
 * plain HTTP); resolves once GetCACaps answers on both and GetCACert returns
 * this run's intermediate. `stop()` kills it and removes its files.
 */
export async function startStepCa(options: StepCaOptions = {}): Promise<StepCa> {
  const binary = await stepCaBinary();
  const dir = makeTempDir("scep-step-ca-");
  try {
    const p = (name: string): string => join(dir.path, name);
    await createChain(dir.path, options.intermediateKeyUsage ?? "critical,keyCertSign,cRLSign");
    const rootPem = readFileSync(p("root.pem"), "utf8");
    const intermediatePem = readFileSync(p("intermediate.pem"), "utf8");
    const intermediateKeyPem = readFileSync(p("intermediate.key"), "utf8");
    const provisioner = options.provisioner ?? "scep-interop";
    const prov: Record<string, unknown> = { type: "SCEP", name: provisioner };
    if (options.challenge !== undefined) prov["challenge"] = options.challenge;
    if (options.includeRoot !== undefined) prov["includeRoot"] = options.includeRoot;
    if (options.encryptionAlgorithmIdentifier !== undefined) prov["encryptionAlgorithmIdentifier"] = options.encryptionAlgorithmIdentifier;
    if (options.minimumPublicKeyLength !== undefined) prov["minimumPublicKeyLength"] = options.minimumPublicKeyLength;
    if (options.forceCN !== undefined) prov["forceCN"] = options.forceCN;
    if (options.capabilities !== undefined) prov["capabilities"] = options.capabilities;
    if (options.certDuration !== undefined) prov["claims"] = { defaultTLSCertDuration: options.certDuration };
    const intermediateDer = new X509Certificate(intermediatePem).raw;

    return await startOnFreePorts(2, (ports) => {
      const [httpsPort, httpPort] = ports as [number, number];
      const config = {
        root: p("root.pem"),
        crt: p("intermediate.pem"),
        key: p("intermediate.key"),
        address: `127.0.0.1:${httpsPort}`,
        insecureAddress: `127.0.0.1:${httpPort}`,
        dnsNames: ["127.0.0.1", "localhost"],
        logger: { format: "json" },
        authority: { provisioners: [prov] },
      };
      writeFileSync(p("ca.json"), `${JSON.stringify(config, null, 2)}\n`);
      const daemon = startDaemon(binary, [p("ca.json")], { cwd: dir.path, env: { HOME: dir.path, STEPPATH: join(dir.path, "step") } });
      const url = `http://127.0.0.1:${httpPort}/scep/${encodeURIComponent(provisioner)}`;
      const httpsUrl = `https://127.0.0.1:${httpsPort}/scep/${encodeURIComponent(provisioner)}`;
      const ready = async (): Promise<StepCa> => {
        await waitFor(
          async () => {
            const caps = await httpGet(`${url}?operation=GetCACaps`, { timeoutMs: 1_000 });
            if (caps.status !== 200) return undefined;
            const ca = await httpGet(`${url}?operation=GetCACert`, { timeoutMs: 1_000 });
            // Ours: the intermediate, alone or first in a degenerate PKCS#7 (which holds its DER verbatim).
            if (!Buffer.from(ca.body).includes(intermediateDer)) throw new PeerError(`port ${httpPort} serves another CA`);
            if (!/Serving HTTPS on/.test(daemon.output())) return undefined;
            return daemon.hasExited() ? undefined : true;
          },
          {
            timeoutMs: options.startTimeoutMs ?? 30_000,
            what: `step-ca on ports ${httpsPort} (HTTPS) and ${httpPort} (HTTP) to answer GetCACaps and GetCACert`,
            abort: () => (daemon.hasExited() ? `step-ca exited:\n${daemon.output()}` : undefined),
          },
        );
        return {
          url,
          httpsUrl,
          provisioner,
          challenge: options.challenge,
          rootPem,
          intermediatePem,
          intermediateKeyPem,
          daemon,
          logs: () => daemon.output(),
          requests: () =>
            daemon
              .output()
              .split("\n")
              .filter((line) => line.startsWith("{"))
              .flatMap((line) => {
                try {
                  return [JSON.parse(line) as Record<string, unknown>];
                } catch {
                  return [];
                }
              }),
          async stop(): Promise<void> {
            await daemon.stop();
            dir.remove();
          },
        };
      };
      return { daemon, ready };
    });
  } catch (error) {
    dir.remove();
    throw error;
  }
}
