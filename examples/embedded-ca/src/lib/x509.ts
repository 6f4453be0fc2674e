// The only module that imports @peculiar/x509. It needs the Reflect metadata
// polyfill loaded before its decorators run, and a WebCrypto provider.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { webcrypto } from "node:crypto";

// Node's `webcrypto` is a complete WebCrypto implementation; its TypeScript
// type differs nominally from the DOM `Crypto` that @peculiar/x509 declares.
const nodeCrypto = webcrypto as unknown as Crypto;
x509.cryptoProvider.set(nodeCrypto);

export { x509, nodeCrypto };
