// The ES module loader's side of ts-hook.mjs: a `.ts` file is a CommonJS module, loaded by
// require() and so compiled by ts-require.cjs.
export async function load(url, context, next) {
  if (url.startsWith('file:') && url.endsWith('.ts')) return { format: 'commonjs', shortCircuit: true };
  return next(url, context);
}
