// The tests use @scep/core's source (no build needed), the same modules core's own test support uses.
export * from "../../../core/src/index.js";
