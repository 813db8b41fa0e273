/** The machine and the versions of everything a run compares, for the results header. */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import type { Machine } from './report.js'
import { REPO } from './pm.js'

export async function describeMachine (): Promise<Machine> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '')
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown'
  const osRelease = await readFile('/etc/os-release', 'utf8').catch(() => '')
  const pretty = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(osRelease)?.[1] ?? os.type()
  const [l1, l5, l15] = os.loadavg()
  return {
    cpuModel: model,
    cores: os.cpus().length,
    memoryGiB: os.totalmem() / 2 ** 30,
    kernel: os.release(),
    os: pretty,
    loadAtStart: [l1, l5, l15]
  }
}

/** First line of a command's output, or undefined when it is not installed. */
async function firstLine (file: string, args: string[]): Promise<string | undefined> {
  return await new Promise(resolve => {
    execFile(file, args, { timeout: 10_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      const text = `${stdout}${stderr}`.split('\n').find(l => l.trim() !== '')
      resolve(err !== null && text === undefined ? undefined : text?.trim())
    })
  })
}

async function packageVersion (pkg: string): Promise<string | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(join(REPO, 'node_modules', pkg, 'package.json'), 'utf8'))
    return typeof parsed === 'object' && parsed !== null && 'version' in parsed && typeof parsed.version === 'string' ? parsed.version : undefined
  } catch {
    return undefined
  }
}

/** Debian package version (what apt installed), or undefined. */
async function debVersion (pkg: string): Promise<string | undefined> {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
  const v = await firstLine('dpkg-query', ['-W', '-f=${Version}', pkg])
  return v === undefined || v.includes('no packages found') ? undefined : v
}

export async function describeVersions (): Promise<Record<string, string>> {
  const own: unknown = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8'))
  const procmesh = typeof own === 'object' && own !== null && 'version' in own && typeof own.version === 'string' ? own.version : '?'
  const commit = await firstLine('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'])
  const versions: Record<string, string> = {
    procmesh: `${procmesh}${commit !== undefined && /^[0-9a-f]+$/.test(commit) ? ` (${commit})` : ''}`,
    node: process.version
  }
  const add = (name: string, value: string | undefined): void => { if (value !== undefined) versions[name] = value }
  add('libp2p', await packageVersion('libp2p'))
  add('@libp2p/gossipsub', await packageVersion('@libp2p/gossipsub'))
  add('ps-list', await packageVersion('ps-list'))
  const serfDeb = await debVersion('serf')
  const serfSelf = await firstLine('serf', ['version'])
  add('serf', serfDeb !== undefined ? `${serfDeb} (deb; reports "${serfSelf ?? '?'}")` : serfSelf)
  add('glances', await debVersion('glances') ?? (await firstLine('glances', ['--version'])))
  add('procps', await debVersion('procps') ?? (await firstLine('ps', ['--version'])))
  return versions
}
