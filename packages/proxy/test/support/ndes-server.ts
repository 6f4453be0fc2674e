/**
 * A loopback stand-in for IIS in front of NDES's admin page that really
 * checks NTLMv2 (MS-NLMP §3.2.5.1.2): it issues a random ServerChallenge per
 * connection, and accepts an AUTHENTICATE message only if its NTProofStr (and
 * LMv2 response) is what the configured password gives. Written apart from
 * src/ntlm on purpose: its own message parsing, node:crypto's HMAC-MD5, and
 * hash-wasm's MD4 called directly, so a fault in src/ntlm cannot cancel out.
 *
 * Like IIS, the challenge is bound to the TCP connection: an AUTHENTICATE on
 * another connection than its NEGOTIATE is refused.
 */
import { execFileSync } from "node:child_process";
import { X509Certificate, createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { md4 } from "hash-wasm";

/** What the admin page answers once authenticated (or without authentication for `auth: "none"`). */
export type PageReply = { status: number; contentType?: string; body?: Uint8Array | string } | "hang";

export interface NdesServerOptions {
  username: string;
  domain: string;
  password: string;
  /** What the front end offers in `WWW-Authenticate` on a 401. */
  auth: "ntlm" | "negotiate" | "basic" | "ntlm+basic" | "none";
  /** Destroy the connection of any request without `Authorization` (a WAF / access gateway). */
  dropUnauthenticated?: boolean;
  /** Put MsvAvTimestamp in the CHALLENGE (then the client must send a zero LMv2 response). */
  serverTimestamp?: boolean;
  /** Close the connection after sending the CHALLENGE (a broken front end that does not keep NTLM's connection). */
  closeAfterChallenge?: boolean;
  /** The page once authenticated. */
  page: () => PageReply;
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string; cert: string };
  /**
   * Like IIS for a directory asked without its trailing slash: an authenticated GET of `/certsrv/mscep_admin`
   * answers 301 with `Location` set to this function's answer for the absolute URL of `/certsrv/mscep_admin/`
   * (default: that URL itself). Off when absent.
   */
  slashRedirect?: (to: string) => string;
  /**
   * Extended Protection for Authentication "Required" (IIS `extendedProtection tokenChecking="Require"`, the default
   * for AD CS web services on Windows Server 2025): over TLS, an AUTHENTICATE must carry MsvAvChannelBindings (MS-NLMP
   * §2.2.2.1), the MD5 of the `tls-server-end-point` channel binding (RFC 5929 §4) of this server's certificate.
   * `"accept"` (IIS `tokenChecking="Allow"`): an AUTHENTICATE without MsvAvChannelBindings is taken, a wrong one refused.
   */
  extendedProtection?: boolean | "accept";
  /**
   * The certificate (PEM) IIS holds and binds to, when it is not the one this server presents: IIS behind a
   * TLS-inspecting proxy or a re-encrypting load balancer. Default `tls.cert`.
   */
  iisCertificate?: string;
  /** Send a CHALLENGE without TargetInfo (NEGOTIATE_TARGET_INFO clear, an empty field), as some front ends do. */
  noTargetInfo?: boolean;
}

/** What one AUTHENTICATE message with a right NTProofStr carried, as this server read it. */
export interface ReceivedAuthenticate {
  /** The AvIds of the AV pairs in the NTLMv2 response, in order, MsvAvEOL (0) included. */
  avIds: number[];
  /** MsvAvChannelBindings (10): absent, the MD5 this server computes for its certificate, or something else. */
  channelBindings: "absent" | "right" | "wrong";
}

export interface LoggedRequest {
  /** 1-based number of the TCP connection the request came on. */
  connection: number;
  /** What the Authorization header held. */
  auth: "none" | "NEGOTIATE" | "AUTHENTICATE" | "Basic" | "other";
  /** What the server answered. */
  outcome: "dropped" | "challenge" | "401" | "ok" | "hang" | "redirect";
  /** The request's path and query (logged with `slashRedirect` only). */
  path?: string;
}

export interface NdesServer {
  url: string;
  log: LoggedRequest[];
  /** Every AUTHENTICATE whose NTProofStr was right, in order. */
  authenticates: ReceivedAuthenticate[];
  close(): Promise<void>;
}

const SIG = Buffer.from("NTLMSSP\0", "latin1");
const NTLM_UNICODE = 0x1;
const TARGET_INFO = 0x0080_0000;

function u16(s: string): Buffer {
  return Buffer.from(s, "utf16le");
}

function avPair(id: number, value: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16LE(id, 0);
  h.writeUInt16LE(value.length, 2);
  return Buffer.concat([h, value]);
}

function challengeMessage(serverChallenge: Buffer, domain: string, timestamp: Buffer | undefined, noTargetInfo = false): { msg: Buffer; targetInfo: Buffer } {
  const targetName = u16(domain);
  const pairs = [avPair(2, u16(domain)), avPair(1, u16("NDES01")), avPair(4, u16("corp.example")), avPair(3, u16("ndes01.corp.example"))];
  if (timestamp) pairs.push(avPair(7, timestamp));
  pairs.push(avPair(0, Buffer.alloc(0)));
  const targetInfo = noTargetInfo ? Buffer.alloc(0) : Buffer.concat(pairs);
  const head = Buffer.alloc(48);
  SIG.copy(head, 0);
  head.writeUInt32LE(2, 8);
  head.writeUInt16LE(targetName.length, 12);
  head.writeUInt16LE(targetName.length, 14);
  head.writeUInt32LE(48, 16);
  // Unicode, request target, NTLM, always sign, domain, ESS, target info (unless noTargetInfo), 128, key exch, 56
  head.writeUInt32LE(noTargetInfo ? (0xe0898205 & ~TARGET_INFO) >>> 0 : (0xe0898205 | TARGET_INFO) >>> 0, 20);
  serverChallenge.copy(head, 24);
  head.writeUInt16LE(targetInfo.length, 40);
  head.writeUInt16LE(targetInfo.length, 42);
  head.writeUInt32LE(48 + targetName.length, 44);
  return { msg: Buffer.concat([head, targetName, targetInfo]), targetInfo };
}

function field(msg: Buffer, at: number): Buffer | undefined {
  if (msg.length < at + 8) return undefined;
  const len = msg.readUInt16LE(at);
  const off = msg.readUInt32LE(at + 4);
  if (off + len > msg.length) return undefined;
  return msg.subarray(off, off + len);
}

/** The AV pairs of a TargetInfo up to and including MsvAvEOL; undefined when it does not end in one. */
function avPairs(b: Buffer): [number, Buffer][] | undefined {
  const out: [number, Buffer][] = [];
  for (let at = 0; at + 4 <= b.length; ) {
    const id = b.readUInt16LE(at);
    const len = b.readUInt16LE(at + 2);
    if (at + 4 + len > b.length) return undefined;
    out.push([id, b.subarray(at + 4, at + 4 + len)]);
    if (id === 0) return out;
    at += 4 + len;
  }
  return undefined;
}

/**
 * The hash RFC 5929 §4.1 names for a certificate: that of its signature algorithm, SHA-256 for MD5 or SHA-1. The
 * algorithm is read by the OpenSSL CLI (`x509 -text`), not by @scep/core or src/ntlm, so the two cannot agree by
 * sharing a fault.
 */
function endPointHash(certPem: string): string {
  const text = execFileSync("openssl", ["x509", "-noout", "-text"], { input: certPem, encoding: "utf8" });
  const alg = /Signature Algorithm:\s*(\S+)/.exec(text)?.[1] ?? "";
  const sha2 = /sha-?(224|256|384|512)/i.exec(alg)?.[1];
  if (sha2) return `sha${sha2}`;
  if (/sha1|md5/i.test(alg)) return "sha256";
  throw new Error(`ndes-server: no tls-server-end-point hash for signature algorithm ${alg}`);
}

/**
 * MD5 of the gss_channel_bindings_struct (RFC 2744 §3.11, as SSPI hashes it: four zero address fields, then the
 * application data's length and bytes) whose application data is `tls-server-end-point:` and the hash of the
 * certificate (RFC 5929 §4.1: that of its signature algorithm, see endPointHash).
 */
function channelBindingsHash(certPem: string): Buffer {
  const data = Buffer.concat([Buffer.from("tls-server-end-point:", "latin1"), createHash(endPointHash(certPem)).update(new X509Certificate(certPem).raw).digest()]);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(data.length, 0);
  return createHash("md5").update(Buffer.concat([Buffer.alloc(16), length, data])).digest();
}

interface ConnState {
  id: number;
  serverChallenge?: Buffer;
  targetInfo?: Buffer;
  timestamp?: Buffer;
}

/** Checks an AUTHENTICATE message against the connection's challenge and the known password. */
async function verifyAuthenticate(msg: Buffer, st: ConnState, o: NdesServerOptions, binding: Buffer | undefined, received: ReceivedAuthenticate[]): Promise<boolean> {
  if (!st.serverChallenge || !st.targetInfo) return false; // no NEGOTIATE on this connection
  if (msg.length < 64 || !msg.subarray(0, 8).equals(SIG) || msg.readUInt32LE(8) !== 3) return false;
  const lm = field(msg, 12);
  const nt = field(msg, 20);
  const domainB = field(msg, 28);
  const userB = field(msg, 36);
  if (!lm || !nt || !domainB || !userB || nt.length < 16 + 28) return false;
  const unicode = (msg.readUInt32LE(60) & NTLM_UNICODE) !== 0;
  const user = unicode ? userB.toString("utf16le") : userB.toString("latin1");
  const domain = unicode ? domainB.toString("utf16le") : domainB.toString("latin1");
  if (user.toLowerCase() !== o.username.toLowerCase() || domain.toLowerCase() !== o.domain.toLowerCase()) return false;

  const ntHash = Buffer.from(await md4(u16(o.password)), "hex");
  const ntowfv2 = createHmac("md5", ntHash).update(u16(user.toUpperCase() + domain)).digest();
  const proof = nt.subarray(0, 16);
  const blob = nt.subarray(16);
  const expected = createHmac("md5", ntowfv2).update(st.serverChallenge).update(blob).digest();
  if (!timingSafeEqual(proof, expected)) return false;
  // The blob: RespType 1, HiRespType 1, timestamp at 8, client challenge at 16, our TargetInfo copied at 28.
  if (blob[0] !== 1 || blob[1] !== 1) return false;
  // The client's AV pairs: ours, each as sent, plus any it adds (MsvAvChannelBindings) before MsvAvEOL.
  const theirs = avPairs(blob.subarray(28));
  if (!theirs) return false;
  const bindings = theirs.find(([id]) => id === 10)?.[1];
  received.push({ avIds: theirs.map(([id]) => id), channelBindings: !bindings ? "absent" : binding && bindings.equals(binding) ? "right" : "wrong" });
  for (const [id, value] of avPairs(st.targetInfo) ?? []) {
    if (id !== 0 && !theirs.some(([i, v]) => i === id && v.equals(value))) return false;
  }
  if (o.extendedProtection && binding) {
    if (bindings ? !bindings.equals(binding) : o.extendedProtection !== "accept") return false;
  }
  const clientChallenge = blob.subarray(16, 24);
  if (st.timestamp) {
    if (!blob.subarray(8, 16).equals(st.timestamp)) return false;
    return lm.length === 24 && lm.equals(Buffer.alloc(24));
  }
  const lmv2 = createHmac("md5", ntowfv2).update(st.serverChallenge).update(clientChallenge).digest();
  return lm.length === 24 && lm.equals(Buffer.concat([lmv2, clientChallenge]));
}

function offers(o: NdesServerOptions): string[] {
  switch (o.auth) {
    case "ntlm":
      return ["NTLM"];
    case "negotiate":
      return ["Negotiate"];
    case "basic":
      return ['Basic realm="ndes.corp.example"'];
    case "ntlm+basic":
      return ["Negotiate", "NTLM", 'Basic realm="ndes.corp.example"'];
    case "none":
      return [];
  }
}

/** Starts the server on 127.0.0.1, on a free port. */
export async function startNdesServer(o: NdesServerOptions): Promise<NdesServer> {
  const log: LoggedRequest[] = [];
  const authenticates: ReceivedAuthenticate[] = [];
  const binding = o.tls ? channelBindingsHash(o.iisCertificate ?? o.tls.cert) : undefined;
  const conns = new WeakMap<Socket, ConnState>();
  let nextConn = 1;

  const unauthorized = (res: ServerResponse, www: string[]): void => {
    res.writeHead(401, { "www-authenticate": www, "content-type": "text/html" });
    res.end("<html><body>401 - Unauthorized</body></html>");
  };

  const serve = (req: IncomingMessage, res: ServerResponse, entry: LoggedRequest): void => {
    if (o.slashRedirect && req.url === "/certsrv/mscep_admin") {
      entry.outcome = "redirect";
      const own = `${o.tls ? "https" : "http"}://${req.headers.host ?? ""}/certsrv/mscep_admin/`;
      res.writeHead(301, { location: o.slashRedirect(own), "content-type": "text/html" });
      res.end("<head><title>Document Moved</title></head><body><h1>Object Moved</h1></body>");
      return;
    }
    const reply = o.page();
    if (reply === "hang") {
      entry.outcome = "hang";
      return;
    }
    entry.outcome = "ok";
    const headers: Record<string, string> = {};
    if (reply.contentType) headers["content-type"] = reply.contentType;
    res.writeHead(reply.status, headers);
    res.end(reply.body ?? "");
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const socket = req.socket;
    let st = conns.get(socket);
    if (!st) {
      st = { id: nextConn++ };
      conns.set(socket, st);
    }
    const header = req.headers.authorization ?? "";
    const entry: LoggedRequest = { connection: st.id, auth: "none", outcome: "401", ...(o.slashRedirect ? { path: req.url ?? "" } : {}) };
    log.push(entry);

    if (o.auth === "none") return serve(req, res, entry);
    if (!header) {
      if (o.dropUnauthenticated) {
        entry.outcome = "dropped";
        socket.destroy();
        return;
      }
      return unauthorized(res, offers(o));
    }
    const m = /^(NTLM|Negotiate|Basic)\s+(\S+)$/i.exec(header);
    const scheme = m?.[1]?.toLowerCase();
    const token = Buffer.from(m?.[2] ?? "", "base64");
    if (scheme === "basic") {
      entry.auth = "Basic";
      if (o.auth !== "basic" && o.auth !== "ntlm+basic") return unauthorized(res, offers(o));
      const [name, ...rest] = token.toString("utf8").split(":");
      const pass = rest.join(":");
      const okName = name?.toLowerCase() === `${o.domain}\\${o.username}`.toLowerCase() || name?.toLowerCase() === o.username.toLowerCase();
      if (okName && pass === o.password) return serve(req, res, entry);
      return unauthorized(res, offers(o));
    }
    if ((scheme === "ntlm" || scheme === "negotiate") && token.length >= 12 && token.subarray(0, 8).equals(SIG)) {
      const type = token.readUInt32LE(8);
      const ntlmOffered = o.auth === "ntlm" || o.auth === "negotiate" || o.auth === "ntlm+basic";
      if (type === 1) {
        entry.auth = "NEGOTIATE";
        if (!ntlmOffered) return unauthorized(res, offers(o));
        st.serverChallenge = randomBytes(8);
        st.timestamp = o.serverTimestamp ? randomBytes(8) : undefined;
        const { msg, targetInfo } = challengeMessage(st.serverChallenge, o.domain, st.timestamp, o.noTargetInfo);
        st.targetInfo = targetInfo;
        entry.outcome = "challenge";
        const name = scheme === "ntlm" ? "NTLM" : "Negotiate";
        res.writeHead(401, {
          "www-authenticate": `${name} ${msg.toString("base64")}`,
          "content-type": "text/html",
          ...(o.closeAfterChallenge ? { connection: "close" } : {}),
        });
        res.end("<html><body>401 - Unauthorized</body></html>");
        return;
      }
      if (type === 3) {
        entry.auth = "AUTHENTICATE";
        const ok = ntlmOffered && (await verifyAuthenticate(token, st, o, binding, authenticates));
        st.serverChallenge = undefined; // one AUTHENTICATE per CHALLENGE
        if (ok) return serve(req, res, entry);
        return unauthorized(res, offers(o));
      }
    }
    entry.auth = "other";
    return unauthorized(res, offers(o));
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch(() => {
      res.writeHead(500);
      res.end();
    });
  };
  const server: Server = o.tls ? createHttpsServer({ key: o.tls.key, cert: o.tls.cert }, listener) : createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${o.tls ? "https" : "http"}://127.0.0.1:${port}/certsrv/mscep_admin/`,
    log,
    authenticates,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
