/**
 * Deployments in `procmesh top` (issue 13, Visible): the D overlay lists each deployment with
 * its version, running/desired copies, the hosts running them and why replicas cannot be
 * placed; the managed view (M) names a copy's deployment.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { LsEntry } from '../../../protocols/control.js'
import { copyName } from '../../../protocols/deploy.js'
import { NO_RESTART, type ManagedProcess } from '../../../protocols/managed.js'
import { footerItems, helpSections, resolveKey } from '../../../cli/tui/keymap.js'
import { deploymentsWanted, reduce, selectRows, type State } from '../../../cli/tui/state.js'
import { deploymentsLines, hostsCell } from '../../../cli/tui/widgets/deployments.js'
import { dialogFor } from '../../../cli/tui/widgets/dialogs.js'
import { footerText } from '../../../cli/tui/widgets/footer.js'
import { ASCII_GLYPHS, UNICODE_GLYPHS } from '../../../cli/tui/widgets/glyphs.js'
import { procLines } from '../../../cli/tui/widgets/procs.js'
import { stripTags } from '../../../cli/tui/widgets/text.js'
import { SELF, T0, deployment, deploymentsList, loadedState, proc, psEntry, run, sampleProcesses } from './fixtures.js'

function withDeployments (s: State = loadedState()): State {
  return run(s, { type: 'openDeployments' }, { type: 'deployments', list: deploymentsList() }).state
}

function overlayText (s: State, cols = s.size.cols, rows = s.size.rows): string[] {
  assert.ok(s.modal !== undefined)
  const d = dialogFor(s.modal, cols, rows, { deployments: s.deployments, now: s.now, g: UNICODE_GLYPHS })
  assert.ok(d !== undefined)
  assert.ok(d.width <= cols && d.height <= rows, `fits ${cols}x${rows}`)
  return [d.title, ...d.lines.map(stripTags)]
}

describe('deployments overlay (D): keys and reducer', () => {
  it('D opens it, and it is in the footer and the help', () => {
    assert.deepEqual(resolveKey({ focus: 'procs' }, 'S-d', 'D'), { type: 'openDeployments' })
    assert.deepEqual(resolveKey({ focus: 'hosts' }, 'S-d', 'D'), { type: 'openDeployments' })
    assert.ok(footerItems({ focus: 'procs' }).some(i => i.text === 'D deploys'))
    assert.ok(helpSections().some(sec => sec.lines.some(([k, d]) => k === 'D' && /deployments/.test(d))))
    // at 80 columns the footer still offers it (x start gives way: it is in the help)
    const at80 = stripTags(footerText(loadedState(), 80))
    assert.ok(at80.length <= 80, at80)
    assert.match(at80, /D deploys/)
    assert.match(stripTags(footerText(loadedState(), 200)), /D deploys/)
  })

  it('opening asks for the data; closing (Esc, D, q) stops asking', () => {
    const s = loadedState()
    assert.equal(deploymentsWanted(s), false)
    const open = reduce(s, { type: 'openDeployments' }).state
    assert.equal(deploymentsWanted(open), true)
    for (const key of ['escape', 'S-d', 'q']) {
      const a = resolveKey(open, key)
      assert.deepEqual(a, { type: 'cancel' }, key)
      const closed = reduce(open, a).state
      assert.equal(closed.modal, undefined, key)
      assert.equal(deploymentsWanted(closed), false, key)
    }
  })

  it('keys of the main view do nothing underneath, data keeps flowing', () => {
    const s = withDeployments()
    const k = resolveKey(s, 'k', 'k')
    assert.deepEqual(k, { type: 'move', delta: -1 })
    const stop = reduce(s, { type: 'askStop' })
    assert.equal(stop.state.modal?.kind, 'deployments')
    assert.deepEqual(stop.effects, [])
    const later = reduce(s, { type: 'deployments', list: [deploymentsList()[0]] }).state
    assert.deepEqual(later.deployments?.list.map(d => d.name), ['web'])
  })

  it('an error keeps the list seen before it and says why', () => {
    const s = run(withDeployments(), { type: 'tick', now: T0 + 30_000 }, { type: 'deploymentsError', text: 'deployments: the node closed the connection' }).state
    assert.equal(s.deployments?.list.length, 2)
    const text = overlayText(s).join('\n')
    assert.match(text, /api/)
    assert.match(text, /the node closed the connection \(list as of 30s ago\)/)
  })

  it('scrolls when the list is taller than the screen, and no further than its end', () => {
    const many = Array.from({ length: 40 }, (_, i) => deployment(`svc${String(i).padStart(2, '0')}`))
    let s = run(loadedState(), { type: 'resize', cols: 80, rows: 24 }, { type: 'openDeployments' }, { type: 'deployments', list: many }).state
    assert.match(overlayText(s).join('\n'), /svc00/)
    s = run(s, { type: 'jump', to: 'last' }).state
    const last = overlayText(s).join('\n')
    assert.match(last, /svc39/)
    assert.doesNotMatch(last, /svc00/)
    const m = s.modal
    assert.ok(m?.kind === 'deployments')
    const again = reduce(s, { type: 'move', delta: 5 }).state
    assert.deepEqual(again.modal, m, 'stops at the end')
    // a failed poll takes a line for its reason: the last deployment can still be reached
    const failed = run(s, { type: 'jump', to: 'first' }, { type: 'deploymentsError', text: 'deployments: timed out' }, { type: 'jump', to: 'last' }).state
    const text = overlayText(failed, 80, 24).join('\n')
    assert.match(text, /svc39/)
    assert.match(text, /timed out/)
  })
})

describe('deployments overlay: what it shows', () => {
  it('one row per deployment with name, version, running/desired and hosts; problems below', () => {
    const lines = overlayText(withDeployments())
    const text = lines.join('\n')
    assert.match(lines[0], /Deployments \(2\)/)
    const web = lines.find(l => /^web /.test(l))
    assert.ok(web !== undefined, text)
    assert.match(web, /v1\s+2\/2\s.*alpha beta/)
    const api = lines.find(l => /^api /.test(l))
    assert.ok(api !== undefined, text)
    assert.match(api, /v4\s+1\/3\s.*alpha gamma:starting/)
    const i = lines.indexOf(api)
    assert.match(lines[i + 1], /! only 2 of 3 replicas can be placed/)
    assert.match(lines[i + 2], /! beta refuses it: the author lacks exec here/)
  })

  it('80x24: every deployment, its counts and its problems fit, cut with an ellipsis rather than wrapped', () => {
    const s = withDeployments(run(loadedState(), { type: 'resize', cols: 80, rows: 24 }).state)
    const lines = overlayText(s, 80, 24)
    for (const l of lines) assert.ok(l.length <= 78, `"${l}" fits`)
    assert.ok(lines.some(l => /^web .*2\/2/.test(l)))
    assert.ok(lines.some(l => /^api .*1\/3/.test(l)))
    assert.ok(lines.some(l => /! beta refuses it/.test(l)))
  })

  it('says so when there are none, and while the first answer is awaited', () => {
    const waiting = deploymentsLines(undefined, 70, T0, ASCII_GLYPHS)
    assert.deepEqual(waiting.lines.map(stripTags).map(l => l.trim()), ['asking the node…'])
    const none = deploymentsLines({ receivedAt: T0, list: [] }, 90, T0, ASCII_GLYPHS)
    assert.match(stripTags(none.lines[0]), /no deployments: procmesh deploy NAME/)
    const older = deploymentsLines({ receivedAt: 0, list: [], error: 'this node does not know deployments (an older procmesh)' }, 90, T0, ASCII_GLYPHS)
    assert.deepEqual(older.lines, [])
    assert.match(stripTags(older.note ?? ''), /does not know deployments/)
  })

  it('remote text cannot inject tags or escapes', () => {
    assert.equal(hostsCell([{ host: 'ev\u001b[31mil{bold}', peerId: 'x', slot: 1, copy: 'c', state: 'running' }]), 'evil{bold}')
    const d = deployment('web', { problems: ['{red-fg}x\u0007'] })
    const out = deploymentsLines({ receivedAt: T0, list: [d] }, 100, T0, ASCII_GLYPHS)
    assert.ok(out.lines[1].includes('{open}red-fg{close}x?'), out.lines[1])
  })
})

describe('managed view (M): a copy names its deployment', () => {
  const rec = (managedId: string, name: string | null, pid: number): ManagedProcess => ({
    managedId, name, argv: ['/usr/bin/web'], pid, startTime: T0 - 60_000, state: 'running', policy: { ...NO_RESTART, restart: 'always' },
    restarts: 0, requestedBy: '12D3KooWalpha', lastExit: null, nextRestartAt: null, cpuPercent: 1, rss: 2 ** 20
  })
  it('DEPLOY shows the deployment and version of a copy, - for a process started by hand', () => {
    const copy = proc(40, 1, 'web', { managedId: 'm1', managedName: copyName('web', 3, 1) })
    const byHand = proc(41, 1, 'worker', { managedId: 'm2', managedName: 'batch' })
    const entries: LsEntry[] = [{ peerId: SELF.peerId, name: SELF.name, processes: [rec('m1', copyName('web', 3, 1), 40), rec('m2', 'batch', 41)] }]
    for (const cols of [160, 80]) {
      const s = run(loadedState(),
        { type: 'resize', cols, rows: 24 },
        { type: 'procs', entries: [psEntry(SELF, [...sampleProcesses(), copy, byHand])] },
        { type: 'managed', entries },
        { type: 'toggleManaged' }).state
      const rows = selectRows(s)
      const lines = procLines(s, rows, cols - 2, 20, UNICODE_GLYPHS, true).map(stripTags)
      assert.match(lines[0], /DEPLOY/, `${cols} columns keep DEPLOY`)
      assert.ok(lines.some(l => /web-v3-1\s+web v3\s/.test(l)), lines.join('\n'))
      assert.ok(lines.some(l => /batch\s+-\s/.test(l)), lines.join('\n'))
      // at 80 columns it still says how each copy is doing
      if (cols === 80) assert.match(lines[0], /^NAME +DEPLOY +PID STATE +RESTARTS UP\/EXIT +CPU% COMMAND/)
    }
  })

  it('without copies the managed view has no DEPLOY column', () => {
    const byHand = proc(41, 1, 'worker', { managedId: 'm2', managedName: 'batch' })
    const s = run(loadedState(),
      { type: 'procs', entries: [psEntry(SELF, [...sampleProcesses(), byHand])] },
      { type: 'managed', entries: [{ peerId: SELF.peerId, name: SELF.name, processes: [rec('m2', 'batch', 41)] }] },
      { type: 'toggleManaged' }).state
    const lines = procLines(s, selectRows(s), 158, 20, UNICODE_GLYPHS, true).map(stripTags)
    assert.doesNotMatch(lines[0], /DEPLOY/)
  })
})
