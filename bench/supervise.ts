/**
 * Supervision figures (issue 12), on 127.0.0.1 with --no-mdns (no simulated hosts needed):
 *
 * 1. crash to running again: a managed process run with `--restart always --backoff 10ms` (the
 *    smallest first delay) is SIGKILLed; the time until its successor runs its first command.
 *    Each crash comes after a stable run (> 1 s), so every restart is a first one (base delay).
 *    supervisord (`autorestart=true`, when installed) is measured the same way, side by side.
 * 2. node restart survival: a node with a 10 ms writer and an HTTP server is killed (TERM and KILL
 *    in turn) and started again, 10 times; a run counts as survived when both processes still have
 *    their pids, are listed running with their names, the server answered while no node ran and
 *    after, and the writer's output kept flowing (no gap in its numbered lines).
 *
 *   node dist/bench/supervise.js [--samples 20] [--runs 10] [--json]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { invokedDirectly, printResult } from './lib/entry.js'
import { BIN } from './lib/paths.js'
import { summarize, type Stats } from './lib/stats.js'

interface CrashSide { tool: string, stats?: Stats, failures: number, unavailable?: string, settings: string }
export interface SuperviseResult {
  crashToRunning: CrashSide[]
  nodeRestart: { runs: number, survived: number, failures: string[] }
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

function cli (home: string, args: string[]): { code: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, [BIN, args[0], '--home', home, ...args.slice(1)], { encoding: 'utf8', timeout: 30_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

function cliJson<T> (home: string, args: string[]): T {
  const r = cli(home, [args[0], '--json', ...args.slice(1)])
  if (r.code !== 0) throw new Error(`procmesh ${args.join(' ')}: ${r.stderr.trim()}`)
  return JSON.parse(r.stdout) as T
}

async function startNode (home: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, 'node', '--home', home, '--name', 'bench', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--interval', '1s'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { err = (err + d).slice(-4000) })
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`node exited: ${err}`)
    if (cli(home, ['id', '--json']).code === 0) return child
    await sleep(100)
  }
  throw new Error(`node did not start: ${err}`)
}

async function stopNode (child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const done = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  child.kill(signal)
  await done
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

/** Lines of `file` (timestamps in ns written by `date +%s%N`), as ms. */
function stamps (file: string): number[] {
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8').trim().split('\n').filter(l => /^\d+$/.test(l)).map(l => Number(BigInt(l) / 1_000_000n))
}

/**
 * Kill the process whose pid `current()` names, `samples` times, each after a stable run; the
 * delay is from the kill to the successor's first timestamp in `file`.
 */
async function crashLoop (file: string, current: () => number | undefined, samples: number): Promise<{ values: number[], failures: number }> {
  const values: number[] = []
  let failures = 0
  for (let i = 0; i < samples; i++) {
    await sleep(1300) // past the stable period: the next restart uses the base delay
    const pid = current()
    if (pid === undefined) { failures++; continue }
    const before = stamps(file).length
    const killedAt = Date.now()
    process.kill(pid, 'SIGKILL')
    let got: number | undefined
    for (let w = 0; w < 2000 && got === undefined; w++) {
      const all = stamps(file)
      if (all.length > before) got = all[before]
      else await sleep(2)
    }
    if (got === undefined) failures++
    else values.push(got - killedAt)
  }
  return { values, failures }
}

async function procmeshCrash (samples: number): Promise<CrashSide> {
  const home = mkdtempSync(join(tmpdir(), 'pm-bench-sup-'))
  const stampFile = join(home, 'stamps')
  const node = await startNode(home)
  try {
    cliJson(home, ['run', 'self', '--name', 'crashy', '--restart', 'always', '--backoff', '10ms', '--max-restarts', '1000',
      '--', 'sh', '-c', `date +%s%N >> ${stampFile}; exec sleep 1000`])
    const current = (): number | undefined => {
      const ls = cliJson<Array<{ processes: Array<{ name: string, pid: number, state: string }> }>>(home, ['ls'])
      const p = ls[0]?.processes.find(x => x.name === 'crashy')
      return p?.state === 'running' ? p.pid : undefined
    }
    const { values, failures } = await crashLoop(stampFile, current, samples)
    cli(home, ['rm', 'self', 'crashy'])
    return { tool: 'procmesh run --restart always --backoff 10ms', stats: summarize(values), failures, settings: 'first delay 10 ms +-20% jitter, doubling after quick crashes' }
  } finally {
    await stopNode(node, 'SIGTERM')
    rmSync(home, { recursive: true, force: true })
  }
}

async function supervisordCrash (samples: number): Promise<CrashSide> {
  const settings = 'autorestart=true, startsecs=1 (defaults): restarts at once after an unexpected exit'
  const which = spawnSync('sh', ['-c', 'command -v supervisord'], { encoding: 'utf8' })
  if (which.status !== 0) return { tool: 'supervisord', failures: 0, unavailable: 'not installed (apt-get install supervisor)', settings }
  const dir = mkdtempSync(join(tmpdir(), 'pm-bench-svd-'))
  const stampFile = join(dir, 'stamps')
  const pidFile = join(dir, 'child.pid')
  const conf = join(dir, 'supervisord.conf')
  writeFileSync(conf, [
    '[supervisord]', `logfile=${join(dir, 'supervisord.log')}`, `pidfile=${join(dir, 'supervisord.pid')}`, 'nodaemon=true', '',
    '[unix_http_server]', `file=${join(dir, 'supervisor.sock')}`, '',
    '[program:crashy]', `command=sh -c 'echo $$ > ${pidFile}; date +%%s%%N >> ${stampFile}; exec sleep 1000'`, 'autorestart=true', 'startsecs=1', 'startretries=1000', ''
  ].join('\n'))
  const daemon = spawn(which.stdout.trim(), ['-c', conf], { stdio: 'ignore' })
  try {
    for (let i = 0; i < 100 && stamps(stampFile).length === 0; i++) await sleep(50)
    const current = (): number | undefined => {
      const pid = Number(readFileSync(pidFile, 'utf8').trim())
      return Number.isSafeInteger(pid) && alive(pid) ? pid : undefined
    }
    const { values, failures } = await crashLoop(stampFile, current, samples)
    return { tool: `supervisord ${spawnSync(which.stdout.trim(), ['-v'], { encoding: 'utf8' }).stdout.trim()}`, stats: summarize(values), failures, settings }
  } finally {
    const done = new Promise<void>(resolve => daemon.once('exit', () => { resolve() }))
    daemon.kill('SIGTERM')
    await done
    rmSync(dir, { recursive: true, force: true })
  }
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => { typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port')) })
    })
  })
}

async function httpOk (port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const req = request({ host: '127.0.0.1', port, path: '/', timeout: 5000 }, res => {
      res.resume()
      res.on('end', () => { resolve(res.statusCode === 200) })
    })
    req.on('error', () => { resolve(false) })
    req.on('timeout', () => { req.destroy(); resolve(false) })
    req.end()
  })
}

function numbersIn (text: string): number[] {
  return [...text.matchAll(/^tick (\d+)$/gm)].map(m => Number(m[1]))
}

async function nodeRestarts (runs: number): Promise<SuperviseResult['nodeRestart']> {
  const home = mkdtempSync(join(tmpdir(), 'pm-bench-sup-'))
  const port = await freePort()
  let node = await startNode(home)
  const failures: string[] = []
  let survived = 0
  try {
    const writer = cliJson<{ pid: number, managedId: string }>(home, ['run', 'self', '--name', 'writer', '--restart', 'always', '--',
      'sh', '-c', 'i=0; while :; do echo "tick $i"; i=$((i+1)); sleep 0.01; done'])
    const web = cliJson<{ pid: number, managedId: string }>(home, ['run', 'self', '--name', 'web', '--restart', 'on-failure', '--cwd', '/',
      '--', 'python3', '-m', 'http.server', String(port), '--bind', '127.0.0.1'])
    for (let i = 0; i < 50 && !await httpOk(port); i++) await sleep(100)
    for (let run = 1; run <= runs; run++) {
      const signal: NodeJS.Signals = run % 2 === 1 ? 'SIGTERM' : 'SIGKILL'
      const problems: string[] = []
      await stopNode(node, signal)
      await sleep(300)
      if (!alive(writer.pid) || !alive(web.pid)) problems.push('a process died with the node')
      if (!await httpOk(port)) problems.push('the server did not answer while no node ran')
      node = await startNode(home)
      const ls = cliJson<Array<{ processes: Array<{ name: string, pid: number, state: string, managedId: string }> }>>(home, ['ls'])[0].processes
      for (const [name, want] of [['writer', writer], ['web', web]] as const) {
        const p = ls.find(x => x.name === name)
        if (p === undefined || p.pid !== want.pid || p.state !== 'running' || p.managedId !== want.managedId) problems.push(`${name} not re-adopted: ${JSON.stringify(p)}`)
      }
      if (!await httpOk(port)) problems.push('the server did not answer after the restart')
      await sleep(300)
      const ticks = numbersIn(cli(home, ['logs', 'self', 'writer']).stdout)
      const gaps = ticks.slice(1).filter((n, i) => n !== ticks[i] + 1).length
      if (ticks.length < 10 || gaps > 0) problems.push(`writer output broken: ${ticks.length} lines, ${gaps} gap(s)`)
      if (problems.length === 0) survived++
      else failures.push(`run ${run} (${signal}): ${problems.join('; ')}`)
    }
    cli(home, ['rm', 'self', 'writer'])
    cli(home, ['rm', 'self', 'web'])
  } finally {
    await stopNode(node, 'SIGTERM')
    rmSync(home, { recursive: true, force: true })
  }
  return { runs, survived, failures }
}

export function formatSupervise (r: SuperviseResult): string {
  const lines = ['crash to running again (kill -9 -> the successor runs its first command), ms:']
  for (const s of r.crashToRunning) {
    lines.push(s.stats !== undefined
      ? `  ${s.tool}: p50 ${s.stats.median.toFixed(1)}  min ${s.stats.min.toFixed(1)}  max ${s.stats.max.toFixed(1)}  (${s.stats.runs} runs, ${s.failures} failed; ${s.settings})`
      : `  ${s.tool}: ${s.unavailable ?? `no data (${s.failures} failed)`}`)
  }
  lines.push(`node restart (TERM and KILL in turn): ${r.nodeRestart.survived} of ${r.nodeRestart.runs} runs with every managed process running, re-adopted, answering and writing`)
  for (const f of r.nodeRestart.failures) lines.push(`  ${f}`)
  return lines.join('\n')
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { samples: { type: 'string' }, runs: { type: 'string' }, json: { type: 'boolean' } } })
  const samples = Number(values.samples ?? 20)
  const runs = Number(values.runs ?? 10)
  const result: SuperviseResult = {
    crashToRunning: [await procmeshCrash(samples), await supervisordCrash(samples)],
    nodeRestart: await nodeRestarts(runs)
  }
  printResult(values.json === true, formatSupervise(result), result)
}

if (invokedDirectly(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    process.exitCode = 1
  })
}
