/**
 * What every part of the server shares: the clock, the body limit and the
 * bounded store call. Internal.
 *
 * @module
 */
import type { KeyTransportLedger } from "./key-transport-ledger.js";
import type { StoreCall } from "./store-call.js";

/** Server-wide settings handed to each operation and phase. @group Server */
export interface ServerContext {
  /** The injected clock. */
  now: () => Date;
  /** Largest PKIOperation message, in bytes. */
  maxBody: number;
  /** Runs a store call under the store timeout. */
  store: StoreCall;
  /** The key transports this server unwrapped (no CBC padding oracle on a captured request; key-transport-ledger.ts). */
  keyTransports?: KeyTransportLedger;
}
