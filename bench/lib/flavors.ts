/**
 * The ways procmesh is run, and the build steps that make them (build/bundle.mjs, build/binary.mjs):
 *
 * - package: what `npm install -g procmesh` runs — bin/procmesh.js loading the code-split ESM
 *   bundle in dist/bundle (forced here with PROCMESH_BUNDLE=1);
 * - executable: dist/procmesh, the single executable with the bundle and its compile cache;
 * - source: a source checkout, bin/procmesh.js loading the compiled dist/ module by module.
 *
 * Same code, different start-up: the node's join time and the CLI's cold start depend on it.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { BIN, REPO } from './paths.js'

export type Flavor = 'package' | 'executable' | 'source'

export const EXECUTABLE = join(REPO, 'dist', 'procmesh')

export const FLAVOR_LABEL: Record<Flavor, string> = {
  package: 'npm package (ESM bundle)',
  executable: 'single executable',
  source: 'source checkout (unbundled dist/)'
}

export interface Command {
  argv: string[]
  env: Record<string, string>
}

/** argv and environment that run `procmesh ARGS` in a flavor. */
export function procmeshCommand (flavor: Flavor, args: string[], nodeFlags: string[] = []): Command {
  if (flavor === 'executable') return { argv: [EXECUTABLE, ...args], env: {} }
  return { argv: [process.execPath, ...nodeFlags, BIN, ...args], env: { PROCMESH_BUNDLE: flavor === 'package' ? '1' : '0' } }
}

async function runBuild (script: string, args: string[], log: (line: string) => void): Promise<boolean> {
  return await new Promise(resolve => {
    execFile(process.execPath, [join(REPO, 'build', script), ...args], { cwd: REPO, timeout: 5 * 60_000 }, (err, _stdout, stderr) => {
      if (err !== null) log(`build/${script} failed: ${(stderr || err.message).trim().split('\n').slice(-3).join(' | ')}`)
      resolve(err === null)
    })
  })
}

/**
 * Build the bundle and the executable from the dist/ that `npm run build` just compiled (both
 * write temp names and rename, so a test running them meanwhile is safe). The flavors that
 * could be built, always with `source`.
 */
export async function buildFlavors (log: (line: string) => void): Promise<Flavor[]> {
  const flavors: Flavor[] = []
  if (existsSync(join(REPO, 'build', 'bundle.mjs'))) {
    log('building the npm package bundle (build/bundle.mjs esm)')
    if (await runBuild('bundle.mjs', ['esm'], log) && existsSync(join(REPO, 'dist', 'bundle', 'procmesh.mjs'))) flavors.push('package')
  }
  if (existsSync(join(REPO, 'build', 'binary.mjs'))) {
    log('building the single executable (build/binary.mjs)')
    if (await runBuild('binary.mjs', [], log) && existsSync(EXECUTABLE)) flavors.push('executable')
  }
  flavors.push('source')
  return flavors
}
