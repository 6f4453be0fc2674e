/**
 * The one place @peculiar/x509 is loaded. It (through tsyringe) needs the
 * Reflect metadata polyfill before it is imported, so this module imports
 * `reflect-metadata` first; every module that needs @peculiar/x509 imports it
 * from here, never directly. Only the client-side generators (CSR and
 * self-signed certificate) use it; the codec and server do not.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

export { x509 };
