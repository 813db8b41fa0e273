import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { SIGNALS } from '../../../protocols/messages.js'
import {
  initialState, MESH_WIDE_TOP_N, psTarget, psTop, reduce, selectRows, selectedRow, type Action, type Effect, type State
} from '../../../cli/tui/state.js'
import { BETA, SELF, T0, loadedState, peer, proc, psEntry, run, sampleProcesses } from './fixtures.js'

function pids (s: State): number[] {
  return selectRows(s).map(r => r.proc.pid)
}

function type (text: string): Action[] {
  return Array.from(text).map(ch => ({ type: 'inputChar', ch }))
}

describe('hosts from peers', () => {
  it('lists self first, then by name, and selects self', () => {
    const s = run(initialState({ now: T0, cols: 160, rows: 45 }), { type: 'peers', peers: [peer('zeta'), BETA, SELF] }).state
    assert.deepEqual(s.hosts.map(h => h.name), ['alpha', 'beta', 'zeta'])
    assert.equal(s.selectedHost, SELF.peerId)
    assert.equal(psTarget(s), SELF.peerId)
  })

  it('keeps the selected host by id when the order changes, and moves on when it is forgotten', () => {
    let s = loadedState()
    s = run(s, { type: 'focus', dir: -1 }, { type: 'move', delta: 1 }).state
    assert.equal(s.selectedHost, BETA.peerId)
    s = run(s, { type: 'peers', peers: [peer('aaa'), BETA, SELF] }).state
    assert.equal(s.selectedHost, BETA.peerId)
    assert.equal(s.hosts[s.hostCursor].peerId, BETA.peerId)
    s = run(s, { type: 'peers', peers: [SELF] }).state
    assert.equal(s.selectedHost, SELF.peerId)
  })
})

describe('navigation', () => {
  it('sorts by CPU by default and starts at the top', () => {
    const s = loadedState()
    assert.deepEqual(pids(s), [21, 22, 20, 12, 11, 10, 1])
    assert.equal(selectedRow(s)?.proc.pid, 21)
  })

  it('clamps at both ends', () => {
    let s = loadedState()
    s = run(s, { type: 'move', delta: -1 }).state
    assert.equal(s.procCursor, 0)
    s = run(s, { type: 'move', delta: 100 }).state
    assert.equal(s.procCursor, 6)
    s = run(s, { type: 'move', delta: 1 }).state
    assert.equal(s.procCursor, 6)
    s = run(s, { type: 'jump', to: 'first' }).state
    assert.equal(s.procCursor, 0)
    s = run(s, { type: 'page', dir: 1 }).state
    assert.equal(s.procCursor, 6, 'a page longer than the list stops at the last row')
  })

  it('moving in the hosts pane switches the listed host and starts its list at the top', () => {
    let s = run(loadedState(), { type: 'move', delta: 3 }).state
    assert.equal(s.procCursor, 3)
    s = run(s, { type: 'focus', dir: 1 }).state
    assert.equal(s.focus, 'hosts')
    s = run(s, { type: 'move', delta: 5 }).state
    assert.equal(s.selectedHost, BETA.peerId, 'clamped to the last host')
    assert.equal(psTarget(s), BETA.peerId)
    assert.equal(s.procCursor, 0)
    assert.deepEqual(pids(s), [], 'nothing listed for beta yet')
    s = run(s, { type: 'procs', entries: [psEntry(BETA, [proc(5, 1, 'redis'), proc(6, 1, 'cron')])] }).state
    assert.deepEqual(pids(s), [5, 6])
    s = run(s, { type: 'enter' }).state
    assert.equal(s.focus, 'procs')
  })

  it('keeps the cursor on the same process when a refresh reorders the rows', () => {
    let s = run(loadedState(), { type: 'move', delta: 1 }).state
    assert.equal(selectedRow(s)?.proc.pid, 22)
    const hotter = sampleProcesses().map(p => p.pid === 22 ? { ...p, cpuPercent: 99 } : p)
    s = run(s, { type: 'procs', entries: [psEntry(SELF, hotter)] }).state
    assert.equal(s.procCursor, 0)
    assert.equal(selectedRow(s)?.proc.pid, 22)
  })

  it('falls back to the same position when the selected process exits', () => {
    let s = run(loadedState(), { type: 'move', delta: 6 }).state
    assert.equal(selectedRow(s)?.proc.pid, 1)
    s = run(s, { type: 'procs', entries: [psEntry(SELF, sampleProcesses().filter(p => p.pid !== 1 && p.pid !== 10))] }).state
    assert.equal(s.procCursor, 4, 'clamped to the new last row')
  })

  it('scrolls to keep the cursor visible in a small terminal', () => {
    let s = run(loadedState(), { type: 'resize', cols: 80, rows: 14 }).state
    s = run(s, { type: 'jump', to: 'last' }).state
    assert.ok(s.procScroll > 0)
    assert.ok(s.procCursor >= s.procScroll)
    s = run(s, { type: 'jump', to: 'first' }).state
    assert.equal(s.procScroll, 0)
  })

  it('Tab cycles the panes, including details only while open', () => {
    let s = loadedState()
    assert.equal(s.focus, 'procs')
    s = run(s, { type: 'focus', dir: 1 }).state
    assert.equal(s.focus, 'hosts')
    s = run(s, { type: 'focus', dir: 1 }, { type: 'enter' }).state
    assert.ok(s.details !== undefined)
    s = run(s, { type: 'focus', dir: 1 }).state
    assert.equal(s.focus, 'details')
    s = run(s, { type: 'back' }).state
    assert.equal(s.details, undefined)
    assert.equal(s.focus, 'procs')
  })
})

describe('filter', () => {
  it('narrows as it is typed; Enter keeps it, Esc restores the previous one', () => {
    let s = run(loadedState(), { type: 'openFilter' }, ...type('NGI')).state
    assert.deepEqual(pids(s), [21, 22, 20], 'case-insensitive, name and command')
    s = run(s, { type: 'submit' }).state
    assert.equal(s.modal, undefined)
    assert.equal(s.filter, 'NGI')
    s = run(s, { type: 'openFilter' }, { type: 'inputErase', what: 'all' }, ...type('vim')).state
    assert.deepEqual(pids(s), [12])
    s = run(s, { type: 'cancel' }).state
    assert.equal(s.filter, 'NGI')
  })

  it('matches the user too, and backspace widens again', () => {
    let s = run(loadedState(), { type: 'openFilter' }, ...type('roots')).state
    assert.deepEqual(pids(s), [])
    s = run(s, { type: 'inputErase', what: 'char' }).state
    assert.deepEqual(pids(s), [10, 1])
  })

  it('keeps ancestors of matches in the tree view', () => {
    const s = run(loadedState(), { type: 'toggleTree' }, { type: 'openFilter' }, ...type('vim')).state
    assert.deepEqual(pids(s), [1, 10, 11, 12])
  })

  it('Esc outside the prompt clears it', () => {
    const s = run(loadedState(), { type: 'openFilter' }, ...type('vim'), { type: 'submit' }, { type: 'back' }).state
    assert.equal(s.filter, '')
    assert.equal(pids(s).length, 7)
  })
})

describe('sort', () => {
  it('sorts by pid, name, memory; the same key again reverses; r reverses', () => {
    let s = run(loadedState(), { type: 'sort', key: 'pid' }).state
    assert.deepEqual(pids(s), [1, 10, 11, 12, 20, 21, 22])
    s = run(s, { type: 'sort', key: 'pid' }).state
    assert.deepEqual(pids(s), [22, 21, 20, 12, 11, 10, 1])
    s = run(s, { type: 'sort', key: 'mem' }).state
    assert.equal(s.reverse, false)
    assert.deepEqual(pids(s), [21, 22, 20, 12, 1, 10, 11])
    s = run(s, { type: 'reverse' }).state
    assert.deepEqual(pids(s), [11, 10, 1, 12, 20, 22, 21])
    s = run(s, { type: 'sort', key: 'name' }).state
    assert.deepEqual(pids(s).slice(0, 2), [11, 1])
  })
})

describe('tree view and folding', () => {
  it('shows the tree with siblings sorted by subtree CPU', () => {
    const s = run(loadedState(), { type: 'toggleTree' }).state
    assert.equal(s.tree, true)
    assert.deepEqual(pids(s), [1, 20, 21, 22, 10, 11, 12])
    const rows = selectRows(s)
    assert.equal(rows[0].prefix, '')
    assert.equal(rows[1].prefix, '├─')
    assert.equal(rows[2].prefix, '│ ├─')
    assert.equal(Math.round(rows[1].subtreeCpu), 65)
  })

  it('- folds the branch, + unfolds it; - on a leaf folds its parent and moves there', () => {
    let s = run(loadedState(), { type: 'toggleTree' }, { type: 'jump', to: 'first' }, { type: 'move', delta: 1 }).state
    assert.equal(selectedRow(s)?.proc.pid, 20)
    s = run(s, { type: 'fold', open: false }).state
    assert.deepEqual(pids(s), [1, 20, 10, 11, 12])
    assert.equal(selectRows(s)[1].folded, true)
    s = run(s, { type: 'fold', open: true }).state
    assert.deepEqual(pids(s), [1, 20, 21, 22, 10, 11, 12])
    s = run(s, { type: 'jump', to: 'last' }).state
    assert.equal(selectedRow(s)?.proc.pid, 12)
    s = run(s, { type: 'fold', open: false }).state
    assert.deepEqual(pids(s), [1, 20, 21, 22, 10, 11])
    assert.equal(selectedRow(s)?.proc.pid, 11)
  })

  it('folds per host and survives a refresh', () => {
    let s = run(loadedState(), { type: 'toggleTree' }, { type: 'jump', to: 'first' }, { type: 'move', delta: 1 }, { type: 'fold', open: false }).state
    s = run(s, { type: 'procs', entries: [psEntry(SELF, sampleProcesses())] }).state
    assert.deepEqual(pids(s), [1, 20, 10, 11, 12])
    assert.ok(s.folded[SELF.peerId]?.has(20))
    assert.equal(s.folded[BETA.peerId], undefined)
  })

  it('asks for the tree view when folding a flat list', () => {
    const s = run(loadedState(), { type: 'fold', open: false }).state
    assert.equal(s.status?.level, 'error')
    assert.match(s.status?.text ?? '', /tree view/)
  })

  it('back to flat keeps the selection', () => {
    let s = run(loadedState(), { type: 'toggleTree' }, { type: 'jump', to: 'last' }).state
    s = run(s, { type: 'toggleTree' }).state
    assert.equal(selectedRow(s)?.proc.pid, 12)
  })
})

describe('mesh-wide mode', () => {
  it('lists every host with its name, and the filter finds a process everywhere', () => {
    let s = run(loadedState(), { type: 'toggleMeshWide' }).state
    assert.equal(psTarget(s), 'all')
    s = run(s, { type: 'procs', entries: [psEntry(SELF, sampleProcesses()), psEntry(BETA, [proc(7, 1, 'nginx', { cpuPercent: 30 }), proc(8, 1, 'redis')])] }).state
    assert.equal(selectRows(s).length, 9)
    s = run(s, { type: 'openFilter' }, ...type('nginx'), { type: 'submit' }).state
    const rows = selectRows(s)
    assert.deepEqual(rows.map(r => `${r.hostName}:${r.proc.pid}`), ['alpha:21', 'beta:7', 'alpha:22', 'alpha:20'])
    s = run(s, { type: 'toggleMeshWide' }).state
    assert.equal(psTarget(s), SELF.peerId)
    assert.deepEqual(pids(s), [21, 22, 20])
  })

  it('drops hosts that a complete fan-out no longer answers for', () => {
    let s = run(loadedState(), { type: 'toggleMeshWide' }, { type: 'procs', entries: [psEntry(BETA, [proc(7, 1, 'x')])] }).state
    assert.deepEqual(Object.keys(s.procs).sort(), [SELF.peerId, BETA.peerId].sort())
    s = run(s, { type: 'procs', entries: [], only: [BETA.peerId] }).state
    assert.deepEqual(Object.keys(s.procs), [BETA.peerId])
  })

  it('keeps the identity of the process map when nothing changed', () => {
    const s = loadedState()
    const next = reduce(s, { type: 'procs', entries: [], only: [SELF.peerId] }).state
    assert.equal(next, s)
  })
})

describe('stop: picker, confirmation, effect', () => {
  it('k -> signal picker -> Enter -> confirmation naming host and process -> y emits the kill with pid and start time', () => {
    let step = run(loadedState(), { type: 'askStop' })
    assert.equal(step.state.modal?.kind, 'signal')
    assert.deepEqual(step.effects, [])
    step = run(step.state, { type: 'pick', delta: 1 }, { type: 'toggleSubtree' }, { type: 'submit' })
    const m = step.state.modal
    assert.ok(m !== undefined && m.kind === 'confirm')
    assert.equal(m.signal, 'KILL')
    assert.equal(m.target.hostName, 'alpha')
    assert.equal(m.target.pid, 21)
    assert.deepEqual(step.effects, [], 'nothing is sent before the confirmation')
    step = run(step.state, { type: 'confirm' })
    assert.equal(step.state.modal, undefined)
    assert.deepEqual(step.effects, [{
      kind: 'kill',
      signal: 'KILL',
      tree: true,
      target: { peerId: SELF.peerId, hostName: 'alpha', pid: 21, startTime: T0 - 60_000, name: 'nginx', cmd: 'nginx: worker process', managedId: undefined }
    }])
  })

  it('digits choose a signal directly', () => {
    const s = run(loadedState(), { type: 'askStop' }, { type: 'pickIndex', index: 3 }).state
    assert.ok(s.modal?.kind === 'confirm' && s.modal.signal === SIGNALS[3])
  })

  it('Esc cancels at the picker and at the confirmation, with no effect', () => {
    const a = run(loadedState(), { type: 'askStop' }, { type: 'cancel' })
    assert.equal(a.state.modal, undefined)
    assert.deepEqual(a.effects, [])
    const b = run(loadedState(), { type: 'askStop' }, { type: 'submit' }, { type: 'cancel' })
    assert.equal(b.state.modal, undefined)
    assert.deepEqual(b.effects, [])
    assert.match(b.state.status?.text ?? '', /cancelled/)
  })

  it('the target is the process seen when k was pressed, even if the list moves under the dialog', () => {
    let s = run(loadedState(), { type: 'askStop' }).state
    s = run(s, { type: 'procs', entries: [psEntry(SELF, sampleProcesses().map(p => p.pid === 12 ? { ...p, cpuPercent: 99 } : p))] }).state
    const step = run(s, { type: 'submit' }, { type: 'confirm' })
    assert.equal(step.effects.length, 1)
    const e = step.effects[0]
    assert.ok(e.kind === 'kill' && e.target.pid === 21)
  })

  it('needs a process: from the hosts pane it says so', () => {
    const s = run(loadedState(), { type: 'focus', dir: 1 }, { type: 'askStop' }).state
    assert.equal(s.modal, undefined)
    assert.equal(s.status?.level, 'error')
  })

  it('never emits a kill unless the confirmation was open and confirmed (random walks)', () => {
    const actions: Action[] = [
      { type: 'move', delta: 1 }, { type: 'move', delta: -1 }, { type: 'page', dir: 1 }, { type: 'jump', to: 'last' },
      { type: 'focus', dir: 1 }, { type: 'enter' }, { type: 'back' }, { type: 'openFilter' }, { type: 'toggleTree' },
      { type: 'fold', open: false }, { type: 'fold', open: true }, { type: 'sort', key: 'mem' }, { type: 'reverse' },
      { type: 'askStop' }, { type: 'askStart' }, { type: 'logs' }, { type: 'toggleMeshWide' }, { type: 'toggleHelp' },
      { type: 'inputChar', ch: 'y' }, { type: 'inputErase', what: 'char' }, { type: 'submit' }, { type: 'cancel' },
      { type: 'pick', delta: 1 }, { type: 'pickIndex', index: 1 }, { type: 'toggleSubtree' }, { type: 'confirm' },
      { type: 'procs', entries: [psEntry(SELF, sampleProcesses())] }, { type: 'peers', peers: [SELF, BETA] }
    ]
    let seed = 42
    // the low bits of this LCG cycle quickly; the high ones are usable
    const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return Math.floor(seed / 65536) % n }
    let kills = 0
    for (let walk = 0; walk < 200; walk++) {
      let s = loadedState()
      for (let i = 0; i < 60; i++) {
        const a = actions[rand(actions.length)]
        const before = s
        const step = reduce(s, a)
        for (const e of step.effects) {
          if (e.kind !== 'kill') continue
          kills++
          assert.equal(before.modal?.kind, 'confirm', `kill emitted from ${before.modal?.kind ?? 'no modal'} by ${a.type}`)
          assert.equal(a.type, 'confirm')
        }
        s = step.state
      }
    }
    assert.ok(kills > 0, 'the walk reached the confirmation at least once')
  })
})

describe('start prompt', () => {
  it('x -> argv split like a shell, no shell -> run effect on the selected host', () => {
    const step = run(loadedState(), { type: 'askStart' }, ...type("sleep '60'  \"a b\""), { type: 'submit' })
    assert.equal(step.state.modal, undefined)
    assert.deepEqual(step.effects, [{ kind: 'run', peerId: SELF.peerId, hostName: 'alpha', argv: ['sleep', '60', 'a b'] }])
  })

  it('keeps the prompt open with the error on a bad quote or an empty line', () => {
    let s = run(loadedState(), { type: 'askStart' }, ...type("echo 'x"), { type: 'submit' }).state
    assert.ok(s.modal?.kind === 'start' && /unterminated/.test(s.modal.error ?? ''))
    s = run(s, { type: 'inputErase', what: 'all' }, { type: 'submit' }).state
    assert.ok(s.modal?.kind === 'start' && /type a command/.test(s.modal.error ?? ''))
  })

  it('warns once about shell operators, then runs them as plain arguments', () => {
    let step = run(loadedState(), { type: 'askStart' }, ...type('ls | wc'), { type: 'submit' })
    assert.deepEqual(step.effects, [])
    assert.ok(step.state.modal?.kind === 'start' && /no shell/.test(step.state.modal.error ?? ''))
    step = run(step.state, { type: 'submit' })
    assert.deepEqual(step.effects, [{ kind: 'run', peerId: SELF.peerId, hostName: 'alpha', argv: ['ls', '|', 'wc'] }])
  })

  it('refuses an offline host, and q is text inside the prompt', () => {
    const offline = run(initialState({ now: T0, cols: 160, rows: 45 }), { type: 'peers', peers: [peer('gone', { self: true, status: 'offline' })] }, { type: 'askStart' }).state
    assert.equal(offline.modal, undefined)
    assert.match(offline.status?.text ?? '', /offline/)
    const s = run(loadedState(), { type: 'askStart' }, ...type('q')).state
    assert.ok(s.modal?.kind === 'start' && s.modal.draft === 'q')
    assert.equal(s.quitting, false)
  })
})

describe('details and logs', () => {
  function withManaged (): State {
    const managed = proc(30, 1, 'worker', { cpuPercent: 90, managedId: 'm1', startedBy: 'bob' })
    // the new process tops the CPU sort; jump there (the cursor otherwise stays on its process)
    return run(loadedState(), { type: 'procs', entries: [psEntry(SELF, [...sampleProcesses(), managed])] }, { type: 'jump', to: 'first' }).state
  }

  it('Enter opens the details of an unmanaged process without logs; again closes', () => {
    let step = run(loadedState(), { type: 'enter' })
    assert.equal(step.state.details?.target.pid, 21)
    assert.equal(step.state.details?.logs, undefined)
    assert.deepEqual(step.effects, [])
    step = run(step.state, { type: 'enter' })
    assert.equal(step.state.details, undefined)
  })

  it('Enter on a managed process follows its logs; closing stops them', () => {
    let step = run(withManaged(), { type: 'enter' })
    assert.deepEqual(step.effects, [{ kind: 'followLogs', peerId: SELF.peerId, hostName: 'alpha', managedId: 'm1' }])
    step = run(step.state, { type: 'back' })
    assert.deepEqual(step.effects, [{ kind: 'stopLogs' }])
  })

  it('R asks first, then restarts a managed process by its id; n sends nothing; an unmanaged one cannot be', () => {
    const asked = run(withManaged(), { type: 'restart' })
    assert.deepEqual(asked.effects, [], 'nothing before the confirmation')
    assert.equal(asked.state.modal?.kind, 'confirmRestart')
    const step = run(asked.state, { type: 'confirm' })
    assert.deepEqual(step.effects, [{ kind: 'restart', peerId: SELF.peerId, hostName: SELF.name, managedId: 'm1', name: 'worker' }])
    assert.match(step.state.status?.text ?? '', /restarting worker \(m1\)/)
    const no = run(asked.state, { type: 'cancel' })
    assert.deepEqual(no.effects, [])
    assert.equal(no.state.modal, undefined)
    const refused = run(loadedState(), { type: 'restart' })
    assert.deepEqual(refused.effects, [])
    assert.match(refused.state.status?.text ?? '', /not started through procmesh: only managed processes can be restarted/)
  })

  it('l on an unmanaged process explains why there are no logs', () => {
    const s = run(loadedState(), { type: 'logs' }).state
    assert.equal(s.details, undefined)
    assert.match(s.status?.text ?? '', /not started through procmesh/)
  })

  it('l focuses the logs; chunks become lines, partial lines wait, other ids are ignored', () => {
    let s = run(withManaged(), { type: 'logs' }).state
    assert.equal(s.focus, 'details')
    s = run(s,
      { type: 'logData', managedId: 'm1', data: 'one\ntw' },
      { type: 'logData', managedId: 'm1', data: 'o\r\nthree\n' },
      { type: 'logData', managedId: 'other', data: 'nope\n' }
    ).state
    assert.deepEqual(s.details?.logs?.lines, ['one', 'two', 'three'])
    s = run(s, { type: 'move', delta: -1 }).state
    assert.equal(s.details?.logs?.scroll, 1, 'up scrolls back')
    s = run(s, { type: 'logEnd', managedId: 'm1', text: 'process exited with code 0' }).state
    assert.equal(s.details?.logs?.ended, 'process exited with code 0')
  })

  it('marks the process gone when its host no longer lists it', () => {
    let s = run(loadedState(), { type: 'enter' }).state
    s = run(s, { type: 'procs', entries: [psEntry(SELF, sampleProcesses().filter(p => p.pid !== 21))] }).state
    assert.equal(s.details?.gone, true)
  })
})

describe('data under modals, help, quit, errors', () => {
  it('data keeps flowing while a dialog is open; keys outside it are swallowed', () => {
    let s = run(loadedState(), { type: 'toggleHelp' }).state
    s = run(s, { type: 'procs', entries: [psEntry(SELF, [proc(99, 1, 'new')])] }, { type: 'move', delta: 1 }, { type: 'askStop' }).state
    assert.deepEqual(pids(s), [99])
    assert.equal(s.modal?.kind, 'help')
    s = run(s, { type: 'toggleHelp' }).state
    assert.equal(s.modal, undefined)
  })

  it('quit works from anywhere, modal or not', () => {
    for (const opener of [undefined, { type: 'toggleHelp' }, { type: 'openFilter' }, { type: 'askStop' }, { type: 'askStart' }] as Array<Action | undefined>) {
      const s = opener !== undefined ? run(loadedState(), opener).state : loadedState()
      const step = reduce(s, { type: 'quit' })
      assert.deepEqual(step.effects, [{ kind: 'quit' } satisfies Effect])
      assert.equal(step.state.quitting, true)
    }
  })

  it('a host error keeps the last list and records the error', () => {
    const s = run(loadedState(), { type: 'procs', entries: [{ peerId: SELF.peerId, name: 'alpha', error: { code: 'TIMEOUT', message: 'no answer' } }] }).state
    assert.equal(pids(s).length, 7)
    assert.equal(s.procs[SELF.peerId].error?.code, 'TIMEOUT')
  })

  it('tracks the connection and the clock', () => {
    const s = run(loadedState(), { type: 'connection', state: 'down', note: 'node restarting…' }, { type: 'tick', now: T0 + 5000 }).state
    assert.equal(s.connection, 'down')
    assert.equal(s.now, T0 + 5000)
  })

  it('merges history points with the samples from peers', () => {
    let s = run(loadedState(), { type: 'history', entries: [{ peerId: SELF.peerId, points: [{ at: T0 - 20_000, cpu: 5 }, { at: T0 - 10_000, cpu: 7 }] }] }).state
    assert.deepEqual(s.cpuTrail[SELF.peerId].map(p => p.cpu), [5, 7, 10])
    s = run(s, { type: 'peers', peers: [{ ...SELF, lastSeen: T0 + 2000, host: { ...SELF.host, cpuPercent: 50 } }, BETA] }).state
    assert.deepEqual(s.cpuTrail[SELF.peerId].map(p => p.cpu), [5, 7, 10, 50])
  })
})

describe('psTop: mesh-wide asks each host for a screenful only when the order allows it', () => {
  it('flat, by CPU or memory: the first MESH_WIDE_TOP_N; tree, other keys, reversed: everything', () => {
    const s = initialState({ now: T0, cols: 160, rows: 45 })
    assert.equal(psTop(s), undefined)
    const wide = { ...s, meshWide: true }
    assert.deepEqual(psTop(wide), { by: 'cpu', n: MESH_WIDE_TOP_N })
    assert.deepEqual(psTop({ ...wide, sort: 'mem' }), { by: 'mem', n: MESH_WIDE_TOP_N })
    assert.equal(psTop({ ...wide, tree: true }), undefined)
    assert.equal(psTop({ ...wide, sort: 'pid' }), undefined)
    assert.equal(psTop({ ...wide, reverse: true }), undefined)
  })
})

describe('stop a marked selection (mesh-wide)', () => {
  it('v marks across hosts, k asks once, y stops each marked process by pid and start time, marks cleared', () => {
    let s = run(loadedState(), { type: 'toggleMeshWide' }, { type: 'procs', entries: [psEntry(SELF, sampleProcesses()), psEntry(BETA, [proc(7, 1, 'redis'), proc(8, 1, 'worker')])] }).state
    const rows = selectRows(s)
    const wanted = [rows[0], rows[1], rows.find(r => r.peerId === BETA.peerId)]
    assert.ok(wanted.every(r => r !== undefined))
    // mark the first two rows (v moves down), then the beta row
    s = run(s, { type: 'toggleMark' }, { type: 'toggleMark' }).state
    const betaIndex = selectRows(s).findIndex(r => r.peerId === BETA.peerId)
    s = run(s, { type: 'move', delta: betaIndex - s.procCursor }, { type: 'toggleMark' }).state
    assert.equal(Object.keys(s.marked).length, 3)
    assert.match(s.status?.text ?? '', /3 marked/)
    let step = run(s, { type: 'askStop' })
    assert.equal(step.state.modal?.kind, 'signal')
    step = run(step.state, { type: 'submit' })
    const m = step.state.modal
    assert.ok(m !== undefined && m.kind === 'confirm' && (m.others ?? []).length === 2)
    assert.deepEqual(step.effects, [], 'nothing is sent before the confirmation')
    step = run(step.state, { type: 'confirm' })
    assert.deepEqual(step.effects.map(e => e.kind === 'kill' ? [e.target.hostName, e.target.pid, e.target.startTime, e.signal] : e.kind).sort(),
      wanted.map(r => [r?.hostName, r?.proc.pid, r?.proc.startTime, 'TERM']).sort())
    assert.deepEqual(step.state.marked, {})
    assert.match(step.state.status?.text ?? '', /SIGTERM to 3 processes on 2 hosts/)
  })

  it('v again unmarks; V clears; Esc at the confirmation sends nothing and keeps the marks', () => {
    let s = run(loadedState(), { type: 'toggleMark' }).state
    assert.equal(Object.keys(s.marked).length, 1)
    s = run(s, { type: 'move', delta: -1 }, { type: 'toggleMark' }).state
    assert.equal(Object.keys(s.marked).length, 0)
    s = run(s, { type: 'move', delta: -1 }, { type: 'toggleMark' }, { type: 'toggleMark' }).state
    const cancelled = run(s, { type: 'askStop' }, { type: 'submit' }, { type: 'cancel' })
    assert.deepEqual(cancelled.effects, [])
    assert.equal(Object.keys(cancelled.state.marked).length, 2)
    assert.deepEqual(run(s, { type: 'clearMarks' }).state.marked, {})
  })
})
