/**
 * Issue 5 in a real terminal against the multi-host harness: `procmesh top` runs in tmux inside
 * host-1 of three simulated hosts, attached to host-1's node, and drives the whole mesh: hosts
 * with their figures, another host's processes, the filter, mesh-wide search, stop and start on
 * host-2 (checked in host-2's own /proc), the managed view with its notices (issue 12), the
 * sparkline ranges (issue 14), the host figures of issue 18 (disk, swap, cores, rates), host-3 going offline, resizes down to 80x24 with help and quit
 * still in the footer (issue 18), and a clean quit.
 *
 * The tests run in order and share one screen: each leaves the TUI as the next expects it.
 */
import { after, before, describe, it, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { RunResult } from '../../protocols/control.js'
import { createSimNet, harnessSkipReason, requireHarness, waitFor, type SimHost, type SimNet } from '../../testkit/sim-hosts.js'
import { BIN } from '../helpers/procmesh.js'
import { grantRoles, jsonIn, nodeHome, pidsIn, startMesh, stopNode, type MeshNode } from '../helpers/sim-mesh.js'
import { HostTerminal, escapeRegExp as re, requireTmux, shQuote, tmuxSkipReason } from '../helpers/tmux.js'

const PROMPT = 'host1-prompt$ '
const SESSION = 'top'
/** Distinctive command lines: nothing else in a simulated host carries them. */
const MESH_WIDE_SLEEP = '4242'
const STOP_SLEEP = '4243'
const START_SLEEP = '4244'
/** Mesh view, gossip and a fan-out ps settle within seconds; these bound a wedged one. */
const MESH_TIMEOUT_MS = 30_000
const SCREEN_TIMEOUT_MS = 15_000

/** A process's argv as its own host's /proc has it, read through the host's init. */
async function cmdlineIn (host: SimHost, pid: number): Promise<string[] | undefined> {
  try {
    return (await readFile(`/proc/${host.initPid}/root/proc/${pid}/cmdline`, 'utf8')).split('\u0000').filter(s => s !== '')
  } catch {
    return undefined
  }
}

/** One hosts-pane row: status, name, CPU%, memory used/total, process count, load, last seen. */
function hostRow (name: string, status: 'online' | 'offline', self = false): RegExp {
  return new RegExp(`${status}\\s+${name}${self ? ' \\*' : ''}\\s+\\d+\\.\\d\\s.*?\\d[\\d.]*[BKMGT]/\\d[\\d.]*[BKMGT]\\s+\\d+\\s+\\d+(\\.\\d+)? \\d+(\\.\\d+)? \\d+(\\.\\d+)?\\s+(now|\\d+[smhd] ago)`)
}

/** Skips (or under CI=true fails) without the harness or tmux; also once the setup did not get as far as the terminal. */
function unavailable (t: TestContext, term: HostTerminal | undefined): term is undefined {
  if (!requireHarness(t) || !requireTmux(t)) return true
  if (term === undefined) throw new Error('the setup did not open the terminal (see before())')
  return false
}

describe('procmesh top in tmux across simulated hosts', { timeout: 300_000 }, () => {
  let net: SimNet | undefined
  let nodes: MeshNode[] = []
  let h1: SimHost
  let h2: SimHost
  let h3: SimHost
  let term: HostTerminal | undefined
  let meshWideRun: RunResult
  let stopRun: RunResult

  before(async () => {
    if (harnessSkipReason() !== undefined || tmuxSkipReason() !== undefined) return
    net = await createSimNet({ hosts: 3 })
    ;[h1, h2, h3] = net.hosts
    nodes = await startMesh(net.hosts)
    for (const host of net.hosts) {
      await waitFor(async () => {
        const peers = await jsonIn<Array<{ status: string }>>(host, ['peers'])
        return peers.length === 3 && peers.every(p => p.status === 'online') ? true : undefined
      }, { timeoutMs: MESH_TIMEOUT_MS, what: `${host.name} to see the mesh` })
    }
    // host-1 may start and stop processes on host-2 (roles are levels: exec includes control)
    await grantRoles(h2, h1, ['exec'])
    meshWideRun = await jsonIn<RunResult>(h3, ['run', 'self', '--', 'sleep', MESH_WIDE_SLEEP])
    stopRun = await jsonIn<RunResult>(h2, ['run', 'self', '--', 'sleep', STOP_SLEEP])

    // An interactive shell in the pane, in host-1: when top quits, its prompt must come back.
    // The socket sits in host-1's directory, which destroying the SimNet removes.
    term = await HostTerminal.open(h1, {
      socket: join(h1.home, 'tmux.sock'),
      session: SESSION,
      command: `env PS1=${shQuote(PROMPT)} bash --norc --noprofile`
    })
    await term.see(/host1-prompt\$/, 'the shell prompt')
    // the terminal settings before and after top: quitting must restore them
    const stty = (when: string): string => `stty -g > ${shQuote(join(h1.home, `stty.${when}`))}`
    await term.type(`${stty('before')}; NCURSES_NO_UTF8_ACS=1 TERM=xterm-256color node ${shQuote(BIN)} top --home ${shQuote(nodeHome(h1))} --no-start --interval 1s; echo "top-exit=$?"; ${stty('after')}`)
    await term.keys('Enter')
  })

  after(async () => {
    await term?.kill()
    for (const n of nodes) await stopNode(n)
    await net?.destroy()
  })

  it('lists all three hosts with their figures, host-1 as this node', async (t) => {
    if (unavailable(t, term)) return
    const s = await term.see(/mesh 3\/3 online/, 'a mesh of 3 online hosts', MESH_TIMEOUT_MS)
    assert.match(s, /node host-1 /)
    assert.match(s, /Hosts \(3\/3 online\)/)
    const rows = await term.see(new RegExp([hostRow('host-1', 'online', true), hostRow('host-2', 'online'), hostRow('host-3', 'online')].map(r => r.source).join('[\\s\\S]*')), 'the three host rows with figures', SCREEN_TIMEOUT_MS)
    assert.match(rows, /STATUS +NAME +CPU% .*MEM +PROCS +LOAD +SEEN/)
    assert.equal(await term.paneCommand(), 'node')
  })

  it('issue 18\'s figures: each host\'s fullest disk and swap, and host-1\'s line of cores, disks and rates', async (t) => {
    if (unavailable(t, term)) return
    // the columns at 160: DISK (df's Use% and mount), SWAP, CORES (one cell per core)
    const s = await term.see(/CPU 8m +DISK +SWAP +CORES[\s\S]*host-1 \*[^\n]*\d+% \/\S* +(none|\d[\d.]*[BKMGT]\/\d[\d.]*[BKMGT]) +[▁▂▃▄▅▆▇█]{2} /, 'the disk, swap and cores columns', SCREEN_TIMEOUT_MS)
    // the figure is the node's own: the same Use% as df on host-1's fullest filesystem it reports
    const peers = await jsonIn<Array<{ self: boolean, host: { disks?: Array<{ mount: string, used: number, avail: number }> } }>>(h1, ['peers'])
    const disks = peers.find(p => p.self)?.host.disks ?? []
    assert.ok(disks.length > 0, 'host-1 reports its filesystems')
    const shown = /host-1 \*[^\n]*?(\d+)% (\/\S*)/.exec(s)
    const disk = disks.find(d => d.mount === shown?.[2])
    assert.ok(disk !== undefined, `the shown mount ${shown?.[2]} is one host-1 reports`)
    const pct = Math.ceil(disk.used * 100 / (disk.used + disk.avail))
    assert.ok(Math.abs(Number(shown?.[1]) - pct) <= 1, `Use% ${shown?.[1]} vs ${pct}`)
    // the selected host's line under the rows (45 rows leave room for it)
    await term.see(/host-1 │ cores [▁▂▃▄▅▆▇█]+ │ swap [^│]+│ avail [^│]+│ disks \/\S* \d+%[^│]*│ disk r\/w \S+\/s \S+\/s │ net rx\/tx \S+\/s \S+\/s │ files \d+ │ sockets \d+/, 'host-1\'s figures line', SCREEN_TIMEOUT_MS)
  })

  it('selecting host-2 shows host-2\'s processes', async (t) => {
    if (unavailable(t, term)) return
    // Tab to the hosts pane, down to host-2, Enter back to its processes
    await term.keys('Tab')
    await term.keys('j')
    await term.keys('Enter')
    const home2 = re(nodeHome(h2))
    const s = await term.see(new RegExp(`Processes: host-2 \\(\\d+\\)[\\s\\S]*procmesh\\.js node --home ${home2}`), 'host-2\'s node in the processes pane', SCREEN_TIMEOUT_MS)
    assert.doesNotMatch(s, new RegExp(`--home (${re(nodeHome(h1))}|${re(nodeHome(h3))})`), 'no process of another host')
    // the node's row names a pid that host-2's own /proc has, with that command line
    const pid = Number(new RegExp(`(\\d+) \\S+ +\\d+\\.\\d .*procmesh\\.js node --home ${home2}`).exec(s)?.[1])
    assert.ok(Number.isInteger(pid) && pid > 1, s)
    assert.ok((await pidsIn(h2)).includes(pid), `pid ${pid} runs in host-2`)
    assert.ok((await cmdlineIn(h2, pid))?.includes(nodeHome(h2)), `pid ${pid} in host-2 is its node`)
    assert.match(s, new RegExp(`\\b${stopRun.pid} .*sleep ${STOP_SLEEP}`), 'the sleep started there')
    assert.match(s, /\b1 \S+ +\d+\.\d .*perl/, 'host-2\'s own init is pid 1')
  })

  it('/ filters host-2\'s list to the matching process', async (t) => {
    if (unavailable(t, term)) return
    await term.keys('/')
    await term.type(`sleep ${STOP_SLEEP}`)
    await term.keys('Enter')
    const s = await term.see(new RegExp(`Processes: host-2 \\(1 of \\d+\\).*filter "sleep ${STOP_SLEEP}"[\\s\\S]*\\b${stopRun.pid} .*sleep ${STOP_SLEEP}`), 'one row left', SCREEN_TIMEOUT_MS)
    assert.doesNotMatch(s, /procmesh\.js node|perl/)
  })

  it('k + confirm stops the process on host-2, verified in host-2', async (t) => {
    if (unavailable(t, term)) return
    await term.type('k')
    await term.see(new RegExp(`Stop sleep \\(pid ${stopRun.pid}\\) on host-2[\\s\\S]*1 TERM`), 'the signal picker naming host and process')
    await term.keys('Enter')
    await term.see(new RegExp(`Send SIGTERM to sleep \\(pid ${stopRun.pid}\\)[\\s\\S]*on host host-2\\?`), 'the confirmation')
    assert.ok((await pidsIn(h2)).includes(stopRun.pid), 'nothing is sent before y')
    await term.type('y')
    await waitFor(async () => !(await pidsIn(h2)).includes(stopRun.pid), { timeoutMs: SCREEN_TIMEOUT_MS, what: `pid ${stopRun.pid} to end in host-2` })
    await term.see(new RegExp(`host-2: SIGTERM to sleep \\(pid ${stopRun.pid}\\): (signalled|it exited)`), 'the result on the status line')
    await term.escape()
    await term.see(/Processes: host-2 \(\d+\) /, 'the filter cleared')
  })

  it('x starts a command on host-2, verified in host-2, marked as started by host-1', async (t) => {
    if (unavailable(t, term)) return
    await term.type('x')
    await term.see(/Start a process on host-2[\s\S]*argv>/, 'the start prompt')
    await term.type(`sleep ${START_SLEEP}`)
    await term.keys('Enter')
    const s = await term.see(new RegExp(`host-2: started sleep ${START_SLEEP} as pid \\d+ \\(managed \\S+\\)`), 'the started pid on the status line', SCREEN_TIMEOUT_MS)
    const [, pidText, managedId] = /as pid (\d+) \(managed (\S+)\)/.exec(s) ?? []
    const pid = Number(pidText)
    assert.ok((await pidsIn(h2)).includes(pid), `pid ${pid} runs in host-2`)
    assert.deepEqual(await cmdlineIn(h2, pid), ['sleep', START_SLEEP])
    assert.ok(!(await cmdlineIn(h1, pid) ?? []).includes(START_SLEEP), 'and not in host-1')
    await term.keys('/')
    await term.type(START_SLEEP)
    await term.keys('Enter')
    // a short marker in the row; the id and who started it in the details (Enter)
    await term.see(new RegExp(`\\b${pid} .*[◆@] sleep ${START_SLEEP}`), 'the managed marker', SCREEN_TIMEOUT_MS)
    await term.keys('Enter')
    await term.see(new RegExp(`managed ${re(managedId)} started by host-1`), 'the details naming host-1', SCREEN_TIMEOUT_MS)
    await term.keys('Enter')
    await term.escape()
    await term.see(/Processes: host-2 \(\d+\) /, 'the filter cleared')
  })

  it('M lists host-2\'s managed processes with state and restarts; a crash loop and an exit each show a notice', async (t) => {
    if (unavailable(t, term)) return
    await term.type('M')
    const s = await term.see(new RegExp(`managed only[\\s\\S]*NAME +PID +STATE +RESTARTS[\\s\\S]*running +0 .*sleep ${START_SLEEP}`), 'the managed view of host-2', SCREEN_TIMEOUT_MS)
    // the sleep stopped with k is listed too, as stopped, with no pid
    assert.match(s, new RegExp(`- +(stopped|exited) +0 .*sleep ${STOP_SLEEP}`))
    assert.doesNotMatch(s, /procmesh\.js node/, 'unmanaged processes are not listed')
    // started on host-2 by its own user, while top on host-1 watches
    await jsonIn<RunResult>(h2, ['run', 'self', '--name', 'crashy', '--restart', 'on-failure', '--max-restarts', '2', '--', 'sh', '-c', 'exit 7'])
    await term.see(/host-2: crashy entered crash-loop after \d+ restarts \(exit code 7\)/, 'the crash-loop notice', MESH_TIMEOUT_MS)
    await term.see(/crashy +- +crash-loop +\d+ +exit 7/, 'its row in the managed view', SCREEN_TIMEOUT_MS)
    await jsonIn<RunResult>(h2, ['run', 'self', '--name', 'once', '--', 'sh', '-c', 'sleep 2; exit 3'])
    await term.see(/host-2: once exited \(exit code 3\)/, 'the exit notice', MESH_TIMEOUT_MS)
    await term.type('M')
    await term.see(/Processes: host-2 \(\d+\) .*flat/, 'all processes again', SCREEN_TIMEOUT_MS)
  })

  it('w switches the hosts\' sparklines to 1h, 24h, 7d from the hosts\' history, and back', async (t) => {
    if (unavailable(t, term)) return
    await term.type('w')
    await term.see(/LOAD[^\n]*CPU 1h/, 'the 1 h label', SCREEN_TIMEOUT_MS)
    // host-1's recorded samples reach its row: a sparkline glyph between SEEN and DISK (blank until they do)
    await term.see(/host-1 \*[^\n]*now +[▁▂▃▄▅▆▇█_.:=+*#-]+ +\d+% \//, 'host-1\'s 1 h sparkline drawn from its history', SCREEN_TIMEOUT_MS)
    await term.type('w')
    await term.see(/LOAD[^\n]*CPU 24h[\s\S]*CPU sparklines: the last 24h, from each host's recorded history/, 'the 24 h label and the note', SCREEN_TIMEOUT_MS)
    await term.type('w')
    await term.type('w')
    await term.see(/LOAD[^\n]*CPU 8m/, 'live again', SCREEN_TIMEOUT_MS)
  })

  it('mesh-wide mode (a) finds a process started on host-3', async (t) => {
    if (unavailable(t, term)) return
    await term.type('a')
    // rows of every host in one list (a row: HOST, PID, USER, CPU%; the hosts pane has no such run)
    const everyHost = net?.hosts.map(h => `(?=[\\s\\S]*\\b${h.name} +\\d+ \\S+ +\\d+\\.\\d )`).join('') ?? ''
    await term.see(new RegExp(`^${everyHost}[\\s\\S]*Processes: all hosts \\(\\d+\\).*mesh-wide`), 'mesh-wide rows of all three hosts', SCREEN_TIMEOUT_MS)
    await term.keys('/')
    await term.type(MESH_WIDE_SLEEP)
    await term.keys('Enter')
    const s = await term.see(new RegExp(`HOST +PID[\\s\\S]*host-3 +${meshWideRun.pid} .*sleep ${MESH_WIDE_SLEEP}`), 'host-3\'s sleep with its HOST column', SCREEN_TIMEOUT_MS)
    assert.match(s, /Processes: all hosts \(1 of \d+\)/)
    await term.type('a')
    await term.see(/Processes: host-2 \(/, 'back to host-2')
    await term.escape()
    await term.see(/Processes: host-2 \(\d+\) /, 'the filter cleared')
  })

  it('host-3 killed shows offline', async (t) => {
    if (unavailable(t, term)) return
    await h3.kill9All()
    const s = await term.see(/mesh 2\/3 online/, 'the mesh down to 2 of 3', MESH_TIMEOUT_MS)
    await term.see(hostRow('host-3', 'offline'), 'host-3 offline', SCREEN_TIMEOUT_MS)
    assert.match(s, /Hosts \(2\/3 online\)/)
    assert.match(await term.screen(), hostRow('host-2', 'online'))
  })

  it('survives resizing, down to a too-small terminal and back', async (t) => {
    if (unavailable(t, term)) return
    await term.resize(80, 24)
    // issue 18: at 80x24 help and quit stay in the footer, the hosts keep load and the sparkline
    const small = await term.see(/host-2[\s\S]*Processes: host-2[\s\S]*COMMAND[\s\S]*\? help +q quit/, 'redrawn at 80x24 with ? help and q quit')
    assert.match(small, /LOAD +CPU 8m/)
    // issue 18's columns and the host's figures line go first at 80x24
    assert.doesNotMatch(small, /DISK|SWAP|CORES|│ cores /)
    assert.ok(small.split('\n').every(l => Array.from(l).length <= 80))
    await term.keys('F1')
    await term.see(/Help: procmesh top/, 'F1 opens the help at 80x24')
    await term.keys('F1')
    await term.see(/\? help +q quit/, 'F1 closes it')
    await term.resize(30, 8)
    await term.see(/terminal too small/, 'the too-small notice')
    await term.resize(160, 45)
    await term.see(/mesh 2\/3 online[\s\S]*offline\s+host-3[\s\S]*PID USER/, 'redrawn at 160x45')
    assert.equal(await term.paneCommand(), 'node')
  })

  it('q quits, the shell prompt is back and the terminal settings are restored', async (t) => {
    if (unavailable(t, term)) return
    await term.type('q')
    const s = await term.see(/top-exit=\d+\s*\n\s*host1-prompt\$/, 'the prompt after top')
    assert.match(s, /top-exit=0/)
    assert.doesNotMatch(s, /q quit/)
    const shell = term
    await waitFor(async () => await shell.paneCommand() === 'bash', { timeoutMs: 5000, what: 'bash in the pane' })
    const sttyAfter = await waitFor(async () => await readFile(join(h1.home, 'stty.after'), 'utf8'), { timeoutMs: 5000, what: 'stty after top' })
    assert.equal(sttyAfter, await readFile(join(h1.home, 'stty.before'), 'utf8'))
  })
})
