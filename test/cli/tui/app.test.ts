/**
 * The app end to end without a terminal: blessed on in-memory streams, a fake node
 * behind the control API, keys written as a terminal would send them.
 */
import { describe, it, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { ProcmeshError } from '../../../protocols/errors.js'
import { TopApp } from '../../../cli/tui/app.js'
import { selectedRow } from '../../../cli/tui/state.js'
import { BETA, SELF, T0, deployment, deploymentsList, peer, proc, psEntry, sampleProcesses } from './fixtures.js'
import { FakeNode, sleep, until } from './fake-node.js'

interface Term { input: PassThrough, output: PassThrough, screen: () => string }

function terminal (cols = 160, rows = 45): Term {
  const input = new PassThrough()
  const output = new PassThrough()
  Object.assign(output, { columns: cols, rows, isTTY: true })
  let written = ''
  output.on('data', (b: Buffer) => { written += b.toString('utf8'); if (written.length > 1_000_000) written = written.slice(-500_000) })
  return { input, output, screen: () => written }
}

let app: TopApp | undefined
afterEach(() => { app?.stop(); app = undefined })

function meshNode (): FakeNode {
  const node = new FakeNode()
  node.handlers.set('peers', () => [SELF, BETA])
  node.handlers.set('ps', params => {
    const target = (params as { target: string }).target
    return target === 'all'
      ? [psEntry(SELF, sampleProcesses()), psEntry(BETA, [proc(5, 1, 'redis', { cpuPercent: 3 })])]
      : [target === BETA.peerId ? psEntry(BETA, [proc(5, 1, 'redis', { cpuPercent: 3 })]) : psEntry(SELF, sampleProcesses())]
  })
  node.handlers.set('history', () => [])
  return node
}

async function open (node: FakeNode, term = terminal()): Promise<{ app: TopApp, term: Term, done: Promise<void> }> {
  const a = new TopApp({ connect: node.connect, intervalMs: 100, peersMs: 50, input: term.input, output: term.output, terminal: 'xterm-256color', unicode: true })
  app = a
  const done = a.run()
  await until(() => selectedRow(a.current) !== undefined, 3000, 'processes listed')
  return { app: a, term, done }
}

function press (term: Term, ...keys: string[]): void {
  for (const k of keys) term.input.write(k)
}

describe('TopApp', () => {
  it('draws the hosts and processes it gets from the node', async () => {
    const node = meshNode()
    const { term } = await open(node)
    await until(() => term.screen().includes('nginx: worker process'), 3000, 'a process on screen')
    assert.ok(term.screen().includes('alpha'))
    assert.ok(term.screen().includes('beta'))
  })

  it('k, Enter, y stops the selected process with the pid and start time seen', async () => {
    const node = meshNode()
    node.handlers.set('kill', params => ({ peerId: SELF.peerId, name: 'alpha', pid: (params as { pid: number }).pid, signal: 'TERM', result: 'signalled', signalled: [21] }))
    const { app: a, term } = await open(node)
    press(term, 'k')
    await until(() => a.current.modal?.kind === 'signal')
    assert.equal(node.count('kill'), 0)
    press(term, '\r')
    await until(() => a.current.modal?.kind === 'confirm')
    assert.equal(node.count('kill'), 0, 'nothing sent before the confirmation')
    press(term, 'y')
    await until(() => node.count('kill') === 1)
    assert.deepEqual(node.calls.find(c => c.method === 'kill')?.params, { target: SELF.peerId, pid: 21, startTime: T0 - 60_000, signal: 'TERM', tree: false })
    await until(() => /signalled/.test(a.current.status?.text ?? ''))
  })

  it('Esc at the confirmation sends nothing', async () => {
    const node = meshNode()
    node.handlers.set('kill', () => { throw new Error('must not be called') })
    const { app: a, term } = await open(node)
    press(term, 'k', '2')
    await until(() => a.current.modal?.kind === 'confirm')
    press(term, '\u001b')
    await until(() => a.current.modal === undefined)
    await sleep(50)
    assert.equal(node.count('kill'), 0)
  })

  it("a denied stop shows the target's error in the status line", async () => {
    const node = meshNode()
    node.handlers.set('kill', () => { throw new ProcmeshError('FORBIDDEN', 'forbidden: peer 12D3KooWme lacks role control on alpha') })
    const { app: a, term } = await open(node)
    press(term, 'k', '\r', 'y')
    await until(() => a.current.status?.level === 'error')
    assert.match(a.current.status?.text ?? '', /alpha: stopping nginx \(pid 21\) failed: forbidden: peer 12D3KooWme lacks role control/)
    await until(() => term.screen().includes('lacks role control'), 3000, 'the error on screen')
  })

  it('x starts a command on the selected host with a request id, never a shell', async () => {
    const node = meshNode()
    node.handlers.set('run', () => ({ peerId: SELF.peerId, name: 'alpha', managedId: 'm9', pid: 777, startTime: T0 }))
    const { app: a, term } = await open(node)
    press(term, 'x')
    await until(() => a.current.modal?.kind === 'start')
    press(term, ...Array.from("sh -c 'echo hi; sleep 1'"), '\r')
    await until(() => node.count('run') === 1)
    const params = node.calls.find(c => c.method === 'run')?.params as { target: string, argv: string[], requestId: string }
    assert.equal(params.target, SELF.peerId)
    assert.deepEqual(params.argv, ['sh', '-c', 'echo hi; sleep 1'])
    assert.match(params.requestId, /^top-[0-9a-f-]{36}$/)
    await until(() => /started .* as pid 777 \(managed m9\)/.test(a.current.status?.text ?? ''))
  })

  it('Shift-R on a managed process asks first, y restarts it through the node', async () => {
    const node = meshNode()
    const worker = proc(30, 1, 'worker', { managedId: 'm1', managedName: 'api', cpuPercent: 99 })
    node.handlers.set('ps', () => [psEntry(SELF, [...sampleProcesses(), worker])])
    node.handlers.set('restart', () => ({ peerId: SELF.peerId, name: 'alpha', managedId: 'm1', pid: 31, startTime: T0 }))
    const { app: a, term } = await open(node)
    await until(() => selectedRow(a.current)?.proc.pid === 30, 3000, 'the managed process selected')
    press(term, 'R')
    await until(() => a.current.modal?.kind === 'confirmRestart', 3000, 'the restart confirmation')
    await until(() => term.screen().includes('Restart api (m1) on alpha?'), 3000, 'the confirmation on screen')
    assert.equal(node.count('restart'), 0, 'nothing sent before y')
    press(term, 'y')
    await until(() => node.count('restart') === 1)
    assert.deepEqual(node.calls.find(c => c.method === 'restart')?.params, { target: SELF.peerId, ref: 'm1' })
    await until(() => /restarted api \(m1\) as pid 31/.test(a.current.status?.text ?? ''))
  })

  it('htop F-keys: F1 help, F3 search, F4 filter, F5 tree, F6 sort, F9 stop, F10 quit', async () => {
    const node = meshNode()
    const { app: a, term, done } = await open(node)
    const F: Record<string, string> = { f1: '\u001bOP', f3: '\u001bOR', f4: '\u001bOS', f5: '\u001b[15~', f6: '\u001b[17~', f9: '\u001b[20~', f10: '\u001b[21~' }
    press(term, F.f1)
    await until(() => a.current.modal?.kind === 'help', 3000, 'F1 help')
    press(term, F.f1)
    await until(() => a.current.modal === undefined, 3000, 'F1 closes the help')
    press(term, F.f5)
    await until(() => a.current.tree, 3000, 'F5 tree')
    press(term, F.f5, F.f6)
    await until(() => a.current.sort === 'mem', 3000, 'F6 next sort')
    press(term, F.f3, 'v', 'i')
    await until(() => selectedRow(a.current)?.proc.name === 'vim', 3000, 'F3 search moves to vim')
    assert.equal(a.current.filter, '', 'search does not filter')
    press(term, '\r')
    await until(() => a.current.modal === undefined)
    press(term, F.f4, 'b', 'a', 's', 'h', '\r')
    await until(() => a.current.filter === 'bash' && a.current.modal === undefined, 3000, 'F4 filter')
    press(term, F.f9)
    await until(() => a.current.modal?.kind === 'signal', 3000, 'F9 stop')
    press(term, '\u001b')
    await until(() => a.current.modal === undefined)
    press(term, F.f10)
    await done
  })

  it('a host whose node marks a disk critical shows the marker and the disk in red; at 80x24 help and quit stay', async () => {
    const node = meshNode()
    const GiB = 2 ** 30
    const full = peer('beta', {
      host: {
        ...BETA.host,
        swapTotal: 2 * GiB,
        swapUsed: 0,
        disks: [{ mount: '/srv', fstype: 'ext4', total: 100 * GiB, used: 93 * GiB, avail: 7 * GiB }],
        alerts: [{ metric: 'disk', mount: '/srv', level: 'critical', value: 93 }]
      }
    })
    node.handlers.set('peers', () => [SELF, full])
    const { app: a, term } = await open(node)
    await until(() => term.screen().includes('93% /srv'), 3000, 'the fullest disk on screen')
    // blessed draws a cell's colour before its text: red (31) and bold (1) before the marker and the figure
    assert.match(term.screen(), /\u001b\[[0-9;]*(1;31|31;1)m▲/, 'the marker in bold red')
    assert.match(term.screen(), /\u001b\[[0-9;]*(1;31|31;1)m93% \/srv/, 'the disk figure in bold red')
    assert.ok(term.screen().includes('0B/2.0G'), 'swap used/total')
    // a fresh terminal of 80x24 (its first frame is drawn whole, so the text reads as on screen)
    a.stop()
    const small = await open(node, terminal(80, 24))
    // the footer's keys are bold cyan: colour codes stand between a key and its word
    await until(() => /q(\u001b\[[0-9;]*m)* quit/.test(small.term.screen()), 3000, 'q quit at 80x24')
    assert.match(small.term.screen(), /\?(\u001b\[[0-9;]*m)* help/, '? help at 80x24')
    assert.ok(small.term.screen().includes('▲'), 'the marker at 80x24')
    assert.ok(!small.term.screen().includes('93% /srv'), 'the disk column goes first at 80 columns')
  })

  it('D lists the deployments with their counts and why replicas cannot be placed (80x24), polled only while open', async () => {
    const node = meshNode()
    node.handlers.set('deployments', () => deploymentsList())
    const { app: a, term } = await open(node, terminal(80, 24))
    await sleep(300)
    assert.equal(node.count('deployments'), 0, 'not asked before D')
    press(term, 'D')
    await until(() => a.current.modal?.kind === 'deployments', 3000, 'the overlay')
    await until(() => a.current.deployments?.list.length === 2, 3000, 'the node answered')
    await until(() => term.screen().includes('Deployments (2)'), 3000, 'the overlay on screen')
    for (const text of ['RUN/WANT', 'HOSTS', 'beta refuses it: the author lacks exec here', 'only 2 of 3 replicas can be placed']) {
      await until(() => term.screen().includes(text), 3000, `"${text}" on screen`)
    }
    // the counts, each in its colour: 2/2 all running (green 32), 1/3 short (yellow 33)
    assert.match(term.screen(), /\u001b\[[0-9;]*32m2\/2/, 'web 2/2 in green')
    assert.match(term.screen(), /\u001b\[[0-9;]*33m1\/3/, 'api 1/3 in yellow')
    // polled while open: a third copy of api starting shows at the next poll
    node.handlers.set('deployments', () => [deploymentsList()[0], deployment('api', { version: 4, replicas: 3, desired: 3, running: 3 })])
    await until(() => a.current.deployments?.list[1]?.running === 3, 3000, 'the new count polled')
    await until(() => /\u001b\[[0-9;]*32m3\/3/.test(term.screen()), 3000, 'api 3/3 in green on screen')
    press(term, '\u001b')
    await until(() => a.current.modal === undefined, 3000, 'Esc closes it')
    await sleep(150)
    const closed = node.count('deployments')
    await sleep(400)
    assert.equal(node.count('deployments'), closed, 'not polled once closed')
  })

  it('D on a node without deployments says so instead of failing', async () => {
    const node = meshNode()
    const { app: a, term } = await open(node)
    press(term, 'D')
    await until(() => a.current.deployments?.error !== undefined, 3000, 'the error')
    await until(() => term.screen().includes('this node does not know deployments'), 3000, 'the reason on screen')
    assert.equal(a.current.connection, 'up', 'still connected')
  })

  it('survives the node going away and coming back', async () => {
    const node = meshNode()
    const { app: a } = await open(node)
    node.crash()
    await until(() => a.current.connection === 'down')
    node.start()
    await until(() => a.current.connection === 'up', 5000, 'reconnected')
  })

  it('resizes, and q ends run() and restores the terminal', async () => {
    const node = meshNode()
    const { app: a, term, done } = await open(node)
    Object.assign(term.output, { columns: 70, rows: 20 })
    term.output.emit('resize')
    await until(() => a.current.size.cols === 70)
    Object.assign(term.output, { columns: 20, rows: 5 })
    term.output.emit('resize')
    await until(() => a.current.size.rows === 5)
    await sleep(100)
    assert.doesNotMatch(a.current.status?.text ?? '', /drawing failed/)
    press(term, 'q')
    await done
    assert.ok(term.screen().includes('\u001b[?1049l'), 'left the alternate screen')
    assert.equal(node.openConnections, 0)
  })
})
