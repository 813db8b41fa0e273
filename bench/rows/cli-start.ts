/**
 * Row 7: CLI cold start — `procmesh peers --json` vs `serf members -format json`, each against a
 * daemon already running on the same host, alternating. Runs in the root namespace: a procmesh
 * node on 127.0.0.1 with --no-mdns and a Serf agent bound to 127.0.0.1 without -discover, so
 * nothing leaves loopback and neither command pays for entering a namespace.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LineLog, within } from '../lib/lines.js'
import { FLAVOR_LABEL, procmeshCommand, type Command, type Flavor } from '../lib/flavors.js'
import type { BenchRow, Side } from '../lib/report.js'
import { stopChild } from '../lib/sim.js'
import { alternate, nowMs, ratio, summarize } from '../lib/stats.js'

export interface CliOptions {
  rounds: number
  serf: boolean
  /** the flavors to time; the first is the headline and runs the daemon */
  flavors: Flavor[]
  log: (line: string) => void
}

const TARGET_MS = 150

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen({ host: '127.0.0.1', port: 0 }, () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      srv.close(() => { resolve(port) })
    })
  })
}

interface Timed { wallMs: number, cpuMs: number }

/**
 * Spawn to exit (wall) and the command's user + system CPU time, through `sh -c '...; times'`:
 * on a shared machine the CPU time is what the command itself costs, the wall time what a user waits.
 */
async function timeCommand (cmd: Command): Promise<Timed | undefined> {
  const t0 = nowMs()
  return await new Promise(resolve => {
    const child = spawn('sh', ['-c', '"$@" >/dev/null; s=$?; times >&2; exit $s', 'sh', ...cmd.argv], { env: { ...process.env, ...cmd.env }, stdio: ['ignore', 'ignore', 'pipe'], shell: false })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    child.once('error', () => { resolve(undefined) })
    child.once('close', code => {
      const wallMs = nowMs() - t0
      // the second line of `times` is the children's user and system time: "0m0.063000s 0m0.007000s"
      const children = stderr.trim().split('\n').pop() ?? ''
      const secs = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map(m => Number(m[1]) * 60 + Number(m[2]))
      resolve(code === 0 && secs.length === 2 ? { wallMs, cpuMs: (secs[0] + secs[1]) * 1000 } : undefined)
    })
  })
}

export async function runCliStart (opts: CliOptions): Promise<BenchRow[]> {
  const home = await mkdtemp(join(tmpdir(), 'pmbench-cli-'))
  const nodeCmd = procmeshCommand(opts.flavors[0], ['node', '--home', home, '--name', 'pmbench-cli', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0'])
  const node = spawn(nodeCmd.argv[0], nodeCmd.argv.slice(1), { env: { ...process.env, ...nodeCmd.env }, stdio: ['ignore', 'pipe', 'pipe'], shell: false })
  const nodeLines = new LineLog(node)
  const rpcPort = await freePort()
  const serf = opts.serf
    ? spawn('serf', ['agent', '-node', 'pmbench-cli', '-bind', `127.0.0.1:${await freePort()}`, '-rpc-addr', `127.0.0.1:${rpcPort}`, '-log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'], shell: false })
    : undefined
  const serfLines = serf === undefined ? undefined : new LineLog(serf)
  try {
    if (await within(nodeLines.next(l => l.includes(' running; peer id '), 0), 60_000) === undefined) throw new Error(`procmesh node on 127.0.0.1 did not start:\n${nodeLines.tail()}`)
    if (serfLines !== undefined && await within(serfLines.next(l => l.includes('Serf agent running!'), 0), 20_000) === undefined) throw new Error(`serf agent on 127.0.0.1 did not start:\n${serfLines.tail()}`)
    const commands: Record<string, Command> = {}
    for (const flavor of opts.flavors) commands[flavor] = procmeshCommand(flavor, ['peers', '--json', '--home', home])
    if (serf !== undefined) commands.serf = { argv: ['serf', 'members', '-format', 'json', '-rpc-addr', `127.0.0.1:${rpcPort}`], env: {} }
    // warm the page cache for all, as a user's second command finds it
    for (const cmd of Object.values(commands)) await timeCommand(cmd)
    const cpu: Record<string, number[]> = {}
    const sides: Record<string, () => Promise<number | undefined>> = {}
    for (const [name, cmd] of Object.entries(commands)) {
      cpu[name] = []
      sides[name] = async () => {
        const t = await timeCommand(cmd)
        if (t !== undefined) cpu[name].push(t.cpuMs)
        return t?.wallMs
      }
    }
    const runs = await alternate(opts.rounds, sides)
    const cpuNote = Object.keys(commands).map(name => `${name} ${summarize(cpu[name])?.median.toFixed(0) ?? '?'} ms`).join(', ')
    const peer: Side = runs.serf === undefined
      ? { tool: '`serf members -format json`', unit: 'ms', unavailable: 'serf not installed' }
      : { tool: '`serf members -format json`', unit: 'ms', stats: summarize(runs.serf.values), failures: runs.serf.failures }
    opts.log(`CLI cold start: ${opts.flavors.map(f => `procmesh ${f} ${summarize(runs[f].values)?.median.toFixed(0) ?? 'n/a'} ms`).join(', ')}, serf ${peer.stats?.median.toFixed(0) ?? 'n/a'} ms; CPU ${cpuNote}`)
    return opts.flavors.map((flavor, i): BenchRow => {
      const pm: Side = { tool: `\`procmesh peers --json\`, ${FLAVOR_LABEL[flavor]}`, unit: 'ms', stats: summarize(runs[flavor].values), failures: runs[flavor].failures }
      return {
        row: 7,
        key: i === 0 ? 'cli-cold-start' : `cli-cold-start-${flavor}`,
        title: i === 0 ? 'CLI cold start against the local daemon (start to exit)' : `CLI cold start, procmesh run as the ${FLAVOR_LABEL[flavor]}`,
        hosts: 1,
        procmesh: pm,
        peer,
        ratio: ratio(pm.stats, peer.stats),
        target: { text: `< ${TARGET_MS} ms`, met: pm.stats === undefined ? undefined : pm.stats.median < TARGET_MS },
        notes: i === 0
          ? [
              'procmesh is Node.js (start-up included; client commands never load libp2p), serf a static Go binary; flavors and serf alternate',
              `CPU time (user + system) per command, median: ${cpuNote}; on a shared machine the wall time also holds the wait for a core`
            ]
          : []
      }
    })
  } finally {
    await stopChild(node)
    if (serf !== undefined) await stopChild(serf, 'SIGINT')
    await rm(home, { recursive: true, force: true })
  }
}
