// Express 4 is installed under the alias `express4` (devDependency
// "express4": "npm:express@^4"); @types/express describes 5, whose app/Router
// surface the tests use identically.
declare module "express4" {
  import express from "express";
  export default express;
}
