/**
 * The caller's side of the mesh protocols meets a peer that answers badly: each kind
 * of bad answer reaches the caller with its own code, decided where it happens, and
 * never as INVALID_REQUEST (which would blame the caller's own request).
 */
import '../../../node/polyfill.js'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { createProcmeshLibp2p, type ProcmeshLibp2p } from '../../../node/mesh/libp2p.js'
import { RequestLanes, request, serveProtocol } from '../../../node/mesh/reqresp.js'
import { silentLogger } from '../../../node/logger.js'
import { ProcmeshError, type ErrorCode } from '../../../protocols/errors.js'
import { LIST, LOGS } from '../../../protocols/messages.js'
import { encodeFrame } from '../../../protocols/wire.js'

/** LIST under a test id, so each case gets its own handler. */
function listAs (id: string): typeof LIST {
  return { ...LIST, id: `/procmesh-test/${id}/1.0.0` }
}

type Answer = (stream: Stream) => Promise<void>

/** Read the request, then answer with one frame of this JSON. */
function frameOf (value: unknown): Answer {
  return async stream => {
    const lp = lpStream(stream)
    await lp.read()
    await lp.write(encodeFrame(value))
    await stream.close()
  }
}

const CASES: Array<{ name: string, answer: Answer, code: ErrorCode, message: RegExp }> = [
  {
    name: 'a result that fails validation is the peer\'s PROTOCOL_ERROR',
    answer: frameOf({ status: 'ok', result: { collectedAt: 1, processes: [{ pid: 'one' }] } }),
    code: 'PROTOCOL_ERROR',
    message: /result\.processes\[0\]\.pid/
  },
  {
    name: 'a frame that is not JSON is a PROTOCOL_ERROR',
    answer: async stream => {
      const lp = lpStream(stream)
      await lp.read()
      await lp.write(new TextEncoder().encode('{"status":'))
      await stream.close()
    },
    code: 'PROTOCOL_ERROR',
    message: /^response: not valid JSON/
  },
  {
    name: 'an unknown status is a PROTOCOL_ERROR, never success',
    answer: frameOf({ status: 'fine', result: {} }),
    code: 'PROTOCOL_ERROR',
    message: /response\.status/
  },
  {
    name: 'an error frame with an unknown code is a PROTOCOL_ERROR',
    answer: frameOf({ status: 'error', code: 'OOPS', message: 'x' }),
    code: 'PROTOCOL_ERROR',
    message: /response\.code/
  },
  {
    name: 'an error frame keeps the peer\'s code and words',
    answer: frameOf({ status: 'error', code: 'FORBIDDEN', message: 'missing role read' }),
    code: 'FORBIDDEN',
    message: /^missing role read$/
  },
  {
    name: 'a frame over the response cap is a FRAME_ERROR',
    answer: async stream => {
      const lp = lpStream(stream)
      await lp.read()
      await lp.write(new Uint8Array(LIST.maxResponseBytes + 1))
      await stream.close()
    },
    code: 'FRAME_ERROR',
    message: /over \d+ bytes/
  }
]

describe('request(): a peer\'s bad answers', { timeout: 120_000 }, () => {
  let server: ProcmeshLibp2p
  let client: ProcmeshLibp2p
  let serverId: PeerId

  before(async () => {
    server = await createProcmeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
    client = await createProcmeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
    await server.start()
    await client.start()
    serverId = server.peerId
    for (const [i, c] of CASES.entries()) {
      await server.handle(listAs(String(i)).id, (stream: Stream) => { c.answer(stream).catch(() => { stream.abort(new Error('test answer failed')) }) })
    }
    await client.dial(server.getMultiaddrs()[0])
  })

  after(async () => {
    await client?.stop()
    await server?.stop()
  })

  for (const [i, c] of CASES.entries()) {
    it(c.name, async () => {
      await assert.rejects(request(client, serverId, listAs(String(i)), { type: 'list' }, { timeoutMs: 10_000 }), (err: unknown) => {
        assert.ok(err instanceof ProcmeshError, String(err))
        assert.equal(err.code, c.code, err.message)
        assert.match(err.message, c.message)
        return true
      })
    })
  }

  it('a protocol the peer does not serve is a PROTOCOL_ERROR', async () => {
    await assert.rejects(request(client, serverId, LOGS, { type: 'logs', managedId: 'm1', follow: false }, { timeoutMs: 10_000, peerName: 'h2' }),
      (err: unknown) => err instanceof ProcmeshError && err.code === 'PROTOCOL_ERROR' && /^h2 runs a procmesh that does not serve logs requests/.test(err.message))
  })

  it('errors name the host and the cause, not the peer id or the protocol id', async () => {
    await server.handle('/procmesh-test/silent/1.0.0', (stream: Stream) => { lpStream(stream).read().catch(() => {}) })
    await assert.rejects(request(client, serverId, { ...LIST, id: '/procmesh-test/silent/1.0.0' }, { type: 'list' }, { timeoutMs: 1500, peerName: 'h2' }), (err: unknown) => {
      assert.ok(err instanceof ProcmeshError)
      assert.equal(err.code, 'TIMEOUT')
      assert.equal(err.message, 'h2 did not answer within 1.5 s')
      return true
    })
  })
})

describe('request(): this node\'s own clients queue for a peer\'s capped streams', { timeout: 120_000 }, () => {
  let server: ProcmeshLibp2p
  let client: ProcmeshLibp2p
  let calls = 0
  let open = 0
  let mostOpen = 0
  // at most 2 streams at once, and each answer takes 150 ms: 12 callers must take turns
  const SLOW: typeof LIST = { ...LIST, id: '/procmesh-test/slow/1.0.0', maxInboundStreams: 2, maxOutboundStreams: 2 }

  before(async () => {
    server = await createProcmeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
    client = await createProcmeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
    await server.start()
    await client.start()
    await serveProtocol(server, SLOW, async req => {
      calls++
      open++
      mostOpen = Math.max(mostOpen, open)
      await new Promise(resolve => setTimeout(resolve, 150))
      open--
      return { collectedAt: 1, processes: [], total: Number(req.filter ?? 0) }
    }, { authorize: () => undefined, log: silentLogger })
    await client.dial(server.getMultiaddrs()[0])
  })

  after(async () => {
    await client?.stop()
    await server?.stop()
  })

  it('12 different requests at once against a cap of 2: every one answered, never more than 2 open', async () => {
    calls = 0
    const answers = await Promise.all(Array.from({ length: 12 }, async (_, i) => await request(client, server.peerId, SLOW, { type: 'list', filter: String(i) }, { timeoutMs: 20_000 })))
    assert.deepEqual(answers.map(a => a.total), Array.from({ length: 12 }, (_, i) => i))
    assert.equal(calls, 12)
    assert.ok(mostOpen <= 2, `at most 2 served at once, saw ${mostOpen}`)
  })

  it('identical reads in flight share one exchange', async () => {
    calls = 0
    const answers = await Promise.all(Array.from({ length: 20 }, async () => await request(client, server.peerId, SLOW, { type: 'list', filter: '7' }, { timeoutMs: 20_000 })))
    assert.ok(answers.every(a => a.total === 7))
    assert.equal(calls, 1)
  })

  it('a request whose deadline passes while it waits is a TIMEOUT naming the host; the rest are answered', async () => {
    const slow = Array.from({ length: 4 }, async (_, i) => await request(client, server.peerId, SLOW, { type: 'list', filter: String(100 + i) }, { timeoutMs: 20_000 }))
    await assert.rejects(request(client, server.peerId, SLOW, { type: 'list', filter: '999' }, { timeoutMs: 100, peerName: 'h9' }), (err: unknown) => {
      assert.ok(err instanceof ProcmeshError)
      assert.equal(err.code, 'TIMEOUT')
      assert.match(err.message, /^h9 did not answer within 100 ms \(the request waited for its turn/)
      return true
    })
    assert.equal((await Promise.all(slow)).length, 4)
  })

  it('a full queue is refused as BUSY at once', async () => {
    const lanes = new RequestLanes(1)
    const ctl = new AbortController()
    const a = await lanes.acquire('k', 1, ctl.signal)
    const waiting = lanes.acquire('k', 1, ctl.signal)
    await assert.rejects(lanes.acquire('k', 1, ctl.signal), (err: unknown) => err instanceof ProcmeshError && err.code === 'BUSY')
    a()
    const b = await waiting
    b()
    assert.equal(lanes.waiting('k'), 0)
  })
})
