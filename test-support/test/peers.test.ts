/**
 * Self-test of the real-peer harness: the real peers talk to each other over
 * loopback (micromdm client → micromdm server, strongSwan → micromdm,
 * certmonger → micromdm), and OpenSSL referees what they exchanged. If a
 * peer is missing these tests fail; they never skip.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  PeerError,
  derToPem,
  ensurePeer,
  freePort,
  freeStablePort,
  httpGet,
  opensslCmsDecrypt,
  opensslCmsEncrypt,
  opensslCmsPrint,
  opensslCmsSign,
  opensslCmsVerify,
  opensslCreateCa,
  opensslVerifyChain,
  pemBlocks,
  pemToDer,
  pkiMessageOf,
  randomChallenge,
  requireBinary,
  runOpenssl,
  runScepSubmit,
  startDaemon,
  startOnFreePorts,
  waitFor,
  runScepclient,
  runStrongswanGen,
  runStrongswanReq,
  runStrongswanScep,
  runStrongswanScepca,
  strongswanMessages,
  startCertmonger,
  startMicromdmServer,
  startRecordingProxy,
  type MicromdmServer,
} from "../peers";

const MICROMDM_CAPS = ["Renewal", "SHA-1", "SHA-256", "AES", "DES3", "SCEPStandard", "POSTPKIOperation"];

function subjectCn(certPem: string): string | undefined {
  return /CN=([^\n,]+)/.exec(new X509Certificate(certPem).subject)?.[1];
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("harness basics", () => {
  it("fails loudly, naming the package, when a peer binary is missing", () => {
    expect(() => requireBinary("no-such-scep-peer", "scep")).toThrow(
      /Required peer binary "no-such-scep-peer" was not found .*apt-get install -y scep/s,
    );
  });

  it("finds every peer this machine must have", () => {
    for (const name of ["scepserver", "scepclient", "pki", "scep-submit", "certmonger", "getcert", "openssl"] as const) {
      expect(ensurePeer(name)).toMatch(/^\//);
    }
  });

  it("hands out loopback ports that are free", async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    await expect(httpGet(`http://127.0.0.1:${port}/`)).rejects.toThrow(/ECONNREFUSED/);
  });

  it("startOnFreePorts: a daemon that finds its port taken (address already in use) is stopped and started again on new ports; another failure is thrown at once", async () => {
    const { createServer } = await import("node:net");
    // Listens after 300 ms: the squatter below binds the first attempt's port well before that.
    const script = "setTimeout(() => require('node:http').createServer((q, r) => r.end('up')).listen(Number(process.argv[1]), '127.0.0.1'), 300)";
    const launched: number[][] = [];
    const squatter = createServer();
    try {
      const served = await startOnFreePorts(2, (ports) => {
        launched.push(ports);
        if (launched.length === 1) squatter.listen(ports[0], "127.0.0.1");
        const daemon = startDaemon(process.execPath, ["-e", script, String(ports[0])]);
        return {
          daemon,
          ready: async () =>
            waitFor(async () => ((await httpGet(`http://127.0.0.1:${ports[0]}/`).catch(() => undefined))?.status === 200 ? ports[0] : undefined), {
              timeoutMs: 15_000,
              what: "the test daemon to answer",
              abort: () => (daemon.hasExited() ? `exited:\n${daemon.output()}` : undefined),
            }),
        };
      });
      expect(launched).toHaveLength(2);
      expect(new Set(launched[1]).size).toBe(2);
      expect(served).toBe(launched[1]![0]);
    } finally {
      squatter.close();
    }
    let attempts = 0;
    await expect(
      startOnFreePorts(1, () => {
        attempts++;
        const daemon = startDaemon(process.execPath, ["-e", "console.error('no config'); process.exit(3)"]);
        return { daemon, ready: () => waitFor(async () => undefined, { timeoutMs: 15_000, what: "never", abort: () => (daemon.hasExited() ? `exited: ${daemon.output()}` : undefined) }) };
      }),
    ).rejects.toThrow(/no config/);
    expect(attempts).toBe(1);
  });

  it("hands out stable ports below the kernel's ephemeral range (no listen(0) nor outgoing connection takes them), refused until bound", async () => {
    const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    const port = await freeStablePort();
    expect(port).toBeGreaterThanOrEqual(10_000);
    expect(port).toBeLessThan(low!);
    await expect(httpGet(`http://127.0.0.1:${port}/`)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe("micromdm scepclient against micromdm scepserver", () => {
  const challenge = randomChallenge();
  let server: MicromdmServer;

  beforeAll(async () => {
    server = await startMicromdmServer({ challenge });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("serves GetCACaps and GetCACert on loopback", async () => {
    const caps = await httpGet(`${server.url}?operation=GetCACaps`);
    expect(caps.status).toBe(200);
    expect(Buffer.from(caps.body).toString("utf8").split("\n")).toEqual(MICROMDM_CAPS);

    const cacert = await httpGet(`${server.url}?operation=GetCACert`);
    expect(cacert.headers["content-type"]).toBe("application/x-x509-ca-cert");
    expect(Buffer.from(cacert.body)).toEqual(Buffer.from(pemToDer(server.caCertPem)));
    expect(new X509Certificate(server.caCertPem).subject).toBe("C=US\nO=scep-ca\nOU=SCEP CA");
    expect(createPrivateKey(server.caKeyPem).asymmetricKeyType).toBe("rsa");
  });

  it("enrolls (PKCSReq, DES-CBC + SHA-1 on the wire) and OpenSSL verifies the chain and the messages", async () => {
    const proxy = await startRecordingProxy(server.url);
    try {
      const r = await runScepclient({ url: proxy.url, challenge, cn: "harness-device-1" });
      expect(r.ok, r.stdout + r.stderr).toBe(true);
      expect(r.messageType).toBe("PKCSReq");
      expect(r.keyPem).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
      expect(r.csrPem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----/);
      const certPem = r.certPem ?? "";
      expect(subjectCn(certPem)).toBe("harness-device-1");
      expect(await opensslVerifyChain(certPem, server.caCertPem)).toMatch(/: OK\s*$/);
      expect(server.readIndex().some((e) => e.status === "V" && e.dn.endsWith("/CN=harness-device-1"))).toBe(true);

      // The wire: GetCACert, GetCACaps, then one POSTed PKIOperation.
      expect(proxy.exchanges.map((e) => new URL(e.path, "http://x").searchParams.get("operation"))).toEqual([
        "GetCACert",
        "GetCACaps",
        "PKIOperation",
      ]);
      const [op] = proxy.byOperation("PKIOperation");
      if (!op) throw new Error("no PKIOperation captured");
      expect(op.method).toBe("POST");

      // OpenSSL reads the client's PKCSReq: signed by its self-signed cert,
      // enveloped to the CA with DES-CBC, carrying the CSR.
      const pkcsReq = pkiMessageOf(op);
      const reqEnvelope = await opensslCmsVerify(pkcsReq, undefined, { noverify: true });
      expect(await opensslCmsPrint(reqEnvelope)).toMatch(/des-cbc/);
      const csrDer = await opensslCmsDecrypt(reqEnvelope, server.caKeyPem);
      const csr = await runOpenssl(["req", "-inform", "DER", "-noout", "-subject"], { input: csrDer });
      expect(csr.stdout).toMatch(/CN ?= ?harness-device-1/);

      // ...and the server's CertRep: signed by the CA, enveloped to the client.
      expect(op.responseHeaders["content-type"]).toBe("application/x-pki-message");
      const repEnvelope = await opensslCmsVerify(op.responseBody, server.caCertPem);
      const degenerate = await opensslCmsDecrypt(repEnvelope, r.keyPem);
      const certs = await runOpenssl(["pkcs7", "-inform", "DER", "-print_certs"], { input: degenerate });
      expect(pemBlocks(certs.stdout).map((b) => derToPem(b.der))).toContain(certPem);
    } finally {
      await proxy.stop();
    }
  });

  it("reports a FAILURE CertRep (badRequest) for a wrong challenge", async () => {
    const r = await runScepclient({ url: server.url, challenge: "WRONG", cn: "harness-bad-challenge" });
    expect(r.ok).toBe(false);
    expect(r.code).toBe(1);
    expect(r.stdout.trim()).toBe("PKCSReq (19) request failed, failInfo: badRequest (2)");
    expect(r.failure).toEqual({ messageType: "PKCSReq", messageTypeCode: 19, failInfo: "badRequest", failInfoCode: 2 });
    expect(server.logs()).toMatch(/invalid challenge/);
  });

  it("refuses a RenewalReq when a challenge is enforced (scepclient sends none in it)", async () => {
    const first = await runScepclient({ url: server.url, challenge, cn: "harness-renew-challenged" });
    expect(first.ok, first.stdout + first.stderr).toBe(true);
    const renewed = await runScepclient({ url: server.url, keyPem: first.keyPem, certPem: first.certPem ?? "" });
    expect(renewed.failure).toEqual({ messageType: "RenewalReq", messageTypeCode: 17, failInfo: "badRequest", failInfoCode: 2 });
    expect(server.logs()).toMatch(/failed to sign CSR" err="invalid challenge"/);
  });

  it("renews with a RenewalReq signed by the old certificate (server without challenge)", async () => {
    const open = await startMicromdmServer();
    try {
      const first = await runScepclient({ url: open.url, cn: "harness-renew" });
      expect(first.ok, first.stdout + first.stderr).toBe(true);
      const renewed = await runScepclient({
        url: open.url,
        cn: "harness-renew",
        keyPem: first.keyPem,
        certPem: first.certPem ?? "",
      });
      expect(renewed.messageType).toBe("RenewalReq");
      expect(renewed.ok, renewed.stdout + renewed.stderr).toBe(true);
      const oldCert = new X509Certificate(first.certPem ?? "");
      const newCert = new X509Certificate(renewed.certPem ?? "");
      expect(newCert.serialNumber).not.toBe(oldCert.serialNumber);
      expect(newCert.publicKey.equals(oldCert.publicKey)).toBe(true);
      // -allowrenew 0: the old entry is revoked in the depot's index.
      const entries = open.readIndex().filter((e) => e.dn.endsWith("/CN=harness-renew"));
      expect(entries.map((e) => e.status).sort()).toEqual(["R", "V"]);
    } finally {
      await open.stop();
    }
  });

  it("refuses to re-enrol a DN early when -allowrenew is scepserver's default (14 days)", async () => {
    const strict = await startMicromdmServer({ challenge, allowRenewDays: 14 });
    try {
      expect((await runScepclient({ url: strict.url, challenge, cn: "harness-twice" })).ok).toBe(true);
      const again = await runScepclient({ url: strict.url, challenge, cn: "harness-twice" });
      expect(again.failure?.failInfo).toBe("badRequest");
      expect(strict.logs()).toMatch(/DN \/C=US\/O=scep-client\/OU=MDM\/CN=harness-twice already exists/);
    } finally {
      await strict.stop();
    }
  });
});

describe("micromdm scepserver with a CA the test provides", () => {
  it("issues from an OpenSSL-made CA written into the depot", async () => {
    const ca = await opensslCreateCa({ subject: "/O=harness/CN=Provided SCEP CA" });
    const server = await startMicromdmServer({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, challenge: "pw", nextSerial: 0x1000n });
    try {
      expect(server.caCertPem).toBe(ca.certPem);
      const r = await runScepclient({ url: server.url, challenge: "pw", cn: "harness-provided" });
      expect(r.ok, r.stdout + r.stderr).toBe(true);
      await opensslVerifyChain(r.certPem ?? "", ca.certPem);
      expect(new X509Certificate(r.certPem ?? "").serialNumber).toBe("1000");
      await expect(opensslVerifyChain(r.certPem ?? "", (await opensslCreateCa()).certPem)).rejects.toThrow(PeerError);
    } finally {
      await server.stop();
    }
  });

  it("stop() kills the server's process group and removes its depot", async () => {
    const server = await startMicromdmServer();
    const { pid } = server.daemon;
    expect(isAlive(pid)).toBe(true);
    await server.stop();
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(server.depot)).toBe(false);
    await expect(httpGet(`${server.url}?operation=GetCACaps`)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe("strongSwan pki against micromdm scepserver", () => {
  const challenge = randomChallenge();
  let server: MicromdmServer;

  beforeAll(async () => {
    server = await startMicromdmServer({ challenge });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("pki --scepca fetches micromdm's CA certificate (DER)", async () => {
    const r = await runStrongswanScepca({ url: server.url });
    expect(r.ok, r.messages.join("\n")).toBe(true);
    expect(r.raCerts).toEqual([]);
    expect(r.caCerts).toHaveLength(1);
    expect(Buffer.from(r.caCerts[0] ?? [])).toEqual(Buffer.from(pemToDer(server.caCertPem)));
    expect(r.messages.join("\n")).toMatch(/Root CA cert is untrusted/);
  });

  it("strongswanMessages drops the plugin-loading lines (which plugins a machine lacks is no SCEP message), keeps the rest", () => {
    const stderr = [
      'TPM 2.0 - could not load "libtss2-tcti-tabrmd.so.0"',
      "plugin 'tpm': failed to load - tpm_plugin_create returned NULL",
      "plugin 'aesni': failed to load - aesni_plugin_create not found and no plugin file available",
      "plugin 'openssl': failed to load - openssl_plugin_create not found and no plugin file available",
      "failInfo:     badRequest - transaction not permitted or supported",
      "reply status is not 'SUCCESS'",
      "",
    ].join("\n");
    expect(strongswanMessages(stderr)).toEqual(["failInfo:     badRequest - transaction not permitted or supported", "reply status is not 'SUCCESS'"]);
  });

  it("pki --gen makes an RSA key (PKCS#1 DER)", async () => {
    const key = await runStrongswanGen({ size: 2048 });
    expect(key.keyDer[0]).toBe(0x30);
    const parsed = createPrivateKey(key.keyPem);
    expect(parsed.asymmetricKeyType).toBe("rsa");
    expect(parsed.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it("pki --scep with the default AES refuses micromdm's caps (strongSwan 5.9.8 caps bug)", async () => {
    const key = await runStrongswanGen();
    const r = await runStrongswanScep({
      url: server.url,
      key: key.keyDer,
      dn: "CN=harness-strongswan-aes",
      password: challenge,
      caCertEnc: server.caCertPem,
      caCertSig: server.caCertPem,
    });
    expect(r.ok).toBe(false);
    expect(r.messages).toContain("AES_CBC encryption algorithm not supported by CA");
  });

  it("pki --scep --cipher des3 is served by micromdm, whose CertRep strongSwan then refuses", async () => {
    const key = await runStrongswanGen();
    const r = await runStrongswanScep({
      url: server.url,
      key: key.keyPem,
      dn: "C=US, O=harness, CN=harness-strongswan",
      password: challenge,
      caCertEnc: server.caCertPem,
      caCertSig: pemToDer(server.caCertPem),
      cipher: "des3",
      digest: "sha256",
    });
    // Documented, not fought: micromdm signs with sha256WithRSAEncryption,
    // strongSwan 5.9.8 only accepts rsaEncryption in the SignerInfo.
    expect(r.ok).toBe(false);
    expect(r.code).toBe(1);
    expect(r.messages).toContain("only RSA digest encryption supported");
    expect(r.messages).toContain("unable to verify PKCS#7 container");
    // ...yet the request itself was good: the server issued the certificate.
    expect(server.readIndex().some((e) => e.dn === "/C=US/O=harness/CN=harness-strongswan")).toBe(true);
  });
});

describe("strongSwan pki --req", () => {
  it("writes a DER PKCS#10 request OpenSSL verifies, with a CN above RFC 5280's ub-common-name and the challengePassword; a bad key is a PeerError", async () => {
    const key = await runStrongswanGen({ size: 2048 });
    const der = await runStrongswanReq({ key: key.keyPem, dn: `O=peers, CN=${"c".repeat(65)}`, password: "s3cret" });
    expect(der[0]).toBe(0x30);
    const text = (await runOpenssl(["req", "-inform", "DER", "-verify", "-noout", "-text"], { input: der })).stdout;
    expect(text).toContain(`Subject: O = peers, CN = ${"c".repeat(65)}`);
    expect(text).toMatch(/challengePassword\s*:\s*s3cret/);
    await expect(runStrongswanReq({ key: "not a key", dn: "CN=x" })).rejects.toBeInstanceOf(PeerError);
  });
});

describe("certmonger against micromdm scepserver", () => {
  const challenge = randomChallenge();
  let server: MicromdmServer;

  beforeAll(async () => {
    server = await startMicromdmServer({ challenge });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("scep-submit -c reads micromdm's GetCACaps", async () => {
    const r = await runScepSubmit({ url: server.url, operation: "GetCACaps" });
    expect(r.status).toBe("ISSUED");
    expect(r.stdout.trim().split("\n")).toEqual(MICROMDM_CAPS);
  });

  it("scep-submit -C reads micromdm's GetCACert (and walks message=1)", async () => {
    const proxy = await startRecordingProxy(server.url);
    try {
      const r = await runScepSubmit({ url: proxy.url, operation: "GetCACert" });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const blocks = pemBlocks(r.stdout);
      expect(blocks).toHaveLength(1);
      expect(Buffer.from(blocks[0]?.der ?? [])).toEqual(Buffer.from(pemToDer(server.caCertPem)));
      expect(proxy.exchanges.map((e) => e.path)).toEqual([
        "/scep?operation=GetCACert&message=0",
        "/scep?operation=GetCACert&message=1",
      ]);
    } finally {
      await proxy.stop();
    }
  });

  it("scep-submit -p carries a pkiMessage (scepclient's PKCSReq, replayed) by GET and returns the envelope", async () => {
    const proxy = await startRecordingProxy(server.url);
    let client: Awaited<ReturnType<typeof runScepclient>>;
    try {
      client = await runScepclient({ url: proxy.url, challenge, cn: "harness-scep-submit" });
      expect(client.ok, client.stdout + client.stderr).toBe(true);
    } finally {
      await proxy.stop();
    }
    const [op] = proxy.byOperation("PKIOperation");
    if (!op) throw new Error("no PKIOperation captured");
    const message = pkiMessageOf(op);

    const r = await runScepSubmit({
      url: server.url,
      operation: "PKIOperation",
      message,
      raCertPem: server.caCertPem,
      signingCaPem: server.caCertPem,
    });
    expect(r.status, r.stdout + r.stderr).toBe("ISSUED");
    const [envelope] = pemBlocks(r.stdout);
    expect(envelope?.label).toBe("PKCS7");
    const degenerate = await opensslCmsDecrypt(envelope?.der ?? new Uint8Array(), client.keyPem);
    const certs = await runOpenssl(["pkcs7", "-inform", "DER", "-print_certs", "-noout"], { input: degenerate });
    expect(certs.stdout).toMatch(/subject=.*CN = harness-scep-submit/);

    // Without -N the lone GetCACert certificate is no trust anchor for it.
    const untrusted = await runScepSubmit({ url: server.url, operation: "PKIOperation", message, raCertPem: server.caCertPem });
    expect(untrusted.status).toBe("UNREACHABLE");
    expect(untrusted.stdout).toMatch(/^Error: failed to verify signature on server response\./);
  });

  it("a private certmonger daemon enrolls through getcert (no systemd, no D-Bus)", async () => {
    const cm = await startCertmonger({ legacyOpenssl: true });
    const proxy = await startRecordingProxy(server.url);
    try {
      const listing = await cm.addScepCa({ name: "micromdm", url: proxy.url, caCertPem: server.caCertPem });
      expect(listing).toMatch(/SCEP CA certificate thumbprint/);

      const ok = await cm.request({ ca: "micromdm", subject: "CN=harness-certmonger", challenge });
      expect(ok.status, `${ok.caError ?? ""}\n${cm.logs().slice(-4000)}`).toBe("MONITORING");
      expect(ok.code).toBe(0);
      expect(subjectCn(ok.certPem ?? "")).toBe("harness-certmonger");
      await opensslVerifyChain(ok.certPem ?? "", server.caCertPem);
      expect(createPrivateKey(ok.keyPem ?? "").asymmetricKeyType).toBe("rsa");

      // On the wire: a GET PKIOperation (despite POSTPKIOperation), AES-256-CBC, SHA-256.
      const [op] = proxy.byOperation("PKIOperation");
      if (!op) throw new Error("no PKIOperation captured");
      expect(op.method).toBe("GET");
      const pkcsReq = pkiMessageOf(op);
      const printed = await opensslCmsPrint(pkcsReq);
      expect(printed).toMatch(/digestAlgorithm: \s*algorithm: sha256/);
      expect(await opensslCmsPrint(await opensslCmsVerify(pkcsReq, undefined))).toMatch(/aes-256-cbc/);

      const rejected = await cm.request({ ca: "micromdm", subject: "CN=harness-certmonger-bad", challenge: "WRONG" });
      expect(rejected.status).toBe("CA_REJECTED");
      expect(rejected.code).toBe(2);
      expect(rejected.caError).toBe("Transaction either is not permitted or is not supported by server.");
    } finally {
      await proxy.stop();
      await cm.stop();
    }
    expect(existsSync(cm.dir)).toBe(false);
  });

  it("without the CA certificate (-N) certmonger cannot verify micromdm's CertRep", async () => {
    const cm = await startCertmonger();
    try {
      await cm.addScepCa({ name: "micromdm", url: server.url });
      const r = await cm.request({ ca: "micromdm", subject: "CN=harness-certmonger-no-n", challenge });
      expect(r.status).toBe("CA_UNREACHABLE");
      expect(r.caError).toMatch(/^Error: failed to verify signature on server response\..*certificate verify error/);
    } finally {
      await cm.stop();
    }
  });
});

describe("OpenSSL referee helpers", () => {
  it("sign/verify and encrypt/decrypt round trips, DES-CBC included", async () => {
    const ca = await opensslCreateCa();
    const content = new TextEncoder().encode("reference content");
    const signed = await opensslCmsSign({ content, signerCertPem: ca.certPem, signerKeyPem: ca.keyPem, digest: "sha1" });
    expect(Buffer.from(await opensslCmsVerify(signed, ca.certPem))).toEqual(Buffer.from(content));

    const pss = await opensslCmsSign({ content, signerCertPem: ca.certPem, signerKeyPem: ca.keyPem, pss: true, noCerts: true });
    expect(await opensslCmsPrint(pss)).toMatch(/rsassaPss/);
    await expect(opensslCmsVerify(pss, ca.certPem)).rejects.toThrow(PeerError);
    expect(Buffer.from(await opensslCmsVerify(pss, ca.certPem, { certsPem: ca.certPem }))).toEqual(Buffer.from(content));

    for (const cipher of ["des-cbc", "des-ede3-cbc", "aes-128-cbc", "aes-256-cbc"] as const) {
      const enveloped = await opensslCmsEncrypt({ content, recipients: [ca.certPem], cipher });
      expect(Buffer.from(await opensslCmsDecrypt(enveloped, ca.keyPem, ca.certPem))).toEqual(Buffer.from(content));
    }
  });

  it("throws with OpenSSL's stderr when verification fails", async () => {
    const [a, b] = await Promise.all([opensslCreateCa(), opensslCreateCa()]);
    const signed = await opensslCmsSign({ content: "x", signerCertPem: a.certPem, signerKeyPem: a.keyPem });
    await expect(opensslCmsVerify(signed, b.certPem)).rejects.toThrow(/Verification failure|verify error/);
  });
});
