/**
 * `procmesh top` in a real terminal: tmux runs it against a real node (root namespace,
 * 127.0.0.1, no mDNS) and we read the screen with capture-pane and type with send-keys.
 * tmux runs on a private server socket in the test's home, so a developer's own tmux is never touched.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ProcmeshError } from '../../../protocols/errors.js'
import { ControlClient } from '../../../cli/control-client.js'
import { BIN, LocalNode, REPO, removeHome, tempHome, waitFor } from '../../helpers/procmesh.js'

const TMUX_MISSING = spawnSync('tmux', ['-V']).error !== undefined
const IN_CI = process.env.CI === 'true'
const SESSION = 'top'
const PROMPT = 'tui-prompt$ '
/** compiled next to this file: procmesh with --no-mdns forced onto `node` */
const ENTRY_NO_MDNS = fileURLToPath(new URL('./entry-no-mdns.js', import.meta.url))
/** a marker no other process on the machine carries in its command line */
const MARKER = String(31_000_000 + (process.pid % 1_000_000))
/** what the deployment's copy sleeps: the marker plus one, so the two are told apart */
const DEPLOY_MARKER = String(Number(MARKER) + 1)

/** The deployment test's copies still running (`sleep DEPLOY_MARKER`). */
function deployCopies (): number[] {
  const out: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\u0000')
      if (argv[0] === 'sleep' && argv[1] === DEPLOY_MARKER) out.push(Number(entry))
    } catch { /* exited meanwhile */ }
  }
  return out
}

/** the private tmux server's socket: inside the test's home, so removing the home removes it */
let socket = ''

function tmux (...args: string[]): string {
  return execFileSync('tmux', ['-S', socket, ...args], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] })
}

/** Processes whose command line names this home (the nodes a test started there). */
function pidsWithHome (home: string): number[] {
  const out: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\u0000')
      if (argv.includes('node') && argv.includes(home)) out.push(Number(entry))
    } catch { /* exited meanwhile */ }
  }
  return out
}

function screen (): string {
  return tmux('capture-pane', '-p', '-t', SESSION)
}

function paneCommand (): string {
  return tmux('display-message', '-p', '-t', SESSION, '#{pane_current_command}').trim()
}

/** Type literally (no key-name lookup), or press named keys (Enter, Escape). */
function type (text: string): void { tmux('send-keys', '-t', SESSION, '-l', text) }
function keys (...names: string[]): void { tmux('send-keys', '-t', SESSION, ...names) }

/**
 * Esc alone: a key sent right after it would arrive as Meta-key (an escape sequence), so
 * wait as long as a person would before the next one.
 */
async function pressEscape (): Promise<void> {
  keys('Escape')
  await new Promise(resolve => setTimeout(resolve, 200))
}

async function see (pattern: RegExp, what: string, timeoutMs = 10_000): Promise<string> {
  let last = ''
  try {
    return await waitFor(() => { last = screen(); return pattern.test(last) ? last : undefined }, { timeoutMs, intervalMs: 100, what })
  } catch (err: unknown) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- screen ---\n${last}`)
  }
}

if (TMUX_MISSING && IN_CI) {
  describe('procmesh top in tmux', () => {
    it('needs tmux, which CI installs (.ci/run)', () => { assert.fail('tmux is not installed, and CI=true: the terminal tests must run in CI') })
  })
} else {
  describe('procmesh top in tmux', { skip: TMUX_MISSING ? 'tmux is not installed (apt-get install tmux); these tests drive a real terminal' : false }, () => {
    let home = ''
    let node: LocalNode | undefined
    let sleeper: ChildProcess | undefined
    let managedPid: number | undefined
    /** why start/stop/logs tests skip, when the node cannot do them */
    let noProcessControl: string | undefined

    before(async () => {
      home = await tempHome('pmtui-')
      socket = `${home}/tmux.sock`
      node = new LocalNode(home, 'tuitest')
      await node.start()
      sleeper = spawn('sleep', [MARKER], { stdio: 'ignore' })
      const client = await ControlClient.connect(home)
      try {
        const r = await client.run({ target: 'self', argv: [process.execPath, '-e', `console.log('tui-log-${MARKER}'); setTimeout(() => {}, 600000)`] }, { timeoutMs: 10_000 })
        managedPid = r.pid
      } catch (err: unknown) {
        // a node built without its supervisor answers start/stop/logs with this; those tests then skip
        if (!(err instanceof ProcmeshError) || !/process control is not available/.test(err.message)) throw err
        noProcessControl = `this node has no process control yet (${err.message}): start, stop and logs cannot be exercised`
      } finally {
        client.close()
      }
      // a shell in the pane: when top quits, its prompt must come back
      tmux('new-session', '-d', '-x', '160', '-y', '45', '-s', SESSION, '-c', REPO, `env PS1='${PROMPT}' bash --norc --noprofile`)
      await see(/tui-prompt\$/, 'the shell prompt')
      type(`stty -g > ${home}/stty.before; NCURSES_NO_UTF8_ACS=1 node ${BIN} top --home ${home} --no-start; stty -g > ${home}/stty.after`)
      keys('Enter')
    })

    after(async () => {
      try { tmux('kill-server') } catch { /* already gone */ }
      if (managedPid !== undefined) { try { process.kill(managedPid, 'SIGKILL') } catch { /* exited */ } }
      sleeper?.kill('SIGKILL')
      await node?.stop()
      for (const pid of deployCopies()) { try { process.kill(pid, 'SIGKILL') } catch { /* exited */ } }
      if (home !== '') await removeHome(home)
    })

    it('shows the host and its processes', async () => {
      // issue 18: at 160 columns NI, THR and TIME+ (htop's) stand before COMMAND, read from the node
      const s = await see(/tuitest \*[\s\S]*PID USER +CPU% +RSS S START +NI +THR +TIME\+ COMMAND[\s\S]*\d+ \w+ +\d+\.\d .*? -?\d+ +\d+ +(\d+:\d\d\.\d\d|\d+h\d\d:\d\d) /, 'host and process rows')
      assert.match(s, /mesh 1\/1 online/)
      assert.match(s, /node tuitest/)
      assert.equal(paneCommand(), 'node')
    })

    it('/ narrows the list to the matching processes', async () => {
      keys('/')
      type(MARKER)
      keys('Enter')
      const s = await see(new RegExp(`sleep ${MARKER}`), 'the marked sleep')
      assert.match(s, /Processes: tuitest \([12] of \d+\)/)
      assert.doesNotMatch(s, /kthreadd|procmesh\.js node/)
    })

    it('a mesh-wide list has a HOST column and the filter still applies', async () => {
      keys('a')
      const s = await see(new RegExp(`HOST +PID[\\s\\S]*tuitest +\\d+ .*sleep ${MARKER}`), 'mesh-wide row')
      assert.match(s, /mesh-wide/)
      keys('a')
      await see(/Processes: tuitest \(/, 'back to the host')
    })

    it('shows a managed process with its marker, who started it in the details, and its logs', async (t) => {
      if (noProcessControl !== undefined) { t.skip(noProcessControl); return }
      await pressEscape()
      keys('/')
      type(`tui-log-${MARKER}`)
      keys('Enter')
      await see(new RegExp(`◆ \\S*node -e console\\.log\\('tui-log-${MARKER}'\\)`), 'the managed mark')
      type('l')
      await see(/managed m[0-9a-z]+ started by /, 'the id and who started it in the details')
      await see(new RegExp(`logs .{1,3} following[\\s\\S]*\\n.tui-log-${MARKER}`), 'the logs in the details pane')
      await pressEscape()
      await see(/Enter details/, 'details closed')
    })

    it('? shows the help built from the keymap, Esc closes it', async () => {
      keys('?')
      await see(/Help: procmesh top[\s\S]*stop the process: pick a signal, then confirm/, 'help overlay')
      await pressEscape()
      const s = await see(/q quit/, 'footer back')
      assert.doesNotMatch(s, /Help: procmesh top/)
    })

    it('k asks for a signal, names host and process, and stops it after y', async (t) => {
      if (noProcessControl !== undefined) { t.skip(noProcessControl); return }
      await pressEscape()
      keys('/')
      type(`sleep ${MARKER}`)
      keys('Enter')
      await see(new RegExp(`sleep ${MARKER}`), 'the sleep')
      const exited = new Promise<void>(resolve => { sleeper?.once('exit', () => { resolve() }) })
      type('k')
      await see(/Stop a process[\s\S]*1 TERM/, 'signal picker')
      keys('Enter')
      await see(new RegExp(`Send SIGTERM to sleep \\(pid ${sleeper?.pid ?? 0}\\)[\\s\\S]*on host tuitest\\?`), 'confirmation')
      assert.equal(sleeper?.exitCode, null, 'still running before y')
      type('y')
      await exited
      await see(/tuitest: SIGTERM to sleep \(pid \d+\): (signalled|it exited)/, 'the result in the status line')
    })

    it('D lists a real deployment with its counts and why a replica cannot be placed; M names the copy\'s deployment', async (t) => {
      if (noProcessControl !== undefined) { t.skip(noProcessControl); return }
      await pressEscape()
      const client = await ControlClient.connect(home)
      try {
        // two replicas on a one-host mesh: one runs here, the other has nowhere to go
        await client.deploy({ name: 'tuidep', argv: ['sleep', DEPLOY_MARKER], selector: 'all', replicas: 2 }, { timeoutMs: 10_000 })
        type('D')
        const s = await see(/Deployments \(1\)[\s\S]*tuidep +v1 1\/2 +all +2 tuitest[\s\S]*! only 1 of 2 replicas can be placed/, 'the deployment, 1 of 2 running on tuitest, and why', 20_000)
        assert.match(s, /NAME +VER RUN\/WANT +ON +REPL HOSTS/)
        await pressEscape()
        type('M')
        await see(/NAME +DEPLOY +PID STATE[\s\S]*tuidep-v1-1 +tuidep v1 +\d+ running/, 'the copy with its deployment in the managed view')
        type('M')
        await see(/Processes: tuitest \(/, 'all processes again')
      } finally {
        await client.undeploy({ name: 'tuidep' }, { timeoutMs: 10_000 }).catch(() => undefined)
        client.close()
        // the copy stops with the undeploy; a copy still there is killed by after()
        await waitFor(() => deployCopies().length === 0 ? true : undefined, { timeoutMs: 10_000, what: 'the copy to stop' }).catch(() => undefined)
      }
    })

    it('survives resizing, down to a too-small terminal and back', async () => {
      tmux('resize-window', '-t', SESSION, '-x', '80', '-y', '24')
      await see(/tuitest[\s\S]*COMMAND/, 'redrawn at 80x24')
      tmux('resize-window', '-t', SESSION, '-x', '30', '-y', '8')
      await see(/terminal too small/, 'the too-small notice')
      tmux('resize-window', '-t', SESSION, '-x', '160', '-y', '45')
      await see(/mesh 1\/1 online[\s\S]*PID USER/, 'redrawn at 160x45')
      assert.equal(paneCommand(), 'node')
    })

    it('says the node is restarting and reconnects when it is back', async () => {
      await node?.stop()
      await see(/node (restarting|unreachable)/, 'the restart notice')
      await node?.start()
      // the last known figures stay on screen while it is away: wait for the notice to go
      await see(/^(?![\s\S]*node (restarting|unreachable))[\s\S]*mesh 1\/1 online/, 'reconnected', 20_000)
    })

    it('q quits, the shell prompt is back and the terminal settings are restored', async () => {
      type('q')
      const s = await see(/^tui-prompt\$ ?$/m, 'the prompt after top')
      assert.doesNotMatch(s, /q quit/)
      await waitFor(() => paneCommand() === 'bash', { timeoutMs: 5000, what: 'bash in the pane' })
      await waitFor(() => { try { return execFileSync('cat', [`${home}/stty.after`], { encoding: 'utf8' }) !== '' } catch { return false } }, { timeoutMs: 5000, what: 'stty after' })
      assert.equal(execFileSync('cat', [`${home}/stty.after`], { encoding: 'utf8' }), execFileSync('cat', [`${home}/stty.before`], { encoding: 'utf8' }))
    })
  })

  describe('procmesh top without a node', { skip: TMUX_MISSING ? 'tmux is not installed' : false }, () => {
    let home = ''
    let started: number[] = []

    before(async () => {
      home = await tempHome('pmtui-auto-')
      socket = `${home}/tmux.sock`
    })

    after(async () => {
      try { tmux('kill-server') } catch { /* already gone */ }
      for (const pid of [...started, ...pidsWithHome(home)]) { try { process.kill(pid, 'SIGTERM') } catch { /* gone */ } }
      await waitFor(() => pidsWithHome(home).length === 0, { timeoutMs: 10_000, what: 'the started node to stop' }).catch(() => {
        for (const pid of pidsWithHome(home)) { try { process.kill(pid, 'SIGKILL') } catch { /* gone */ } }
      })
      if (home !== '') await removeHome(home)
    })

    it('--no-start fails with a clear message and exit code 1', async () => {
      tmux('new-session', '-d', '-x', '160', '-y', '45', '-s', SESSION, '-c', REPO, `env PS1='${PROMPT}' bash --norc --noprofile`)
      await see(/tui-prompt\$/, 'the shell prompt')
      type(`node ${BIN} top --home ${home} --no-start; echo "exit=$?"`)
      keys('Enter')
      const s = await see(/exit=\d/, 'top to give up')
      assert.match(s, /procmesh top: no node is running for home/)
      assert.match(s, /exit=1/)
    })

    it('starts a node in the background, says so, and leaves it running after q', async () => {
      // the entry wrapper keeps the started node on 127.0.0.1 without mDNS
      type(`clear; node ${ENTRY_NO_MDNS} top --home ${home}; echo "exit=$?"`)
      keys('Enter')
      const s = await see(/started a node in the background \(pid \d+, log .*node\.log\)/, 'the status line', 20_000)
      started = [Number(/pid (\d+)/.exec(s)?.[1] ?? 0)].filter(n => n > 0)
      await see(/autostarted \*[\s\S]*PID USER/, 'the new node and its processes', 20_000)
      type('q')
      const after = await see(/exit=0/, 'top to exit')
      assert.match(after, /no node was running for .*; starting one in the background/)
      const client = await ControlClient.connect(home)
      client.close()
      assert.ok(started.length === 1 && pidsWithHome(home).includes(started[0]), 'the node outlives top')
    })
  })
}
