/** The single executable built by build/binary.mjs, rebuilt for tests when its inputs are newer. */
import { spawn } from 'node:child_process'
import { statSync } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { REPO, type CliResult } from './procmesh.js'

export const EXE = join(REPO, 'dist', 'procmesh')

export function runFile (file: string, args: string[], timeoutMs = 20_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${file} ${args.join(' ')} timed out; stderr: ${stderr}`)) }, timeoutMs)
    child.on('error', reject)
    child.on('close', code => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

async function newestMtime (dir: string): Promise<number> {
  let newest = 0
  for (const f of await readdir(dir, { recursive: true })) {
    if (f.endsWith('.js') || f.endsWith('.mjs') || f.endsWith('.json')) newest = Math.max(newest, (await stat(join(dir, f))).mtimeMs)
  }
  return newest
}

/** Build dist/procmesh unless it is newer than everything that goes into it; says which. */
export async function ensureBinary (): Promise<string> {
  let built = 0
  try { built = statSync(EXE).mtimeMs } catch { /* not built yet */ }
  const inputs = Math.max(...await Promise.all(['dist/cli', 'dist/node', 'dist/protocols', 'build'].map(d => newestMtime(join(REPO, d)))))
  if (built > inputs) return 'up to date'
  const r = await runFile(process.execPath, [join(REPO, 'build', 'binary.mjs')], 80_000)
  if (r.code !== 0) throw new Error(`build/binary.mjs failed:\n${r.stdout}${r.stderr}`)
  return r.stdout.trim()
}
