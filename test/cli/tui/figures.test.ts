/**
 * Issue 18's figures in `procmesh top` (pure widgets): the host's fullest disk, swap, cores and
 * rates, the node's alert levels as colours and a marker, and htop's NI, THR and TIME+ columns,
 * at 160 and at 80 columns.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { HostInfo } from '../../../protocols/types.js'
import { computeLayout } from '../../../cli/tui/layout.js'
import { selectRows } from '../../../cli/tui/state.js'
import { ALERT_STYLE, hostFigureStyle, hostMarkLevel } from '../../../cli/tui/widgets/alerts.js'
import { detailsLines } from '../../../cli/tui/widgets/details.js'
import { footerText } from '../../../cli/tui/widgets/footer.js'
import { ASCII_GLYPHS, UNICODE_GLYPHS } from '../../../cli/tui/widgets/glyphs.js'
import { coreBars, diskPercent, fullestDisk, hostInfoLine, hostLines, swapCell } from '../../../cli/tui/widgets/hosts.js'
import { procLines } from '../../../cli/tui/widgets/procs.js'
import { stripTags } from '../../../cli/tui/widgets/text.js'
import { SELF, T0, loadedState, peer, proc, psEntry, run } from './fixtures.js'

const U = UNICODE_GLYPHS
const GiB = 2 ** 30

/** A Linux host's figures as a current node reports them: two filesystems, swap, two cores, rates. */
function figures (over: Partial<HostInfo> = {}): HostInfo {
  return {
    ...peer('x').host,
    cores: [20, 90],
    memAvailable: 6 * GiB,
    memCached: 3 * GiB,
    swapTotal: 2 * GiB,
    swapUsed: 512 * 2 ** 20,
    disks: [
      { mount: '/', fstype: 'ext4', total: 100 * GiB, used: 93 * GiB, avail: 7 * GiB },
      { mount: '/data', fstype: 'xfs', total: 500 * GiB, used: 100 * GiB, avail: 400 * GiB }
    ],
    io: { diskRead: 1_500_000, diskWrite: 30_000, netRx: 5_000, netTx: 2_048 },
    openFiles: 1234,
    sockets: 87,
    alerts: [{ metric: 'disk', mount: '/', level: 'critical', value: 93 }, { metric: 'cpu', level: 'careful', value: 55 }],
    ...over
  }
}

/** alpha (self, plain fixture host) and web (a disk critical alert). */
function alertState (cols = 160, rows = 45): ReturnType<typeof loadedState> {
  const web = peer('web', { host: figures() })
  return run(loadedState(), { type: 'resize', cols, rows }, { type: 'peers', peers: [SELF, web] }).state
}

function lineOf (lines: readonly string[], name: string): string {
  const l = lines.find(x => stripTags(x).includes(` ${name} `))
  assert.ok(l !== undefined, `a row for ${name} in\n${lines.map(stripTags).join('\n')}`)
  return l
}

describe('host figures', () => {
  it('df Use% rounds up like df, and the fullest filesystem is the one by Use%', () => {
    assert.equal(diskPercent({ mount: '/', fstype: 'ext4', total: 100, used: 93, avail: 7 }), 93)
    assert.equal(diskPercent({ mount: '/', fstype: 'ext4', total: 1000, used: 1, avail: 999 }), 1)
    assert.equal(diskPercent({ mount: '/', fstype: 'ext4', total: 0, used: 0, avail: 0 }), 0)
    // reserved blocks: total is larger than used + avail; df leaves them out
    assert.equal(diskPercent({ mount: '/', fstype: 'ext4', total: 105, used: 50, avail: 50 }), 50)
    assert.equal(fullestDisk(figures().disks)?.mount, '/')
    assert.equal(fullestDisk([]), undefined)
    assert.equal(fullestDisk(undefined), undefined)
  })

  it('swap: used/total, none without swap, - where the host does not say', () => {
    assert.equal(swapCell(peer('a', { host: figures() })), '512M/2.0G')
    assert.equal(swapCell(peer('a', { host: figures({ swapTotal: 0, swapUsed: 0 }) })), 'none')
    assert.equal(swapCell(peer('a')), '-')
  })

  it('cores: one glyph per core, groups (their mean) beyond the width', () => {
    assert.equal(coreBars([0, 100], 16, U), '▁█')
    assert.equal(coreBars([0, 0, 100, 100], 2, U), '▁█')
    assert.equal(coreBars([0, 100, 100, 100], 2, U), '▅█')
    assert.equal(coreBars([50], 4, ASCII_GLYPHS), '=')
    assert.equal(coreBars([], 4, U), '')
  })
})

describe('alert colours come from the node, never from the figures', () => {
  it('a level colours its figure; no alert on a node that reports alerts is green; an older node is plain', () => {
    const web = peer('web', { host: figures() })
    assert.equal(hostFigureStyle(web, 'disk', '/'), ALERT_STYLE.critical)
    assert.equal(hostFigureStyle(web, 'disk', '/data'), 'green-fg')
    assert.equal(hostFigureStyle(web, 'cpu'), ALERT_STYLE.careful)
    assert.equal(hostFigureStyle(web, 'mem'), 'green-fg')
    // 99% CPU with no alerts reported: the TUI does not judge it itself
    const old = peer('old', { host: { ...peer('old').host, cpuPercent: 99 } })
    assert.equal(hostFigureStyle(old, 'cpu'), undefined)
    assert.equal(hostMarkLevel(old), undefined)
  })

  it('the marker is for warning and critical only', () => {
    assert.equal(hostMarkLevel(peer('w', { host: figures() })), 'critical')
    assert.equal(hostMarkLevel(peer('w', { host: figures({ alerts: [{ metric: 'swap', level: 'warning', value: 75 }, { metric: 'cpu', level: 'careful', value: 55 }] }) })), 'warning')
    assert.equal(hostMarkLevel(peer('w', { host: figures({ alerts: [{ metric: 'cpu', level: 'careful', value: 55 }] }) })), undefined)
    assert.equal(hostMarkLevel(peer('w', { host: figures({ alerts: [] }) })), undefined)
  })
})

describe('hosts pane with figures', () => {
  it('at 160 columns: a host with a disk critical alert has the marker and its fullest disk in red, swap and cores', () => {
    const lines = hostLines(alertState(), 158, 10, U, false)
    const header = stripTags(lines[0])
    assert.match(header, /STATUS +NAME +CPU% .*MEM +PROCS +LOAD +SEEN +CPU 8m +DISK +SWAP +CORES/)
    const web = lineOf(lines, 'web')
    assert.match(stripTags(web), /^● online +web +10\.0 ▲ .* 93% \/ +512M\/2\.0G ▂▇/)
    assert.ok(web.includes('{red-fg}{bold}▲{/bold}{/red-fg}'), web)
    assert.ok(web.includes('{red-fg}{bold}93% /'), web)
    assert.ok(web.includes('{cyan-fg}  10.0{/cyan-fg}'), `careful CPU in cyan: ${web}`)
    // the plain fixture host reports none of these: no marker, '-' cells, no alert colour
    const alpha = stripTags(lineOf(lines, 'alpha'))
    assert.match(alpha, /^● online +alpha \* +10\.0 {3}/)
    assert.ok(!alpha.includes('▲'))
    for (const l of lines) assert.ok(stripTags(l).length <= 158)
  })

  it('at 80 columns the marker, load and sparkline stay; the new figures go first', () => {
    const lines = hostLines(alertState(80, 24), 78, 10, U, false)
    const header = stripTags(lines[0])
    assert.match(header, /STATUS +NAME +CPU% +MEM +PROCS +LOAD +CPU 8m/)
    assert.doesNotMatch(header, /DISK|SWAP|CORES/)
    const web = lineOf(lines, 'web')
    assert.match(stripTags(web), /^● online +web +10\.0 ▲ /)
    assert.ok(web.includes('{red-fg}{bold}▲'), web)
    for (const l of lines) assert.equal(stripTags(l).length <= 78, true, stripTags(l))
  })

  it('at 80 columns help and quit still show in the footer with alerts on screen', () => {
    const text = stripTags(footerText(alertState(80, 24), 80))
    assert.match(text, /\? help {2}q quit$/)
  })

  it('tall terminals get a line of the selected host\'s further figures, 80x24 does not', () => {
    assert.equal(computeLayout(160, 45, 2, false).hostInfo, true)
    assert.equal(computeLayout(80, 24, 2, false).hostInfo, false)
    // the line costs no host row: the pane is one line taller
    assert.equal(computeLayout(160, 45, 2, false).hostRows, computeLayout(160, 29, 2, false).hostRows)
    assert.equal(computeLayout(160, 45, 2, false).hosts.height, computeLayout(160, 29, 2, false).hosts.height + 1)
    let s = alertState()
    s = run(s, { type: 'focus', dir: -1 }).state
    while (s.hosts[s.hostCursor]?.name !== 'web') s = run(s, { type: 'move', delta: 1 }).state
    const lines = hostLines(s, 158, 10, U, true, true)
    const info = lines[lines.length - 1]
    const text = stripTags(info)
    assert.match(text, /^web │ cores ▂▇ │ swap 512M\/2\.0G │ avail 6\.0G cache 3\.0G │ disks \/ 93% \/data 20% │ disk r\/w 1\.4M\/s 29\.3K\/s │ net rx\/tx 4\.9K\/s 2\.0K\/s │ files 1234 │ sockets 87$/)
    assert.ok(info.includes('{red-fg}{bold}/ 93%'), info)
    assert.ok(info.includes('{green-fg}/data 20%'), info)
    // narrower: parts are left out from the end, never cut in the middle
    const narrow = stripTags(hostInfoLine(s.hosts[s.hostCursor], 60, U))
    assert.ok(narrow.length <= 60, narrow)
    assert.match(narrow, /^web │ cores ▂▇ │ swap 512M\/2\.0G │ avail 6\.0G cache 3\.0G$/)
    assert.match(stripTags(hostInfoLine(SELF, 100, U)), /alpha \(no further figures from this host\)/)
    // without the layout's leave, no info line
    assert.equal(hostLines(s, 158, 10, U, true, false).length, lines.length - 1)
  })
})

describe('processes pane: NI, THR, TIME+ and alerts', () => {
  function procState (cols: number): ReturnType<typeof loadedState> {
    const procs = [
      proc(7, 1, 'hog', { cpuPercent: 95, rss: 3 * GiB, nice: 5, priority: 25, threads: 12, cpuTime: 3725.5, alert: 'critical' }),
      proc(8, 1, 'calm', { cpuPercent: 1, nice: 0, priority: 20, threads: 1, cpuTime: 61.25 }),
      proc(9, 1, 'oldnode', { cpuPercent: 0.5 })
    ]
    return run(loadedState(), { type: 'resize', cols, rows: 45 }, { type: 'procs', entries: [psEntry(SELF, procs)] }).state
  }

  it('at 160 columns: NI, THR and TIME+ beside the contract\'s columns; - where a host does not say', () => {
    const s = procState(160)
    const lines = procLines(s, selectRows(s), 158, 20, U, false)
    const text = lines.map(stripTags)
    assert.match(text[0], /PID USER +CPU% +RSS S START +NI +THR +TIME\+ COMMAND/)
    assert.match(text.find(l => l.includes('/usr/bin/hog')) ?? '', / 7 alice +95\.0 +3\.0G S \d\d:\d\d +5 +12 +1h02:05 \/usr\/bin\/hog/)
    assert.match(text.find(l => l.includes('/usr/bin/calm')) ?? '', / 8 alice +1\.0 +1\.0M S \d\d:\d\d +0 +1 +1:01\.25 \/usr\/bin\/calm/)
    assert.match(text.find(l => l.includes('/usr/bin/oldnode')) ?? '', /\d\d:\d\d +- +- +- \/usr\/bin\/oldnode/)
  })

  it('a process the node marks gets its CPU% and RSS in its level\'s colour; others stay plain', () => {
    const s = procState(160)
    const lines = procLines(s, selectRows(s), 158, 20, U, false)
    const hog = lines.find(l => l.includes('/usr/bin/hog')) ?? ''
    assert.ok(hog.includes('{red-fg}{bold}  95.0{/bold}{/red-fg}'), hog)
    assert.ok(hog.includes('{red-fg}{bold}   3.0G{/bold}{/red-fg}'), hog)
    const calm = lines.find(l => l.includes('/usr/bin/calm')) ?? ''
    assert.ok(!calm.includes('-fg}'), calm)
    // the managed view colours them the same way
    const managed = run(s, { type: 'procs', entries: [psEntry(SELF, [proc(7, 1, 'hog', { cpuPercent: 95, managedId: 'm1', managedName: 'hog', alert: 'warning' })])] }, { type: 'toggleManaged' }).state
    const row = procLines(managed, selectRows(managed), 158, 20, U, false).find(l => l.includes('/usr/bin/hog')) ?? ''
    assert.ok(row.includes('{magenta-fg}  95.0{/magenta-fg}'), row)
  })

  it('at 80 columns NI, THR and TIME+ give way to COMMAND', () => {
    const s = procState(80)
    const text = procLines(s, selectRows(s), 78, 20, U, false).map(stripTags)
    assert.match(text[0], /PID USER +CPU% +RSS S START +COMMAND/)
    assert.doesNotMatch(text[0], /NI|THR|TIME\+/)
    const commandWidth = text[0].length - text[0].indexOf('COMMAND')
    assert.ok(commandWidth >= 28, `COMMAND keeps its 28 columns (${commandWidth})`)
  })

  it('the details show threads, nice, priority and TIME+, and the level', () => {
    const p = proc(7, 1, 'hog', { cpuPercent: 95, rss: 3 * GiB, nice: 5, priority: 25, threads: 12, cpuTime: 3725.5, alert: 'critical' })
    const d = { target: { peerId: SELF.peerId, hostName: 'alpha', pid: 7, startTime: p.startTime, name: 'hog', cmd: p.cmd }, snapshot: p, gone: false }
    const lines = detailsLines(d, [], T0, 120, 10, U)
    assert.match(stripTags(lines[0]), /CPU 95\.0% {2}RSS 3\.0G \(critical\)/)
    assert.ok(lines[0].includes('{red-fg}{bold}CPU 95.0%'), lines[0])
    assert.equal(stripTags(lines[1]), 'THR 12  NI 5  PR 25  TIME+ 1h02:05')
  })
})
