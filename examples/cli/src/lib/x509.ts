/**
 * The one place the CLI loads @peculiar/x509. It (through tsyringe) needs the Reflect metadata polyfill before it is
 * imported, so this module imports `reflect-metadata` first; every CLI module that needs @peculiar/x509 imports it
 * from here. Nothing here calls its WebCrypto paths (signatures are checked with node:crypto, which knows SHA-224),
 * so no `cryptoProvider` is set.
 *
 * @module
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

export { x509 };
