// Runs a wasm32-wasip1 command module under Node's V8 (WASI preview 1):
//   node run_wasi.mjs FILE.wasm [ARGS...]
// Imports from "env" (the proxy-wasm host calls the filter's library links in, never called
// by the benchmark) are stubbed.
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import { argv, env } from "node:process";

const wasi = new WASI({ version: "preview1", args: argv.slice(2), env });
const module = await WebAssembly.compile(await readFile(argv[2]));
const imports = wasi.getImportObject();
imports.env = {};
for (const i of WebAssembly.Module.imports(module)) {
  if (i.module === "env" && i.kind === "function") {
    imports.env[i.name] = () => { throw new Error(`host call ${i.name} outside Envoy`); };
  }
}
const instance = await WebAssembly.instantiate(module, imports);
wasi.start(instance);
