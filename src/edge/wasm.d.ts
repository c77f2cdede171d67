/** A `.wasm` file imported by the Worker: compiled by the runtime, instantiated at run time. */
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
