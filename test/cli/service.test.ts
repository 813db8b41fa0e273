/**
 * `procmesh service`: the unit text (node/setup/service-unit.ts), systemd's own verdict on it
 * (`systemd-analyze verify`), and install/status/uninstall into a --root, which never talks to
 * the host's systemd.
 */
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCommand } from '../../cli/main.js'
import { procmeshCommand } from '../../cli/commands/service.js'
import { ServiceUnitError, execStartLine, nodeArgsFor, quoteExecArg, renderUnit, unitPath, type UnitInit } from '../../node/setup/service-unit.js'
import { BIN, runCli } from '../helpers/procmesh.js'

/** Split an ExecStart value the way systemd does (quotes, backslash escapes, %% and $$). */
function systemdWords (line: string): string[] {
  const words: string[] = []
  let i = 0
  while (i < line.length) {
    while (line[i] === ' ') i++
    if (i >= line.length) break
    let word = ''
    if (line[i] === '"') {
      i++
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\') i++
        word += line[i]
        i++
      }
      i++
    } else {
      while (i < line.length && line[i] !== ' ') word += line[i++]
    }
    words.push(word.replace(/%%/g, '%').replace(/\$\$/g, '$'))
  }
  return words
}

const BASE: UnitInit = {
  scope: 'system',
  command: ['/usr/bin/node', '/opt/procmesh/bin/procmesh.js'],
  nodeArgs: ['--home', '/var/lib/procmesh'],
  home: '/var/lib/procmesh',
  readonly: false
}

function unitValues (unit: string, key: string): string[] {
  return unit.split('\n').filter(l => l.startsWith(`${key}=`)).map(l => l.slice(key.length + 1))
}

describe('service unit text', () => {
  it('quotes ExecStart words so systemd reads back exactly what was meant', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${X} must reach the unit unexpanded
    const cases = ['plain', '--tag', 'role=web', 'web 1', 'say "hi"', 'back\\slash', '100%', '$HOME', '${X}', "it's", 'tab-free: yes', '/ip4/0.0.0.0/tcp/4001', '']
    for (const arg of cases) {
      const quoted = quoteExecArg(arg)
      assert.deepEqual(systemdWords(`/x ${quoted}`), ['/x', arg], `${JSON.stringify(arg)} -> ${quoted}`)
    }
    assert.equal(quoteExecArg('role=web'), 'role=web', 'plain words stay bare')
    assert.equal(quoteExecArg('50%'), '50%%', 'specifiers are escaped')
    assert.equal(quoteExecArg('$X'), '$$X', 'variables are escaped')
  })

  it('refuses what a unit line cannot carry, naming the argument', () => {
    for (const bad of ['a\nb', 'a\rb', 'nul\u0000', 'bell\u0007']) {
      assert.throws(() => quoteExecArg(bad, '--name'), (err: unknown) => err instanceof ServiceUnitError && err.message.startsWith('--name: '))
    }
    assert.throws(() => execStartLine(['node', 'x.js'], []), /absolute path/)
    assert.throws(() => renderUnit({ ...BASE, home: 'relative' }), /absolute/)
  })

  it('carries the history retention and size cap to the node', () => {
    const args = nodeArgsFor({ home: '/h', tags: {}, listen: [], bootstrap: [], mdns: true, readonly: false, history: '30d', historySize: '1GiB' })
    assert.deepEqual(args, ['--home', '/h', '--history', '30d', '--history-size', '1GiB'])
  })

  it('runs `node --home` with restart on failure and no sandbox a started process would inherit', () => {
    const unit = renderUnit({ ...BASE, nodeArgs: nodeArgsFor({ home: '/var/lib/procmesh', name: 'web 1', tags: { role: 'web' }, listen: [], bootstrap: ['/ip4/10.0.0.1/tcp/4001'], mdns: false, readonly: false }) })
    const [execStart] = unitValues(unit, 'ExecStart')
    assert.deepEqual(systemdWords(execStart), ['/usr/bin/node', '/opt/procmesh/bin/procmesh.js', 'node', '--home', '/var/lib/procmesh', '--name', 'web 1', '--tag', 'role=web', '--bootstrap', '/ip4/10.0.0.1/tcp/4001', '--no-mdns'])
    assert.deepEqual(unitValues(unit, 'Restart'), ['on-failure'])
    assert.deepEqual(unitValues(unit, 'RestartSec'), ['2'])
    assert.deepEqual(unitValues(unit, 'KillMode'), ['process'], 'a restart must not kill started workloads')
    assert.deepEqual(unitValues(unit, 'WantedBy'), ['multi-user.target'])
    for (const key of ['NoNewPrivileges', 'ProtectSystem', 'ProtectHome', 'PrivateTmp', 'PrivateDevices', 'CapabilityBoundingSet']) {
      assert.deepEqual(unitValues(unit, key), [], `${key} would constrain processes started through the mesh`)
    }
  })

  it('sandboxes a --readonly system node, keeping its home writable', () => {
    const unit = renderUnit({ ...BASE, readonly: true })
    assert.deepEqual(unitValues(unit, 'NoNewPrivileges'), ['yes'])
    assert.deepEqual(unitValues(unit, 'ProtectSystem'), ['strict'])
    assert.deepEqual(unitValues(unit, 'ReadWritePaths'), ['/var/lib/procmesh'])
    const user = renderUnit({ ...BASE, scope: 'user', readonly: true })
    assert.deepEqual(unitValues(user, 'ProtectSystem'), [], 'a user manager may lack the privileges for mount sandboxing')
    assert.deepEqual(unitValues(user, 'WantedBy'), ['default.target'])
    assert.deepEqual(unitValues(user, 'After'), [], 'a user manager cannot order after system targets')
  })

  it('puts units where systemd looks for them', () => {
    assert.equal(unitPath('system', { configHome: '/root/.config' }), '/etc/systemd/system/procmesh.service')
    assert.equal(unitPath('user', { configHome: '/home/ann/.config/' }), '/home/ann/.config/systemd/user/procmesh.service')
    assert.equal(unitPath('system', { configHome: '/x', root: '/img/' }), '/img/etc/systemd/system/procmesh.service')
  })

  it('runs the executable itself when procmesh is a single executable, else Node and the script', () => {
    assert.deepEqual(procmeshCommand({ sea: true, execPath: '/usr/local/bin/procmesh', script: '/usr/local/bin/procmesh' }), ['/usr/local/bin/procmesh'])
    assert.deepEqual(procmeshCommand({ sea: false, execPath: '/usr/bin/node', script: '/opt/p/bin/procmesh.js' }), ['/usr/bin/node', '/opt/p/bin/procmesh.js'])
  })
})

describe('systemd-analyze verify', () => {
  const analyze = spawnSync('systemd-analyze', ['--version']).error === undefined
  // CI installs systemd (.ci/run); elsewhere the check needs it too, or says why it did not run
  const skip = !analyze && process.env.CI !== 'true' ? 'systemd-analyze is not installed (Debian: apt-get install systemd)' : false
  let dir: string | undefined
  after(async () => { if (dir !== undefined) await rm(dir, { recursive: true, force: true }) })

  for (const [label, init] of [
    ['system unit', { ...BASE, command: [process.execPath, BIN] }],
    ['--readonly system unit', { ...BASE, command: [process.execPath, BIN], readonly: true }],
    ['user unit', { ...BASE, scope: 'user', command: [process.execPath, BIN] }]
  ] as const) {
    it(`accepts the ${label} without a warning`, { skip }, async () => {
      assert.ok(analyze, 'CI=true: systemd-analyze must be installed (.ci/run installs systemd)')
      dir ??= await mkdtemp(join(tmpdir(), 'pm-unit-'))
      const unitDir = join(dir, label.replace(/\W+/g, '-'))
      await mkdir(unitDir, { recursive: true })
      const file = join(unitDir, 'procmesh.service')
      await writeFile(file, renderUnit(init))
      const env = { ...process.env, XDG_RUNTIME_DIR: unitDir }
      const args = init.scope === 'user' ? ['--user', 'verify', file] : ['verify', file]
      const r = spawnSync('systemd-analyze', args, { encoding: 'utf8', env })
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stderr.trim(), '', 'systemd-analyze verify warns')
    })
  }
})

describe('procmesh service (into --root, never the host systemd)', () => {
  let root: string
  let home: string
  const ioFor = (env: NodeJS.ProcessEnv = {}): { out: string[], err: string[], io: { out: (t: string) => void, err: (t: string) => void, env: NodeJS.ProcessEnv } } => {
    const out: string[] = []
    const err: string[] = []
    return { out, err, io: { out: t => { out.push(t) }, err: t => { err.push(t) }, env: { ...process.env, ...env } } }
  }
  after(async () => {
    await rm(root, { recursive: true, force: true })
    await rm(home, { recursive: true, force: true })
  })

  it('install writes the unit, status sees it, uninstall removes it', async () => {
    root = await mkdtemp(join(tmpdir(), 'pm-root-'))
    home = await mkdtemp(join(tmpdir(), 'pm-svc-home-'))
    const file = join(root, 'etc/systemd/system/procmesh.service')

    const install = ioFor()
    assert.equal(await runCommand(['service', 'install', '--system', '--root', root, '--home', home, '--name', 'n1', '--tag', 'a=b', '--json'], install.io), 0, install.err.join('\n'))
    const result = JSON.parse(install.out.join('')) as { path: string, started: boolean, scope: string }
    assert.equal(result.path, file)
    assert.equal(result.scope, 'system')
    assert.equal(result.started, false, '--root starts nothing')
    const unit = await readFile(file, 'utf8')
    const words = systemdWords(unitValues(unit, 'ExecStart')[0])
    assert.equal(words[0], process.execPath)
    assert.deepEqual(words.slice(2), ['node', '--home', home, '--name', 'n1', '--tag', 'a=b'])

    const status = ioFor()
    assert.equal(await runCommand(['service', 'status', '--system', '--root', root, '--home', home, '--json'], status.io), 0)
    const st = JSON.parse(status.out.join('')) as { installed: boolean, node: { running: boolean } }
    assert.equal(st.installed, true)
    assert.equal(st.node.running, false)

    const uninstall = ioFor()
    assert.equal(await runCommand(['service', 'uninstall', '--system', '--root', root, '--home', home], uninstall.io), 0)
    assert.equal(existsSync(file), false)
    const again = ioFor()
    assert.equal(await runCommand(['service', 'status', '--system', '--root', root, '--home', home], again.io), 0)
    assert.match(again.out.join(''), /not installed/)
  })

  it('a user unit goes under the user config dir ($XDG_CONFIG_HOME or ~/.config)', async () => {
    const r = ioFor({ HOME: '/home/ann', XDG_CONFIG_HOME: '' })
    assert.equal(await runCommand(['service', 'install', '--user', '--root', root, '--home', home], r.io), 0, r.err.join('\n'))
    assert.ok(existsSync(join(root, 'home/ann/.config/systemd/user/procmesh.service')))
    const x = ioFor({ XDG_CONFIG_HOME: '/cfg' })
    assert.equal(await runCommand(['service', 'install', '--user', '--root', root, '--home', home], x.io), 0)
    assert.ok(existsSync(join(root, 'cfg/systemd/user/procmesh.service')))
  })

  it('usage errors exit 2 and name the problem', async () => {
    for (const [args, pattern] of [
      [['service', 'restart'], /unknown action "restart"/],
      [['service', 'install', '--user', '--system', '--dry-run'], /--user and --system/],
      [['service', 'status', '--name', 'x'], /--name applies to install only/],
      [['service', 'install', '--dry-run', '--listen', 'not-a-multiaddr'], /--listen: not a multiaddr/],
      [['service', 'install', '--dry-run', '--tag', 'novalue'], /--tag: expected KEY=VALUE/],
      [['service', 'install', '--dry-run', '--interval', '1ms'], /--interval/],
      [['service'], /missing arguments/]
    ] as const) {
      const r = ioFor()
      assert.equal(await runCommand([...args], r.io), 2, args.join(' '))
      assert.match(r.err.join('\n'), pattern)
    }
  })

  it('--dry-run prints the unit, with the bin script when run from source, and writes nothing', async () => {
    const r = await runCli(['service', 'install', '--system', '--dry-run', '--root', root, '--home', home])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(systemdWords(unitValues(r.stdout, 'ExecStart')[0]).slice(0, 3), [process.execPath, BIN, 'node'])
    assert.equal(existsSync(join(root, 'etc/systemd/system/procmesh.service')), false)
  })

  it('without systemd running, install writes the unit and says what to run (exit 0)', {
    skip: existsSync('/run/systemd/system') ? 'systemd runs this host: this test would enable a real unit' : false
  }, async () => {
    const r = await runCli(['service', 'install', '--user', '--home', home], { env: { HOME: root, XDG_CONFIG_HOME: '' } })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /note: systemd is not running here \(PID 1 is .*\), so nothing was started; on a host booted with systemd run: systemctl --user daemon-reload && systemctl --user enable --now procmesh.service/)
    assert.ok(existsSync(join(root, '.config/systemd/user/procmesh.service')))
    const un = await runCli(['service', 'uninstall', '--user', '--home', home], { env: { HOME: root, XDG_CONFIG_HOME: '' } })
    assert.equal(un.code, 0, un.stderr)
    assert.equal(existsSync(join(root, '.config/systemd/user/procmesh.service')), false)
  })
})
