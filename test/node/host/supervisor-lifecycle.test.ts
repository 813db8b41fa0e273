/**
 * The supervisor across node restarts (a new Supervisor on the same home), restart policies,
 * crash loops and names, with real processes.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { readStartTimeSync } from '../../../node/host/process-control.js'
import { silentLogger } from '../../../node/logger.js'
import { Supervisor, type SupervisorEvent, type SupervisorInit } from '../../../node/host/supervisor.js'
import { ProcmeshError } from '../../../protocols/errors.js'
import type { RestartPolicy } from '../../../protocols/managed.js'
import type { LogChunk, StartRequest } from '../../../protocols/messages.js'

const root = mkdtempSync(join(os.tmpdir(), 'procmesh-lifecycle-'))
const running: Supervisor[] = []
const spawnedPids = new Set<number>()
let homes = 0
let ids = 0
/** a marker no other process on the machine carries, so /proc can count ours exactly */
const MARK = `pmtest${process.pid}x${Date.now().toString(36)}`

function newHome (): string {
  const dir = join(root, `h${++homes}`)
  return dir
}

async function open (home: string, init: Partial<SupervisorInit> = {}): Promise<Supervisor> {
  const sup = new Supervisor({
    logsDir: join(home, 'logs'), stateFile: join(home, 'starts.jsonl'), recordsFile: join(home, 'managed.json'), log: silentLogger, ...init
  })
  await sup.start()
  running.push(sup)
  return sup
}

async function close (sup: Supervisor): Promise<void> {
  await sup.stop()
  running.splice(running.indexOf(sup), 1)
}

function req (argv: string[], extra: Partial<StartRequest> = {}): StartRequest {
  return { type: 'start', requestId: `life-${++ids}`, argv, ...extra }
}

function policy (restart: RestartPolicy['restart'], extra: Partial<RestartPolicy> = {}): RestartPolicy {
  return { restart, maxRestarts: 10, backoffMs: 50, backoffMaxMs: 1000, ...extra }
}

async function waitFor (what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Live (non-zombie) processes whose argv contains `tag`. */
function withArg (tag: string): number[] {
  const out: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0')
      if (argv.includes(tag) && readStartTimeSync(Number(name)) !== undefined) out.push(Number(name))
    } catch {}
  }
  return out
}

function killQuietly (pid: number): void {
  try { process.kill(pid, 'SIGKILL') } catch {}
}

async function logText (sup: Supervisor, ref: string): Promise<string> {
  const chunks: LogChunk[] = []
  await sup.logs(ref, false, async c => { chunks.push(c) }, AbortSignal.timeout(5000))
  return chunks.filter(c => c.stream === 'stdout').map(c => c.data).join('')
}

/** A process that sleeps 300 s with `tag` in its argv (perl: sleep(1) refuses extra arguments). */
function sleeper (tag: string): string[] {
  return ['perl', '-e', 'sleep 300', tag]
}

/** A shell loop that prints a numbered line every 10 ms (the writer). */
function ticker (tag: string): string[] {
  return ['sh', '-c', 'i=0; while :; do echo "tick $i"; i=$((i+1)); sleep 0.01; done', tag]
}

after(async () => {
  for (const sup of [...running]) {
    for (const p of sup.list()) if (p.exitedAt === null) spawnedPids.add(p.pid)
    await sup.stop()
  }
  for (const pid of spawnedPids) killQuietly(pid)
  for (const pid of withArg(MARK)) killQuietly(pid)
  rmSync(root, { recursive: true, force: true })
})

describe('Supervisor across node restarts', { timeout: 120_000 }, () => {
  it('a node restart re-adopts a writing process with its id and name: it kept writing, old and new output are readable, it can be stopped', async () => {
    const home = newHome()
    const first = await open(home)
    const started = await first.startProcess(req(ticker(MARK), { name: 'ticker' }), 'peer-a')
    spawnedPids.add(started.pid)
    await waitFor('some output', () => (first.get('ticker')?.outputBytes.stdout ?? 0) > 20)
    await close(first)
    // no node: the process goes on writing into its own file
    const file = join(home, 'logs', `${started.managedId}.stdout.log`)
    const sizeDown = statSync(file).size
    await sleep(300)
    assert.ok(statSync(file).size > sizeDown, 'it wrote while no node ran')
    assert.equal(readStartTimeSync(started.pid), started.startTime)

    const second = await open(home)
    const info = second.get('ticker')
    assert.ok(info !== undefined)
    assert.equal(info.managedId, started.managedId)
    assert.equal(info.pid, started.pid)
    assert.equal(info.state, 'running')
    assert.equal(second.get(String(started.pid))?.managedId, started.managedId, 'found by its pid too')
    assert.equal(second.managedByPid().get(started.pid)?.managedId, started.managedId)
    const before = await logText(second, 'ticker')
    assert.match(before, /^tick 0\n/, 'the output from before the restart')
    const lastBefore = Number(/tick (\d+)\n$/.exec(before)?.[1])
    await sleep(200)
    const afterText = await logText(second, started.managedId)
    const lastAfter = Number(/tick (\d+)\n$/.exec(afterText)?.[1])
    assert.ok(lastAfter > lastBefore, `new output read after the restart (${lastBefore} -> ${lastAfter})`)
    // every line present once, in order: nothing lost or doubled across the restart
    const numbers = afterText.trim().split('\n').map(l => Number(l.slice(5)))
    assert.deepEqual(numbers, numbers.map((_, i) => i))

    const removed = await second.remove('ticker', 'peer-a')
    assert.deepEqual(removed, { managedId: started.managedId, name: 'ticker', stopped: true })
    await waitFor('the process to end', () => readStartTimeSync(started.pid) !== started.startTime)
    assert.equal(second.get('ticker'), undefined)
    assert.deepEqual(readdirSync(join(home, 'logs')).filter(n => n.startsWith(started.managedId)), [], 'its log files are gone')
  })

  it('a pid reused by another process while the node was down is not adopted (and not signalled)', async () => {
    const home = newHome()
    const first = await open(home)
    const started = await first.startProcess(req(sleeper(MARK)), 'peer-a')
    await close(first)
    process.kill(started.pid, 'SIGKILL')
    await waitFor('the managed process to end', () => readStartTimeSync(started.pid) !== started.startTime)
    // another process now holds "its" pid: point the record at a live stranger (same pid, other start time)
    const stranger = spawn('sleep', ['300'], { stdio: 'ignore' })
    assert.ok(stranger.pid !== undefined)
    spawnedPids.add(stranger.pid)
    await waitFor('the stranger', () => readStartTimeSync(stranger.pid ?? 0) !== undefined)
    const recordsPath = join(home, 'managed.json')
    const doc = JSON.parse(readFileSync(recordsPath, 'utf8')) as { records: Array<{ pid: number }> }
    doc.records[0].pid = stranger.pid
    writeFileSync(recordsPath, JSON.stringify(doc))

    const events: SupervisorEvent[] = []
    const second = await open(home, { onEvent: e => { events.push(e) } })
    const info = second.get(started.managedId)
    assert.equal(info?.state, 'exited')
    assert.equal(info?.exitedWhileDown, true)
    assert.equal(info?.exitCode, null)
    assert.equal(second.managedByPid().has(stranger.pid), false, 'the stranger is not marked managed')
    assert.deepEqual(events.map(e => [e.kind, e.info.managedId, e.kind === 'exit' ? e.next : '']), [['exit', started.managedId, 'none']])
    await sleep(300)
    assert.equal(stranger.exitCode, null, 'the stranger was not signalled')
    assert.equal(stranger.signalCode, null)
    stranger.kill('SIGKILL')
  })

  it('a node restart and a simulated reboot bring back every record with a restart policy exactly once', async () => {
    const home = newHome()
    const tags = { always: `${MARK}a`, onFailure: `${MARK}b`, no: `${MARK}c` }
    const first = await open(home)
    await first.startProcess(req(sleeper(tags.always), { name: 'svc-always', policy: policy('always') }), 'peer-a')
    await first.startProcess(req(sleeper(tags.onFailure), { name: 'svc-onfailure', policy: policy('on-failure') }), 'peer-a')
    await first.startProcess(req(sleeper(tags.no), { name: 'svc-no' }), 'peer-a')
    const pids = Object.values(tags).map(t => withArg(t))
    assert.deepEqual(pids.map(p => p.length), [1, 1, 1])
    await close(first)

    // node restart: everything still runs; nothing is started twice
    const second = await open(home)
    assert.deepEqual(Object.values(tags).map(t => withArg(t)), pids)
    assert.deepEqual(['svc-always', 'svc-onfailure', 'svc-no'].map(n => second.get(n)?.state), ['running', 'running', 'running'])
    await close(second)

    // reboot: every process is gone, then the node starts
    for (const t of Object.values(tags)) for (const pid of withArg(t)) process.kill(pid, 'SIGKILL')
    await waitFor('all gone', () => Object.values(tags).every(t => withArg(t).length === 0))
    const third = await open(home)
    await waitFor('policies to bring them back', () => withArg(tags.always).length === 1 && withArg(tags.onFailure).length === 1)
    await sleep(300)
    assert.equal(withArg(tags.always).length, 1, 'always: exactly one')
    assert.equal(withArg(tags.onFailure).length, 1, 'on-failure: exactly one (an exit nobody saw counts as a failure)')
    assert.equal(withArg(tags.no).length, 0, 'no policy: not brought back')
    const always = third.get('svc-always')
    assert.equal(always?.state, 'running')
    assert.equal(always?.restarts, 1)
    assert.notEqual(always?.pid, pids[0][0])
    const gone = third.get('svc-no')
    assert.equal(gone?.state, 'exited')
    assert.equal(gone?.exitedWhileDown, true)
    await close(third)

    // and the node after that adopts them again: still one each
    const fourth = await open(home)
    await sleep(300)
    assert.equal(withArg(tags.always).length, 1)
    assert.equal(withArg(tags.onFailure).length, 1)
    assert.equal(fourth.get('svc-always')?.restarts, 1)
    for (const n of ['svc-always', 'svc-onfailure']) await fourth.remove(n, 'peer-a')
    assert.equal(withArg(tags.always).length + withArg(tags.onFailure).length, 0)
  })
})

describe('a node killed between a policy restart\'s spawn and saving its records (issue 12)', { timeout: 60_000 }, () => {
  it('the next node adopts the run the file does not name, and never starts a second copy', async () => {
    const home = newHome()
    const tag = `${MARK}-dup`
    const first = await open(home)
    const started = await first.startProcess(req(sleeper(tag), { name: 'once', policy: policy('always') }), 'peer-a')
    spawnedPids.add(started.pid)
    process.kill(started.pid, 'SIGKILL')
    await waitFor('the policy restart', () => { const m = first.get('once'); return m !== undefined && m.state === 'running' && m.pid !== started.pid })
    const second = first.get('once')?.pid ?? 0
    spawnedPids.add(second)
    await close(first)
    // what a node killed right after that spawn leaves on disk: the record still names the dead
    // run and waits for its restart (the save after the spawn never happened)
    const file = join(home, 'managed.json')
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { v: number, records: Array<{ name: string, pid: number, startTime: number, state: string, restarts: number }> }
    const rec = doc.records.find(r => r.name === 'once')
    assert.ok(rec !== undefined)
    rec.pid = started.pid
    rec.startTime = started.startTime
    rec.state = 'restarting'
    rec.restarts = 0
    writeFileSync(file, JSON.stringify(doc))

    const next = await open(home)
    await sleep(500)
    assert.deepEqual(withArg(tag), [second], 'one process: the run the dead node started, nothing started twice')
    const m = next.get('once')
    assert.equal(m?.state, 'running')
    assert.equal(m?.pid, second)
    assert.equal(m?.restarts, 1)
    await next.remove('once', 'peer-a')
    assert.deepEqual(withArg(tag), [])
  })
})

describe('restart policies', { timeout: 120_000 }, () => {
  it('on-failure: a process exiting 1 is restarted with growing delays, then enters crash-loop after the budget', async () => {
    const events: SupervisorEvent[] = []
    const sup = await open(newHome(), { onEvent: e => { events.push(e) } })
    const started = await sup.startProcess(req(['sh', '-c', 'exit 1'], { name: 'failer', policy: policy('on-failure', { maxRestarts: 3, backoffMs: 100 }) }), 'peer-a')
    await waitFor('crash-loop', () => sup.get('failer')?.state === 'crash-loop')
    const info = sup.get(started.managedId)
    assert.equal(info?.restarts, 3)
    assert.equal(info?.exitCode, 1)
    const exits = events.filter((e): e is Extract<SupervisorEvent, { kind: 'exit' }> => e.kind === 'exit')
    assert.deepEqual(exits.map(e => e.next), ['restart', 'restart', 'restart', 'crash-loop'])
    const delays = exits.slice(0, 3).map(e => e.delayMs ?? 0)
    // 100, 200, 400 ms, each +-20%
    for (const [i, d] of delays.entries()) {
      const base = 100 * 2 ** i
      assert.ok(d >= base * 0.8 && d <= base * 1.2, `delay ${i}: ${d} ms, expected ${base} +-20%`)
    }
    assert.equal(events.filter(e => e.kind === 'restart').length, 3)
    // the crash loop is final until a restart by hand, which starts a fresh budget
    await sleep(500)
    assert.equal(sup.get('failer')?.restarts, 3)
    const again = await sup.restart('failer', 'peer-a')
    assert.equal(again.managedId, started.managedId)
    await waitFor('crash-loop again', () => sup.get('failer')?.state === 'crash-loop')
    assert.equal(sup.get('failer')?.restarts, 7)
  })

  it('always: restarted after exit 0; no: not restarted; on-failure: not after exit 0', async () => {
    const sup = await open(newHome())
    const always = await sup.startProcess(req(['sh', '-c', 'exit 0'], { policy: policy('always', { maxRestarts: 2 }) }), 'peer-a')
    const none = await sup.startProcess(req(['sh', '-c', 'exit 1']), 'peer-a')
    const onFailure = await sup.startProcess(req(['sh', '-c', 'exit 0'], { policy: policy('on-failure') }), 'peer-a')
    await waitFor('always to spend its budget', () => sup.get(always.managedId)?.state === 'crash-loop')
    assert.equal(sup.get(always.managedId)?.restarts, 2)
    await sleep(300)
    assert.equal(sup.get(none.managedId)?.state, 'exited')
    assert.equal(sup.get(none.managedId)?.restarts, 0)
    assert.equal(sup.get(onFailure.managedId)?.state, 'exited')
    assert.equal(sup.get(onFailure.managedId)?.restarts, 0)
  })

  it('a run that lasted the stable period resets the backoff and the budget', async () => {
    const events: SupervisorEvent[] = []
    const sup = await open(newHome(), { stableUptimeMs: 300, onEvent: e => { events.push(e) } })
    // runs 0.4 s (stable), then fails: always the first delay, never a crash loop
    const started = await sup.startProcess(req(['sh', '-c', 'sleep 0.4; exit 3'], { policy: policy('on-failure', { maxRestarts: 1, backoffMs: 50 }) }), 'peer-a')
    await waitFor('three restarts', () => (sup.get(started.managedId)?.restarts ?? 0) >= 3)
    const delays = events.flatMap(e => e.kind === 'exit' && e.delayMs !== undefined ? [e.delayMs] : [])
    assert.ok(delays.every(d => d <= 60), `delays ${delays.join(', ')}`)
    assert.notEqual(sup.get(started.managedId)?.state, 'crash-loop')
    await sup.remove(started.managedId, 'peer-a')
  })

  it('a stop through procmesh is never followed by a restart', async () => {
    const sup = await open(newHome())
    const started = await sup.startProcess(req(['sleep', '300'], { name: 'stopme', policy: policy('always') }), 'peer-a')
    assert.equal(sup.noteStop(started.pid, started.startTime, 'TERM'), started.managedId)
    process.kill(started.pid, 'SIGTERM')
    await waitFor('stopped', () => sup.get('stopme')?.state === 'stopped')
    await sleep(400)
    assert.equal(sup.get('stopme')?.state, 'stopped')
    assert.equal(sup.get('stopme')?.restarts, 0)
    // a signal that does not end processes (HUP: reload) leaves the policy in charge
    const other = await sup.startProcess(req(['sleep', '300'], { name: 'reloader', policy: policy('always') }), 'peer-a')
    sup.noteStop(other.pid, other.startTime, 'HUP')
    process.kill(other.pid, 'SIGKILL')
    await waitFor('restarted', () => sup.get('reloader')?.restarts === 1)
    await sup.remove('reloader', 'peer-a')
  })
})

describe('names', { timeout: 60_000 }, () => {
  it('are unique per host, refused twice with a clear error, and resolve in logs, restart and rm', async () => {
    const sup = await open(newHome())
    const started = await sup.startProcess(req(['sh', '-c', 'echo hello; sleep 300'], { name: 'api' }), 'peer-a')
    await assert.rejects(sup.startProcess(req(['true'], { name: 'api' }), 'peer-b'), (err: unknown) => {
      assert.ok(err instanceof ProcmeshError)
      assert.equal(err.code, 'REFUSED')
      assert.equal(err.message, `name api is taken on this node by ${started.managedId} (running); procmesh rm it first or choose another name`)
      return true
    })
    await waitFor('output', () => (sup.get('api')?.outputBytes.stdout ?? 0) > 0)
    assert.equal(await logText(sup, 'api'), 'hello\n')
    assert.equal(await logText(sup, String(started.pid)), 'hello\n')
    const restarted = await sup.restart('api', 'peer-a')
    assert.equal(restarted.managedId, started.managedId)
    assert.notEqual(restarted.pid, started.pid)
    assert.equal(sup.get('api')?.restarts, 1)
    await waitFor('new output', () => (sup.get('api')?.outputBytes.stdout ?? 0) >= 12)
    assert.equal(await logText(sup, 'api'), 'hello\nhello\n', 'both runs in one log')
    await assert.rejects(sup.restart('nosuch', 'peer-a'), /no managed process nosuch on this node/)
    await sup.remove('api', 'peer-a')
    // the name is free again
    const reused = await sup.startProcess(req(['true'], { name: 'api' }), 'peer-a')
    assert.notEqual(reused.managedId, started.managedId)
  })
})
