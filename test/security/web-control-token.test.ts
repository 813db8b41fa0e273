/**
 * Issue 17 finding 12: `procmesh web --allow-control` on loopback without a token let
 * any local user start processes as the node's user. Control now always needs the
 * API token; the "other local user" is a plain HTTP client without it.
 */
import '../../node/polyfill.js'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createLogger } from '../../node/logger.js'
import { createProcmeshNode, defaultNodeConfig, type ProcmeshNode } from '../../node/procmesh-node.js'
import { WebServer } from '../../cli/web/server.js'
import { removeHome, tempHome } from '../helpers/procmesh.js'
import { http, startWebCli, type WebProcess } from '../web/helpers.js'

describe('web --allow-control needs the API token, on loopback too (finding 12)', { timeout: 60_000 }, () => {
  let home: string
  let node: ProcmeshNode
  let web: WebProcess | undefined

  before(async () => {
    home = await tempHome('pm-webtok-')
    node = await createProcmeshNode({ ...defaultNodeConfig(home), name: 'target', listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, intervalMs: 500 }, createLogger({ level: 'error', write: () => {} }))
    await node.start()
  })

  after(async () => {
    await web?.stop()
    await node?.stop()
    await removeHome(home)
  })

  it('a local client without the token cannot start a process; with it, it can', async () => {
    web = await startWebCli(['--home', home, '--listen', '127.0.0.1:0', '--allow-control'])
    assert.equal(web.info.tokenRequired, true)
    const url = `${web.info.url}api/processes`
    const body = { host: 'target', argv: ['true'] }
    const anon = await http(url, { method: 'POST', body })
    assert.equal(anon.status, 401, anon.text)
    assert.ok(!node.security.audit.read(20).some(e => e.event === 'start'), 'nothing was asked of the node')
    const token = web.info.token ?? (await readFile(join(home, 'web.token'), 'utf8')).trim()
    const authed = await http(url, { method: 'POST', body, headers: { Authorization: `Bearer ${token}` } })
    assert.equal(authed.status, 201, authed.text)
  })

  it('the server itself refuses control without a token', () => {
    assert.throws(() => new WebServer({ listen: { host: '127.0.0.1', port: 0 }, home, allowControl: true }), /needs an API token/)
  })
})
