/**
 * The one place @peculiar/x509 is loaded. It (through tsyringe) needs the
 * Reflect metadata polyfill before it is imported, so this module imports
 * `reflect-metadata` first; every module that needs @peculiar/x509 imports it
 * from here, never directly. Only the client-side generators use it, so a
 * server that never builds CSRs never loads it.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

export { x509 };
