// Why a file could not be read, in words: the embedded CA's wording, for the servers and the proxy (a light import,
// without the CA's dependencies, so the proxy's configuration check stays fast).
export { fileErrorReason } from "@scep-examples/embedded-ca/file-error";
