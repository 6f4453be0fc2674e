/**
 * The configured upstream CAs (PROXY.md "Interfaces it stands on":
 * `CaRegistry`).
 *
 * @module
 */
import type { CaConfig } from "./ca-config.js";

/**
 * The CAs a proxy forwards to. Synchronous: configuration, not a shared
 * store (reload by swapping the registry's contents).
 *
 * @example
 * ```ts
 * import { MemoryCaRegistry, type CaRegistry } from "@scep/proxy";
 *
 * const cas: CaRegistry = new MemoryCaRegistry([{ name: "corp", type: "custom", url: "https://ca.corp.example/scep" }]);
 * cas.get("corp")?.type; // "custom"
 * ```
 *
 * @group CAs
 */
export interface CaRegistry {
  /** The CA named `name`, or `undefined`. */
  get(name: string): CaConfig | undefined;
  /** Name of the CA an identifier without a caName uses; `undefined` when such identifiers are refused. */
  readonly defaultName?: string;
  /** Every configured CA. */
  list(): CaConfig[];
}
