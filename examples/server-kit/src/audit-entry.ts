/**
 * The admin APIs' audit lines (the example servers' and the example proxy's): one spelling of the caller's address.
 *
 * @module
 */

/**
 * `entry` with the caller's address as `clientAddress`, the last key, when it is known (the TCP peer's IP address,
 * clipped to 64 characters by @scep/core's `clientAddressOf`, the name the SCEP event lines use); `entry` itself when
 * it is not, so the key is left out rather than written as `undefined`. Never throws.
 *
 * @example
 * ```ts
 * log(withClientAddress({ type: "admin", action: "revoke", serialNumber }, clientAddress));
 * ```
 */
export function withClientAddress<T extends Record<string, unknown>>(entry: T, clientAddress: string | undefined): T & { clientAddress?: string } {
  return clientAddress ? { ...entry, clientAddress } : entry;
}
