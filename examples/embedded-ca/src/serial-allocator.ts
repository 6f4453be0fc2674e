// Serial numbers that are unique across concurrent calls, processes sharing a
// dataDir, and crashes, without a lock on the issuing path.
//
// A serial is 17 bytes, written as 34 lower-case hex digits:
//
//   random (9 bytes, first byte 0x40..0x7f) || epoch (uint32 BE) || sequence (uint32 BE)
//
// - epoch: claimed once when a CA is opened, by exclusively creating
//   `epochs/<epoch>` (O_CREAT|O_EXCL, then fsync of the directory). O_EXCL makes
//   two openers (threads or processes) get different epochs; an epoch file is
//   never deleted, so an epoch is never handed out twice, not even after a
//   kill -9 or power loss (it is durable before the first serial uses it).
// - sequence: an in-memory counter of the opened CA, incremented synchronously
//   (no await between read and increment), so concurrent issue() calls in one
//   process never share one.
// - random: 70 bits from the CSPRNG (CA/B Forum asks for >= 64), so serials are
//   unpredictable; the fixed 0b01 top bits keep the DER INTEGER positive and
//   exactly 17 octets long (RFC 5280 allows up to 20).
//
// (epoch, sequence) is unique by construction; randomness is not relied upon.
// A serial that was allocated but whose certificate was never returned (crash,
// I/O error) is simply burnt: it is never reused.
import { open, readdir } from "node:fs/promises";
import { join } from "node:path";
import { EmbeddedCaError } from "./errors.js";
import { ensureDirectory, fsyncDirectory } from "./lib/durable-fs.js";
import { toHex } from "./lib/pem.js";
import { nodeCrypto } from "./lib/x509.js";

/** Directory (inside dataDir) holding one empty file per claimed epoch. */
export const EPOCHS_DIR = "epochs";

const UINT32_MAX = 0xffff_ffff;
const EPOCH_NAME = /^\d{10}$/;

/** Hands out unique certificate serial numbers; see the module comment. */
export class SerialAllocator {
  #sequence = 0;

  private constructor(readonly epoch: number) {}

  /** Claims a fresh epoch in `dataDir/epochs`. */
  static async open(dataDir: string): Promise<SerialAllocator> {
    const dir = join(dataDir, EPOCHS_DIR);
    try {
      await ensureDirectory(dir);
      let candidate = 1;
      for (const name of await readdir(dir)) {
        if (EPOCH_NAME.test(name)) candidate = Math.max(candidate, Number(name) + 1);
      }
      for (;;) {
        if (candidate > UINT32_MAX) {
          throw new EmbeddedCaError("SERIAL_SPACE_EXHAUSTED", `all 2^32 epochs in ${dir} are used`);
        }
        try {
          const handle = await open(join(dir, String(candidate).padStart(10, "0")), "wx", 0o644);
          await handle.close();
          break;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
          candidate += 1; // another opener got it first
        }
      }
      await fsyncDirectory(dir);
      return new SerialAllocator(candidate);
    } catch (error) {
      if (error instanceof EmbeddedCaError) throw error;
      throw new EmbeddedCaError(
        "STORAGE_FAILED",
        `cannot claim a serial epoch in ${dir}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  /** The next serial number as 34 lower-case hex digits. Synchronous on purpose. */
  next(): string {
    if (this.#sequence >= UINT32_MAX) {
      throw new EmbeddedCaError(
        "SERIAL_SPACE_EXHAUSTED",
        `epoch ${this.epoch} has issued 2^32 serials; open the CA again to claim a new epoch`,
      );
    }
    this.#sequence += 1;
    const bytes = new Uint8Array(17);
    nodeCrypto.getRandomValues(bytes.subarray(0, 9));
    bytes[0] = ((bytes[0] ?? 0) & 0x3f) | 0x40;
    const view = new DataView(bytes.buffer);
    view.setUint32(9, this.epoch);
    view.setUint32(13, this.#sequence);
    return toHex(bytes);
  }
}

/** Splits a serial produced by {@link SerialAllocator} into its parts (for tests and debugging). */
export function decodeSerial(serial: string): { epoch: number; sequence: number } | undefined {
  if (!/^[0-9a-f]{34}$/.test(serial)) return undefined;
  return {
    epoch: Number.parseInt(serial.slice(18, 26), 16),
    sequence: Number.parseInt(serial.slice(26, 34), 16),
  };
}
