// Builds the files the Python package serves from the readable sources in js/src.
//
//   node js/build.mjs           write the built files (commit them: Python users need no Node)
//   node js/build.mjs --check   fail if a committed built file differs from a fresh build
//
// esbuild bundles each entry with the shared modules it imports (and drops what it does not use);
// terser then minifies it (it renames locals and inlines single-use functions, which esbuild's
// minifier does not: about 10 % fewer gzipped bytes). The admin script is bundled only, readable.

import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { minify } from 'terser';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// Placeholders: free identifiers that Python replaces by JavaScript strings (script.py, fill()).
const PLACEHOLDER = /\bKXT_[A-Z_]+\b/g;

// Budgets, gzipped, of what is served (a stub with the default name and prefix filled in);
// tests/test_script.py holds the served files to the same numbers.
const TARGETS = [
  { source: 'js/src/kxt.js', output: 'js/dist/kxt.js', budget: 1024 },
  { source: 'js/src/kxt-cs.js', output: 'js/dist/kxt-cs.js', budget: 1200 },
  { source: 'js/src/kxt-handover.js', output: 'js/dist/kxt-handover.js', budget: 300 },
  { source: 'js/src/stub.js', output: 'js/dist/stub.js', placeholders: ['KXT_FUNCTION_NAME'] },
  {
    source: 'js/src/stub-leave.js',
    output: 'js/dist/stub-leave.js',
    placeholders: ['KXT_FUNCTION_NAME', 'KXT_ENDPOINT'],
    budget: 400,
  },
  {
    source: 'js/src/cross-site-snippet.js',
    output: 'js/dist/cross-site-snippet.js',
    placeholders: ['KXT_FUNCTION_NAME', 'KXT_SCRIPT_URL'],
  },
  {
    source: 'js/src/admin.js',
    output: 'src/kxt_middleware/admin/static/admin.js',
    readable: true,
    banner: '// Built from js/src/admin.js by js/build.mjs: edit the source, then run `make js`.\n',
  },
];

// Browsers with fetch keepalive or sendBeacon, from 2020 on, all run ES2020.
const ECMA = 2020;

const bundle = async ({ source, readable }) => {
  const result = await build({
    entryPoints: [join(root, source)],
    bundle: true,
    format: 'iife',
    target: `es${ECMA}`,
    write: false,
    legalComments: 'none',
    charset: 'utf8',
    logLevel: 'silent',
    // Keep the sources' layout in the readable admin script.
    minifySyntax: !readable,
  });
  return result.outputFiles[0].text;
};

const shrink = async (code) => {
  const result = await minify(code, {
    ecma: ECMA,
    compress: { passes: 3, unsafe_arrows: true, pure_getters: true },
    mangle: true,
    format: { comments: false, ascii_only: false },
  });
  return `${result.code}\n`;
};

const checkPlaceholders = (target, code) => {
  const found = code.match(PLACEHOLDER) || [];
  const expected = target.placeholders || [];
  if (found.length !== expected.length || expected.some((name) => !found.includes(name))) {
    throw new Error(
      `${target.output}: placeholders ${found.join(', ') || 'none'}; expected each of ` +
        `${expected.join(', ') || 'none'} exactly once`,
    );
  }
};

const builtText = async (target) => {
  const bundled = await bundle(target);
  if (target.readable) return target.banner + bundled;
  const code = await shrink(bundled);
  checkPlaceholders(target, code);
  return code;
};

// What a page gets: placeholders filled with the defaults (script.py fills the real values).
const DEFAULTS = {
  KXT_FUNCTION_NAME: '"kxt"',
  KXT_ENDPOINT: '"/Kentico.Tracking/browser"',
  KXT_SCRIPT_URL: '"https://www.example.com/Kentico.Tracking/kxt-cs.js"',
};

const sizes = (target, code) => {
  const served = code.replace(PLACEHOLDER, (name) => DEFAULTS[name]).trim();
  const gzipped = gzipSync(served, { level: 9 }).length;
  const budget = target.budget ? ` (budget ${target.budget})` : '';
  const bytes = Buffer.byteLength(served);
  return { line: `${target.output}: ${bytes} bytes, ${gzipped} gzipped${budget}`, gzipped };
};

const main = async () => {
  const check = process.argv.includes('--check');
  const problems = [];
  for (const target of TARGETS) {
    const code = await builtText(target);
    const path = join(root, target.output);
    const { line, gzipped } = sizes(target, code);
    console.log(line);
    if (gzipped > (target.budget || Number.POSITIVE_INFINITY)) {
      problems.push(`${target.output} is over its budget of ${target.budget} bytes gzipped`);
    }
    if (!check) {
      await writeFile(path, code);
    } else if ((await readFile(path, 'utf8').catch(() => null)) !== code) {
      problems.push(
        `${target.output} is stale: it differs from a build of ${target.source}; run \`make js\` ` +
          '(node js/build.mjs) and commit the built files',
      );
    }
  }
  for (const problem of problems) console.error(problem);
  if (problems.length) process.exit(1);
  if (check) console.log(`the ${TARGETS.length} built files are current`);
};

await main();
