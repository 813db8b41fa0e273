/**
 * The managed view of `procmesh top` (issue 12): the M filter, state and restarts per record,
 * restart behind a confirmation, and a notice when a managed process exits or enters a crash loop.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { LsEntry } from '../../../protocols/control.js'
import { NO_RESTART, type ManagedProcess } from '../../../protocols/managed.js'
import { managedNotices, selectRows, type State } from '../../../cli/tui/state.js'
import { resolveKey } from '../../../cli/tui/keymap.js'
import { UNICODE_GLYPHS } from '../../../cli/tui/widgets/glyphs.js'
import { procLines, procTitle } from '../../../cli/tui/widgets/procs.js'
import { statusText } from '../../../cli/tui/widgets/footer.js'
import { stripTags } from '../../../cli/tui/widgets/text.js'
import { BETA, SELF, T0, loadedState, proc, psEntry, run, sampleProcesses } from './fixtures.js'

function rec (managedId: string, over: Partial<ManagedProcess> = {}): ManagedProcess {
  return {
    managedId,
    name: null,
    argv: ['/usr/bin/worker', '--id', managedId],
    pid: 30,
    startTime: T0 - 60_000,
    state: 'running',
    policy: { ...NO_RESTART, restart: 'on-failure' },
    restarts: 0,
    requestedBy: '12D3KooWops',
    lastExit: null,
    nextRestartAt: null,
    cpuPercent: 90,
    rss: 2 ** 20,
    ...over
  }
}

function ls (host: typeof SELF, processes: ManagedProcess[]): LsEntry {
  return { peerId: host.peerId, name: host.name, processes }
}

const exit1 = { code: 1, signal: null, at: T0 - 1000, whileDown: false }

/** alpha runs `api` (pid 30, listed by ps) and has `batch` that exited 1 and is restarting. */
function managedState (): State {
  const running = proc(30, 1, 'worker', { managedId: 'm1', cpuPercent: 90, managedName: 'api' })
  return run(loadedState(),
    { type: 'procs', entries: [psEntry(SELF, [...sampleProcesses(), running])] },
    { type: 'managed', entries: [ls(SELF, [rec('m1', { name: 'api' }), rec('m2', { name: 'batch', pid: 31, state: 'restarting', restarts: 2, lastExit: exit1, nextRestartAt: T0 + 3000 })])] }
  ).state
}

describe('managed-only view (M)', () => {
  it('M is bound, in the footer and the help', () => {
    assert.deepEqual(resolveKey({ focus: 'procs' }, 'S-m', 'M'), { type: 'toggleManaged' })
  })

  it('lists one row per managed record, running or not, with state and restarts', () => {
    const s = run(managedState(), { type: 'toggleManaged' }).state
    const rows = selectRows(s)
    assert.deepEqual(rows.map(r => r.proc.managedId).sort(), ['m1', 'm2'])
    const lines = procLines(s, rows, 120, 20, UNICODE_GLYPHS, true).map(stripTags)
    assert.match(lines[0], /NAME +PID STATE +RESTARTS UP\/EXIT/)
    const api = lines.find(l => l.includes('api')) ?? ''
    const batch = lines.find(l => l.includes('batch')) ?? ''
    assert.match(api, /api +30 running +0 1m00s/)
    assert.match(batch, /batch +- restarting +2 exit 1/)
    assert.match(procTitle(s, rows.length, UNICODE_GLYPHS), /managed only/)
    // unmanaged processes are gone from the view, and M again brings them back
    assert.ok(!lines.some(l => l.includes('nginx')))
    const back = run(s, { type: 'toggleManaged' }).state
    assert.ok(selectRows(back).some(r => r.proc.name === 'nginx'))
  })

  it('at 80 columns keeps name, state, restarts and how it ended', () => {
    const s = run(managedState(), { type: 'toggleManaged' }).state
    const lines = procLines(s, selectRows(s), 78, 20, UNICODE_GLYPHS, true).map(stripTags)
    assert.match(lines[0], /^NAME +PID STATE +RESTARTS UP\/EXIT +CPU% COMMAND/)
    assert.match(lines.find(l => l.includes('batch')) ?? '', /batch +- restarting +2 exit 1 +\d+\.\d \/usr\/bin\/worker/)
    for (const l of lines) assert.ok(l.length <= 78)
  })

  it('before any ls answer, lists the managed processes ps shows', () => {
    const running = proc(30, 1, 'worker', { managedId: 'm1' })
    const s = run(loadedState(), { type: 'procs', entries: [psEntry(SELF, [...sampleProcesses(), running])] }, { type: 'toggleManaged' }).state
    assert.deepEqual(selectRows(s).map(r => r.proc.pid), [30])
  })

  it('the filter applies to the managed name too', () => {
    const s = run(managedState(), { type: 'toggleManaged' }, { type: 'openFilter' }, ...Array.from('batch').map(ch => ({ type: 'inputChar' as const, ch }))).state
    assert.deepEqual(selectRows(s).map(r => r.proc.managedId), ['m2'])
  })

  it('R on a crash-looping record asks, then restarts it by id', () => {
    let s = run(managedState(), { type: 'managed', entries: [ls(SELF, [rec('m1', { name: 'api' }), rec('m2', { name: 'batch', pid: 31, state: 'crash-loop', restarts: 10, lastExit: exit1 })])] }, { type: 'toggleManaged' }).state
    const i = selectRows(s).findIndex(r => r.proc.managedId === 'm2')
    s = run(s, { type: 'jump', to: 'first' }, { type: 'move', delta: i }).state
    const asked = run(s, { type: 'restart' })
    assert.ok(asked.state.modal?.kind === 'confirmRestart' && !asked.state.modal.running)
    assert.deepEqual(asked.effects, [])
    assert.deepEqual(run(asked.state, { type: 'confirm' }).effects, [{ kind: 'restart', peerId: SELF.peerId, hostName: 'alpha', managedId: 'm2', name: 'batch' }])
  })

  it('k on a record that is not running says so instead of signalling its old pid', () => {
    let s = run(managedState(), { type: 'toggleManaged' }).state
    const i = selectRows(s).findIndex(r => r.proc.managedId === 'm2')
    s = run(s, { type: 'jump', to: 'first' }, { type: 'move', delta: i }).state
    const step = run(s, { type: 'askStop' })
    assert.equal(step.state.modal, undefined)
    assert.match(step.state.status?.text ?? '', /batch is not running \(restarting\): nothing to stop; R restarts it/)
    // the running one is stopped as any process is
    const j = selectRows(s).findIndex(r => r.proc.managedId === 'm1')
    const other = run(s, { type: 'jump', to: 'first' }, { type: 'move', delta: j }, { type: 'askStop' }).state
    assert.ok(other.modal?.kind === 'signal' && other.modal.target.pid === 30)
  })
})

describe('managed notices', () => {
  it('an exit (a newer lastExit) and a crash loop each make one notice; stops and the first answer make none', () => {
    const before = [rec('m1', { name: 'api' }), rec('m2'), rec('m3', { name: 'stopme' })]
    const after = [
      rec('m1', { name: 'api', state: 'restarting', restarts: 1, lastExit: exit1, nextRestartAt: T0 + 2000 }),
      rec('m2', { state: 'crash-loop', restarts: 10, lastExit: { code: null, signal: 'KILL', at: T0, whileDown: false } }),
      rec('m3', { name: 'stopme', state: 'stopped', lastExit: { code: null, signal: 'TERM', at: T0, whileDown: false } })
    ]
    const notes = managedNotices('alpha', before, after, T0)
    assert.deepEqual(notes.map(n => n.level), ['error', 'error'])
    assert.match(notes[0].text, /^alpha: api exited \(exit code 1\); restarting in 2s$/)
    assert.match(notes[1].text, /^alpha: m2 entered crash-loop after 10 restarts \(killed by SIGKILL\)/)
    // the same answer again says nothing new
    assert.deepEqual(managedNotices('alpha', after, after, T0), [])
    // a clean exit is info; an exit and restart between two polls is still told
    const clean = managedNotices('alpha', [rec('m1')], [rec('m1', { state: 'exited', lastExit: { code: 0, signal: null, at: T0, whileDown: false } })], T0)
    assert.deepEqual(clean, [{ text: 'alpha: m1 exited (exit code 0)', level: 'info' }])
    const quick = managedNotices('alpha', [rec('m1')], [rec('m1', { restarts: 1, lastExit: exit1 })], T0)
    assert.match(quick[0].text, /exited \(exit code 1\); restarted \(restart 1\)/)
  })

  it('reach the status line from ls answers, for any host', () => {
    let s = run(loadedState(), { type: 'managed', entries: [ls(SELF, [rec('m1', { name: 'api' })]), ls(BETA, [rec('m9', { name: 'web' })])] }).state
    assert.equal(s.status, undefined, 'the first answer tells nothing')
    s = run(s, { type: 'managed', entries: [ls(SELF, [rec('m1', { name: 'api' })]), ls(BETA, [rec('m9', { name: 'web', state: 'crash-loop', restarts: 10, lastExit: exit1 })])] }).state
    assert.equal(s.status?.level, 'error')
    assert.match(stripTags(statusText(s, 160)), /beta: web entered crash-loop after 10 restarts/)
    // a host's error keeps its last list and tells nothing
    const failed = run(s, { type: 'managed', entries: [{ peerId: BETA.peerId, name: 'beta', error: { code: 'TIMEOUT', message: 'slow' } }] }).state
    assert.equal(failed.managed[BETA.peerId].processes.length, 1)
  })
})
