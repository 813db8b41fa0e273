/**
 * Issue 7, first run as a newcomer: a fresh clone of the committed HEAD, the README's run command
 * and nothing else leads to `procmesh top` showing this host in a one-node mesh; then the README's
 * "Add a second host" commands bring a second host into that mesh.
 *
 * The commands come from README.md itself (of the clone), so this test breaks when the README's
 * commands stop working or change shape. `npm start` auto-starts a node WITH mDNS, so it runs
 * inside a simulated host (its own network, PID, UTS and mount namespaces), never in the machine's
 * root network namespace; destroying the SimNet kills that node. The root namespace only clones
 * and installs.
 */
import { after, before, describe, it, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawnSync, type ChildProcess } from 'node:child_process'
import { access, mkdir, mkdtemp, readFile, rm, stat, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { PeerEntry } from '../../protocols/types.js'
import { createSimNet, harnessSkipReason, requireHarness, waitFor, type SimHost, type SimNet } from '../../testkit/sim-hosts.js'
import { HostTerminal, requireTmux, shQuote, tmuxSkipReason } from '../helpers/tmux.js'

/** The repository this test was compiled from: dist/test/multihost/ is three levels below it. */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const PROMPT = 'newcomer$ '
/** Standard directories, after the one holding the node (and npm) that runs the tests. */
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
/** A clone is a fraction of a second and an install from a warm cache a few seconds; these bound a wedged one. */
const CLONE_TIMEOUT_MS = 60_000
const INSTALL_TIMEOUT_MS = 120_000
/** `npm start` compiles the whole project (tsc, ~15 s on a busy 2-CPU machine) before top opens. */
const FIRST_SCREEN_TIMEOUT_MS = 90_000
const MESH_TIMEOUT_MS = 30_000

/** The text of README section `## title`, up to the next `## ` heading; undefined without one. */
function readmeSection (readme: string, title: string): string | undefined {
  const lines = readme.split('\n')
  const start = lines.findIndex(l => l.trim() === `## ${title}`)
  if (start < 0) return undefined
  const rest = lines.slice(start + 1)
  const end = rest.findIndex(l => l.startsWith('## '))
  return (end < 0 ? rest : rest.slice(0, end)).join('\n')
}

/** The commands of each ```sh block in a piece of Markdown: comments and blank lines dropped. */
function shellBlocks (markdown: string): string[][] {
  const blocks: string[][] = []
  let current: string[] | undefined
  for (const line of markdown.split('\n')) {
    if (current === undefined) {
      if (/^```(sh|bash|shell)\s*$/.test(line.trim())) current = []
    } else if (line.trim().startsWith('```')) {
      blocks.push(current)
      current = undefined
    } else {
      const command = line.replace(/(^|\s)#.*$/, '').trim()
      if (command !== '') current.push(command)
    }
  }
  return blocks
}

/** The test runner's environment without npm's lifecycle variables (`npm test` sets npm_config_local_prefix and more to this checkout). */
function runnerEnvWithoutNpm (): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || k === 'INIT_CWD' || k === 'NODE_TEST_CONTEXT' || k === 'NODE_OPTIONS') continue
    env[k] = v
  }
  return env
}

/** Run a shell command line in the root namespace; rejects with its output when it fails. */
async function shellInRoot (command: string, cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile('sh', ['-c', command], { cwd, env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${command} (in ${cwd}) failed: ${err.message}\nstdout: ${stdout.slice(-2000)}\nstderr: ${stderr.slice(-4000)}`))
      else resolve(stdout)
    })
  })
}

function missingTool (): string | undefined {
  for (const tool of ['git', 'npm']) {
    if (spawnSync(tool, ['--version']).error !== undefined) return `${tool} is not installed`
  }
  return undefined
}

async function modeOf (path: string): Promise<string> {
  return ((await stat(path)).mode & 0o777).toString(8).padStart(4, '0')
}

describe('first run from a fresh clone: the README\'s run command, then a second host', { timeout: 240_000 }, () => {
  let work = ''
  let clone = ''
  /** a directory with `procmesh` in it, as `npm link` would put it on the PATH */
  let binDir = ''
  let net: SimNet | undefined
  let h1: SimHost
  let h2: SimHost
  let term: HostTerminal | undefined
  let startCommand = ''
  let secondNode: ChildProcess | undefined
  let readme = ''
  /** host-1's node, as top reported starting it (pid inside host-1) */
  let startedPid: number | undefined

  /** The environment of a newcomer's shell in a host: nothing of the test runner's, HOME = the host's fresh home. */
  function newcomerEnv (host: SimHost): string[] {
    const env = [`HOME=${host.home}`, `PATH=${binDir}:${dirname(process.execPath)}:${SYSTEM_PATH}`]
    if (process.env.LANG !== undefined) env.push(`LANG=${process.env.LANG}`)
    return env
  }

  /** Run a README command line in a host, as a newcomer's shell would. */
  async function shellIn (host: SimHost, command: string, extraEnv: string[] = []): Promise<{ code: number | null, stdout: string, stderr: string }> {
    return await host.exec(['env', '-i', ...newcomerEnv(host), ...extraEnv, 'sh', '-c', command], { cwd: clone, timeoutMs: 30_000 })
  }

  async function peersOf (host: SimHost): Promise<PeerEntry[]> {
    const r = await shellIn(host, 'procmesh peers --json')
    if (r.code !== 0) throw new Error(`procmesh peers in ${host.name} exited ${String(r.code)}: ${r.stderr}`)
    return JSON.parse(r.stdout) as PeerEntry[]
  }

  function unavailable (t: TestContext): boolean {
    if (!requireHarness(t) || !requireTmux(t)) return true
    const missing = missingTool()
    if (missing !== undefined) {
      if (process.env.CI === 'true') throw new Error(`CI=true: ${missing}`)
      t.skip(missing)
      return true
    }
    if (term === undefined) throw new Error('the setup did not get as far as the terminal (see before())')
    return false
  }

  before(async () => {
    if (harnessSkipReason() !== undefined || tmuxSkipReason() !== undefined || missingTool() !== undefined) return
    work = await mkdtemp(join(tmpdir(), 'pmfirstrun-'))
    clone = join(work, 'procmesh')
    // what a newcomer gets: the committed HEAD, none of this checkout's build output or node_modules
    await shellInRoot(`git clone --quiet ${shQuote(`file://${REPO_ROOT}`)} ${shQuote(clone)}`, work, runnerEnvWithoutNpm(), CLONE_TIMEOUT_MS)
    readme = await readFile(join(clone, 'README.md'), 'utf8')
    const runIt = readmeSection(readme, 'Run it')
    assert.ok(runIt !== undefined, 'README.md has a "## Run it" section')
    const runCommand = shellBlocks(runIt)[0]?.[0]
    assert.ok(runCommand !== undefined, 'the "Run it" section starts with a sh code block')
    // `npm install && npm start`. The simulated hosts have no route to the registry, so every step
    // but the last (the install) runs here in the root namespace, from npm's cache (warm after CI's
    // own `npm ci`; the flags only keep it from asking the network for what the cache has), and the
    // last one, the one that opens the TUI and starts a node with mDNS, runs exactly as written
    // inside host-1.
    const steps = runCommand.split('&&').map(s => s.trim())
    startCommand = steps[steps.length - 1]
    assert.match(startCommand, /^npm (start|run start)$/, `the run command ends in npm start: ${runCommand}`)
    const installEnv = { ...runnerEnvWithoutNpm(), npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' }
    for (const step of steps.slice(0, -1)) await shellInRoot(step, clone, installEnv, INSTALL_TIMEOUT_MS)

    binDir = join(work, 'bin')
    await mkdir(binDir)
    await symlink(join(clone, 'bin', 'procmesh.js'), join(binDir, 'procmesh'))

    net = await createSimNet({ hosts: 2 })
    ;[h1, h2] = net.hosts
    // a newcomer's interactive shell in host-1, in the clone: nothing of the test runner's
    // environment but the language, TERM as tmux sets it. (With tmux's TERM, blessed draws borders
    // in the terminal's line-drawing charset; capture-pane prints those cells as their ASCII
    // letters, `lqqk` and `x`, where an attached terminal shows lines. No pattern here relies on them.)
    term = await HostTerminal.open(h1, {
      socket: join(work, 'tmux.sock'),
      session: 'newcomer',
      cwd: clone,
      command: `env -i TERM="$TERM" ${newcomerEnv(h1).map(shQuote).join(' ')} PS1=${shQuote(PROMPT)} bash --norc --noprofile`
    })
    await term.see(/newcomer\$/, 'the shell prompt')
  })

  after(async () => {
    await term?.kill()
    secondNode?.kill('SIGKILL')
    // kills the node top started in host-1 and the one started in host-2 with everything else there
    await net?.destroy()
    if (work !== '') await rm(work, { recursive: true, force: true })
  })

  it(`the run command opens the TUI with this host in a one-node mesh, starting a node`, async (t) => {
    if (unavailable(t) || term === undefined) return
    await assert.rejects(access(join(h1.home, '.procmesh')), 'host-1 starts without ~/.procmesh')
    await term.type(`${startCommand}; echo "run-exit=$?"`)
    await term.keys('Enter')
    // top says so on its status line for a few seconds after it opens: catch it on the way
    let startedLine: string | undefined
    const catchStarted = (s: string): void => {
      startedLine ??= /started a node in the background \(pid \d+, log [^)]*\)/.exec(s)?.[0]
    }
    let s: string
    try {
      s = await term.see(/online\s+host-1 \*/, 'host-1 online in the TUI', FIRST_SCREEN_TIMEOUT_MS, catchStarted)
    } catch (err: unknown) {
      const log = await readFile(join(h1.home, '.procmesh', 'node.log'), 'utf8').catch(() => '(no node.log)')
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- ~/.procmesh/node.log in host-1 ---\n${log.slice(-3000)}`)
    }
    if (startedLine === undefined) s = await term.see(/started a node in the background/, 'the started-a-node status', 5000, catchStarted)
    assert.ok(startedLine !== undefined, 'top said that it started a node')
    assert.match(startedLine, new RegExp(`log ${h1.home}/\\.procmesh/node\\.log`))
    assert.match(s, /procmesh top .* node host-1 .* mesh 1\/1 online/)
    assert.match(s, /Hosts \(1\/1 online\)/)
    assert.doesNotMatch(s, /host-2/)
    assert.match(s, /Processes: host-1 \(\d+\)/)
    // the node it started runs inside host-1, on the default home
    startedPid = Number(/pid (\d+)/.exec(startedLine)?.[1])
    const cmdline = (await readFile(`/proc/${h1.initPid}/root/proc/${startedPid}/cmdline`, 'utf8')).split('\u0000')
    assert.ok(cmdline.includes('node') && cmdline.includes(join(h1.home, '.procmesh')), `pid ${startedPid} in host-1 is a node on ~/.procmesh: ${cmdline.join(' ')}`)
  })

  it('the node made its keys in ~/.procmesh, readable by their owner only', async (t) => {
    if (unavailable(t)) return
    const home = join(h1.home, '.procmesh')
    assert.equal(await modeOf(join(home, 'swarm.key')), '0600', 'swarm.key')
    assert.equal(await modeOf(join(home, 'identity.key')), '0600', 'identity.key')
    assert.match(await readFile(join(home, 'swarm.key'), 'utf8'), /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\s*$/)
    assert.equal(await modeOf(home), '0700', '~/.procmesh')
  })

  it('q quits back to the shell, and the node keeps running', async (t) => {
    if (unavailable(t) || term === undefined) return
    await term.type('q')
    const s = await term.see(/run-exit=\d+\s*\n\s*newcomer\$/, 'the prompt after npm start')
    assert.match(s, /run-exit=0/)
    assert.match(s, /no node was running for \S*\.procmesh; starting one in the background/)
    assert.doesNotMatch(s, /q quit/)
    const shell = term
    await waitFor(async () => await shell.paneCommand() === 'bash', { timeoutMs: 5000, what: 'bash in the pane' })
    const peers = await peersOf(h1)
    assert.deepEqual(peers.map(p => [p.name, p.status, p.self, p.host.hostname]), [['host-1', 'online', true, 'host-1']])
  })

  it('the README\'s "Add a second host" commands bring host-2 into the mesh', async (t) => {
    if (unavailable(t)) return
    const section = readmeSection(readme, 'Add a second host')
    if (section === undefined) { t.skip('README.md has no "## Add a second host" section'); return }
    const commands = shellBlocks(section).flat()
    // "Three commands": invite on a host of the mesh, join and start a node on the new one
    assert.equal(commands.length, 3, `three commands: ${JSON.stringify(commands)}`)
    const [inviteCmd, joinCmd, nodeCmd] = commands
    // as written in the README: `npx procmesh` from the clone, right after the run command's npm install
    assert.match(inviteCmd, /^npx procmesh invite\b/)
    assert.match(joinCmd, /^npx procmesh join TOKEN\b/)
    assert.match(nodeCmd, /^npx procmesh (node|top)\b/)

    const invited = await shellIn(h1, inviteCmd)
    assert.equal(invited.code, 0, invited.stderr)
    // the token is alone on the last line of stdout
    const token = invited.stdout.trimEnd().split('\n').pop() ?? ''
    assert.match(token, /^\S{40,}$/)
    const joined = await shellIn(h2, joinCmd.replace(/\bTOKEN\b/, '"$PROCMESH_TEST_TOKEN"'), [`PROCMESH_TEST_TOKEN=${token}`])
    assert.equal(joined.code, 0, joined.stderr)
    assert.match(joined.stdout, /joined mesh/)
    assert.doesNotMatch(joined.stdout + joined.stderr, new RegExp(token.slice(0, 40)), 'the token is not echoed')
    const second = h2.spawn(['env', '-i', ...newcomerEnv(h2), 'sh', '-c', `exec ${nodeCmd}`], { cwd: clone })
    secondNode = second
    let log = ''
    second.stdout?.setEncoding('utf8').on('data', (d: string) => { log += d })
    second.stderr?.setEncoding('utf8').on('data', (d: string) => { log += d })
    try {
      await waitFor(async () => {
        if (second.exitCode !== null || second.signalCode !== null) throw new Error(`the node in host-2 exited: ${log}`)
        const peers = await peersOf(h1)
        return peers.some(p => p.name === 'host-2' && p.status === 'online') ? true : undefined
      }, { timeoutMs: MESH_TIMEOUT_MS, what: 'host-2 online in host-1\'s peers' })
    } catch (err: unknown) {
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- host-2's node ---\n${log.slice(-3000)}`)
    }
    const fromH2 = await waitFor(async () => {
      const peers = await peersOf(h2)
      return peers.length === 2 && peers.every(p => p.status === 'online') ? peers : undefined
    }, { timeoutMs: MESH_TIMEOUT_MS, what: 'host-2 to see both hosts online' })
    assert.deepEqual(fromH2.map(p => p.name).sort(), ['host-1', 'host-2'])
    assert.equal((await peersOf(h1)).length, 2)
  })
})
