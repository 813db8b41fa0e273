import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import {
  createProcReaders, readStartTimeSync, refusalReason, sameStartTime, stopProcess, type StopOptions
} from '../../../node/host/process-control.js'
import { parseProcStat, parseSystemStat, startTimeMs } from '../../../node/host/proc-parse.js'
import { ProcmeshError } from '../../../protocols/errors.js'
import type { StopRequest } from '../../../protocols/messages.js'

const readers = createProcReaders()
const children: ChildProcess[] = []
/** pids the tests created outside Node's children (grandchildren), killed in after() if still ours */
const strays: Array<{ pid: number, startTime: number }> = []

function startChild (argv: string[]): ChildProcess & { pid: number } {
  const child = spawn(argv[0], argv.slice(1), { stdio: 'ignore' })
  children.push(child)
  if (child.pid === undefined) throw new Error(`spawn ${argv[0]} failed`)
  return child as ChildProcess & { pid: number }
}

function startTimeOf (pid: number): number {
  const t = readStartTimeSync(pid)
  assert.ok(t !== undefined, `pid ${pid} not running`)
  return t
}

function alive (pid: number, startTime: number): boolean {
  return sameStartTime(readStartTimeSync(pid), startTime)
}

async function waitFor (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/** A kill that records its calls and never signals anything. */
function spyKill (): { calls: Array<[number, string]>, kill: NonNullable<StopOptions['kill']> } {
  const calls: Array<[number, string]> = []
  return { calls, kill: (pid, sig) => { calls.push([pid, sig]) } }
}

function stopReq (pid: number, startTime: number, extra: Partial<StopRequest> = {}): StopRequest {
  return { type: 'stop', pid, startTime, signal: 'TERM', tree: false, ...extra }
}

const base: StopOptions = { selfPid: process.pid, parentPid: process.ppid, ...readers }

after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  for (const s of strays) if (alive(s.pid, s.startTime)) process.kill(s.pid, 'SIGKILL')
})

describe('refusalReason', () => {
  const table: Array<[number, RegExp | undefined]> = [
    [-1, /^pid -1 would signal every process$/],
    [-42, /process group 42/],
    [0, /pid 0 would signal the node's own process group/],
    [1, /pid 1 is init/],
    [1000, /this procmesh node itself/],
    [999, /parent of this procmesh node/],
    [1.5, /not an integer/],
    [2, undefined],
    [12345, undefined]
  ]
  for (const [pid, expected] of table) {
    it(`pid ${pid}`, () => {
      const reason = refusalReason(pid, 1000, 999)
      if (expected === undefined) assert.equal(reason, undefined)
      else assert.match(reason ?? '', expected)
    })
  }
})

describe('stopProcess', { timeout: 60_000 }, () => {
  it('refuses 0, 1, -1, a process group, the node and its parent, and signals nothing', async () => {
    const target = startChild(['sleep', '100'])
    const t0 = startTimeOf(target.pid)
    const spy = spyKill()
    // the running sleep plays the node and its parent here, so "still alive" is checked on a real process
    const cases: Array<[number, RegExp, Partial<StopOptions>]> = [
      [0, /pid 0 would signal/, {}],
      [1, /pid 1 is init/, {}],
      [-1, /pid -1 would signal every process/, {}],
      [-target.pid, /would signal every process in process group/, {}],
      [target.pid, new RegExp(`pid ${target.pid} is this procmesh node itself`), { selfPid: target.pid }],
      [target.pid, new RegExp(`pid ${target.pid} is the parent of this procmesh node`), { parentPid: target.pid }],
      [process.pid, /this procmesh node itself/, {}],
      [process.ppid, /parent of this procmesh node/, {}]
    ]
    for (const [pid, message, opts] of cases) {
      await assert.rejects(stopProcess(stopReq(pid, t0, { signal: 'KILL', tree: true }), { ...base, ...opts, kill: spy.kill }),
        (err: unknown) => err instanceof ProcmeshError && err.code === 'REFUSED' && message.test(err.message), `pid ${pid}`)
    }
    assert.deepEqual(spy.calls, [])
    assert.ok(alive(target.pid, t0))
    // and with the real kill: the refusal comes before any signal
    await assert.rejects(stopProcess(stopReq(target.pid, t0, { signal: 'KILL' }), { ...base, selfPid: target.pid }), /itself/)
    assert.ok(alive(target.pid, t0))
  })

  it('answers gone, signalling nothing, when the start time differs or the pid does not exist', async () => {
    const target = startChild(['sleep', '100'])
    const t0 = startTimeOf(target.pid)
    for (const wrong of [t0 + 10, t0 - 1000, 0]) {
      const res = await stopProcess(stopReq(target.pid, wrong, { signal: 'KILL', tree: true }), base)
      assert.deepEqual(res, { pid: target.pid, signal: 'KILL', result: 'gone', signalled: [], escalated: false })
    }
    assert.ok(alive(target.pid, t0))
    // a pid beyond pid_max never exists
    const res = await stopProcess(stopReq(2 ** 22 + 7, t0, { signal: 'KILL' }), base)
    assert.equal(res.result, 'gone')
  })

  it('stops a whole tree: the shell and both of its children', async () => {
    const sh = startChild(['sh', '-c', 'sleep 100 & sleep 100 & wait'])
    const t0 = startTimeOf(sh.pid)
    let kids: number[] = []
    await waitFor('two children', async () => { kids = await readers.listChildren(sh.pid); return kids.length === 2 })
    const kidTimes = kids.map(startTimeOf)
    kids.forEach((pid, i) => { strays.push({ pid, startTime: kidTimes[i] }) })
    const res = await stopProcess(stopReq(sh.pid, t0, { tree: true, graceMs: 3000 }), base)
    assert.equal(res.result, 'exited')
    assert.deepEqual([...res.signalled].sort(), [sh.pid, ...kids].sort())
    assert.equal(res.signalled[0], sh.pid, 'parent first')
    assert.ok(!alive(sh.pid, t0))
    kids.forEach((pid, i) => { assert.ok(!alive(pid, kidTimes[i]), `child ${pid} still alive`) })
  })

  it('without tree, signals only the named process', async () => {
    const sh = startChild(['sh', '-c', 'sleep 100 & wait'])
    const t0 = startTimeOf(sh.pid)
    let kids: number[] = []
    await waitFor('a child', async () => { kids = await readers.listChildren(sh.pid); return kids.length === 1 })
    const kidTime = startTimeOf(kids[0])
    strays.push({ pid: kids[0], startTime: kidTime })
    const res = await stopProcess(stopReq(sh.pid, t0, { signal: 'KILL' }), base)
    assert.deepEqual(res, { pid: sh.pid, signal: 'KILL', result: 'signalled', signalled: [sh.pid], escalated: false })
    await waitFor('shell gone', () => !alive(sh.pid, t0))
    assert.ok(alive(kids[0], kidTime), 'the child was not part of the stop')
    process.kill(kids[0], 'SIGKILL')
  })

  it('kills a process that ignores TERM once the grace period is over', async () => {
    const stubborn = startChild(['sh', '-c', 'trap "" TERM; exec sleep 100'])
    // wait for the exec, so TERM reaches sleep (which inherited the ignored TERM), not sh before its trap
    await waitFor('exec sleep', () => readFileSync(`/proc/${stubborn.pid}/comm`, 'utf8').trim() === 'sleep')
    const t0 = startTimeOf(stubborn.pid)
    const began = Date.now()
    const res = await stopProcess(stopReq(stubborn.pid, t0, { signal: 'TERM', graceMs: 500 }), base)
    const took = Date.now() - began
    assert.deepEqual(res, { pid: stubborn.pid, signal: 'TERM', result: 'signalled', signalled: [stubborn.pid], escalated: true })
    assert.ok(took >= 500 && took < 3000, `took ${took} ms`)
    await waitFor('killed', () => !alive(stubborn.pid, t0))
    await waitFor('exit event', () => stubborn.signalCode !== null)
    assert.equal(stubborn.signalCode, 'SIGKILL')
  })

  it('reports exited when a process ends within the grace period', async () => {
    const sleeper = startChild(['sleep', '100'])
    const t0 = startTimeOf(sleeper.pid)
    const began = Date.now()
    const res = await stopProcess(stopReq(sleeper.pid, t0, { signal: 'TERM', graceMs: 2000 }), base)
    assert.deepEqual(res, { pid: sleeper.pid, signal: 'TERM', result: 'exited', signalled: [sleeper.pid], escalated: false })
    assert.ok(Date.now() - began < 1500)
    await waitFor('exit event', () => sleeper.signalCode !== null)
    assert.equal(sleeper.signalCode, 'SIGTERM')
  })

  it('refuses a grace period with STOP or CONT', async () => {
    const sleeper = startChild(['sleep', '100'])
    const t0 = startTimeOf(sleeper.pid)
    await assert.rejects(stopProcess(stopReq(sleeper.pid, t0, { signal: 'STOP', graceMs: 100 }), base), /graceMs: means nothing with signal STOP/)
    assert.notEqual(parseProcStat(readFileSync(`/proc/${sleeper.pid}/stat`, 'utf8')).state, 'T', 'not stopped')
  })

  it('maps EPERM to OS_DENIED and ESRCH to gone', async () => {
    const sleeper = startChild(['sleep', '100'])
    const t0 = startTimeOf(sleeper.pid)
    const failWith = (code: string): NonNullable<StopOptions['kill']> => () => { throw Object.assign(new Error(code), { code }) }
    await assert.rejects(stopProcess(stopReq(sleeper.pid, t0), { ...base, kill: failWith('EPERM') }),
      (err: unknown) => err instanceof ProcmeshError && err.code === 'OS_DENIED' && err.message === `permission denied by the OS to signal pid ${sleeper.pid}`)
    const res = await stopProcess(stopReq(sleeper.pid, t0), { ...base, kill: failWith('ESRCH') })
    assert.deepEqual(res, { pid: sleeper.pid, signal: 'TERM', result: 'gone', signalled: [], escalated: false })
    assert.ok(alive(sleeper.pid, t0))
  })

  it('skips refused members of a tree (here: a fake node inside the subtree)', async () => {
    const spy = spyKill()
    const tree = new Map<number, number[]>([[500, [501, 502]], [501, [503]]])
    const opts: StopOptions = {
      selfPid: 502,
      parentPid: 9999,
      readStartTime: async pid => pid >= 500 && pid <= 503 ? 42_000 : undefined,
      listChildren: async pid => tree.get(pid) ?? [],
      kill: spy.kill
    }
    const res = await stopProcess(stopReq(500, 42_000, { tree: true }), opts)
    assert.deepEqual(res.signalled, [500, 501, 503])
    assert.deepEqual(spy.calls, [[500, 'SIGTERM'], [501, 'SIGTERM'], [503, 'SIGTERM']])
  })

  it('kills survivors of a tree after the grace period, including children forked meanwhile', async () => {
    const spy = spyKill()
    const tree = new Map<number, number[]>([[600, [601]]])
    let polls = 0
    const opts: StopOptions = {
      selfPid: 1,
      parentPid: 1,
      pollMs: 10,
      readStartTime: async pid => {
        polls++
        // 601 dies on TERM; 600 ignores it and forks 602 during the grace period
        if (pid === 601) return spy.calls.some(([p]) => p === 601) ? undefined : 7000
        if (pid === 602) return polls > 6 ? 7500 : undefined
        return pid === 600 ? 7000 : undefined
      },
      listChildren: async pid => pid === 600 && polls > 6 ? [602] : tree.get(pid) ?? [],
      kill: spy.kill
    }
    const res = await stopProcess(stopReq(600, 7000, { tree: true, graceMs: 100 }), opts)
    assert.equal(res.result, 'signalled')
    assert.deepEqual(spy.calls, [[600, 'SIGTERM'], [601, 'SIGTERM'], [600, 'SIGKILL'], [602, 'SIGKILL']])
    assert.deepEqual(res.signalled, [600, 601, 602])
  })
})

describe('stopProcess and pid reuse (PID namespaces)', { timeout: 30_000 }, () => {
  const canUnshare = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status === 0
  const modulePath = fileURLToPath(new URL('../../../node/host/process-control.js', import.meta.url))

  it('a stop carrying the old start time of a reused pid is gone and signals nothing', { skip: canUnshare ? false : 'unshare --pid not permitted here' }, async () => {
    // First namespace: sh is pid 1, its first child (sleep) pid 2. Record pid 2's start time, then it all ends.
    const first = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'sh', '-c', 'sleep 1 & cat /proc/2/stat; kill $!'], { encoding: 'utf8', timeout: 10_000 })
    assert.equal(first.status, 0, first.stderr)
    const old = parseProcStat(first.stdout)
    // (its comm may still be sh: the fork is the process, the exec of sleep may not have happened yet)
    assert.equal(old.pid, 2)
    const btime = parseSystemStat(readFileSync('/proc/stat', 'utf8')).btime
    const oldStartTime = startTimeMs(old.startTicks, btime)
    // start ticks are 10 ms apart: make sure the new pid 2 cannot share the old one's tick
    await new Promise(resolve => setTimeout(resolve, 50))

    // Second namespace: pid 2 is a new sleep; the node (pid 1 there, after exec) stops "pid 2" with the old start time.
    const script = `
      import { createProcReaders, stopProcess } from ${JSON.stringify(modulePath)}
      import { readFileSync } from 'node:fs'
      const readers = createProcReaders()
      const oldStartTime = Number(process.argv[1])
      const comm = () => { try { return readFileSync('/proc/2/comm', 'utf8').trim() } catch { return null } }
      const base = { selfPid: process.pid, parentPid: process.ppid, ...readers }
      const before = await readers.readStartTime(2)
      const stale = await stopProcess({ type: 'stop', pid: 2, startTime: oldStartTime, signal: 'KILL', tree: true, graceMs: 200 }, base)
      await new Promise(resolve => setTimeout(resolve, 100))
      const afterStale = await readers.readStartTime(2)
      // control: the same call with the current start time does signal it
      const fresh = await stopProcess({ type: 'stop', pid: 2, startTime: before, signal: 'KILL', tree: false }, base)
      console.log(JSON.stringify({ self: process.pid, comm: comm(), before, stale, afterStale, fresh }))
    `
    const second = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'sh', '-c', 'sleep 100 & exec "$0" --input-type=module -e "$1" "$2"',
      process.execPath, script, String(oldStartTime)], { encoding: 'utf8', timeout: 15_000 })
    assert.equal(second.status, 0, second.stderr)
    const out = JSON.parse(second.stdout) as {
      self: number, comm: string, before: number, afterStale: number, stale: { result: string, signalled: number[] }, fresh: { result: string, signalled: number[] }
    }
    assert.equal(out.self, 1)
    assert.equal(out.comm, 'sleep')
    assert.notEqual(out.before, oldStartTime, 'pid 2 now names a different process')
    assert.deepEqual(out.stale, { pid: 2, signal: 'KILL', result: 'gone', signalled: [], escalated: false })
    assert.equal(out.afterStale, out.before, 'the new pid 2 is still alive and the same process')
    assert.deepEqual(out.fresh, { pid: 2, signal: 'KILL', result: 'signalled', signalled: [2], escalated: false })
  })
})
