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
import { request } from '../../../node/mesh/reqresp.js'
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
    await assert.rejects(request(client, serverId, LOGS, { type: 'logs', managedId: 'm1', follow: false }, { timeoutMs: 10_000 }),
      (err: unknown) => err instanceof ProcmeshError && err.code === 'PROTOCOL_ERROR' && /does not support/.test(err.message))
  })
})
