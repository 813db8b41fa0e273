/**
 * The dashboard in a real browser (Debian's Chromium driven by playwright-core, no
 * browser download) against a mesh of simulated hosts (testkit/sim-hosts.ts: each host its
 * own network, PID and UTS namespaces; the nodes find each other by mDNS on the
 * private LAN). `procmesh web` runs in the root namespace as a client of host-1's
 * node (its control socket is a file in host-1's home).
 *
 * Set PROCMESH_SCREENSHOTS=DIR to keep screenshots of the wide and narrow layouts.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { CONTROL_DISABLED_MESSAGE } from '../../cli/web/http-errors.js'
import { createSimNet, harnessSkipReason, hostPid, requireHarness, waitFor, type SimHost, type SimNet } from '../../testkit/sim-hosts.js'
import { cliIn, grantRoles, jsonIn, nodeHome, pidsIn, startMesh, stopNode, type MeshNode } from '../helpers/sim-mesh.js'
import { CHROMIUM, CHROMIUM_ARGS, http, removeDir, requireChromium, startWebCli, tempDir, type WebProcess } from './helpers.js'

const SCREENSHOTS = process.env.PROCMESH_SCREENSHOTS

async function screenshot (page: Page, name: string): Promise<void> {
  if (SCREENSHOTS === undefined || SCREENSHOTS === '') return
  await mkdir(SCREENSHOTS, { recursive: true })
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: false })
}

interface LsJson { peerId: string, name: string, processes: Array<{ managedId: string, name: string | null, pid: number, state: string, restarts: number }> }
interface HistoryJson { history: { atSample?: { at: number, processes: Array<{ pid: number }> } } }

interface PsJson { peerId: string, name: string, processes: Array<{ pid: number, ppid: number, cmd: string, startTime: number, managedId?: string }> }

describe('dashboard in Chromium against simulated hosts', { timeout: 300_000 }, () => {
  let net: SimNet | undefined
  let nodes: MeshNode[] = []
  let hosts: SimHost[] = []
  const webs: WebProcess[] = []
  const targets: ChildProcess[] = []
  let browser: BrowserContext | undefined
  let profile: string | undefined
  let readOnly: WebProcess
  let control: WebProcess
  const marker = `pmweb-${randomBytes(4).toString('hex')}`
  /** host-2's target: `sh` (kept by `; true`) with a `perl` child whose command line has the marker */
  let shPid = 0
  let perlPid = 0
  let target: ChildProcess

  const ready = (): boolean => harnessSkipReason() === undefined && existsSync(CHROMIUM)

  before(async () => {
    if (!ready()) return
    net = await createSimNet({ hosts: 3 })
    hosts = net.hosts
    // limits every host is over (memory) and every process with memory is over: the page shows the nodes' own marks
    nodes = await startMesh(hosts, ['--alert', 'mem=0,0,0', '--alert', 'proc-mem=0.000001,0.000002,0.000003'])
    for (const host of hosts) {
      await waitFor(async () => {
        const peers = await jsonIn<Array<{ status: string }>>(host, ['peers'])
        return peers.length === 3 && peers.every(p => p.status === 'online') ? true : undefined
      }, { timeoutMs: 30_000, what: `${host.name} to see the mesh` })
    }
    // host-1 (the node behind the dashboard) may start on host-3 and stop on host-2
    await grantRoles(hosts[1], hosts[0], ['control'])
    await grantRoles(hosts[2], hosts[0], ['exec'])

    target = hosts[1].spawn(['sh', '-c', `perl -e 'sleep 600' ${marker}; true`])
    targets.push(target)
    shPid = await hostPid(target)
    perlPid = await waitFor(async () => {
      const entries = await jsonIn<PsJson[]>(hosts[0], ['ps', hosts[1].name, '--filter', marker])
      return entries[0]?.processes.find(p => p.ppid === shPid && p.cmd.includes('perl'))?.pid
    }, { timeoutMs: 15_000, what: 'the perl target in host-2\'s list' })

    readOnly = await startWebCli(['--home', nodeHome(hosts[0]), '--listen', '127.0.0.1:0'])
    webs.push(readOnly)
    control = await startWebCli(['--home', nodeHome(hosts[0]), '--listen', '127.0.0.1:0', '--allow-control'])
    webs.push(control)
    profile = await tempDir('pmweb-chromium-')
    browser = await chromium.launchPersistentContext(profile, { headless: true, executablePath: CHROMIUM, args: CHROMIUM_ARGS, viewport: { width: 1400, height: 900 } })
  })

  after(async () => {
    await browser?.close()
    for (const w of webs) await w.stop()
    for (const t of targets) if (t.exitCode === null && t.signalCode === null) t.kill('SIGKILL')
    for (const n of nodes) await stopNode(n)
    await net?.destroy()
    await removeDir(profile)
  })

  /** --allow-control always needs the API token (issue 17 finding 12): the page finds it where it keeps an entered one. */
  async function seedToken (page: Page, web: WebProcess): Promise<void> {
    if (!web.info.tokenRequired) return
    const token = web.info.token ?? (await readFile(join(nodeHome(hosts[0]), 'web.token'), 'utf8')).trim()
    await page.addInitScript(`window.localStorage.setItem('procmesh.web.token', ${JSON.stringify(token)})`)
  }

  /** A fresh page on one of the servers, failing the test on any script error. */
  async function open (web: WebProcess): Promise<{ page: Page, errors: string[] }> {
    if (browser === undefined) throw new Error('no browser')
    const page = await browser.newPage()
    const errors: string[] = []
    page.on('pageerror', err => { errors.push(err.message) })
    // failed loads (the 403 of a refused action) are checked by the tests themselves
    page.on('console', msg => { if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) errors.push(msg.text()) })
    await seedToken(page, web)
    await page.goto(web.info.url)
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 15_000 })
    return { page, errors }
  }

  function hostButton (page: Page, name: string): ReturnType<Page['locator']> {
    return page.locator('#host-list .host', { has: page.locator('.host-name', { hasText: new RegExp(`^${name}$`) }) })
  }

  function row (page: Page, pid: number): ReturnType<Page['locator']> {
    return page.locator(`#proc-body tr.row[data-pid="${pid}"]`)
  }

  /** The pids of the process rows on screen, in order. */
  async function pidsShown (page: Page, extra = ''): Promise<number[]> {
    // runs in the page; typed by hand (this file is compiled without the DOM's types)
    return await page.locator(`#proc-body tr.row${extra}`).evaluateAll((rows: Array<{ dataset: Record<string, string | undefined> }>) => rows.map(r => Number(r.dataset.pid)))
  }

  it('lists every host with its live status, figures and a sparkline', async (t) => {
    if (!requireHarness(t) || !requireChromium(t) || net === undefined) return
    const { page, errors } = await open(readOnly)
    try {
      await page.waitForFunction('document.querySelectorAll(\'#host-list .host[data-status="online"]\').length === 3', undefined, { timeout: 20_000 })
      const names = await page.locator('#host-list .host-name').allTextContents()
      assert.deepEqual([...names].sort(), hosts.map(h => h.name).sort())
      assert.equal(await page.locator('#host-list .badge', { hasText: 'this node' }).count(), 1)
      assert.equal(await hostButton(page, hosts[0].name).locator('.badge').count(), 1, 'host-1 is the node behind the dashboard')
      const cpu = await hostButton(page, hosts[1].name).locator('.fig-value').first().textContent()
      assert.match(cpu ?? '', /^\d+\.\d%$/)
      await waitFor(async () => ((await page.locator('#host-list .spark-cpu').first().getAttribute('points')) ?? '').split(' ').length >= 2, { timeoutMs: 20_000, what: 'a sparkline with two points' })
      // live: a host's figures and "last seen" change without a reload
      const meta = hostButton(page, hosts[2].name).locator('.host-meta')
      const before = await meta.textContent()
      await waitFor(async () => await meta.textContent() !== before, { timeoutMs: 15_000, what: `${hosts[2].name}'s card to update` })
      await screenshot(page, 'hosts-wide')
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
    }
  })

  it('selecting a host shows its processes as a tree that folds and unfolds, with subtree totals and sorting', async (t) => {
    if (!requireHarness(t) || !requireChromium(t) || net === undefined) return
    const { page, errors } = await open(readOnly)
    try {
      await hostButton(page, hosts[1].name).click()
      await row(page, perlPid).waitFor({ timeout: 15_000 })
      assert.equal(await page.locator('#procs-title').textContent(), hosts[1].name)
      // exactly host-2's processes: its own PID namespace
      const shown = (await pidsShown(page)).sort((x, y) => x - y)
      const real = (await pidsIn(hosts[1])).sort((x, y) => x - y)
      const missing = real.filter(p => !shown.includes(p))
      assert.ok(missing.length <= 2, `the page shows host-2's processes (page ${shown.join(',')}; /proc ${real.join(',')})`)
      assert.ok(shown.includes(1) && shown.includes(shPid))

      const parent = row(page, shPid)
      assert.equal(await row(page, perlPid).getAttribute('aria-level'), String(Number(await parent.getAttribute('aria-level')) + 1), 'perl is drawn under its sh')
      assert.notEqual((await parent.locator('.col-smem').textContent())?.trim(), '', 'a parent shows its subtree memory')
      await parent.locator('button.twisty').click()
      await row(page, perlPid).waitFor({ state: 'detached', timeout: 5000 })
      assert.equal(await parent.getAttribute('aria-expanded'), 'false')
      await row(page, shPid).locator('button.twisty').click()
      await row(page, perlPid).waitFor({ timeout: 5000 })
      await page.locator('#collapse-all').click()
      await row(page, perlPid).waitFor({ state: 'detached', timeout: 5000 })
      await page.locator('#expand-all').click()
      await row(page, perlPid).waitFor({ timeout: 5000 })

      // sortable columns: PID descending, then back
      await page.locator('#proc-table th[data-sort="pid"] button').click()
      assert.equal(await page.locator('#proc-table th[data-sort="pid"]').getAttribute('aria-sort'), 'descending')
      const roots = await pidsShown(page, '[aria-level="1"]')
      assert.deepEqual(roots, [...roots].sort((x, y) => y - x), 'roots in descending pid order')
      await page.locator('#proc-table th[data-sort="pid"] button').click()
      assert.equal(await page.locator('#proc-table th[data-sort="pid"]').getAttribute('aria-sort'), 'ascending')

      // the host filter: perl's command line has the marker, and so has its sh's (`sh -c "perl ... MARKER; true"`)
      await page.locator('#filter').fill(marker)
      await waitFor(async () => (await pidsShown(page)).length === 2, { timeoutMs: 5000, what: 'the filter to leave two rows' })
      assert.deepEqual(await pidsShown(page), [shPid, perlPid], 'still a tree: perl under its sh')
      await page.locator('#filter').fill('')

      // details of a process
      await row(page, perlPid).click()
      const details = page.locator('#details')
      await details.waitFor({ state: 'visible' })
      const text = await details.textContent() ?? ''
      assert.ok(text.includes(marker) && text.includes(String(perlPid)) && text.includes(hosts[1].name), text)
      assert.equal(await page.locator('#details-stop').isVisible(), false, 'no stop button without --allow-control')
      await screenshot(page, 'tree-wide')
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
    }
  })

  it('the mesh-wide search finds a process on another host', async (t) => {
    if (!requireHarness(t) || !requireChromium(t) || net === undefined) return
    const { page, errors } = await open(readOnly)
    try {
      await hostButton(page, hosts[0].name).click()
      await page.locator('#proc-body tr.row').first().waitFor({ timeout: 15_000 })
      await page.locator('#search').fill(marker)
      const hit = page.locator(`#search-body tr.row[data-pid="${perlPid}"]`)
      await hit.waitFor({ timeout: 20_000 })
      assert.equal(await hit.locator('.col-host').textContent(), hosts[1].name)
      await screenshot(page, 'search-wide')
      assert.ok(await page.locator('#search-status').textContent().then(s => (s ?? '').includes('on 3 hosts')))
      await hit.click()
      await page.locator('#view-host').waitFor({ state: 'visible' })
      assert.equal(await page.locator('#procs-title').textContent(), hosts[1].name, 'the hit opens its host')
      await row(page, perlPid).waitFor({ timeout: 15_000 })
      assert.match(await row(page, perlPid).getAttribute('class') ?? '', /selected/)
      assert.ok((await page.locator('#details').textContent() ?? '').includes(marker))
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
    }
  })

  it('without --allow-control the page offers no stop and the API refuses one', async (t) => {
    if (!requireHarness(t) || !requireChromium(t) || net === undefined) return
    const { page } = await open(readOnly)
    try {
      assert.equal(await page.locator('#start-open').isVisible(), false)
      const peerId = (await jsonIn<Array<{ peerId: string, name: string }>>(hosts[0], ['peers'])).find(p => p.name === hosts[1].name)?.peerId ?? ''
      const answer = await page.evaluate(async ([peer, pid]) => {
        const res = await fetch(`/api/processes/${encodeURIComponent(peer)}/${pid}/signal`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ signal: 'KILL' }) })
        return { status: res.status, body: await res.json() as unknown }
      }, [peerId, perlPid] as const)
      assert.deepEqual(answer, { status: 403, body: { error: { code: 'FORBIDDEN', message: CONTROL_DISABLED_MESSAGE } } })
      assert.ok((await pidsIn(hosts[1])).includes(perlPid), 'the process still runs on host-2')
    } finally {
      await page.close()
    }
  })

  it('with --allow-control a stop from the page (after confirming) stops the process on that host', async (t) => {
    if (!requireHarness(t) || !requireChromium(t) || net === undefined) return
    const { page, errors } = await open(control)
    try {
      await hostButton(page, hosts[1].name).click()
      await row(page, perlPid).click()
      await page.locator('#details-stop').waitFor({ state: 'visible' })
      // cancelling the confirmation does nothing
      await page.locator('#details-stop').click()
      await page.locator('#stop-dialog').waitFor({ state: 'visible' })
      assert.match(await page.locator('#stop-text').textContent() ?? '', new RegExp(`pid ${perlPid}\\) on ${hosts[1].name}`))
      await page.locator('#stop-cancel').click()
      await page.locator('#stop-dialog').waitFor({ state: 'hidden' })
      await new Promise(resolve => setTimeout(resolve, 500))
      assert.ok((await pidsIn(hosts[1])).includes(perlPid), 'cancel leaves it running')

      await page.locator('#details-stop').click()
      await page.locator('#stop-dialog').waitFor({ state: 'visible' })
      await screenshot(page, 'stop-confirm')
      await page.locator('#stop-confirm').click()
      await page.locator('#toast', { hasText: `pid ${perlPid} on ${hosts[1].name}: ` }).waitFor({ timeout: 15_000 })
      assert.match(await page.locator('#toast').textContent() ?? '', /signalled|exited/)
      await waitFor(async () => !(await pidsIn(hosts[1])).includes(perlPid) ? true : undefined, { timeoutMs: 10_000, what: 'the perl target to end on host-2' })
      await row(page, perlPid).waitFor({ state: 'detached', timeout: 15_000 })
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
    }
  })

  it('with --allow-control the page starts a process on a chosen host', async (t) => {
    if (!requireHarness(t) || !requireChromium(t) || net === undefined) return
    const { page, errors } = await open(control)
    try {
      const started = `${marker}-started`
      await page.locator('#host-list .host').nth(2).waitFor()
      await page.locator('#start-open').click()
      await page.locator('#start-dialog').waitFor({ state: 'visible' })
      const peerId = (await jsonIn<Array<{ peerId: string, name: string }>>(hosts[0], ['peers'])).find(p => p.name === hosts[2].name)?.peerId ?? ''
      await page.locator('#start-host').selectOption(peerId)
      await page.locator('#start-cmd').fill(`perl -e 'sleep 600' ${started}`)
      await page.locator('#start-submit').click()
      await page.locator('#toast', { hasText: `on ${hosts[2].name}` }).waitFor({ timeout: 15_000 })
      const pid = Number(/\(pid (\d+)\)/.exec(await page.locator('#toast').textContent() ?? '')?.[1])
      assert.ok((await pidsIn(hosts[2])).includes(pid), `pid ${pid} runs on host-3`)
      const listed = await jsonIn<PsJson[]>(hosts[0], ['ps', hosts[2].name, '--filter', started])
      assert.equal(listed[0].processes.find(p => p.pid === pid)?.cmd, `perl -e sleep 600 ${started}`, 'argv went through without a shell')
      const token = control.info.token ?? (await readFile(join(nodeHome(hosts[0]), 'web.token'), 'utf8')).trim()
      const stop = await http(`${control.info.url}api/processes/${encodeURIComponent(peerId)}/${pid}/signal`, { method: 'POST', body: { signal: 'KILL' }, headers: { Authorization: `Bearer ${token}` } })
      assert.equal(stop.status, 200, stop.text)

      // a start the target refuses shows the target's reason in the dialog
      await page.locator('#start-open').click()
      const host2 = (await jsonIn<Array<{ peerId: string, name: string }>>(hosts[0], ['peers'])).find(p => p.name === hosts[1].name)?.peerId ?? ''
      await page.locator('#start-host').selectOption(host2)
      await page.locator('#start-cmd').fill('true')
      await page.locator('#start-submit').click()
      await page.locator('#start-error', { hasText: 'lacks the exec role' }).waitFor({ timeout: 15_000 })
      await page.locator('#start-cancel').click()
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
    }
  })

  it('shows a host\'s CPU and memory over a chosen range, and the top processes at a time picked on the chart', async (t) => {
    if (!requireHarness(t) || !requireChromium(t) || net === undefined) return
    // a process holding some memory: among host-2's top processes by memory in every sample
    const hog = hosts[1].spawn(['perl', '-e', '$x = "a" x 30_000_000; sleep 600', `${marker}-hog`])
    targets.push(hog)
    const hogPid = await hostPid(hog)
    await waitFor(async () => {
      const r = await jsonIn<HistoryJson[]>(hosts[0], ['history', hosts[1].name, '--at', 'now', '--json'])
      return r[0]?.history.atSample?.processes.some(p => p.pid === hogPid) === true ? true : undefined
    }, { timeoutMs: 30_000, what: 'host-2\'s history to hold a sample with the perl process' })
    const { page, errors } = await open(readOnly)
    try {
      await hostButton(page, hosts[1].name).click()
      const cpuLine = page.locator('#history-chart svg path.line-cpu')
      await waitFor(async () => ((await cpuLine.getAttribute('d', { timeout: 1000 }).catch(() => null)) ?? '').startsWith('M') ? true : undefined,
        { timeoutMs: 20_000, what: 'the CPU line of the last hour' })
      assert.equal(await page.locator('#history .ranges button[aria-pressed="true"]').textContent(), '1 h')
      assert.equal(await page.locator('#history-chart svg path.line-mem').count(), 1, 'a memory line')
      assert.equal(await page.locator('#chart-to').textContent(), 'now')

      // another range: 24 h
      await page.locator('#history .ranges button[data-range="24h"]').click()
      await page.locator('#history .ranges button[data-range="24h"][aria-pressed="true"]').waitFor({ timeout: 5000 })
      await waitFor(async () => ((await cpuLine.getAttribute('d', { timeout: 1000 }).catch(() => null)) ?? '').startsWith('M') ? true : undefined,
        { timeoutMs: 20_000, what: 'the CPU line of the last day' })
      // from/to: the last two hours, given by hand
      await page.locator('#range-from').fill(await page.evaluate('(() => { const d = new Date(Date.now() - 7200000); const p = n => String(n).padStart(2, "0"); return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T" + p(d.getHours()) + ":" + p(d.getMinutes()) })()') as string)
      await page.locator('#range-form button[type="submit"]').click()
      await waitFor(async () => await page.locator('#history .ranges button[aria-pressed="true"]').count() === 0 ? true : undefined, { timeoutMs: 5000, what: 'no preset pressed' })
      await waitFor(async () => ((await cpuLine.getAttribute('d', { timeout: 1000 }).catch(() => null)) ?? '').startsWith('M') ? true : undefined,
        { timeoutMs: 20_000, what: 'the CPU line of the chosen range' })
      await screenshot(page, 'history-chart')

      // pick the latest time on the chart (a click near its right edge): its top processes are listed
      await page.locator('#history .ranges button[data-range="1h"]').click()
      const hogRow = page.locator(`#history-top-body tr[data-pid="${hogPid}"]`)
      await waitFor(async () => {
        await waitFor(async () => ((await cpuLine.getAttribute('d', { timeout: 1000 }).catch(() => null)) ?? '').startsWith('M') ? true : undefined, { timeoutMs: 20_000, what: 'the chart' })
        const box = await page.locator('#history-chart').boundingBox()
        if (box === null) return undefined
        await page.locator('#history-chart').click({ position: { x: box.width - 2, y: box.height / 2 } })
        await page.locator('#history-top-title', { hasText: /^Top processes at|^No process sample/ }).waitFor({ timeout: 10_000 })
        if (await hogRow.count() > 0) return true
        // the chart's last point may predate the sample with the process: fetch the range again
        await page.locator('#history .ranges button[data-range="24h"]').click()
        await page.locator('#history .ranges button[data-range="1h"]').click()
        return undefined
      }, { timeoutMs: 60_000, what: 'the perl process among the top processes at the picked time' })
      assert.match(await page.locator('#history-top-title').textContent() ?? '', /^Top processes at .+ \(CPU \d+\.\d%, memory /)
      assert.equal(await hogRow.locator('td').first().textContent(), 'perl')
      assert.ok(await page.locator('#history-chart svg line.cursor').count() === 1, 'the picked time is marked')
      // the keyboard picks too
      await page.locator('#history-chart').focus()
      await page.keyboard.press('Home')
      await page.locator('#history-top-title', { hasText: /^(Top processes at|No process sample)/ }).waitFor({ timeout: 10_000 })
      await screenshot(page, 'history-top')
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
      hog.kill('SIGKILL')
    }
  })

  it('the managed-only filter lists managed processes as `ls` does, and restarts one with --allow-control', async (t) => {
    if (!requireHarness(t) || !requireChromium(t) || net === undefined) return
    const name = `api-${marker.slice(-8)}`
    const run = await jsonIn<{ managedId: string, pid: number }>(hosts[0], ['run', hosts[2].name, '--name', name, '--', 'sleep', '600'])
    const { page, errors } = await open(control)
    try {
      await hostButton(page, hosts[2].name).click()
      await page.locator('#managed-only').check()
      const mrow = page.locator('#managed-body tr', { has: page.locator('.col-mname', { hasText: new RegExp(`^${name}$`) }) })
      // ls asks host-3 through host-1's node: generous on a loaded machine
      await mrow.waitFor({ timeout: 40_000 }).catch(async (err: unknown) => {
        throw new Error(`${String(err)}; the page says: ${await page.locator('#procs-status').textContent() ?? ''}; rows: ${await page.locator('#managed-body').textContent() ?? ''}`)
      })
      assert.equal(await page.locator('#proc-wrap').isVisible(), false, 'the tree gives way to the managed list')
      assert.equal(await mrow.locator('.col-mid').textContent(), run.managedId)
      assert.equal(await mrow.locator('.col-pid').textContent(), String(run.pid))
      assert.equal(await mrow.locator('.col-mstate').textContent(), 'running')
      assert.equal(await mrow.locator('.col-restarts').textContent(), '0')
      assert.equal(await mrow.locator('.col-policy').textContent(), 'no')
      await screenshot(page, 'managed-only')

      await mrow.locator('button', { hasText: 'Restart' }).click()
      await page.locator('#restart-dialog').waitFor({ state: 'visible' })
      assert.match(await page.locator('#restart-text').textContent() ?? '', new RegExp(`^Restart ${name} \\(pid ${run.pid}\\) on ${hosts[2].name}\\?$`))
      await page.locator('#restart-confirm').click()
      await page.locator('#toast', { hasText: `restarted ${name} (pid ` }).waitFor({ timeout: 20_000 })
      const newPid = Number(/\(pid (\d+)\)/.exec(await page.locator('#toast').textContent() ?? '')?.[1])
      assert.ok(newPid > 0 && newPid !== run.pid, `a new pid (${newPid})`)
      const listed = await jsonIn<LsJson[]>(hosts[0], ['ls', hosts[2].name])
      const record = listed[0].processes.find(p => p.name === name)
      assert.equal(record?.pid, newPid, 'ls agrees: the same record runs with the new pid')
      assert.equal(record?.managedId, run.managedId)
      assert.ok(!(await pidsIn(hosts[2])).includes(run.pid), 'the old process is gone')
      await page.locator(`#managed-body tr[data-pid="${newPid}"]`).waitFor({ timeout: 10_000 })

      // without --allow-control the list has no restart
      const ro = await open(readOnly)
      try {
        await hostButton(ro.page, hosts[2].name).click()
        await ro.page.locator('#managed-only').check()
        await ro.page.locator('#managed-body tr', { has: ro.page.locator('.col-mname', { hasText: name }) }).waitFor({ timeout: 40_000 })
        assert.equal(await ro.page.locator('#managed-body button[data-restart]').count(), 0, 'no restart without --allow-control')
        assert.ok((await ro.page.locator('#managed-body button[data-logs]').count()) > 0, 'logs are offered read-only')
      } finally {
        await ro.page.close()
      }
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
      await cliIn(hosts[0], ['rm', hosts[2].name, name])
    }
  })

  it('tells when a managed process exits or enters crash-loop', async (t) => {
    if (!requireHarness(t) || !requireChromium(t) || net === undefined) return
    const quitter = `quit-${marker.slice(-8)}`
    const looper = `loop-${marker.slice(-8)}`
    const { page, errors } = await open(readOnly)
    try {
      // the server compares managed processes every 3 s once a page listens: let it take its first look
      await new Promise(resolve => setTimeout(resolve, 4000))
      await jsonIn(hosts[0], ['run', hosts[2].name, '--name', quitter, '--', 'sh', '-c', 'sleep 2; exit 3'])
      await jsonIn(hosts[0], ['run', hosts[2].name, '--name', looper, '--restart', 'on-failure', '--max-restarts', '2', '--backoff', '10ms', '--', 'sh', '-c', 'exit 1'])
      const exited = page.locator('#notices .notice', { hasText: `${quitter} on ${hosts[2].name} exited (code 3)` })
      const looping = page.locator('#notices .notice', { hasText: `${looper} on ${hosts[2].name} is in crash-loop after 2 restarts` })
      await exited.waitFor({ timeout: 30_000 })
      await looping.waitFor({ timeout: 30_000 })
      assert.equal(await looping.getAttribute('data-kind'), 'error')
      await screenshot(page, 'notices')
      // a notice stays until dismissed
      await exited.locator('button').click()
      await exited.waitFor({ state: 'detached', timeout: 5000 })
      assert.equal(await looping.count(), 1)
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
      await cliIn(hosts[0], ['rm', hosts[2].name, quitter])
      await cliIn(hosts[0], ['rm', hosts[2].name, looper])
    }
  })

  it('shows the nodes\' own alerts in Glances\' colours, swap, the fullest disk and per-core CPU', async (t) => {
    if (!requireHarness(t) || !requireChromium(t) || net === undefined) return
    const { page, errors } = await open(readOnly)
    try {
      const btn = hostButton(page, hosts[1].name)
      await page.locator(`#host-list .host[data-alert="critical"]`).first().waitFor({ timeout: 15_000 })
      assert.equal(await btn.getAttribute('data-alert'), 'critical')
      const badges = await btn.locator('.host-alerts .alert-badge.alert-critical').allTextContents()
      assert.ok(badges.some(b => /^mem \d+(\.\d)?% critical$/.test(b)), `a critical memory alert is listed: ${badges.join(' | ')}`)
      assert.match((await btn.locator('.fig[data-fig="mem"] .fig-value').getAttribute('class')) ?? '', /\balert-critical\b/)
      // the other figures, as the node reports them
      const peers = await jsonIn<Array<{ name: string, host?: { cores?: number[], swapTotal?: number, disks?: Array<{ mount: string }> } }>>(hosts[0], ['peers'])
      const info = peers.find(p => p.name === hosts[1].name)?.host
      assert.ok(info !== undefined)
      assert.equal(await btn.locator('.fig[data-fig="swap"]').count(), (info.swapTotal ?? 0) > 0 ? 1 : 0, 'swap shown when the host has some')
      if ((info.disks ?? []).length > 0) assert.match((await btn.locator('.fig[data-fig="disk"] .fig-value').textContent()) ?? '', /^\/\S* \d+\.\d%$/)
      if ((info.cores ?? []).length > 1) assert.equal(await btn.locator('.cores .bar').count(), info.cores?.length)
      // a process's mark colours its CPU and memory cells
      await btn.click()
      // host-2's pid 1 (its namespace's init) has memory, so its node marks it
      await row(page, 1).waitFor({ timeout: 15_000 })
      const entries = await jsonIn<Array<{ processes: Array<{ pid: number, alert?: string }> }>>(hosts[0], ['ps', hosts[1].name])
      assert.equal(entries[0]?.processes.find(p => p.pid === 1)?.alert, 'critical', 'the node marks the process')
      for (const col of ['col-cpu', 'col-mem']) {
        assert.match((await row(page, 1).locator(`td.${col}`).getAttribute('class')) ?? '', /\balert-critical\b/, col)
      }
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
    }
  })

  it('the logs panel shows a managed process\'s output and follows what it prints next', async (t) => {
    if (!requireHarness(t) || !requireChromium(t) || net === undefined) return
    const name = `talker-${randomBytes(3).toString('hex')}`
    const run = await cliIn(hosts[0], ['run', 'self', '--name', name, '--json', '--', 'sh', '-c', `i=0; while :; do echo "${marker}-line-$i"; echo "${marker}-err-$i" >&2; i=$((i+1)); sleep 0.4; done`])
    assert.equal(run.code, 0, run.stderr)
    const talkerPid = (JSON.parse(run.stdout) as { pid: number }).pid
    const { page, errors } = await open(readOnly)
    try {
      await hostButton(page, hosts[0].name).click()
      await page.locator('#managed-only').check()
      const mrow = page.locator('#managed-body tr', { has: page.locator('.col-mname', { hasText: new RegExp(`^${name}$`) }) })
      await mrow.locator('button[data-logs]').click({ timeout: 15_000 })
      const out = page.locator('#logs-out')
      await page.locator('#logs-title', { hasText: `Logs: ${name} on ${hosts[0].name}` }).waitFor({ timeout: 5000 })
      await out.filter({ hasText: `${marker}-line-0` }).waitFor({ timeout: 15_000 })
      assert.equal(await page.locator('#logs-status').textContent(), 'following')
      // what it prints after the panel opened arrives without any reload
      const shown = (await out.textContent()) ?? ''
      const last = Math.max(...[...shown.matchAll(new RegExp(`${marker}-line-(\\d+)`, 'g'))].map(m => Number(m[1])))
      await out.filter({ hasText: `${marker}-line-${last + 3}` }).waitFor({ timeout: 15_000 })
      assert.ok((await page.locator('#logs-out .log-err').count()) > 0, 'stderr is shown, marked')
      // the same panel from the process's details in the tree
      await page.locator('#logs-close').click()
      await page.locator('#managed-only').uncheck()
      await row(page, talkerPid).click({ timeout: 15_000 })
      await page.locator('#details-logs').click()
      await out.filter({ hasText: `${marker}-line-0` }).waitFor({ timeout: 15_000 })
      assert.equal(await page.locator('#logs-title').textContent(), `Logs: ${name} on ${hosts[0].name}`)
      // the process ends: the panel says how
      await cliIn(hosts[0], ['rm', 'self', name])
      await page.locator('#logs-status', { hasText: /^(killed by SIG[A-Z]+|exited with code \d+)/ }).waitFor({ timeout: 15_000 })
      await screenshot(page, 'logs')
      await page.locator('#logs-close').click()
      await page.locator('#logs').waitFor({ state: 'hidden' })
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
      await cliIn(hosts[0], ['rm', 'self', name])
    }
  })

  it('lists deployments with running vs desired copies, where they run, and why a replica cannot be placed', async (t) => {
    if (!requireHarness(t) || !requireChromium(t) || net === undefined) return
    const name = `svc-${randomBytes(3).toString('hex')}`
    // three copies on all hosts: host-2 does not grant host-1 exec, so one copy cannot be placed
    const deployed = await cliIn(hosts[0], ['deploy', name, '--on', 'all', '--replicas', '3', '--', 'sh', '-c', 'while :; do sleep 1; done'])
    assert.equal(deployed.code, 0, deployed.stderr)
    interface Dep { name: string, running: number, desired: number, placed: Array<{ host: string, state: string }>, problems: string[] }
    const { page, errors } = await open(readOnly)
    try {
      const settled = await waitFor(async () => {
        const list = await jsonIn<Dep[]>(hosts[0], ['deployments', name])
        const d = list[0]
        return d !== undefined && d.running === 2 && d.problems.length > 0 ? d : undefined
      }, { timeoutMs: 30_000, what: 'two copies running and a problem told' })
      const item = page.locator('#deployment-list .deployment', { has: page.locator('.deployment-name', { hasText: new RegExp(`^${name}$`) }) })
      await item.locator('.deployment-count', { hasText: `${settled.running}/${settled.desired}` }).waitFor({ timeout: 15_000 })
      assert.equal(await item.getAttribute('data-health'), 'short')
      const placed = await item.locator('.deployment-placed li').allTextContents()
      for (const p of settled.placed.filter(r => r.state === 'running')) assert.ok(placed.includes(`${p.host}${p.state}`), `${p.host} listed running: ${placed.join(' | ')}`)
      const problems = await item.locator('.deployment-problems li').allTextContents()
      assert.deepEqual(problems, settled.problems)
      assert.match(await item.locator('.deployment-meta').textContent() ?? '', /^on all · replicas 3 · sh -c/)
      await screenshot(page, 'deployments')
      // undeployed: it leaves the list
      assert.equal((await cliIn(hosts[0], ['undeploy', name])).code, 0)
      await item.waitFor({ state: 'detached', timeout: 30_000 })
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
      await cliIn(hosts[0], ['undeploy', name])
    }
  })

  it('paints the host list from a first GET before the event stream answers', async (t) => {
    if (!requireHarness(t) || !requireChromium(t) || net === undefined || browser === undefined) return
    const page = await browser.newPage()
    try {
      await seedToken(page, readOnly)
      // the event stream never answers: what the page shows comes from GET /api/hosts
      await page.route('**/api/events', () => {})
      await page.goto(readOnly.info.url)
      // a locator, not a string predicate: the page's CSP (no unsafe-eval) refuses string evaluation
      await page.locator('#host-list .host-name').nth(2).waitFor({ timeout: 15_000 })
      const names = await page.locator('#host-list .host-name').allTextContents()
      assert.deepEqual([...names].sort(), hosts.map(h => h.name).sort())
      assert.equal(await page.locator('#conn').getAttribute('data-state'), 'connecting', 'no event has arrived')
      await hostButton(page, hosts[0].name).locator('.fig-value').first().waitFor()
      assert.match((await hostButton(page, hosts[0].name).locator('.fig-value').first().textContent()) ?? '', /^\d+\.\d%$/)
    } finally {
      await page.close()
    }
  })

  it('at 1280x800 the process table shows State and Started without a sideways scrollbar', async (t) => {
    if (!requireHarness(t) || !requireChromium(t) || net === undefined || browser === undefined) return
    const page = await browser.newPage()
    try {
      await page.setViewportSize({ width: 1280, height: 800 })
      await seedToken(page, readOnly)
      await page.goto(readOnly.info.url)
      await page.locator('#conn[data-state="live"]').waitFor({ timeout: 15_000 })
      // a process with a command line far wider than the screen
      const wide = hosts[1].spawn(['sh', '-c', `sleep 600; true ${'wide-argument-'.repeat(40)}`])
      targets.push(wide)
      const widePid = await hostPid(wide)
      await hostButton(page, hosts[1].name).click()
      await row(page, widePid).waitFor({ timeout: 15_000 })
      const fits = async (): Promise<{ state: boolean, start: boolean, overflow: number }> => await page.evaluate(`(() => {
        const wrap = document.querySelector('#proc-wrap')
        const inView = sel => {
          const th = document.querySelector(sel)
          const r = th.getBoundingClientRect(), w = wrap.getBoundingClientRect()
          return getComputedStyle(th).display !== 'none' && r.width > 0 && r.left >= w.left && r.right <= w.right + 1
        }
        return { state: inView('#proc-table th.col-state'), start: inView('#proc-table th.col-start'), overflow: wrap.scrollWidth - wrap.clientWidth }
      })()`) as { state: boolean, start: boolean, overflow: number }
      const shown = await fits()
      assert.ok(shown.state, 'State is in view')
      assert.ok(shown.start, 'Started is in view')
      assert.ok(shown.overflow <= 1, `the table does not scroll sideways (${shown.overflow}px too wide)`)
      await screenshot(page, 'wide-1280')
    } finally {
      await page.close()
    }
  })

  it('is usable on a narrow screen', async (t) => {
    if (!requireHarness(t) || !requireChromium(t) || net === undefined || browser === undefined) return
    const page = await browser.newPage()
    try {
      await page.setViewportSize({ width: 390, height: 844 })
      await seedToken(page, control)
      await page.goto(control.info.url)
      await page.locator('#conn[data-state="live"]').waitFor({ timeout: 15_000 })
      await hostButton(page, hosts[1].name).click()
      await row(page, 1).waitFor({ timeout: 15_000 })
      // evaluated in the page (a string: this file is compiled without the DOM's types)
      const layout = await page.evaluate(`({
        overflow: document.documentElement.scrollWidth - window.innerWidth,
        hidden: getComputedStyle(document.querySelector('#proc-table th.col-user')).display,
        search: document.querySelector('#search').getBoundingClientRect().width
      })`) as { overflow: number, hidden: string, search: number }
      assert.ok(layout.overflow <= 0, `the page does not scroll sideways (${layout.overflow}px too wide)`)
      assert.equal(layout.hidden, 'none', 'secondary columns are hidden')
      assert.ok(layout.search > 300, 'the search box spans the width')
      await screenshot(page, 'narrow')
      await row(page, 1).click()
      await page.locator('#details').waitFor({ state: 'visible' })
      await screenshot(page, 'narrow-details')
      await page.locator('#details-close').click()
      await page.locator('#details').waitFor({ state: 'hidden' })
    } finally {
      await page.close()
    }
  })
})
