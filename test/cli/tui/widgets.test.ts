import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { formatStart } from '../../../cli/format.js'
import { computeLayout } from '../../../cli/tui/layout.js'
import { parentChain } from '../../../cli/tui/rows.js'
import { selectRows, type State } from '../../../cli/tui/state.js'
import { bar, sparkline } from '../../../cli/tui/widgets/charts.js'
import { detailsLines } from '../../../cli/tui/widgets/details.js'
import { dialogFor, selectionLines } from '../../../cli/tui/widgets/dialogs.js'
import { statusText } from '../../../cli/tui/widgets/footer.js'
import { ASCII_GLYPHS, UNICODE_GLYPHS } from '../../../cli/tui/widgets/glyphs.js'
import { headerText, meshTotals } from '../../../cli/tui/widgets/header.js'
import { formatLoad, hostLines, hostState } from '../../../cli/tui/widgets/hosts.js'
import { procLines, shortStarter, startCell } from '../../../cli/tui/widgets/procs.js'
import { esc, fit, fitColumns, sanitize, stripTags, type Column } from '../../../cli/tui/widgets/text.js'
import { BETA, SELF, T0, loadedState, peer, proc, psEntry, run, sampleProcesses } from './fixtures.js'

const U = UNICODE_GLYPHS

describe('bar', () => {
  const cases: Array<[number, number, string]> = [
    [0, 10, '          '],
    [100, 10, '██████████'],
    [50, 10, '█████     '],
    [55, 10, '█████▌    '],
    [150, 4, '████'],
    [-5, 4, '    '],
    [Number.NaN, 3, '   ']
  ]
  for (const [pct, width, out] of cases) it(`${pct}% over ${width}`, () => { assert.equal(bar(pct, width, U), out) })
  it('has an ASCII form', () => { assert.equal(bar(50, 4, ASCII_GLYPHS), '##  ') })
})

describe('sparkline', () => {
  const window = 80_000
  it('puts samples in time buckets, oldest left, blank where there is none', () => {
    const trail = [{ at: T0 - 75_000, cpu: 0 }, { at: T0 - 5_000, cpu: 100 }, { at: T0 - 35_000, cpu: 50 }]
    assert.equal(sparkline(trail, T0, 8, U, window), '▁   ▅  █')
  })
  it('averages a bucket and ignores samples outside the window', () => {
    const trail = [{ at: T0 - 1000, cpu: 0 }, { at: T0 - 2000, cpu: 100 }, { at: T0 - 999_999, cpu: 100 }, { at: T0 + 10_000, cpu: 100 }]
    assert.equal(sparkline(trail, T0, 4, U, window), '   ▅')
  })
  it('is exactly `width` wide, empty without samples', () => {
    assert.equal(sparkline([], T0, 5, U), '     ')
    assert.equal(sparkline([{ at: T0, cpu: 20 }], T0, 0, U), '')
  })
})

describe('text primitives', () => {
  it('fit cuts with an ellipsis and pads', () => {
    assert.equal(fit('abcdef', 4), 'abc…')
    assert.equal(fit('ab', 4), 'ab  ')
    assert.equal(fit('ab', 4, 'right'), '  ab')
    assert.equal(fit('ab', 0), '')
    assert.equal(fit('ééé', 2), 'é…')
  })
  it('sanitize removes terminal escapes and control characters from remote text', () => {
    assert.equal(sanitize('evil\u001b[2J\u001b[31mred\u001b]0;title\u0007!'), 'evilred!')
    assert.equal(sanitize('a\u0000b\nc\td\u009b'), 'a?b?c d?')
  })
  it('startCell matches procmesh ps\'s START column', () => {
    for (const ms of [T0 - 60_000, T0 - 3 * 86_400_000, T0 - 200 * 86_400_000, Date.UTC(2026, 0, 5, 3, 4)]) {
      assert.equal(startCell(ms, T0), formatStart(ms, T0))
    }
  })
  it('esc and stripTags round-trip braces', () => {
    const text = 'cmd {with} braces'
    assert.equal(stripTags(`{bold}${esc(text)}{/bold}`), text)
  })
  it('fitColumns drops the lowest priorities first and gives the rest to the flex column', () => {
    const cols: Array<Column<number>> = [
      { header: 'A', width: 10, priority: 3, cell: () => '' },
      { header: 'B', width: 10, priority: 1, cell: () => '' },
      { header: 'C', width: 10, priority: 2, flex: true, cell: () => '' }
    ]
    assert.deepEqual(fitColumns(cols, 40).map(c => `${c.header}${c.size}`), ['A10', 'B10', 'C18'])
    assert.deepEqual(fitColumns(cols, 25).map(c => `${c.header}${c.size}`), ['A10', 'C14'])
  })
})

describe('header', () => {
  it('shows mesh size, mesh-wide CPU and memory, the node name and the time', () => {
    const s = run(loadedState(), { type: 'peers', peers: [SELF, BETA, peer('gamma', { status: 'offline' })] }).state
    const text = stripTags(headerText(s, 160, U))
    assert.match(text, /node alpha/)
    assert.match(text, /mesh 2\/3 online/)
    assert.match(text, /CPU 40\.0%/, 'cores-weighted mean of online hosts (10% and 70%, 4 cores each)')
    assert.match(text, /MEM 4\.0G\/16\.0G/)
    assert.match(text, /\d\d:\d\d:\d\d$/)
    assert.equal(text.length, 160)
  })
  it('says when the node is restarting', () => {
    const s = run(loadedState(), { type: 'connection', state: 'down', note: 'node restarting… reconnecting' }).state
    assert.match(stripTags(headerText(s, 160, U)), /node restarting… reconnecting/)
  })
  it('meshTotals ignores offline hosts', () => {
    const t = meshTotals([SELF, peer('gone', { status: 'offline' })])
    assert.equal(t.total, 2)
    assert.equal(t.online, 1)
    assert.equal(t.memTotal, SELF.host.memTotal)
  })
})

describe('hosts pane', () => {
  it('does not show a member this node cannot reach as plainly online; says when it is relayed', () => {
    const s = run(loadedState(), { type: 'peers', peers: [SELF, peer('beta', { reach: 'unreachable' }), peer('gamma', { reach: 'relayed' }), peer('delta', { reach: 'direct' })] }).state
    const lines = hostLines(s, 158, 10, U, true)
    const text = lines.map(stripTags)
    assert.match(text.find(l => l.includes('beta')) ?? '', /^◐ no route +beta/)
    assert.match(lines.find(l => l.includes('beta')) ?? '', /\{yellow-fg\}◐ no route/)
    assert.match(text.find(l => l.includes('gamma')) ?? '', /^● relayed +gamma/)
    assert.match(text.find(l => l.includes('delta')) ?? '', /^● online +delta/)
    assert.deepEqual(hostState(peer('x', { status: 'offline', reach: 'unreachable' })).label, 'offline')
    assert.match(headerText(s, 200, U), /mesh 3\/4 online/)
  })

  it('shows status visibly, CPU with a bar, memory, procs, load, tags, last seen, sparkline', () => {
    const tagged = peer('beta', { status: 'stale', tags: { zone: 'b' }, lastSeen: T0 - 30_000 })
    const s = run(loadedState(), { type: 'peers', peers: [SELF, tagged, peer('gamma', { status: 'offline' })] }).state
    const lines = hostLines(s, 158, 10, U, true)
    const text = lines.map(stripTags)
    assert.match(text[0], /STATUS +NAME +CPU% +MEM +PROCS +LOAD +SEEN +CPU 8m +UP +TAGS/)
    assert.match(text[1], /^● online +alpha \* +10\.0 +█ +2\.0G\/8\.0G +3 0\.50 0\.40 0\.30 now/)
    assert.match(text[2], /^◐ stale +beta .* 30s ago .*zone=b/)
    assert.match(text[3], /^○ offline +gamma/)
    assert.match(lines[1], /\{green-fg\}● online/)
    assert.match(lines[2], /\{yellow-fg\}◐ stale/)
    assert.match(lines[3], /\{red-fg\}○ offline/)
    assert.match(lines[1], /^\{inverse\}/, 'the selected host is highlighted')
    for (const l of text) assert.ok(l.length <= 158)
  })
})

describe('processes pane', () => {
  it('has the columns of the issue, aligned to the width', () => {
    const s = loadedState()
    const lines = procLines(s, selectRows(s), 120, 20, U, true).map(stripTags)
    assert.match(lines[0], /^ +PID USER +CPU% +RSS S START +COMMAND/)
    assert.match(lines[1], /^ +21 www +40\.0 +50\.0M S \d\d:\d\d +nginx: worker process/)
    for (const l of lines) assert.equal(l.length, 120)
  })

  it('adds HOST in mesh-wide mode and marks managed processes with a marker and their name', () => {
    const managed = proc(30, 1, 'job', { managedId: 'm7', startedBy: 'ops-laptop', cpuPercent: 99, managedName: 'batch' })
    const s: State = run(loadedState(), { type: 'toggleMeshWide' }, { type: 'procs', entries: [psEntry(SELF, [managed]), psEntry(BETA, [proc(5, 1, 'redis')])] }).state
    const lines = procLines(s, selectRows(s), 140, 20, U, true).map(stripTags)
    assert.match(lines[0], /^HOST +PID USER/)
    assert.match(lines[1], /^alpha +30 .* ◆batch \/usr\/bin\/job/)
    assert.doesNotMatch(lines[1], /m7|ops-laptop/, 'the id and who started it are in the details pane')
    assert.match(lines[2], /^beta +5 /)
  })

  it('shows tree glyphs, subtree totals and folded counts in the tree view', () => {
    const s = run(loadedState(), { type: 'toggleTree' }, { type: 'jump', to: 'first' }, { type: 'move', delta: 1 }, { type: 'fold', open: false }).state
    const lines = procLines(s, selectRows(s), 120, 20, U, true).map(stripTags)
    assert.match(lines[0], /ΣCPU% +ΣRSS/)
    assert.match(lines[2], /^ +20 www +5\.0 +30\.0M +65\.0 +120M S .* ├─ \[\+2\] nginx: master process/)
    const ascii = procLines(s, selectRows(s), 120, 20, ASCII_GLYPHS, true).map(stripTags)
    assert.match(ascii[2], /\|- \[\+2\] nginx/)
  })

  it('explains an empty list and a failing host', () => {
    const empty = run(loadedState(), { type: 'openFilter' }, { type: 'inputChar', ch: 'Q' }, { type: 'inputChar', ch: 'Z' }).state
    assert.match(stripTags(procLines(empty, selectRows(empty), 100, 10, U, true)[1]), /nothing matches "QZ"/)
    const failed = run(loadedState(), { type: 'procs', entries: [{ peerId: SELF.peerId, name: 'alpha', error: { code: 'FORBIDDEN', message: 'forbidden: missing role read' } }] }).state
    assert.match(stripTags(procLines(failed, selectRows(failed), 100, 10, U, true)[1]), /alpha: forbidden: missing role read/)
  })

  it('names who started a managed process briefly', () => {
    assert.equal(shortStarter('ops-laptop (12D3KooWEuJGpHVWfrJuBjP56SGXe5rxqR6g2ibgk6jqhFvwNSyz)'), 'ops-laptop')
    assert.equal(shortStarter('12D3KooWEuJGpHVWfrJuBjP56SGXe5rxqR6g2ibgk6jqhFvwNSyz'), '12D3Ko…NSyz')
    assert.equal(shortStarter('alice'), 'alice')
  })

  it('draws a hostile process name harmlessly', () => {
    const evil = proc(66, 1, 'x', { cmd: 'x\u001b[2J{red-fg}boom{/red-fg}', cpuPercent: 100 })
    const s = run(loadedState(), { type: 'procs', entries: [psEntry(SELF, [evil])] }).state
    const line = procLines(s, selectRows(s), 100, 10, U, true)[1]
    assert.ok(!line.includes('\u001b'))
    assert.match(stripTags(line), /x\{red-fg\}boom\{\/red-fg\}/)
  })

  it('keeps the cursor row on screen', () => {
    const many = Array.from({ length: 50 }, (_, i) => proc(100 + i, 1, `p${i}`))
    const s = run(loadedState(), { type: 'resize', cols: 100, rows: 20 }, { type: 'procs', entries: [psEntry(SELF, many)] }, { type: 'sort', key: 'pid' }, { type: 'jump', to: 'last' }).state
    const visible = computeLayout(100, 20, s.hosts.length, false).procRows
    const lines = procLines(s, selectRows(s), 98, visible, U, true)
    assert.equal(lines.length, visible + 1)
    assert.match(lines[lines.length - 1], /^\{inverse\} +149 /)
  })
})

describe('details, status line, dialogs', () => {
  it('details: full command line, times, parent chain, logs', () => {
    const managed = proc(30, 12, 'job', { managedId: 'm7', startedBy: 'ops', cmd: 'job ' + 'x'.repeat(150) })
    const s = run(loadedState(), { type: 'procs', entries: [psEntry(SELF, [...sampleProcesses(), managed])] }, { type: 'jump', to: 'first' }, { type: 'sort', key: 'pid' }, { type: 'jump', to: 'last' }, { type: 'logs' },
      { type: 'logData', managedId: 'm7', data: 'hello\nworld\n' }).state
    const d = s.details
    assert.ok(d !== undefined)
    const parents = parentChain(s.procs[SELF.peerId].processes, 30)
    assert.deepEqual(parents.map(p => p.pid), [12, 11, 10, 1])
    const lines = detailsLines(d, parents, T0, 80, 14).map(stripTags)
    assert.match(lines[0], /^PID 30 +PPID 12 +USER alice/)
    assert.match(lines[1], /started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(running 1m\) +managed m7 started by ops/)
    assert.match(lines[2], /parents: 12 vim ← 11 bash ← 10 sshd ← 1 init/)
    assert.match(lines.join('\n'), /cmd: job x+\nx+\n── logs/)
    assert.ok(lines.includes('hello') && lines.includes('world'))
    assert.ok(lines.length <= 14)
  })

  it('status line: errors in red, expiring messages, the filter prompt', () => {
    let s = run(loadedState(), { type: 'status', text: 'forbidden: missing role control', level: 'error' }).state
    assert.match(statusText(s, 100), /\{red-fg\}.*forbidden: missing role control/)
    s = run(s, { type: 'tick', now: T0 + 60_000 }).state
    assert.equal(statusText(s, 100), '')
    s = run(s, { type: 'openFilter' }, { type: 'inputChar', ch: 'n' }).state
    assert.match(stripTags(statusText(s, 100)), /^Filter: n/)
  })

  it('the confirmation names the signal, the process and the host', () => {
    const target = { peerId: 'p', hostName: 'web-1', pid: 4242, startTime: 1, name: 'nginx', cmd: 'nginx: master' }
    const d = dialogFor({ kind: 'confirm', target, signal: 'KILL', tree: true }, 100, 40)
    assert.ok(d !== undefined)
    const text = d.lines.map(stripTags).join('\n')
    assert.match(text, /Send SIGKILL to nginx \(pid 4242\) and all its children\non host web-1\?/)
    assert.match(text, /y: yes/)
  })

  it('the signal picker marks the chosen signal', () => {
    const target = { peerId: 'p', hostName: 'web-1', pid: 4242, startTime: 1, name: 'nginx', cmd: 'nginx' }
    const d = dialogFor({ kind: 'signal', target, index: 1, tree: false }, 100, 40)
    assert.ok(d !== undefined)
    assert.ok(d.lines.some(l => l.startsWith('{inverse}') && stripTags(l).includes('KILL')))
  })
})

describe('formatLoad', () => {
  it('keeps three load averages within the 14-character column', async () => {
    assert.equal(formatLoad(0.5), '0.50')
    assert.equal(formatLoad(17.643), '17.6')
    assert.equal(formatLoad(123.4), '123')
    assert.equal([17.64, 19.44, 12.79].map(formatLoad).join(' ').length, 14)
  })
})

describe('confirmation of a marked stop', () => {
  it('lists hosts and pids, one line per host, bounded', async () => {
    const ref = (host: string, pid: number): { peerId: string, hostName: string, pid: number, startTime: number, name: string, cmd: string } =>
      ({ peerId: `id-${host}`, hostName: host, pid, startTime: 1, name: 'sleep', cmd: 'sleep 60' })
    assert.deepEqual(selectionLines([ref('web1', 30), ref('web2', 7), ref('web1', 12)], 60, 10), ['web1: pid 12 30', 'web2: pid 7'])
    const many = Array.from({ length: 12 }, (_, i) => ref(`h${i}`, i + 100))
    const lines = selectionLines(many, 60, 4)
    assert.equal(lines.length, 4)
    assert.equal(lines[3], '… and 9 more on 9 more hosts')
    assert.equal(selectionLines([ref('h\u001b[31m', 1)], 60, 4)[0].includes('\u001b'), false)
  })
})
