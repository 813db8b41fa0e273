/**
 * Bundles of the compiled CLI (run `npm run build` first; `npm run build:bundle` does both):
 *
 * - dist/procmesh.bundle.cjs: one CommonJS file with every dependency inlined. The single
 *   executable runs it (a SEA can require builtins only and has no import() of files), and
 *   `node dist/procmesh.bundle.cjs` runs it too.
 * - dist/bundle/procmesh.mjs + dist/bundle/chunks/: ESM with code splitting, what the installed npm
 *   package runs (bin/procmesh.js). Each command's code is its own chunk, so `procmesh peers` reads
 *   the client's chunks only, while `procmesh node` loads libp2p from a few files instead of
 *   hundreds. blessed and ps-list stay outside: they read files next to their own code
 *   (terminfo, fastlist.exe on Windows), and an installed package has them in node_modules.
 *
 * Outputs are written to temporary names and renamed into place, so a test or a build running
 * at the same time never sees half a file.
 *
 * Usage: node build/bundle.mjs [cjs] [esm]   (both when none is named)
 */
import { build } from 'esbuild'
import { readFileSync } from 'node:fs'
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises'
import { isBuiltin } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
export const CJS_BUNDLE = join(ROOT, 'dist', 'procmesh.bundle.cjs')
export const ESM_BUNDLE_DIR = join(ROOT, 'dist', 'bundle')
const ENTRY = join(ROOT, 'build', 'entry.mjs')

/**
 * Requires that may stay unresolved: blessed's Terminal widget loads these optional packages
 * when it is used, and procmesh never uses it.
 */
const OPTIONAL_REQUIRES = ['term.js', 'pty.js']

/** blessed's own terminfo files (blessed/usr), its fallback when the host has none for $TERM. */
const BLESSED_USR_FILES = ['xterm', 'xterm-256color', 'linux', 'windows-ansi', 'xterm.termcap']

const COMMON = {
  entryPoints: [ENTRY],
  bundle: true,
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  write: false,
  metafile: true
}

/**
 * blessed loads its widgets with `require('./widgets/' + file)`, which a bundler cannot follow.
 * Give widget.js a table of static requires of every file in lib/widgets, which it then indexes.
 */
function blessedWidgetsPlugin () {
  return {
    name: 'procmesh-blessed-widgets',
    setup (b) {
      b.onLoad({ filter: /[\\/]blessed[\\/]lib[\\/]widget\.js$/ }, async args => {
        const source = readFileSync(args.path, 'utf8')
        const needle = "require('./widgets/' + file)"
        if (source.split(needle).length !== 2) throw new Error(`${args.path}: expected one ${needle}; blessed changed, update build/bundle.mjs`)
        const names = (await readdir(join(dirname(args.path), 'widgets'))).filter(f => f.endsWith('.js')).map(f => f.slice(0, -3))
        const table = `var __procmeshBlessedWidgets = {\n${names.map(n => `  ${JSON.stringify(n)}: function () { return require(${JSON.stringify(`./widgets/${n}.js`)}) }`).join(',\n')}\n};\n`
        return { contents: table + source.replace(needle, '__procmeshBlessedWidgets[file]()'), loader: 'js' }
      })
    }
  }
}

/**
 * blessed reads its fallback terminfo from `__dirname + '/../usr/<name>'`. Inlined into one file,
 * __dirname is the bundle's (or the executable's) directory and those files are not there, so a
 * host without terminfo for $TERM would crash `top`. Give tput.js an fs whose readFileSync serves
 * those few files (20 KiB) from the bundle and everything else from the disk.
 */
function blessedTerminfoPlugin () {
  return {
    name: 'procmesh-blessed-terminfo',
    setup (b) {
      b.onLoad({ filter: /[\\/]blessed[\\/]lib[\\/]tput\.js$/ }, async args => {
        const source = readFileSync(args.path, 'utf8')
        const needle = "fs = require('fs')"
        if (source.split(needle).length !== 2) throw new Error(`${args.path}: expected one ${needle}; blessed changed, update build/bundle.mjs`)
        const usr = join(dirname(args.path), '..', 'usr')
        const files = Object.fromEntries(BLESSED_USR_FILES.map(name => [name, readFileSync(join(usr, name)).toString('base64')]))
        const shim = `
function __procmeshBlessedFs (realFs, path) {
  var embedded = ${JSON.stringify(files)};
  var usr = path.resolve(__dirname, '..', 'usr');
  return Object.assign(Object.create(realFs), {
    readFileSync: function (file, options) {
      var name = path.relative(usr, path.resolve(String(file)));
      if (Object.prototype.hasOwnProperty.call(embedded, name)) {
        var data = Buffer.from(embedded[name], 'base64');
        var encoding = typeof options === 'string' ? options : options && options.encoding;
        return encoding ? data.toString(encoding) : data;
      }
      return realFs.readFileSync(file, options);
    }
  });
}
`
        return { contents: source.replace(needle, 'fs = __procmeshBlessedFs(require(\'fs\'), path)') + shim, loader: 'js' }
      })
    }
  }
}

/** Write a file under a temporary name, then rename it into place. */
async function writeAtomic (file, contents, mode = 0o644) {
  await mkdir(dirname(file), { recursive: true })
  const tmp = `${file}.tmp-${process.pid}`
  await writeFile(tmp, contents, { mode })
  await rename(tmp, file)
}

/**
 * Fail the build when a bundle would need at run time a module it does not hold, or (for the
 * SEA's CommonJS bundle) would import() anything: a SEA's main script cannot, not even a builtin.
 */
function checkExternals (metafile, allowed, { dynamicImport }) {
  const bad = new Set()
  for (const output of Object.values(metafile.outputs)) {
    for (const imp of output.imports) {
      if (imp.external !== true) continue
      if (!isBuiltin(imp.path) && !allowed.includes(imp.path)) bad.add(`${imp.path} (not bundled)`)
      if (!dynamicImport && imp.kind === 'dynamic-import') bad.add(`import(${JSON.stringify(imp.path)})`)
    }
  }
  if (bad.size > 0) throw new Error(`the bundle would need at run time: ${[...bad].join(', ')}`)
}

/** dist/procmesh.bundle.cjs: everything in one CommonJS file. Returns its size in bytes. */
export async function buildCjsBundle () {
  const result = await build({
    ...COMMON,
    format: 'cjs',
    outfile: CJS_BUNDLE,
    external: OPTIONAL_REQUIRES,
    // ps-list computes its directory from import.meta.url, which CommonJS lacks
    define: { 'import.meta.url': '__procmeshImportMetaUrl' },
    banner: { js: "var __procmeshImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
    plugins: [blessedWidgetsPlugin(), blessedTerminfoPlugin()]
  })
  checkExternals(result.metafile, OPTIONAL_REQUIRES, { dynamicImport: false })
  const [out] = result.outputFiles
  await writeAtomic(CJS_BUNDLE, out.contents)
  return out.contents.byteLength
}

/** dist/bundle/: the npm package's code-split ESM bundle. Returns its total size in bytes. */
export async function buildEsmBundle () {
  const external = ['blessed', 'ps-list', ...OPTIONAL_REQUIRES]
  const staging = `${ESM_BUNDLE_DIR}.tmp-${process.pid}`
  const result = await build({
    ...COMMON,
    format: 'esm',
    splitting: true,
    outdir: staging,
    entryNames: 'procmesh',
    chunkNames: 'chunks/[name]-[hash]',
    outExtension: { '.js': '.mjs' },
    external,
    // CommonJS dependencies inlined into ESM still call require() for builtins
    banner: { js: "import { createRequire as __procmeshCreateRequire } from 'node:module'; const require = __procmeshCreateRequire(import.meta.url);" }
  })
  checkExternals(result.metafile, external, { dynamicImport: true })
  await rm(staging, { recursive: true, force: true })
  let bytes = 0
  for (const file of result.outputFiles) {
    await mkdir(dirname(file.path), { recursive: true })
    await writeFile(file.path, file.contents)
    bytes += file.contents.byteLength
  }
  const old = `${ESM_BUNDLE_DIR}.old-${process.pid}`
  await rename(ESM_BUNDLE_DIR, old).catch(() => {})
  await rename(staging, ESM_BUNDLE_DIR)
  await rm(old, { recursive: true, force: true })
  return bytes
}

async function fileCount (dir) {
  return (await readdir(dir, { recursive: true })).filter(f => f.endsWith('.mjs')).length
}

async function main (which) {
  const kinds = which.length > 0 ? which : ['cjs', 'esm']
  for (const kind of kinds) {
    if (kind === 'cjs') {
      const bytes = await buildCjsBundle()
      console.log(`${relative(ROOT, CJS_BUNDLE)}  ${(bytes / 1e6).toFixed(1)} MB`)
    } else if (kind === 'esm') {
      const bytes = await buildEsmBundle()
      console.log(`${relative(ROOT, ESM_BUNDLE_DIR)}/  ${(bytes / 1e6).toFixed(1)} MB in ${await fileCount(ESM_BUNDLE_DIR)} files`)
    } else {
      throw new Error(`unknown bundle ${JSON.stringify(kind)} (cjs or esm)`)
    }
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch(err => {
    console.error(`build/bundle.mjs: ${err instanceof Error ? err.message : String(err)}`)
    process.exitCode = 1
  })
}
