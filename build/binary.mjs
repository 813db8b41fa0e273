/**
 * dist/procmesh: one self-contained executable, a Node single executable application (SEA).
 * `npm run build:binary` compiles, then runs this:
 *
 * 1. bundle everything into dist/procmesh.bundle.cjs (build/bundle.mjs): a SEA's main script is
 *    CommonJS, can require builtins only and cannot import() files;
 * 2. make the preparation blob from build/sea-config.json (`node --experimental-sea-config`).
 *    useCodeCache: V8's compile cache for the 3 MB script goes into the blob, which takes ~40 ms
 *    of parsing off every start. The warning about SEA being experimental is off: it would land on
 *    every command's stderr;
 * 3. copy the Node that runs this build (its version, platform and glibc needs are the binary's),
 *    strip its symbols when `strip` is on PATH (about 13 MB less, nothing that runs uses them);
 * 4. inject the blob with postject under the SEA sentinel fuse; on macOS re-sign ad hoc.
 *
 * Every step writes temporary names; the executable is renamed into place at the end, so a
 * running copy (a test's node) is never overwritten in place.
 *
 * Linux is built and tested here. The macOS (codesign) and Windows (.exe) branches follow the
 * Node documentation and are untested.
 */
import { spawnSync } from 'node:child_process'
import { chmod, copyFile, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CJS_BUNDLE, ROOT, buildCjsBundle } from './bundle.mjs'

export const BINARY = join(ROOT, 'dist', process.platform === 'win32' ? 'procmesh.exe' : 'procmesh')
/** The fuse Node's SEA support looks for in its own binary (fixed by Node). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'
const SEA_RESOURCE = 'NODE_SEA_BLOB'

/** Run a tool; its output is shown only when it fails (postject prints harmless ELF warnings). */
function tool (file, args, what) {
  const r = spawnSync(file, args, { cwd: ROOT, encoding: 'utf8' })
  if (r.error !== undefined) throw new Error(`${what}: ${r.error.message}`)
  if (r.status !== 0) throw new Error(`${what} failed (exit ${String(r.status)}):\n${r.stdout}${r.stderr}`)
  return r.stdout
}

function onPath (name) {
  return spawnSync(name, ['--version'], { encoding: 'utf8' }).error === undefined
}

/** Build dist/procmesh (or .exe); returns its path and size. */
export async function buildBinary () {
  await buildCjsBundle()
  const tag = `tmp-${process.pid}`
  const config = JSON.parse(await readFile(join(ROOT, 'build', 'sea-config.json'), 'utf8'))
  const blob = join(ROOT, 'dist', `procmesh.blob.${tag}`)
  const configFile = join(ROOT, 'dist', `sea-config.${tag}.json`)
  const exe = `${BINARY}.${tag}`
  try {
    await writeFile(configFile, JSON.stringify({ ...config, main: relative(ROOT, CJS_BUNDLE), output: relative(ROOT, blob) }))
    tool(process.execPath, ['--experimental-sea-config', configFile], 'making the SEA blob')
    await copyFile(process.execPath, exe)
    await chmod(exe, 0o755)
    if (process.platform === 'darwin') tool('codesign', ['--remove-signature', exe], 'codesign --remove-signature')
    if (process.platform === 'linux' && onPath('strip')) tool('strip', ['--strip-all', exe], 'strip')
    const postject = createRequire(import.meta.url).resolve('postject/dist/cli.js')
    const macho = process.platform === 'darwin' ? ['--macho-segment-name', 'NODE_SEA'] : []
    tool(process.execPath, [postject, exe, SEA_RESOURCE, blob, '--sentinel-fuse', SEA_FUSE, ...macho], 'postject')
    if (process.platform === 'darwin') tool('codesign', ['--sign', '-', exe], 'codesign --sign -')
    const version = tool(exe, ['--version'], 'the new binary').trim()
    const expected = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')).version
    if (version !== expected) throw new Error(`the new binary says ${JSON.stringify(version)}, expected ${expected}`)
    await rename(exe, BINARY)
    return { path: BINARY, bytes: (await stat(BINARY)).size, node: process.version }
  } finally {
    await rm(configFile, { force: true })
    await rm(blob, { force: true })
    await rm(exe, { force: true })
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildBinary().then(r => {
    console.log(`${relative(ROOT, r.path)}  ${(r.bytes / 1e6).toFixed(1)} MB  (Node ${r.node}, ${process.platform}-${process.arch})`)
  }).catch(err => {
    console.error(`build/binary.mjs: ${err instanceof Error ? err.message : String(err)}`)
    process.exitCode = 1
  })
}
