'use strict';
// Loads the project's TypeScript (CommonJS modules: package.json has no "type") in tests and in
// the processes they start from source: each `.ts` file required is compiled by swc, type
// annotations removed, with an inline source map so that stack traces and tap's coverage name
// the .ts lines. Types are checked by `npm run typecheck`, not here.
//
// Why not ts-node, which did this before: ts-node loads TypeScript's own compiler (about 9 MB of
// JavaScript) to read tsconfig.json even when swc compiles, and tap's ts-node plugin did it in two
// threads of every test process: 0.45 s of CPU per process, about 200 test files and their
// children (docs/performance.md, "Round 9").
//
// The options follow tsconfig.json: ES2022, CommonJS with esModuleInterop, class fields defined as
// ES2022 defines them.
const { readFileSync } = require('node:fs');
const { transformSync } = require('@swc/core');

function compile(source, filename) {
  return transformSync(source, {
    filename,
    swcrc: false,
    configFile: false,
    sourceMaps: 'inline',
    module: { type: 'commonjs' },
    jsc: {
      target: 'es2022',
      parser: { syntax: 'typescript' },
      keepClassNames: true,
      transform: { useDefineForClassFields: true },
    },
  }).code;
}

require.extensions['.ts'] = (module, filename) => {
  module._compile(compile(readFileSync(filename, 'utf8'), filename), filename);
};
