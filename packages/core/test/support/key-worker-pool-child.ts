/**
 * Run by keys.key-worker-pool.test.ts as `node --import tsx` (how the example
 * servers run): decrypts once on a KeyWorkerPool from the sources and never
 * closes the pool. The process must stay alive until the answer (the busy
 * thread is ref'd) and then end by itself (the idle thread is unref'd).
 */
import { constants, generateKeyPairSync, publicEncrypt } from "node:crypto";
import { KeyWorkerPool, createSelfSignedSigner, importKeyPairPem, LocalKey } from "../../src/index.js";

const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const keys = await importKeyPairPem(privateKey.export({ type: "pkcs8", format: "pem" }) as string);
const self = await createSelfSignedSigner({ keys, subject: "CN=pool child", now: new Date("2026-01-15T12:00:00Z") });
const key = LocalKey.from(self.certificate, keys.privateKey, { workerPool: new KeyWorkerPool({ size: 1 }) });
const ct = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, new Uint8Array(16).fill(0x42));
const out = await key.decrypt(ct, { transport: "rsaes-pkcs1-v1_5", keyLength: 16 });
process.stdout.write(`decrypted ${Buffer.from(out).toString("hex")}\n`);
