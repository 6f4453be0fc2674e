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
 * Real peer: the loopback NDES front end of support/ndes-server.ts, over HTTPS with an OpenSSL-made certificate,
 * checking the NTLMv2 proof and (with `extendedProtection`) the binding with node:crypto, apart from src/ntlm.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { CaConfig } from "../src/cas/ca-config.js";
import { NdesChallengeSource } from "../src/challenge-sources/ndes-challenge-source.js";
import { NdesAuthError } from "../src/challenge-sources/errors.js";
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
