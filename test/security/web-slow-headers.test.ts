/**
 * Issue 17 finding 13: clients that send their request headers a byte at a time held the web
 * server's connections before any authentication (10 of 12 probes refused for 60 s). Now a
 * connection must finish its first request head within FIRST_REQUEST_TIMEOUT_MS, and a full
 * table closes the connection that waited longest instead of refusing the newcomer.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { WebServer } from '../../cli/web/server.js'
import { FIRST_REQUEST_TIMEOUT_MS, MAX_WEB_CONNECTIONS } from '../../cli/web/connection-guard.js'
import { removeHome, tempHome } from '../helpers/procmesh.js'
import { http } from '../web/helpers.js'

/** Open a connection and start a request head that never ends: one byte now, one every 2 s. */
async function slowClient (port: number): Promise<Socket> {
  return await new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port })
    sock.on('error', () => {})
    // read, so the server's close is seen at once
    sock.resume()
    sock.once('connect', () => {
      sock.write('G')
      const drip = setInterval(() => { if (!sock.destroyed) sock.write('E') }, 2000)
      sock.once('close', () => { clearInterval(drip) })
      resolve(sock)
    })
    sock.once('error', reject)
  })
}

describe('slow-header clients cannot hold the web server (finding 13)', { timeout: 90_000 }, () => {
  let home: string
  let web: WebServer
  const slow: Socket[] = []

  before(async () => {
    home = await tempHome('pm-webslow-')
    web = new WebServer({ listen: { host: '127.0.0.1', port: 0 }, home, allowControl: false })
    await web.start()
  })

  after(async () => {
    for (const s of slow) s.destroy()
    await web.stop()
    await removeHome(home)
  })

  it('with every connection slot held by header drips, a new client is still served at once', async () => {
    const port = web.port ?? 0
    for (let i = 0; i < MAX_WEB_CONNECTIONS + 20; i++) slow.push(await slowClient(port))
    const t0 = Date.now()
    const r = await http(web.url, { timeoutMs: 5000 })
    assert.equal(r.status, 200, r.text.slice(0, 200))
    assert.ok(Date.now() - t0 < 3000, `the page took ${Date.now() - t0} ms`)
  })

  it('a connection that has not finished its request head is closed after the first-request timeout', async () => {
    const port = web.port ?? 0
    const sock = await slowClient(port)
    slow.push(sock)
    const t0 = Date.now()
    await new Promise<void>(resolve => { if (sock.destroyed) resolve(); else sock.once('close', () => { resolve() }) })
    const waited = Date.now() - t0
    assert.ok(waited <= FIRST_REQUEST_TIMEOUT_MS + 3000, `closed after ${waited} ms`)
    assert.ok(waited >= FIRST_REQUEST_TIMEOUT_MS - 1000, `closed too early (${waited} ms): the client was still sending`)
  })
})
