/**
 * Hostile input: every public decoder either returns or throws a typed
 * {@link ScepError} (a stable `code`, one of the five SCEP failInfos), never a
 * plain TypeError/RangeError, never hangs and never allocates what the input
 * merely claims.
 *
 * Seeds are the real captured messages in the shared fixtures
 * (captured/MANIFEST.md, public/MANIFEST.md). On top of byte-level damage
 * (truncation at every length, flips, inserts, deletes) the tests damage the
 * ASN.1 tree itself (wrong tags, dropped, duplicated and grafted fields, lying
 * length octets, extra nesting) and re-encode it with consistent lengths, and
 * they re-sign and re-encrypt damaged inner layers (EnvelopedData, PKCS#10,
 * IssuerAndSubject, the degenerate SignedData of a CertRep) so the damage gets
 * past the outer signature and reaches the inner parsers.
 *
 * The 2 s bound on each call's CPU time only detects hangs; it is not a performance check.
 */
import { fileURLToPath } from "node:url";
import { createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  Certificate,
  CertificationRequest,
  LocalKey,
  type PkiRequest,
  type CertRep,
  type ScepError,
  type ScepErrorCode,
  type FailInfo,
  decodePkiMessage,
  fromBase64Lenient,
  isScepError,
  parseCaCaps,
  parseGetCaCertResponse,
  readCertRep,
  buildGetCaCertResponse,
} from "../src/index.js";
import { buildSignedData } from "../src/cms/signed-data.js";
import { concat as cat } from "../src/lib/der.js";
import { buildEnvelopedData } from "../src/cms/enveloped-data.js";
import { encodeScepAttributes } from "../src/message/attributes.js";
import type { ContentCipher, DigestAlgorithm } from "../src/algorithms.js";

const FIXTURES = process.env.SCEP_FIXTURES ?? fileURLToPath(new URL("./vectors", import.meta.url));
const captured = (f: string): string => join(FIXTURES, "captured", f);
const pub = (f: string): string => join(FIXTURES, "public", f);
const bytes = (p: string): Uint8Array => new Uint8Array(readFileSync(p));
const text = (p: string): string => readFileSync(p, "utf8");

/** Reproducible by default; FC_SEED=<n> explores other cases. */
const SEED = Number(process.env.FC_SEED ?? 0x5ce9);
const HANG_MS = 2_000;
/** Deep cuts of whole PKIMessages every this many bytes (the cut-at-the-end truncations cover every length). */
const INSIDE_STRIDE = 3;

// Every ScepErrorCode and FailInfo (src/errors.ts), pinned as literals so a new
// code has to be added here on purpose.
const CODES: readonly ScepErrorCode[] = [
  "ERR_ASN1",
  "ERR_MESSAGE_MALFORMED",
  "ERR_UNSUPPORTED_ALGORITHM",
  "ERR_ALGORITHM_NOT_ALLOWED",
  "ERR_SIGNATURE_INVALID",
  "ERR_DIGEST_MISMATCH",
  "ERR_DECRYPT_FAILED",
  "ERR_NO_RECIPIENT",
  "ERR_CSR_INVALID",
  "ERR_MESSAGE_TYPE",
  "ERR_KEY",
  "ERR_CERTREP",
  "ERR_TRANSPORT",
  "ERR_INVALID_ARGUMENT",
];
const FAIL_INFOS: readonly FailInfo[] = ["badAlg", "badMessageCheck", "badRequest", "badTime", "badCertId"];

// ------------------------------------------------------------------ checking

const hex = (b: Uint8Array, max = 48): string =>
  Array.from(b.subarray(0, max), (x) => x.toString(16).padStart(2, "0")).join("") + (b.length > max ? `…(${b.length} bytes)` : "");

/** Tallies what the hostile inputs produced, so a test can say it reached deep code. */
class Tally {
  readonly codes = new Map<string, number>();
  ok = 0;
  calls = 0;
  add(key: string): void {
    this.codes.set(key, (this.codes.get(key) ?? 0) + 1);
  }
  has(code: ScepErrorCode): boolean {
    return (this.codes.get(code) ?? 0) > 0;
  }
}

/**
 * Throws (a plain Error, so fast-check shrinks and reports the input) unless
 * `e` is a well-formed ScepError that does not merely wrap a JS bug.
 */
function assertTyped(e: unknown, what: string, input: Uint8Array | string): asserts e is ScepError {
  const shown = typeof input === "string" ? JSON.stringify(input.slice(0, 80)) : hex(input);
  if (!isScepError(e)) {
    throw new Error(`${what}: threw a non-ScepError ${String(e)} for ${shown}\n${(e as Error)?.stack ?? ""}`);
  }
  if (!CODES.includes(e.code)) throw new Error(`${what}: unknown code ${e.code} for ${shown}`);
  if (!FAIL_INFOS.includes(e.failInfo)) throw new Error(`${what}: unknown failInfo ${e.failInfo} for ${shown}`);
  // A typed error whose cause is a TypeError/RangeError is a crash in disguise.
  for (let c: unknown = e.cause, depth = 0; c !== undefined && depth < 8; c = (c as { cause?: unknown }).cause, depth++) {
    if (c instanceof TypeError || c instanceof RangeError || c instanceof ReferenceError || c instanceof SyntaxError) {
      throw new Error(`${what}: ${e.code} wraps a ${(c as Error).name}: ${(c as Error).message} for ${shown}\n${(c as Error).stack ?? ""}`);
    }
  }
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: ScepError };

/**
 * Runs one decoder call: typed error or value, within the hang bound. The bound is on the CPU time the call burns
 * (a decoder that loops), not on wall-clock time, which a loaded machine stretches without the decoder doing more.
 */
async function attempt<T>(what: string, input: Uint8Array | string, fn: () => T | Promise<T>, tally?: Tally): Promise<Outcome<T>> {
  const cpu0 = process.cpuUsage();
  let out: Outcome<T>;
  try {
    out = { ok: true, value: await fn() };
  } catch (e) {
    assertTyped(e, what, input);
    out = { ok: false, error: e };
  }
  const used = process.cpuUsage(cpu0);
  const ms = (used.user + used.system) / 1000;
  if (ms > HANG_MS) throw new Error(`${what}: took ${ms.toFixed(0)} ms of CPU for ${typeof input === "string" ? input.length + " chars" : hex(input)}`);
  if (tally) {
    tally.calls++;
    if (out.ok) tally.ok++;
    else tally.add(out.error.code);
  }
  return out;
}

// ------------------------------------------------------- a tiny DER tree editor

/** One element of a parsed fixture; `kids` when constructed (or an encapsulating OCTET/BIT STRING). */
interface Node {
  tag: number;
  body: Uint8Array;
  kids?: Node[];
  /** OCTET STRING or BIT STRING whose content is itself DER. */
  encap?: "octet" | "bit";
  /** Length octets to emit instead of the right ones (a lie), or a delta to the right length. */
  len?: number[] | { delta: number };
  /** Emit as BER indefinite length (still valid BER for constructed elements). */
  indefinite?: boolean;
  /** Where the element was in the parsed input: start, first content octet, end; and its parent. */
  start?: number;
  cs?: number;
  end?: number;
}

function readHeader(b: Uint8Array, off: number, end: number): { tag: number; start: number; cs: number; ce: number } | undefined {
  if (off + 2 > end) return undefined;
  const tag = b[off]!;
  if ((tag & 0x1f) === 0x1f) return undefined;
  let p = off + 1;
  const first = b[p++]!;
  let len = first;
  if (first >= 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 4 || p + n > end) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[p++]!;
  }
  if (p + len > end) return undefined;
  return { tag, start: off, cs: p, ce: p + len };
}

function parseList(b: Uint8Array, off: number, end: number): Node[] | undefined {
  const out: Node[] = [];
  while (off < end) {
    const h = readHeader(b, off, end);
    if (!h) return undefined;
    out.push(makeNode(b, h));
    off = h.ce;
  }
  return out;
}

function makeNode(b: Uint8Array, h: { tag: number; start: number; cs: number; ce: number }): Node {
  const body = b.subarray(h.cs, h.ce);
  const node: Node = { tag: h.tag, body, start: h.start, cs: h.cs, end: h.ce };
  if (h.tag & 0x20) {
    const k = parseList(b, h.cs, h.ce);
    if (k) node.kids = k;
  } else if (h.tag === 0x04 && body.length > 2 && (body[0] === 0x30 || body[0] === 0x31)) {
    const k = parseList(b, h.cs, h.ce);
    if (k?.length === 1) {
      node.kids = k;
      node.encap = "octet";
    }
  } else if (h.tag === 0x03 && body.length > 3 && body[0] === 0 && body[1] === 0x30) {
    const k = parseList(b, h.cs + 1, h.ce);
    if (k?.length === 1) {
      node.kids = k;
      node.encap = "bit";
    }
  }
  return node;
}

function parseTree(b: Uint8Array): Node {
  const list = parseList(b, 0, b.length);
  if (!list || list.length !== 1) throw new Error("fixture is not a single DER element");
  return list[0]!;
}


function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

function encodeNode(n: Node): Uint8Array {
  let content = n.kids ? cat(n.kids.map(encodeNode)) : n.body;
  if (n.encap === "bit") content = cat([new Uint8Array([0]), content]);
  if (n.indefinite) return cat([new Uint8Array([n.tag, 0x80]), content, new Uint8Array([0, 0])]);
  const len = n.len === undefined ? derLength(content.length) : Array.isArray(n.len) ? n.len : derLength(Math.max(0, content.length + n.len.delta));
  return cat([new Uint8Array([n.tag, ...len]), content]);
}

const tlv = (tag: number, ...content: number[]): Node => ({ tag, body: new Uint8Array(content) });

function clone(n: Node): Node {
  return { ...n, ...(n.kids ? { kids: n.kids.map(clone) } : {}), ...(Array.isArray(n.len) ? { len: [...n.len] } : {}) };
}

interface Slot {
  node: Node;
  parent?: Node;
  index: number;
}

function slots(root: Node): Slot[] {
  const out: Slot[] = [{ node: root, index: 0 }];
  for (let i = 0; i < out.length; i++) {
    const { node } = out[i]!;
    node.kids?.forEach((k, index) => out.push({ node: k, parent: node, index }));
  }
  return out;
}

/** Tags to put where they do not belong (including EOC, high-tag-number and odd classes). */
const TAGS = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x13, 0x16, 0x17, 0x18, 0x1e, 0x1f, 0x24, 0x30, 0x31, 0x40, 0x80, 0x81, 0x82, 0xa0, 0xa1, 0xa2, 0xa3, 0xbf, 0xff];

/** Well-formed elements of the wrong type, and edge values of the right ones. */
const ATOMS: readonly (() => Node)[] = [
  () => tlv(0x05),
  () => tlv(0x02, 0),
  () => tlv(0x02, 0xff, 0x7f),
  () => tlv(0x02),
  () => ({ tag: 0x02, body: new Uint8Array(600).fill(0x7f) }),
  () => tlv(0x30),
  () => tlv(0x31),
  () => tlv(0x06),
  () => tlv(0x06, 0x2a, 0x03),
  () => tlv(0x06, 0x80, 0x01),
  () => tlv(0x06, 0x2a, 0x86),
  () => ({ tag: 0x06, body: new Uint8Array(80).fill(0x81) }),
  () => tlv(0x06, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02),
  () => tlv(0x06, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01),
  () => tlv(0x13, 0x31, 0x39),
  () => tlv(0x0c, 0xff, 0xfe, 0xc3),
  () => tlv(0x1e, 0xd8, 0x00, 0x41),
  () => tlv(0x04),
  () => tlv(0x01, 0xff),
  () => tlv(0x03),
  () => tlv(0x03, 0x08, 0xff),
  () => tlv(0x17, ...new TextEncoder().encode("9913999999Z")),
  () => tlv(0x18, ...new TextEncoder().encode("99991399999999.999+9999")),
  () => tlv(0x17),
  () => tlv(0xa0),
  () => ({ tag: 0xa0, body: new Uint8Array(), kids: [tlv(0x05), tlv(0x05)] }),
  () => tlv(0x80, 1, 2, 3),
  () => tlv(0x00),
  () => ({ tag: 0x24, body: new Uint8Array(), kids: [tlv(0x04, 1), { tag: 0x24, body: new Uint8Array(), kids: [tlv(0x04, 2)] }] }),
];

/** Length octets that lie: huge, non-minimal, indefinite on a primitive, too many octets, off by one. */
const LENGTH_LIES: readonly (number[] | { delta: number })[] = [
  [0x84, 0xff, 0xff, 0xff, 0xff],
  [0x84, 0x7f, 0xff, 0xff, 0xff],
  [0x84, 0x00, 0x00, 0x00, 0x00],
  [0x85, 0x01, 0x00, 0x00, 0x00, 0x00],
  [0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  [0x80],
  [0xff],
  [0x81, 0x00],
  [0x83, 0x10, 0x00, 0x00],
  { delta: 1 },
  { delta: -1 },
  { delta: 100 },
];

function nest(n: Node, depth: number, tag = 0x30): Node {
  let out = n;
  for (let i = 0; i < depth; i++) out = { tag, body: new Uint8Array(), kids: [out] };
  return out;
}

/** One structural damage: [kind, which node, parameter]. */
type TreeOp = [number, number, number];
const TREE_OP_KINDS = 13;

function applyTreeOp(root: Node, [kind, which, p]: TreeOp): Node {
  const all = slots(root);
  const s = all[which % all.length]!;
  const replace = (n: Node): Node => {
    if (!s.parent) return n;
    s.parent.kids![s.index] = n;
    return root;
  };
  const node = s.node;
  switch (kind % TREE_OP_KINDS) {
    case 0: // wrong tag
      node.tag = TAGS[p % TAGS.length]!;
      return root;
    case 1: // drop a field
      if (s.parent) s.parent.kids!.splice(s.index, 1);
      return root;
    case 2: // duplicate a field
      if (s.parent) s.parent.kids!.splice(s.index, 0, clone(node));
      return root;
    case 3: // a field from elsewhere in the message (right encoding, wrong place)
      return replace(clone(all[p % all.length]!.node));
    case 4: // a well-formed element of the wrong type
      return replace(ATOMS[p % ATOMS.length]!());
    case 5: // cut the content short (lengths stay consistent)
      if (node.kids) node.kids.length = p % (node.kids.length + 1);
      else node.body = node.body.subarray(0, p % (node.body.length + 1));
      return root;
    case 6: // empty it
      if (node.kids) node.kids = [];
      node.body = new Uint8Array();
      return root;
    case 7: // lie about the length
      node.len = LENGTH_LIES[p % LENGTH_LIES.length]!;
      return root;
    case 8: // wrap in extra nesting
      return replace(nest(node, 1 + (p % 64), p & 1 ? 0x30 : 0xa0));
    case 9: // swap with the next sibling
      if (s.parent && s.index + 1 < s.parent.kids!.length) {
        const k = s.parent.kids!;
        [k[s.index], k[s.index + 1]] = [k[s.index + 1]!, k[s.index]!];
      }
      return root;
    case 10: // unwrap: the first child in the parent's place
      return node.kids?.[0] ? replace(node.kids[0]) : root;
    case 11: // an extra trailing field
      if (node.kids) node.kids.push(ATOMS[p % ATOMS.length]!());
      return root;
    default: // BER indefinite length (valid for constructed elements, not for primitives)
      node.indefinite = true;
      return root;
  }
}

function damageTree(der: Uint8Array, ops: readonly TreeOp[]): Uint8Array {
  let root = parseTree(der);
  for (const op of ops) root = applyTreeOp(root, op);
  return encodeNode(root);
}

/**
 * Cuts the innermost element holding byte `k` short at `k` (or drops it when
 * `k` falls in its header), keeps every other element, and fixes the lengths
 * of the elements around it: damage deep inside, consistent outside. `tree`
 * is `parseTree(der)`, parsed once per seed.
 */
function truncateInside(der: Uint8Array, tree: Node, k: number): Uint8Array {
  if (k < tree.cs!) return der.subarray(0, k);
  const rebuild = (n: Node): Uint8Array => {
    const kid = n.kids?.find((c) => c.start! <= k && k < c.end!);
    let content: Uint8Array;
    if (!kid) content = der.subarray(n.cs!, n.kids ? n.cs! + +(n.encap === "bit") : k);
    else {
      const inner = k < kid.cs! ? new Uint8Array() : rebuild(kid);
      content = cat([der.subarray(n.cs!, kid.start!), inner, der.subarray(kid.end!, n.end!)]);
    }
    return cat([new Uint8Array([n.tag, ...derLength(content.length)]), content]);
  };
  return rebuild(tree);
}

/** Byte-level damage: [kind (flip / insert / delete), position, value]. */
type ByteOp = [number, number, number];

function damageBytes(b: Uint8Array, ops: readonly ByteOp[]): Uint8Array {
  const a = Array.from(b);
  for (const [kind, pos, v] of ops) {
    const i = pos % (a.length + 1);
    if (kind % 3 === 0) {
      if (i < a.length) a[i] = a[i]! ^ (1 << (v & 7)) ^ (v & 0xf0 ? v : 0);
    } else if (kind % 3 === 1) a.splice(i, 0, v & 0xff);
    else a.splice(i, 1);
  }
  return new Uint8Array(a);
}

const treeOps = fc.array(fc.tuple(fc.nat(TREE_OP_KINDS - 1), fc.nat(), fc.nat()), { minLength: 1, maxLength: 3 });
const byteOps = fc.array(fc.tuple(fc.nat(2), fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 });

// ------------------------------------------------------------------ bombs

/** n SEQUENCEs, each holding the next (definite lengths). */
function nestedSequences(n: number, innermost = new Uint8Array([0x05, 0x00])): Uint8Array {
  let out = innermost;
  for (let i = 0; i < n; i++) out = cat([new Uint8Array([0x30, ...derLength(out.length)]), out]);
  return out;
}

/** n indefinite-length SEQUENCEs, with or without their end-of-contents octets. */
function indefiniteBomb(n: number, terminated: boolean): Uint8Array {
  const open = new Uint8Array(2 * n);
  for (let i = 0; i < n; i++) open.set([0x30, 0x80], 2 * i);
  return terminated ? cat([open, new Uint8Array(2 * n)]) : open;
}

/** Inputs that must fail at once, by name. */
function bombs(): [string, Uint8Array][] {
  const sdOid = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
  const claim = (prefix: number[], len: number[], total = 60): Uint8Array => {
    const b = new Uint8Array(total);
    b.set([...prefix, ...len]);
    return b;
  };
  return [
    ["10 000 nested SEQUENCEs", nestedSequences(10_000)],
    ["10 000 nested [0] EXPLICIT", (() => {
      let out = new Uint8Array([0x05, 0x00]);
      for (let i = 0; i < 10_000; i++) out = cat([new Uint8Array([0xa0, ...derLength(out.length)]), out]);
      return out;
    })()],
    ["10 000 nested indefinite-length SEQUENCEs", indefiniteBomb(10_000, true)],
    ["10 000 unterminated indefinite-length SEQUENCEs", indefiniteBomb(10_000, false)],
    ["ContentInfo(SignedData) around 10 000 indefinite SEQUENCEs", cat([new Uint8Array([0x30, 0x80, ...sdOid, 0xa0, 0x80]), indefiniteBomb(10_000, true), new Uint8Array(4)])],
    ["ContentInfo(SignedData) around 5 000 nested SEQUENCEs", (() => {
      const inner = cat([new Uint8Array([0xa0, ...derLength(nestedSequences(5_000).length)]), nestedSequences(5_000)]);
      const body = cat([new Uint8Array(sdOid), inner]);
      return cat([new Uint8Array([0x30, ...derLength(body.length)]), body]);
    })()],
    ["constructed OCTET STRING nested 1 000 deep", (() => {
      let out = new Uint8Array([0x04, 0x01, 0x41]);
      for (let i = 0; i < 1_000; i++) out = cat([new Uint8Array([0x24, ...derLength(out.length)]), out]);
      return out;
    })()],
    ["SEQUENCE claiming 4 GB", claim([], [0x30, 0x84, 0xff, 0xff, 0xff, 0xff])],
    ["SEQUENCE claiming 2 GB", claim([], [0x30, 0x84, 0x7f, 0xff, 0xff, 0xff])],
    ["SEQUENCE with an 8-octet length", claim([], [0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])],
    ["SEQUENCE with a 127-octet length", claim([], [0x30, 0xff, 0xff, 0xff, 0xff, 0xff])],
    ["ContentInfo whose [0] claims 4 GB", claim([0x30, 0x3a, ...sdOid], [0xa0, 0x84, 0xff, 0xff, 0xff, 0xf0])],
    ["ContentInfo whose OID claims 4 GB", claim([0x30, 0x3a], [0x06, 0x84, 0xff, 0xff, 0xff, 0xff])],
    ["OCTET STRING claiming 4 GB", claim([], [0x04, 0x84, 0xff, 0xff, 0xff, 0xff])],
    ["indefinite length on a primitive", claim([], [0x04, 0x80, 0x01, 0x02, 0x00, 0x00])],
    ["high tag number", claim([], [0x3f, 0x81, 0x80, 0x01, 0x00])],
    ["100 000 NULLs in one SEQUENCE", (() => {
      const body = new Uint8Array(200_000);
      for (let i = 0; i < body.length; i += 2) body[i] = 0x05;
      return cat([new Uint8Array([0x30, ...derLength(body.length)]), body]);
    })()],
    ["empty input", new Uint8Array()],
    ["one byte", new Uint8Array([0x30])],
    ["end-of-contents only", new Uint8Array([0x00, 0x00])],
  ];
}

// ------------------------------------------------------------------ fixtures

interface Seeds {
  ca: LocalKey;
  apple: LocalKey;
  requester: LocalKey;
  mmClient: LocalKey;
  decrypters: LocalKey[];
  ndesPem: string;
  requests: { name: string; der: Uint8Array; baseline: Outcome<PkiRequest> }[];
  certReps: { name: string; der: Uint8Array; options: Parameters<typeof readCertRep>[1]; baseline: Outcome<CertRep> }[];
  caCerts: { name: string; body: Uint8Array }[];
  certificates: { name: string; der: Uint8Array }[];
  csrs: { name: string; der: Uint8Array }[];
  /** The CSR of the strongSwan des3-sha256 capture, to damage, re-encrypt and re-sign. */
  csrDer: Uint8Array;
  issued: Certificate;
}

let S: Seeds;

beforeAll(async () => {
  const ca = LocalKey.fromPem(text(captured("ca.pem")), text(captured("ca.key")), { passphrase: "" });
  const apple = LocalKey.fromPem(text(pub("apple-ios.ca.pem")), text(pub("apple-ios.ca.key")));
  const decrypters = [ca, apple];
  const reqFiles = [
    captured("pkcsreq.micromdm-scepclient.des-sha1.der"),
    captured("pkcsreq.micromdm-scepclient.wrong-challenge.der"),
    captured("pkcsreq.strongswan.des3-sha1.der"),
    captured("pkcsreq.strongswan.des3-sha256.der"),
    captured("pkcsreq.strongswan.des3-sha256-pss.der"),
    captured("pkcsreq.strongswan.des3-sha512.der"),
    pub("apple-ios.pkcsreq.des3-sha1.der"),
    pub("cryptlib.req2.der"),
  ];
  const requests: Seeds["requests"] = [];
  for (const f of reqFiles) {
    const der = bytes(f);
    requests.push({ name: f, der, baseline: await attempt(f, der, () => decodePkiMessage(der, { decrypters })) });
  }
  const md5 = fromBase64Lenient(text(pub("libscep.pkcsreq.md5.pem")))!;
  requests.push({ name: "libscep.pkcsreq.md5", der: md5, baseline: await attempt("md5", md5, () => decodePkiMessage(md5, { decrypters })) });

  const decoded = (name: string): PkiRequest => {
    const r = requests.find((q) => q.name.endsWith(name))!.baseline;
    if (!r.ok) throw new Error(`${name} does not decode: ${r.error.message}`);
    return r.value;
  };
  const ss = decoded("pkcsreq.strongswan.des3-sha256.der");
  const mm = decoded("pkcsreq.micromdm-scepclient.des-sha1.der");
  const requester = LocalKey.from(ss.signerCertificate, text(captured("strongswan-client.key")));
  const mmClient = LocalKey.from(mm.signerCertificate, text(captured("micromdm-client.key")));
  const ndesPem = text(pub("ndes.ca-and-ra.pem"));

  const certReps: Seeds["certReps"] = [];
  const addRep = async (name: string, options: Parameters<typeof readCertRep>[1]): Promise<void> => {
    const der = bytes(name);
    certReps.push({ name, der, options, baseline: await attempt(name, der, () => readCertRep(der, options)) });
  };
  await addRep(captured("certrep-success.micromdm-scepserver.to-strongswan.der"), { decrypter: requester, caCertificates: [ca.certificate] });
  await addRep(captured("certrep-success.micromdm-scepserver.to-micromdm-client.der"), { decrypter: mmClient, caCertificates: [ca.certificate] });
  await addRep(captured("certrep-failure-badrequest.micromdm-scepserver.der"), { caCertificates: [ca.certificate] });
  await addRep(pub("micromdm.certrep-success.to-apple-ios.der"), { caCertificates: [apple.certificate] });
  await addRep(pub("ndes.certrep-success.oaep-aes128.der"), { caCertificates: [ndesPem] });
  await addRep(pub("cryptlib.resp2.der"), {});

  const toSs = certReps[0]!.baseline;
  if (!toSs.ok) throw new Error(`the strongSwan CertRep does not read: ${toSs.error.message}`);
  const issued = toSs.value.certificates[0]!;

  const raCa = await buildGetCaCertResponse([requester.certificate, ca.certificate]);
  const caCerts = [
    { name: "getcacert.micromdm-scepserver.der", body: bytes(captured("getcacert.micromdm-scepserver.der")) },
    { name: "cryptlib.resp0.der", body: bytes(pub("cryptlib.resp0.der")) },
    { name: "degenerate PKCS#7 (RA + CA)", body: raCa.body },
    // the file starts with OpenSSL's text dump; a server sends the PEM block only
    { name: "ndes.ca-and-ra.pem", body: new TextEncoder().encode(ndesPem.slice(ndesPem.indexOf("-----BEGIN"))) },
  ];
  const certificates = [
    { name: "captured CA", der: ca.certificate.der },
    { name: "apple CA", der: apple.certificate.der },
    { name: "strongSwan self-signed", der: requester.certificate.der },
    { name: "micromdm self-signed", der: mmClient.certificate.der },
    { name: "issued by micromdm", der: issued.der },
    ...Certificate.fromPem(ndesPem).map((c, i) => ({ name: `ndes #${i}`, der: c.der })),
  ];
  const csrs = requests
    .filter((r) => r.baseline.ok && r.baseline.value.csr)
    .map((r) => ({ name: r.name, der: (r.baseline as { value: PkiRequest }).value.csr!.der }));

  S = { ca, apple, requester, mmClient, decrypters, ndesPem, requests, certReps, caCerts, certificates, csrs, csrDer: ss.csr!.der, issued };
}, 60_000);

// ------------------------------------------------------- re-signed messages

let tidCounter = 0;

/** A PKIMessage around `envelope` with a valid signature by the strongSwan requester. */
async function signedRequest(envelope: Uint8Array, options: { attributes?: Uint8Array[]; messageType?: number; digest?: DigestAlgorithm } = {}): Promise<Uint8Array> {
  const attributes =
    options.attributes ??
    encodeScepAttributes({ messageType: options.messageType ?? 19, transactionId: `hostile-${++tidCounter}`, senderNonce: new Uint8Array(16).fill(7) });
  return buildSignedData({ content: envelope, certificates: [S.requester.certificate.der], signer: S.requester, digest: options.digest ?? "sha256", attributes });
}

/** A PKIMessage whose envelope (to the captured CA) holds `inner`. */
async function encryptedRequest(inner: Uint8Array, messageType = 19, cipher: ContentCipher = "aes128"): Promise<Uint8Array> {
  return signedRequest(buildEnvelopedData({ content: inner, recipient: S.ca.certificate, cipher }), { messageType });
}

/** A SUCCESS CertRep signed by the CA whose envelope (to the requester) holds `inner`, or with `envelope` as is. */
async function signedCertRep(options: { inner?: Uint8Array; envelope?: Uint8Array; attributes?: Uint8Array[] }): Promise<Uint8Array> {
  const envelope = options.envelope ?? buildEnvelopedData({ content: options.inner!, recipient: S.requester.certificate, cipher: "des3" });
  const attributes =
    options.attributes ??
    encodeScepAttributes({ messageType: 3, transactionId: "hostile", senderNonce: new Uint8Array(16).fill(1), recipientNonce: new Uint8Array(16).fill(7), pkiStatus: "0" });
  return buildSignedData({ content: envelope, certificates: [S.ca.certificate.der], signer: S.ca, digest: "sha256", attributes });
}

const decode = (der: Uint8Array): Promise<PkiRequest> => decodePkiMessage(der, { decrypters: S.decrypters });

/**
 * The key of a SubjectPublicKeyInfo as OpenSSL reads it (modulus and
 * exponent): damage to the unsigned certificate can change how the SPKI is
 * spelled (NULL parameters re-tagged, BER lengths, bytes after the
 * RSAPublicKey) without changing the key the signature verified under.
 */
function keyOf(spki: Uint8Array): string {
  let bits: Uint8Array | undefined;
  try {
    bits = parseTree(spki).kids?.[1]?.body;
  } catch {
    /* a BER spelling this little parser does not read: OpenSSL's spki decoder below */
  }
  for (const input of [
    bits && { key: Buffer.from(bits.subarray(1)), format: "der" as const, type: "pkcs1" as const },
    { key: Buffer.from(spki), format: "der" as const, type: "spki" as const },
  ]) {
    try {
      if (input) {
        const jwk = createPublicKey(input).export({ format: "jwk" });
        return `${jwk.n}:${jwk.e}`;
      }
    } catch {
      /* next form */
    }
  }
  return hex(spki, 1000);
}

/** What a PKIMessage's signature and encryption protect: equal or the decode was fooled. */
function protectedView(r: PkiRequest): unknown {
  return {
    messageType: r.messageType,
    transactionId: r.transactionId,
    senderNonce: hex(r.senderNonce, 64),
    digest: r.digestAlgorithm,
    cipher: r.contentCipher,
    transport: r.keyTransport,
    signerKey: keyOf(r.signerCertificate.spki),
    csr: r.csr ? hex(r.csr.der, 4000) : undefined,
    challenge: r.csr?.challengePassword,
  };
}

function certRepView(r: CertRep): unknown {
  return {
    status: r.status,
    failInfo: r.failInfo,
    transactionId: r.transactionId,
    recipientNonce: r.recipientNonce ? hex(r.recipientNonce, 64) : undefined,
    senderNonce: hex(r.senderNonce, 64),
    signerKey: keyOf(r.signerCertificate.spki),
    certificates: r.certificates.map((c) => hex(c.der, 4000)),
  };
}

// ==================================================================== tests

describe("hostile input: the seeds", () => {
  it("decode as their manifests say, so damage starts from real messages", () => {
    const byName = (n: string): Outcome<PkiRequest> => S.requests.find((r) => r.name.endsWith(n))!.baseline;
    const mm = byName("pkcsreq.micromdm-scepclient.des-sha1.der");
    expect(mm.ok && [mm.value.contentCipher, mm.value.digestAlgorithm, mm.value.csr?.challengePassword, mm.value.csr?.commonName]).toEqual(["des", "sha1", "secret", "fixture-mm"]);
    // The MANIFEST says challenge WRONG / CN fixture-mm-badchallenge, but OpenSSL
    // confirms the file holds the same content as the des-sha1 capture.
    const wrong = byName("pkcsreq.micromdm-scepclient.wrong-challenge.der");
    expect(wrong.ok && [wrong.value.csr?.challengePassword, wrong.value.csr?.commonName]).toEqual(["secret", "fixture-mm"]);
    const pss = byName("pkcsreq.strongswan.des3-sha256-pss.der");
    expect(pss.ok && [pss.value.signatureAlgorithm.scheme, pss.value.contentCipher]).toEqual(["rsa-pss", "des3"]);
    const apple = byName("apple-ios.pkcsreq.des3-sha1.der");
    expect(apple.ok && apple.value.csr?.commonName).toBe("com.apple.security.scep.063D7953-1338-4BF0-8F99-913382996224");
    const cryptlib = byName("cryptlib.req2.der");
    expect(!cryptlib.ok && cryptlib.error.code).toBe("ERR_NO_RECIPIENT");
    const md5 = byName("libscep.pkcsreq.md5");
    expect(!md5.ok && [md5.error.code, md5.error.failInfo]).toEqual(["ERR_ALGORITHM_NOT_ALLOWED", "badAlg"]);
    expect(S.certReps.map((r) => (r.baseline.ok ? r.baseline.value.status : r.baseline.error.code))).toEqual([
      "SUCCESS",
      "SUCCESS",
      "FAILURE",
      "SUCCESS",
      "SUCCESS",
      "SUCCESS",
    ]);
    expect(S.issued.issuer).toBe(S.ca.certificate.subject);
    expect(S.csrs.length).toBe(7);
  });
});

describe("hostile input: decodePkiMessage", () => {
  it("fails typed on every truncation of every captured request, cut at the end or deep inside", async () => {
    const t = new Tally();
    for (const [i, { name, der, baseline }] of S.requests.entries()) {
      const tree = parseTree(der);
      for (let k = 0; k < der.length; k++) {
        await attempt(`${name} cut at ${k}`, der.subarray(0, k), () => decode(der.subarray(0, k)), t);
        // deep cuts at every INSIDE_STRIDE-th byte, a different residue per seed (a valid cut costs two RSA operations)
        if (k % INSIDE_STRIDE !== i % INSIDE_STRIDE) continue;
        const inside = truncateInside(der, tree, k);
        const r = await attempt(`${name} cut inside at ${k}`, inside, () => decode(inside), t);
        // cutting an unprotected part (the signer certificate's own signature) may leave it valid
        if (r.ok) expect(protectedView(r.value)).toEqual(protectedView((baseline as { value: PkiRequest }).value));
      }
    }
    expect(t.calls).toBeGreaterThan(28_000);
    for (const code of ["ERR_ASN1", "ERR_MESSAGE_MALFORMED", "ERR_DIGEST_MISMATCH", "ERR_SIGNATURE_INVALID"] as const) expect(t.has(code), code).toBe(true);
  });

  it("random flips, inserts and deletes: a typed error or the same protected content", async () => {
    const t = new Tally();
    await fc.assert(
      fc.asyncProperty(fc.nat(S.requests.length - 1), byteOps, async (i, ops) => {
        const seed = S.requests[i]!;
        const input = damageBytes(seed.der, ops);
        const r = await attempt(`${seed.name} bytes ${JSON.stringify(ops)}`, input, () => decode(input), t);
        if (r.ok) {
          expect(seed.baseline.ok).toBe(true);
          expect(protectedView(r.value)).toEqual(protectedView((seed.baseline as { value: PkiRequest }).value));
        }
      }),
      { numRuns: 2_500, seed: SEED },
    );
    expect(t.calls).toBe(2_500);
  });

  it("structural damage to the SignedData (wrong tags, fields dropped, duplicated, grafted, lying lengths, nesting)", async () => {
    const t = new Tally();
    await fc.assert(
      fc.asyncProperty(fc.nat(S.requests.length - 1), treeOps, async (i, ops) => {
        const seed = S.requests[i]!;
        const input = damageTree(seed.der, ops);
        const r = await attempt(`${seed.name} tree ${JSON.stringify(ops)}`, input, () => decode(input), t);
        if (r.ok) expect(protectedView(r.value)).toEqual(protectedView((seed.baseline as { value: PkiRequest }).value));
      }),
      { numRuns: 3_000, seed: SEED },
    );
    expect(t.has("ERR_ASN1") && t.has("ERR_MESSAGE_MALFORMED")).toBe(true);
  });

  it("hostile signed attributes under a valid signature", async () => {
    const envelope = buildEnvelopedData({ content: S.csrDer, recipient: S.ca.certificate, cipher: "aes128" });
    const attr = (oid: number[], ...values: Node[]): Uint8Array =>
      encodeNode({ tag: 0x30, body: new Uint8Array(), kids: [tlv(0x06, ...oid), { tag: 0x31, body: new Uint8Array(), kids: values }] });
    const scep = (n: number): number[] => [0x60, 0x86, 0x48, 0x01, 0x86, 0xf8, 0x45, 0x01, 0x09, n];
    const ps = (s: string): Node => tlv(0x13, ...new TextEncoder().encode(s));
    const os = (...b: number[]): Node => tlv(0x04, ...b);
    const mt = (v: Node): Uint8Array => attr(scep(2), v);
    const tid = (v: Node): Uint8Array => attr(scep(7), v);
    const sn = (v: Node): Uint8Array => attr(scep(5), v);
    const nonce = os(...new Uint8Array(16).fill(9));
    const cases: [string, Uint8Array[], ScepErrorCode | "ok"][] = [
      ["no SCEP attributes", [], "ERR_MESSAGE_MALFORMED"],
      ["messageType as INTEGER", [mt(tlv(0x02, 19)), tid(ps("t")), sn(nonce)], "ERR_ASN1"],
      ["messageType as OCTET STRING", [mt(os(0x31, 0x39)), tid(ps("t")), sn(nonce)], "ok"],
      ["messageType not a number", [mt(ps("PKCSReq")), tid(ps("t")), sn(nonce)], "ERR_MESSAGE_MALFORMED"],
      ["messageType 3 (CertRep)", [mt(ps("3")), tid(ps("t")), sn(nonce)], "ERR_MESSAGE_TYPE"],
      ["messageType 999", [mt(ps("999")), tid(ps("t")), sn(nonce)], "ERR_MESSAGE_TYPE"],
      ["messageType with two values", [attr(scep(2), ps("19"), ps("20")), tid(ps("t")), sn(nonce)], "ERR_MESSAGE_MALFORMED"],
      ["messageType with no value", [attr(scep(2)), tid(ps("t")), sn(nonce)], "ERR_MESSAGE_MALFORMED"],
      ["messageType as a SEQUENCE", [mt(tlv(0x30)), tid(ps("t")), sn(nonce)], "ERR_ASN1"],
      ["messageType as NULL", [mt(tlv(0x05)), tid(ps("t")), sn(nonce)], "ERR_ASN1"],
      ["transactionID as SEQUENCE", [mt(ps("19")), tid(tlv(0x30)), sn(nonce)], "ERR_ASN1"],
      ["transactionID empty", [mt(ps("19")), tid(ps("")), sn(nonce)], "ERR_MESSAGE_MALFORMED"],
      ["transactionID of 10 000 chars", [mt(ps("19")), tid(ps("x".repeat(10_000))), sn(nonce)], "ERR_MESSAGE_MALFORMED"],
      ["transactionID as BMPString with an odd length (X.680 §41: two octets a character)", [mt(ps("19")), tid(tlv(0x1e, 0, 0x41, 0)), sn(nonce)], "ERR_ASN1"],
      ["senderNonce as PrintableString", [mt(ps("19")), tid(ps("t")), sn(ps("nonce"))], "ERR_ASN1"],
      ["senderNonce empty", [mt(ps("19")), tid(ps("t")), sn(os())], "ERR_MESSAGE_MALFORMED"],
      ["senderNonce of 65 bytes", [mt(ps("19")), tid(ps("t")), sn(os(...new Uint8Array(65)))], "ERR_MESSAGE_MALFORMED"],
      ["senderNonce missing", [mt(ps("19")), tid(ps("t"))], "ERR_MESSAGE_MALFORMED"],
      ["signingTime as INTEGER", [mt(ps("19")), tid(ps("t")), sn(nonce), attr([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x05], tlv(0x02, 1))], "ERR_ASN1"],
      ["signingTime garbage", [mt(ps("19")), tid(ps("t")), sn(nonce), attr([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x05], tlv(0x17, 0x41))], "ERR_ASN1"],
      ["the same attribute twice", [mt(ps("19")), mt(ps("19")), tid(ps("t")), sn(nonce)], "ERR_MESSAGE_MALFORMED"],
      ["pkiStatus as BOOLEAN", [mt(ps("19")), tid(ps("t")), sn(nonce), attr(scep(3), tlv(0x01, 0xff))], "ERR_ASN1"],
      ["failInfo as OID", [mt(ps("19")), tid(ps("t")), sn(nonce), attr(scep(4), tlv(0x06, 0x2a, 0x03))], "ERR_ASN1"],
      ["recipientNonce as SET", [mt(ps("19")), tid(ps("t")), sn(nonce), attr(scep(6), tlv(0x31))], "ERR_ASN1"],
      ["attribute type not an OID", [mt(ps("19")), tid(ps("t")), sn(nonce), encodeNode({ tag: 0x30, body: new Uint8Array(), kids: [tlv(0x02, 1), tlv(0x31)] })], "ERR_ASN1"],
      ["attribute without values", [mt(ps("19")), tid(ps("t")), sn(nonce), encodeNode({ tag: 0x30, body: new Uint8Array(), kids: [tlv(0x06, ...scep(3))] })], "ERR_ASN1"],
      ["attribute as NULL", [mt(ps("19")), tid(ps("t")), sn(nonce), new Uint8Array([0x05, 0x00])], "ERR_ASN1"],
      ["a second messageDigest (a SEQUENCE)", [mt(ps("19")), tid(ps("t")), sn(nonce), attr([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04], tlv(0x30))], "ERR_MESSAGE_MALFORMED"],
    ];
    const t = new Tally();
    for (const [what, attributes, code] of cases) {
      const input = await signedRequest(envelope, { attributes });
      const r = await attempt(what, input, () => decode(input), t);
      expect(r.ok ? "ok" : r.error.code, what).toBe(code);
    }
  });

  it("a hostile EnvelopedData under a valid signature", async () => {
    const t = new Tally();
    const envelopes = (["aes128", "des3", "des", "aes256"] as const).map((cipher) => buildEnvelopedData({ content: S.csrDer, recipient: S.ca.certificate, cipher }));
    envelopes.push(buildEnvelopedData({ content: S.csrDer, recipient: S.ca.certificate, cipher: "aes192", transport: "rsaes-oaep", oaepHash: "sha256" }));
    await fc.assert(
      fc.asyncProperty(fc.nat(envelopes.length - 1), treeOps, async (i, ops) => {
        const env = damageTree(envelopes[i]!, ops);
        const input = await signedRequest(env);
        const r = await attempt(`envelope ${i} ${JSON.stringify(ops)}`, input, () => decode(input), t);
        if (r.ok) expect(hex(r.value.csr!.der, 4000)).toBe(hex(S.csrDer, 4000));
      }),
      { numRuns: 500, seed: SEED },
    );
    expect(t.has("ERR_ASN1") || t.has("ERR_MESSAGE_MALFORMED")).toBe(true);
  });

  it("hostile inner content (PKCS#10, IssuerAndSubject, IssuerAndSerialNumber) under valid signature and encryption", async () => {
    const t = new Tally();
    const issuerAndSubject = encodeNode({ tag: 0x30, body: new Uint8Array(), kids: [parseTree(S.ca.certificate.subjectDer), parseTree(S.issued.subjectDer)] });
    const issuerAndSerial = encodeNode({ tag: 0x30, body: new Uint8Array(), kids: [parseTree(S.ca.certificate.issuerDer), tlv(0x02, ...S.issued.serialNumber)] });
    const inners: [number, Uint8Array][] = [
      ...S.csrs.map((c): [number, Uint8Array] => [19, c.der]),
      [17, S.csrDer],
      [20, issuerAndSubject],
      [21, issuerAndSerial],
      [22, issuerAndSerial],
    ];
    await fc.assert(
      fc.asyncProperty(fc.nat(inners.length - 1), treeOps, async (i, ops) => {
        const [type, der] = inners[i]!;
        const input = await encryptedRequest(damageTree(der, ops), type);
        await attempt(`inner ${i} ${JSON.stringify(ops)}`, input, () => decode(input), t);
      }),
      { numRuns: 500, seed: SEED },
    );
    // and random bytes of every kind inside a valid envelope
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(19, 17, 20, 21, 22), fc.uint8Array({ maxLength: 256 }), async (type, inner) => {
        const input = await encryptedRequest(inner, type);
        const r = await attempt(`inner bytes type ${type}`, input, () => decode(input), t);
        if (r.ok) expect(type === 20 || type === 21 || type === 22).toBe(true);
      }),
      { numRuns: 150, seed: SEED },
    );
    // A CSR that does not parse or verify inside a valid envelope is refused as a bad padding is (no CBC padding
    // oracle, server.padding-oracle.test.ts): ERR_DECRYPT_FAILED, its cause ERR_CSR_INVALID.
    expect(t.has("ERR_DECRYPT_FAILED")).toBe(true);
  });

  it("nesting bombs, indefinite-length bombs and huge claimed lengths fail at once, without allocating", async () => {
    for (const [what, input] of bombs()) {
      const before = process.memoryUsage().arrayBuffers;
      const r = await attempt(what, input, () => decode(input));
      expect(r.ok, what).toBe(false);
      expect(process.memoryUsage().arrayBuffers - before, what).toBeLessThan(64 << 20);
    }
    // the same bombs as the content of a validly signed message, and as the CSR in a valid envelope
    for (const [what, bomb] of bombs().filter(([, b]) => b.length > 0)) {
      const asEnvelope = await signedRequest(bomb);
      const r1 = await attempt(`${what} as envelope`, asEnvelope, () => decode(asEnvelope));
      expect(r1.ok, what).toBe(false);
      const asCsr = await encryptedRequest(bomb);
      const r2 = await attempt(`${what} as CSR`, asCsr, () => decode(asCsr));
      expect(!r2.ok && r2.error.code, what).toBe("ERR_DECRYPT_FAILED");
      expect(!r2.ok && (r2.error.cause as { code?: string } | undefined)?.code, what).toBe("ERR_CSR_INVALID");
    }
  });

  it("a 60-byte message claiming a 4 GB element fails with ERR_ASN1 at once", async () => {
    const input = new Uint8Array(60);
    input.set([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]);
    const r = await attempt("4 GB", input, () => decode(input));
    expect(!r.ok && [r.error.code, r.error.failInfo, r.error.message]).toEqual(["ERR_ASN1", "badRequest", "ASN.1 length exceeds the data"]);
  });

  it("random byte strings, bare and behind a plausible ContentInfo header", async () => {
    const t = new Tally();
    const sdHeader = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), fc.nat(2), async (rand, framing) => {
        let input = rand;
        if (framing === 1) input = cat([new Uint8Array([0x30, ...derLength(rand.length)]), rand]);
        if (framing === 2) {
          const seq = cat([new Uint8Array([0x30, ...derLength(rand.length)]), rand]);
          const body = cat([new Uint8Array(sdHeader), new Uint8Array([0xa0, ...derLength(seq.length)]), seq]);
          input = cat([new Uint8Array([0x30, ...derLength(body.length)]), body]);
        }
        const r = await attempt(`random (${framing})`, input, () => decode(input), t);
        expect(r.ok).toBe(false);
      }),
      { numRuns: 1_500, seed: SEED },
    );
  });
});

describe("hostile input: readCertRep", () => {
  const read = (der: Uint8Array, options: Parameters<typeof readCertRep>[1]): Promise<CertRep> => readCertRep(der, options);

  it("fails typed on every truncation of every CertRep, cut at the end or deep inside", async () => {
    const t = new Tally();
    for (const [i, { name, der, options }] of S.certReps.entries()) {
      const tree = parseTree(der);
      for (let k = 0; k < der.length; k++) {
        await attempt(`${name} cut at ${k}`, der.subarray(0, k), () => read(der.subarray(0, k), options), t);
        if (k % INSIDE_STRIDE !== i % INSIDE_STRIDE) continue;
        const inside = truncateInside(der, tree, k);
        await attempt(`${name} cut inside at ${k}`, inside, () => read(inside, options), t);
      }
    }
    expect(t.calls).toBeGreaterThan(25_000);
    expect(t.has("ERR_CERTREP")).toBe(true);
  });

  it("random flips, inserts and deletes: a typed error or the same reply", async () => {
    const t = new Tally();
    await fc.assert(
      fc.asyncProperty(fc.nat(S.certReps.length - 1), byteOps, async (i, ops) => {
        const seed = S.certReps[i]!;
        const input = damageBytes(seed.der, ops);
        const r = await attempt(`${seed.name} bytes ${JSON.stringify(ops)}`, input, () => read(input, seed.options), t);
        if (r.ok) expect(certRepView(r.value)).toEqual(certRepView((seed.baseline as { value: CertRep }).value));
      }),
      { numRuns: 2_000, seed: SEED },
    );
  });

  it("structural damage to the outer SignedData", async () => {
    const t = new Tally();
    await fc.assert(
      fc.asyncProperty(fc.nat(S.certReps.length - 1), treeOps, async (i, ops) => {
        const seed = S.certReps[i]!;
        const input = damageTree(seed.der, ops);
        const r = await attempt(`${seed.name} tree ${JSON.stringify(ops)}`, input, () => read(input, seed.options), t);
        if (r.ok) expect(certRepView(r.value)).toEqual(certRepView((seed.baseline as { value: CertRep }).value));
      }),
      { numRuns: 2_000, seed: SEED },
    );
  });

  it("a hostile envelope or degenerate SignedData inside a validly signed SUCCESS", async () => {
    const t = new Tally();
    const inner = await buildSignedData({ certificates: [S.issued.der, S.ca.certificate.der] });
    const envelope = buildEnvelopedData({ content: inner, recipient: S.requester.certificate, cipher: "des3" });
    const options = { decrypter: S.requester, caCertificates: [S.ca.certificate] };
    await fc.assert(
      fc.asyncProperty(fc.boolean(), treeOps, async (damageEnvelope, ops) => {
        const input = damageEnvelope ? await signedCertRep({ envelope: damageTree(envelope, ops) }) : await signedCertRep({ inner: damageTree(inner, ops) });
        await attempt(`certrep ${damageEnvelope ? "envelope" : "inner"} ${JSON.stringify(ops)}`, input, () => read(input, options), t);
      }),
      { numRuns: 400, seed: SEED },
    );
    for (const [what, bomb] of bombs().filter(([, b]) => b.length > 0)) {
      const input = await signedCertRep({ inner: bomb });
      const r = await attempt(`${what} as CertRep content`, input, () => read(input, options));
      expect(r.ok, what).toBe(false);
    }
  });

  it("bombs and random byte strings", async () => {
    for (const [what, input] of bombs()) {
      const r = await attempt(what, input, () => read(input, { caCertificates: [S.ca.certificate] }));
      expect(!r.ok && r.error.code, what).toBe("ERR_ASN1");
    }
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), async (input) => {
        const r = await attempt("random", input, () => read(input, { decrypter: S.requester }));
        expect(r.ok).toBe(false);
      }),
      { numRuns: 1_000, seed: SEED },
    );
  });
});

describe("hostile input: parseGetCaCertResponse and new Certificate", () => {
  /** Parses and touches every lazily parsed field (extensions, names). */
  const touch = (c: Certificate): unknown => [c.subject, c.issuer, c.keyUsage, c.isCa, c.subjectKeyIdentifier, c.subjectAltNames, c.serialNumberHex];
  const parseAll = (body: Uint8Array): unknown => parseGetCaCertResponse(body).map(touch);
  const parseOne = (der: Uint8Array): unknown => touch(new Certificate(der));

  it("fails typed on every truncation, cut at the end or deep inside", async () => {
    const t = new Tally();
    for (const { name, body } of S.caCerts) {
      const tree = body[0] === 0x30 ? parseTree(body) : undefined;
      for (let k = 0; k < body.length; k++) {
        await attempt(`${name} cut at ${k}`, body.subarray(0, k), () => parseAll(body.subarray(0, k)), t);
        if (tree) {
          const inside = truncateInside(body, tree, k);
          await attempt(`${name} cut inside at ${k}`, inside, () => parseAll(inside), t);
        }
      }
    }
    for (const { name, der } of S.certificates) {
      const tree = parseTree(der);
      for (let k = 0; k < der.length; k++) {
        const r = await attempt(`${name} cut at ${k}`, der.subarray(0, k), () => parseOne(der.subarray(0, k)), t);
        if (r.ok) throw new Error(`${name} cut at ${k} parses`);
        const inside = truncateInside(der, tree, k);
        await attempt(`${name} cut inside at ${k}`, inside, () => parseOne(inside), t);
      }
    }
    expect(t.calls).toBeGreaterThan(15_000);
  });

  it("random flips, inserts and deletes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(S.caCerts.length - 1), fc.nat(S.certificates.length - 1), byteOps, async (i, j, ops) => {
        const body = damageBytes(S.caCerts[i]!.body, ops);
        await attempt(`${S.caCerts[i]!.name} bytes ${JSON.stringify(ops)}`, body, () => parseAll(body));
        const der = damageBytes(S.certificates[j]!.der, ops);
        await attempt(`${S.certificates[j]!.name} bytes ${JSON.stringify(ops)}`, der, () => parseOne(der));
      }),
      { numRuns: 2_000, seed: SEED },
    );
  });

  it("structural damage (wrong types in every field, lying lengths, nesting)", async () => {
    const t = new Tally();
    const ders = S.caCerts.filter((c) => c.body[0] === 0x30);
    await fc.assert(
      fc.asyncProperty(fc.nat(ders.length - 1), fc.nat(S.certificates.length - 1), treeOps, async (i, j, ops) => {
        const body = damageTree(ders[i]!.body, ops);
        await attempt(`${ders[i]!.name} tree ${JSON.stringify(ops)}`, body, () => parseAll(body), t);
        const der = damageTree(S.certificates[j]!.der, ops);
        await attempt(`${S.certificates[j]!.name} tree ${JSON.stringify(ops)}`, der, () => parseOne(der), t);
      }),
      { numRuns: 3_000, seed: SEED },
    );
    expect(t.has("ERR_ASN1")).toBe(true);
  });

  it("damaged PEM text", async () => {
    const pem = S.ndesPem.slice(S.ndesPem.indexOf("-----BEGIN"));
    await fc.assert(
      fc.asyncProperty(byteOps, async (ops) => {
        const body = damageBytes(new TextEncoder().encode(pem), ops);
        await attempt(`pem ${JSON.stringify(ops)}`, body, () => parseAll(body));
      }),
      { numRuns: 500, seed: SEED },
    );
    const noBase64 = new TextEncoder().encode("-----BEGIN CERTIFICATE-----\n%%%%\n-----END CERTIFICATE-----\n");
    const r = await attempt("pem without base64", noBase64, () => parseAll(noBase64));
    expect(!r.ok && r.error.code).toBe("ERR_INVALID_ARGUMENT");
    const garbage = new TextEncoder().encode("-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n");
    const r2 = await attempt("pem of garbage", garbage, () => parseAll(garbage));
    expect(!r2.ok && r2.error.code).toBe("ERR_ASN1");
  });

  it("PEM bombs (unterminated BEGIN lines, runs of padding) are read in linear time", async () => {
    // Before encoding.ts (then lib/bytes.ts) read PEM in one pass, the first took ~10 s and the second ~9 s.
    const bombs: [string, string][] = [
      ["36 000 unterminated BEGIN lines (1 MB)", "-----BEGIN CERTIFICATE-----\n".repeat(36_000)],
      ["a block of 160 000 '=' then 'x'", `-----BEGIN CERTIFICATE-----\n${"=".repeat(160_000)}x\n-----END CERTIFICATE-----\n`],
      ["20 000 BEGIN lines of distinct labels", "-----BEGIN CERTIFICATE-----\n" + Array.from({ length: 20_000 }, (_, i) => `-----BEGIN L${i}-----\n`).join("")],
      ["a 1 MB label", `-----BEGIN CERTIFICATE-----\n-----BEGIN ${"A".repeat(1 << 20)}`],
    ];
    for (const [what, pem] of bombs) {
      const body = new TextEncoder().encode(pem);
      const r = await attempt(what, body, () => parseAll(body));
      expect(!r.ok && [r.error.code, r.error.message], what).toEqual(["ERR_INVALID_ARGUMENT", "no CERTIFICATE block in the PEM text"]);
    }
    // and a real block after hostile noise is still found
    const real = S.ndesPem.slice(S.ndesPem.indexOf("-----BEGIN"));
    const mixed = new TextEncoder().encode("-----BEGIN CERTIFICATE-----\n-----BEGIN X-----\n-----END Y-----\n" + real);
    const r = await attempt("noise then a certificate", mixed, () => parseGetCaCertResponse(mixed));
    expect(r.ok && r.value.map((c) => c.subject)).toEqual(Certificate.fromPem(real).map((c) => c.subject));
  });

  it("bombs and random byte strings", async () => {
    for (const [what, input] of bombs()) {
      const r1 = await attempt(what, input, () => parseAll(input));
      expect(!r1.ok && r1.error.code, what).toBe("ERR_MESSAGE_MALFORMED");
      const r2 = await attempt(what, input, () => parseOne(input));
      expect(!r2.ok && r2.error.code, what).toBe("ERR_ASN1");
    }
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), fc.boolean(), async (rand, framed) => {
        const input = framed ? cat([new Uint8Array([0x30, ...derLength(rand.length)]), rand]) : rand;
        await attempt("random", input, () => parseAll(input));
        await attempt("random", input, () => parseOne(input));
      }),
      { numRuns: 1_500, seed: SEED },
    );
  });
});

describe("hostile input: new CertificationRequest", () => {
  const parse = (der: Uint8Array): unknown => {
    const c = new CertificationRequest(der);
    // the lazily parsed parts too; verify() answers false rather than throwing
    return [c.subject, c.commonName, c.subjectAltNames, c.challengePassword, c.verify()];
  };

  it("fails typed on every truncation, cut at the end or deep inside", async () => {
    const t = new Tally();
    for (const { name, der } of S.csrs) {
      const tree = parseTree(der);
      for (let k = 0; k < der.length; k++) {
        const r = await attempt(`${name} cut at ${k}`, der.subarray(0, k), () => parse(der.subarray(0, k)), t);
        if (r.ok || r.error.code !== "ERR_CSR_INVALID") throw new Error(`${name} cut at ${k}: ${r.ok ? "parses" : r.error.code}`);
        const inside = truncateInside(der, tree, k);
        await attempt(`${name} cut inside at ${k}`, inside, () => parse(inside), t);
      }
    }
  });

  it("random flips, inserts and deletes; structural damage", async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(S.csrs.length - 1), byteOps, treeOps, async (i, bops, tops) => {
        const a = damageBytes(S.csrs[i]!.der, bops);
        await attempt(`csr ${i} bytes ${JSON.stringify(bops)}`, a, () => parse(a));
        const b = damageTree(S.csrs[i]!.der, tops);
        await attempt(`csr ${i} tree ${JSON.stringify(tops)}`, b, () => parse(b));
      }),
      { numRuns: 3_000, seed: SEED },
    );
  });

  it("bombs and random byte strings", async () => {
    for (const [what, input] of bombs()) {
      const r = await attempt(what, input, () => parse(input));
      expect(!r.ok && r.error.code, what).toBe("ERR_CSR_INVALID");
    }
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), async (input) => {
        await attempt("random", input, () => parse(input));
      }),
      { numRuns: 1_000, seed: SEED },
    );
  });
});

describe("hostile input: parseCaCaps", () => {
  it("reads any text, damaged or random, without throwing", async () => {
    const caps = text(captured("getcacaps.micromdm-scepserver.txt"));
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 512 }), fc.string({ unit: "binary", maxLength: 512 }), fc.uint8Array({ maxLength: 512 })), byteOps, async (v, ops) => {
        const damaged = new TextDecoder().decode(damageBytes(new TextEncoder().encode(caps), ops));
        const input = typeof v === "string" ? v : new TextDecoder().decode(v);
        for (const s of [damaged, input, caps + "\r\n" + input]) {
          const r = await attempt("caps", s, () => parseCaCaps(s));
          if (!r.ok) throw new Error(`parseCaCaps threw ${r.error.code}`);
          for (const c of r.value.list) {
            if (c !== c.trim() || c.length === 0 || !r.value.has(c)) throw new Error(`parseCaCaps kept ${JSON.stringify(c)}`);
            // case-insensitive for the ASCII names caps are (Unicode case mapping does not round-trip)
            if (/^[\x20-\x7e]+$/.test(c) && !r.value.has(c.toUpperCase())) throw new Error(`parseCaCaps is case-sensitive for ${JSON.stringify(c)}`);
          }
        }
      }),
      { numRuns: 1_000, seed: SEED },
    );
  });

  it("reads megabytes of pathological text at once", async () => {
    for (const s of ["\r".repeat(1 << 20), "\r\n".repeat(1 << 19), " ".repeat(1 << 20), "A".repeat(1 << 20), "AES\n".repeat(1 << 18)]) {
      const r = await attempt("big caps", s, () => parseCaCaps(s));
      expect(r.ok).toBe(true);
    }
    expect(parseCaCaps("AES\n".repeat(1 << 18)).list).toEqual(["AES"]);
  });
});
