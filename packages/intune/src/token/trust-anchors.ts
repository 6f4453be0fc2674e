/**
 * The trust-anchor pool of the signed-token validator: X.509 certificates
 * from a PEM bundle, of which only the public keys matter.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { TrustAnchorError } from "../errors.js";
import { parseCertificate, type ParsedCertificate, type PublicKey } from "../lib/node-crypto.js";

/**
 * What the pool exposes of one anchor (for monitoring: alert before `notAfter`).
 *
 * @group Signed tokens
 */
export interface TrustAnchor {
  /** Subject, `CN=…, O=…` as OpenSSL prints it. */
  subject: string;
  /** Start of validity. */
  notBefore: Date;
  /** End of validity: the anchor's expiry. */
  notAfter: Date;
  /** SHA-256 of the certificate's DER, lower-case hex. */
  fingerprintSha256: string;
  /** `rsa` (2048 bits or more) or `ec` (P-256). */
  keyType: "rsa" | "ec";
  /** RSA modulus length in bits. */
  modulusBits?: number;
}

/**
 * The keys the verifier tries, by algorithm family.
 *
 * @group Signed tokens
 */
export interface AnchorKeys {
  /** RSA keys of 2048 bits or more, for RS256. */
  rsa: readonly PublicKey[];
  /** P-256 keys, for ES256. */
  ec: readonly PublicKey[];
}

/**
 * Options of {@link TrustAnchorPool.fromPem} and {@link TrustAnchorPool.fromFile}.
 *
 * @group Signed tokens
 */
export interface TrustAnchorPoolOptions {
  /** The clock that decides whether an anchor has expired (default: the system clock). */
  now?: () => Date;
}

interface Loaded {
  anchors: readonly TrustAnchor[];
  keys: AnchorKeys;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;

/** Parses and checks a whole bundle; throws {@link TrustAnchorError} on the first problem. */
function load(pem: string, now: Date, source: string): Loaded {
  const certs: { der: Uint8Array; index: number }[] = [];
  let index = 0;
  for (const m of pem.matchAll(BLOCK)) {
    if (m[1] !== "CERTIFICATE") continue;
    index++;
    if (m[3] !== "CERTIFICATE") throw new TrustAnchorError(`${source}: certificate ${index} has no matching END CERTIFICATE line`);
    const body = m[2]!.replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0) throw new TrustAnchorError(`${source}: certificate ${index} is not valid base64`);
    certs.push({ der: new Uint8Array(Buffer.from(body, "base64")), index });
  }
  if (certs.length === 0) throw new TrustAnchorError(`${source}: the bundle holds no certificate`);
  const anchors: TrustAnchor[] = [];
  const rsa: PublicKey[] = [];
  const ec: PublicKey[] = [];
  for (const { der, index: i } of certs) {
    let c: ParsedCertificate;
    try {
      c = parseCertificate(der);
    } catch (cause) {
      throw new TrustAnchorError(`${source}: certificate ${i} cannot be parsed`, { cause });
    }
    if (!(c.notAfter.getTime() > now.getTime())) throw new TrustAnchorError(`${source}: certificate ${i} (${c.subject}) expired at ${c.notAfter.toISOString()}`);
    if (c.keyType === "rsa") {
      if ((c.modulusBits ?? 0) < 2048) throw new TrustAnchorError(`${source}: certificate ${i} (${c.subject}) has a ${c.modulusBits}-bit RSA key; RS256 needs 2048 bits or more`);
      rsa.push(c.key);
      anchors.push({ subject: c.subject, notBefore: c.notBefore, notAfter: c.notAfter, fingerprintSha256: c.fingerprintSha256, keyType: "rsa", modulusBits: c.modulusBits! });
    } else if (c.keyType === "ec") {
      if (c.curve !== "prime256v1") throw new TrustAnchorError(`${source}: certificate ${i} (${c.subject}) has an EC key on ${c.curve}; ES256 needs P-256`);
      ec.push(c.key);
      anchors.push({ subject: c.subject, notBefore: c.notBefore, notAfter: c.notAfter, fingerprintSha256: c.fingerprintSha256, keyType: "ec" });
    } else {
      throw new TrustAnchorError(`${source}: certificate ${i} (${c.subject}) has a ${c.keyType} key; only RSA (RS256) and P-256 (ES256) verify tokens`);
    }
  }
  return { anchors, keys: { rsa, ec } };
}

/**
 * A set of trust anchors loaded from a PEM bundle. The whole bundle is
 * refused when it is empty, when a certificate cannot be parsed, when one has
 * expired, or when one's key cannot verify RS256 (RSA < 2048 bits) or ES256
 * (EC not on P-256). {@link TrustAnchorPool.reload} swaps the pool atomically:
 * validations running during a reload see either the old or the new pool,
 * and a failed reload keeps the old pool and throws the reason.
 *
 * @example
 * ```ts
 * const pool = await TrustAnchorPool.fromFile("/etc/scep/intune-anchors.pem");
 * for (const a of pool.anchors) console.log(a.subject, a.notAfter.toISOString());
 * process.on("SIGHUP", () => pool.reload().catch((e) => console.error(e.code, e.message)));
 * ```
 *
 * @group Signed tokens
 */
export class TrustAnchorPool {
  #loaded: Loaded;
  readonly #now: () => Date;
  readonly #path: string | undefined;
  #lastError: TrustAnchorError | undefined;
  /** Reloads called and not yet finished. */
  #underWay = 0;
  /** Settles when the last reload called has, whatever its outcome. */
  #tail: Promise<void> = Promise.resolve();

  private constructor(loaded: Loaded, now: () => Date, path: string | undefined) {
    this.#loaded = loaded;
    this.#now = now;
    this.#path = path;
  }

  /**
   * A pool from PEM text (one or more `CERTIFICATE` blocks; other blocks and text are ignored).
   *
   * @throws {@link TrustAnchorError} `ERR_TRUST_ANCHORS` when the bundle is refused.
   */
  static fromPem(pem: string, options: TrustAnchorPoolOptions = {}): TrustAnchorPool {
    const now = options.now ?? ((): Date => new Date());
    return new TrustAnchorPool(load(pem, now(), "trust-anchor bundle"), now, undefined);
  }

  /**
   * A pool from a PEM file; {@link TrustAnchorPool.reload} without an argument reads the file again.
   *
   * @throws {@link TrustAnchorError} `ERR_TRUST_ANCHORS` when the file cannot be read or the bundle is refused.
   */
  static async fromFile(path: string, options: TrustAnchorPoolOptions = {}): Promise<TrustAnchorPool> {
    const now = options.now ?? ((): Date => new Date());
    return new TrustAnchorPool(load(await readBundle(path), now(), path), now, path);
  }

  /** The anchors in bundle order, with their expiry. */
  get anchors(): readonly TrustAnchor[] {
    return this.#loaded.anchors;
  }

  /** The earliest `notAfter` of the pool: when it must have been renewed. */
  get expiresAt(): Date {
    return new Date(Math.min(...this.#loaded.anchors.map((a) => a.notAfter.getTime())));
  }

  /** The error of the last failed reload, cleared by a successful one. */
  get lastReloadError(): TrustAnchorError | undefined {
    return this.#lastError;
  }

  /** @internal The keys the verifier tries; one consistent snapshot. */
  get keys(): AnchorKeys {
    return this.#loaded.keys;
  }

  /**
   * Replaces the pool with `pem`, or with the file's current contents when
   * the pool came from a file and `pem` is omitted. All or nothing.
   *
   * Reloads take effect in the order they were called: one called while another is still reading its file waits for
   * it, so the last one called decides the pool (and `lastReloadError`), never a slower earlier read. With `pem` and
   * no reload under way, the pool is swapped before `reload` returns.
   *
   * @throws {@link TrustAnchorError} `ERR_TRUST_ANCHORS` when the new bundle is refused; the old pool stays in use.
   */
  reload(pem?: string): Promise<readonly TrustAnchor[]> {
    const start = (): Promise<readonly TrustAnchor[]> => this.#reloadNow(pem);
    // None under way (the count drops as a reload finishes, before its promise settles): run now, so a text reload
    // swaps at once, also right after an awaited one. Else after the last one called, whatever its outcome.
    const run = this.#underWay++ === 0 ? start() : this.#tail.then(start);
    this.#tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async #reloadNow(pem: string | undefined): Promise<readonly TrustAnchor[]> {
    try {
      let text = pem;
      if (text === undefined) {
        if (this.#path === undefined) throw new TrustAnchorError("reload() needs PEM text: this pool was not loaded from a file");
        text = await readBundle(this.#path);
      }
      const next = load(text, this.#now(), this.#path ?? "trust-anchor bundle");
      this.#loaded = next;
      this.#lastError = undefined;
      return next.anchors;
    } catch (e) {
      this.#lastError = e instanceof TrustAnchorError ? e : new TrustAnchorError("trust-anchor reload failed", { cause: e });
      throw this.#lastError;
    } finally {
      this.#underWay--;
    }
  }
}

async function readBundle(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (cause) {
    throw new TrustAnchorError(`${path}: cannot be read (${(cause as NodeJS.ErrnoException).code ?? "error"})`, { cause });
  }
}
