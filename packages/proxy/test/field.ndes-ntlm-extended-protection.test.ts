/**
 * NTLM with Extended Protection for Authentication (EPA, MS-NLMP §2.2.2.1 MsvAvChannelBindings; RFC 5929 §4
 * `tls-server-end-point`). Microsoft turned EPA on by default for AD CS's IIS sites on Windows Server 2025
 * ("Mitigating NTLM Relay Attacks by Default"), and ADCS web clients without channel binding stopped working there:
 * openSUSE/cepces#51 (https://github.com/openSUSE/cepces/issues/51), davmail's "NTLM authentication fails when
 * Extended Protection is enabled server-side" (https://github.com/mguessan/davmail/issues/352). NDES's admin page
 * (`/certsrv/mscep_admin/`) is such a site: with EPA "Required", IIS answers 401 to an AUTHENTICATE message that
 * carries no channel binding, however right the password.
 *
 * Ours sent none: the proxy could not fetch an NDES challenge from an admin page behind EPA. Over TLS it now adds
 * MsvAvChannelBindings (the MD5 of the channel-bindings structure of the server certificate's hash) to the
 * AUTHENTICATE message's AV pairs, as Windows clients do.
 *
 * Follow-ups: `channelBinding: false` leaves the binding out, for a proxy that sees another certificate than IIS's
 * (a TLS-inspecting egress proxy, a re-encrypting load balancer), where IIS with EPA "Accept" refuses the wrong
 * binding the proxy would compute; a CHALLENGE without TargetInfo gets the binding and MsvAvEOL (it was refused as a
 * malformed message, ERR_PROXY_NTLM_MESSAGE, where before the binding the response went out); a certificate signed
 * with SHA-384 is bound with SHA-384 (RFC 5929 §4.1).
 *
 * Real peer: the loopback NDES front end of support/ndes-server.ts, over HTTPS with an OpenSSL-made certificate,
 * checking the NTLMv2 proof and (with `extendedProtection`) the binding with node:crypto, the hash named by the
 * OpenSSL CLI, apart from src/ntlm and @scep/core.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { CaConfig } from "../src/cas/ca-config.js";
import { NdesChallengeSource } from "../src/challenge-sources/ndes-challenge-source.js";
import { NdesAuthError } from "../src/challenge-sources/errors.js";
import { ProxyConfigError } from "../src/errors.js";
import { AvId, withAvPair } from "../src/ntlm/messages.js";
import { ntlmHttpGet } from "../src/ntlm/node-http-transport.js";
import { PAGE_CHALLENGE, challengePage, encodePage } from "./support/ndes-pages.js";
import { startNdesServer, type NdesServer, type NdesServerOptions } from "./support/ndes-server.js";
import { selfSignedLoopbackCert } from "./support/tls-cert.js";

const PASSWORD = "Ndes-Adm1n!";
const tls = selfSignedLoopbackCert();
const page = encodePage(challengePage(), "utf-16le");
let servers: NdesServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function server(o: Partial<NdesServerOptions>): Promise<NdesServer> {
  const s = await startNdesServer({ username: "svc-ndes", domain: "CORP", password: PASSWORD, auth: "ntlm", page: () => ({ status: 200, contentType: "text/html", body: page }), tls, extendedProtection: true, ...o });
  servers.push(s);
  return s;
}

const ca = (adminUrl: string): CaConfig => ({ name: "ndes", type: "ndes", url: "https://ndes.corp.example/certsrv/mscep/mscep.dll", ndes: { adminUrl, username: "CORP\\svc-ndes", password: PASSWORD } });

describe("NTLM to an NDES admin page with Extended Protection required (MsvAvChannelBindings, RFC 5929 tls-server-end-point)", () => {
  it("the challenge is fetched: the AUTHENTICATE message carries the TLS channel binding", async () => {
    const s = await server({});
    await expect(new NdesChallengeSource({ tls: { ca: tls.cert } }).fetchChallenge(ca(s.url))).resolves.toMatchObject({ challenge: PAGE_CHALLENGE });
    expect(s.log.map((l) => [l.auth, l.outcome])).toEqual([
      ["NEGOTIATE", "challenge"],
      ["AUTHENTICATE", "ok"],
    ]);
  });

  it("through Negotiate (raw NTLMSSP), with the server's MsvAvTimestamp, reactive mode: the binding too", async () => {
    const s = await server({ auth: "negotiate", serverTimestamp: true });
    const res = await ntlmHttpGet(s.url, { credentials: { username: "CORP\\svc-ndes", password: PASSWORD }, mode: "reactive", tls: { ca: tls.cert } });
    expect({ status: res.status, scheme: res.scheme }).toEqual({ status: 200, scheme: "Negotiate" });
  });

  it("a wrong password is still refused (the binding proves the channel, not the account): ERR_PROXY_NDES_AUTH", async () => {
    const s = await server({});
    await expect(ntlmHttpGet(s.url, { credentials: { username: "CORP\\svc-ndes", password: "wrong" }, tls: { ca: tls.cert } })).rejects.toBeInstanceOf(NdesAuthError);
  });

  it("a front end without Extended Protection takes the AUTHENTICATE with the binding as well", async () => {
    const s = await server({ extendedProtection: false });
    await expect(new NdesChallengeSource({ tls: { ca: tls.cert } }).fetchChallenge(ca(s.url))).resolves.toMatchObject({ challenge: PAGE_CHALLENGE });
  });
});

/** A self-signed loopback certificate made by the OpenSSL CLI on P-384, signed with ecdsa-with-SHA384. */
function sha384LoopbackCert(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), "scep-proxy-tls384-"));
  try {
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-sha384", "-nodes", "-days", "1",
      "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
      "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
    ], { stdio: "ignore" });
    return { key: readFileSync(join(dir, "key.pem"), "utf8"), cert: readFileSync(join(dir, "cert.pem"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The stand-in's AV pairs, in its order (MsvAvNbDomainName, MsvAvNbComputerName, MsvAvDnsDomainName, MsvAvDnsComputerName). */
const SERVER_AV_IDS = [2, 1, 4, 3];

describe("channelBinding: false, for a proxy that sees another certificate than IIS's", () => {
  it("by default the binding of the certificate seen is sent (the stand-in reports it right)", async () => {
    const s = await server({});
    await new NdesChallengeSource({ tls: { ca: tls.cert } }).fetchChallenge(ca(s.url));
    expect(s.authenticates).toEqual([{ avIds: [...SERVER_AV_IDS, AvId.MsvAvChannelBindings, 0], channelBindings: "right" }]);
  });

  it("off: no MsvAvChannelBindings pair is sent, and a server with Extended Protection Required refuses it (ERR_PROXY_NDES_AUTH)", async () => {
    const s = await server({});
    const err = await new NdesChallengeSource({ tls: { ca: tls.cert }, channelBinding: false }).fetchChallenge(ca(s.url)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NdesAuthError);
    expect((err as NdesAuthError).code).toBe("ERR_PROXY_NDES_AUTH");
    expect(s.authenticates).toEqual([{ avIds: [...SERVER_AV_IDS, 0], channelBindings: "absent" }]);
  });

  it("IIS with Extended Protection Accept behind a TLS-inspecting proxy: the binding of the proxy's certificate is refused, none is taken", async () => {
    const iis = selfSignedLoopbackCert(); // what IIS holds; the client sees `tls` (the inspecting proxy's)
    const s = await server({ extendedProtection: "accept", iisCertificate: iis.cert });
    const err = await new NdesChallengeSource({ tls: { ca: tls.cert } }).fetchChallenge(ca(s.url)).catch((e: unknown) => e);
    expect((err as NdesAuthError).code).toBe("ERR_PROXY_NDES_AUTH");
    await expect(new NdesChallengeSource({ tls: { ca: tls.cert }, channelBinding: false }).fetchChallenge(ca(s.url))).resolves.toMatchObject({ challenge: PAGE_CHALLENGE });
    expect(s.authenticates.map((a) => a.channelBindings)).toEqual(["wrong", "absent"]);
  });

  it("off over ntlmHttpGet too; a channelBinding that is not a boolean is ERR_PROXY_CONFIG, nothing sent", async () => {
    const s = await server({ extendedProtection: false });
    const res = await ntlmHttpGet(s.url, { credentials: { username: "CORP\\svc-ndes", password: PASSWORD }, tls: { ca: tls.cert }, channelBinding: false });
    expect(res.status).toBe(200);
    expect(s.authenticates).toEqual([{ avIds: [...SERVER_AV_IDS, 0], channelBindings: "absent" }]);
    const asString = { channelBinding: "false" as unknown as boolean };
    expect(() => new NdesChallengeSource(asString)).toThrow(ProxyConfigError);
    const err = await ntlmHttpGet(s.url, { credentials: { username: "CORP\\svc-ndes", password: PASSWORD }, tls: { ca: tls.cert }, ...asString }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProxyConfigError);
    expect((err as ProxyConfigError).code).toBe("ERR_PROXY_CONFIG");
    expect(s.log).toHaveLength(2);
  });
});

describe("a CHALLENGE without TargetInfo (MS-NLMP §2.2.1.2, NEGOTIATE_TARGET_INFO clear)", () => {
  it("withAvPair on an empty TargetInfo gives the pair and MsvAvEOL", () => {
    const value = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
    expect([...withAvPair(new Uint8Array(0), AvId.MsvAvChannelBindings, value)]).toEqual([10, 0, 16, 0, ...value, 0, 0, 0, 0]);
  });

  it("the response goes out with the binding and MsvAvEOL, to a server with Extended Protection off or Required", async () => {
    for (const extendedProtection of [false, true]) {
      const s = await server({ noTargetInfo: true, extendedProtection });
      await expect(new NdesChallengeSource({ tls: { ca: tls.cert } }).fetchChallenge(ca(s.url))).resolves.toMatchObject({ challenge: PAGE_CHALLENGE });
      expect(s.authenticates).toEqual([{ avIds: [AvId.MsvAvChannelBindings, 0], channelBindings: "right" }]);
    }
  });
});

describe("a server certificate signed with SHA-384 (RFC 5929 §4.1: the binding hashes it with SHA-384)", () => {
  const tls384 = sha384LoopbackCert();

  it("the certificate is ecdsa-with-SHA384 (OpenSSL says)", () => {
    expect(execFileSync("openssl", ["x509", "-noout", "-text"], { input: tls384.cert, encoding: "utf8" })).toMatch(/Signature Algorithm: ecdsa-with-SHA384/);
  });

  it("Extended Protection Required takes the binding", async () => {
    const s = await server({ tls: tls384 });
    await expect(new NdesChallengeSource({ tls: { ca: tls384.cert } }).fetchChallenge(ca(s.url))).resolves.toMatchObject({ challenge: PAGE_CHALLENGE });
    expect(s.authenticates.map((a) => a.channelBindings)).toEqual(["right"]);
  });
});
