/**
 * Hostile input on the mesh protocols (THREATS.md cases 1-4, 7, 15, 16): a raw
 * libp2p peer sends broken frames to a real node; each gets the specific error
 * or a reset stream, and the node keeps answering normal requests.
 */
import '../../node/polyfill.js'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { createProcmeshLibp2p, type ProcmeshLibp2p } from '../../node/mesh/libp2p.js'
import { request } from '../../node/mesh/reqresp.js'
import { HISTORY, LIST, LOGS, START, STOP } from '../../protocols/messages.js'
import type { ProtocolDescriptor } from '../../protocols/wire.js'
import { LocalNode, removeHome, tempHome } from '../helpers/procmesh.js'

const enc = new TextEncoder()
const dec = new TextDecoder()

function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) }
  out.push(n)
  return Uint8Array.from(out)
}

function frame (payload: string | Uint8Array): Uint8Array {
  const body = typeof payload === 'string' ? enc.encode(payload) : payload
  const out = new Uint8Array(varint(body.length).length + body.length)
  out.set(varint(body.length))
  out.set(body, varint(body.length).length)
  return out
}

type Outcome = { kind: 'reset' | 'closed' | 'timeout', data: string, ms: number }

/** Read whatever the server sends until the stream ends or is reset. */
async function drain (stream: Stream, timeoutMs = 15_000): Promise<Outcome> {
  const t0 = Date.now()
  let data = ''
  let timedOut = false
  const timer = setTimeout(() => { timedOut = true; stream.abort(new Error('test timeout')) }, timeoutMs)
  try {
    for await (const chunk of stream) data += dec.decode(chunk.subarray())
    return { kind: timedOut ? 'timeout' : 'closed', data, ms: Date.now() - t0 }
  } catch {
    // the test's own abort is not the server's answer
    return { kind: timedOut ? 'timeout' : 'reset', data, ms: Date.now() - t0 }
  } finally {
    clearTimeout(timer)
  }
}

const ALL: Array<ProtocolDescriptor<unknown, unknown>> = [LIST, START, STOP, LOGS, HISTORY] as Array<ProtocolDescriptor<unknown, unknown>>

describe('hostile frames against a real node', { timeout: 180_000 }, () => {
  let node: LocalNode
  let target: PeerId
  let mallory: ProcmeshLibp2p
  let honest: ProcmeshLibp2p

  const open = async (proto: string): Promise<Stream> => await mallory.dialProtocol(target, proto)
  const stillServes = async (): Promise<void> => {
    const res = await request(honest, target, LIST, { type: 'list' }, { timeoutMs: 10_000 })
    assert.ok(res.processes.length > 0)
  }

  before(async () => {
    node = new LocalNode(await tempHome(), 'target')
    await node.start()
    const addr = (await node.id()).addrs[0]
    target = peerIdFromString(addr.split('/p2p/')[1])
    let psk: Uint8Array | undefined
    try { psk = await readFile(join(node.home, 'swarm.key')) } catch { psk = undefined }
    mallory = await createProcmeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, psk })
    honest = await createProcmeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, psk })
    await mallory.start()
    await honest.start()
    await mallory.dial(multiaddr(addr))
    await honest.dial(multiaddr(addr))
  })

  after(async () => {
    await mallory?.stop()
    await honest?.stop()
    await node?.stop()
    await removeHome(node.home)
  })

  for (const desc of ALL) {
    describe(desc.id, () => {
      it('length prefix of endless continuation bytes: stream reset', async () => {
        const s = await open(desc.id)
        s.send(new Uint8Array(16).fill(0xff))
        const out = await drain(s)
        assert.equal(out.kind, 'reset')
        assert.equal(out.data, '')
        // at once: a prefix longer than any valid one is refused, not read until the deadline
        assert.ok(out.ms < 3000, `took ${out.ms} ms`)
        await stillServes()
      })

      it('prefix announcing 100 MiB with no body: refused at once', async () => {
        const s = await open(desc.id)
        s.send(varint(100 * 1024 * 1024))
        const out = await drain(s)
        assert.equal(out.kind, 'reset')
        assert.ok(out.ms < 3000, `took ${out.ms} ms`)
        await stillServes()
      })

      it('prefix says 1000, sends 10, half-closes: nothing answered', async () => {
        const s = await open(desc.id)
        s.send(Uint8Array.from([...varint(1000), ...enc.encode('{"type":"x')]))
        await s.close().catch(() => {})
        const out = await drain(s)
        assert.equal(out.data, '')
        await stillServes()
      })

      it('valid frame, garbage payload: INVALID_REQUEST naming the problem', async () => {
        const s = await open(desc.id)
        s.send(frame('{nope'))
        const out = await drain(s)
        assert.match(out.data, /"status":"error","code":"INVALID_REQUEST","message":"request: not valid JSON"/)
        await stillServes()
      })

      it('valid JSON of an unknown message type: INVALID_REQUEST', async () => {
        const s = await open(desc.id)
        s.send(frame('{"type":"launch-missiles"}'))
        const out = await drain(s)
        assert.match(out.data, /INVALID_REQUEST.*type: unknown message type \\"launch-missiles\\"/)
        await stillServes()
      })

      it('invalid UTF-8: INVALID_REQUEST', async () => {
        const s = await open(desc.id)
        s.send(frame(Uint8Array.from([0xc3, 0x28, 0xff])))
        const out = await drain(s)
        assert.match(out.data, /request: not valid UTF-8/)
      })
    })
  }

  it('a stream opened and never written is cut at the read deadline', async () => {
    const s = await open(LIST.id)
    const out = await drain(s, 40_000)
    assert.equal(out.kind, 'reset')
    // the read deadline, not the request's whole deadline (15 s) that came first when a collected
    // timeout signal left the read without one (node/mesh/deadline.ts)
    assert.ok(out.ms >= LIST.readDeadlineMs - 500 && out.ms < LIST.deadlineMs - 5000, `cut after ${out.ms} ms`)
    await stillServes()
  })

  it('slowloris: a byte every second is cut at the read deadline', async () => {
    const s = await open(LIST.id)
    const bytes = frame('{"type":"list","filter":"aaaaaaaaaaaaaaaaaaaa"}')
    let i = 0
    const timer = setInterval(() => { if (i < bytes.length && s.status === 'open') s.send(bytes.subarray(i, ++i)) }, 1000)
    const out = await drain(s, 40_000)
    clearInterval(timer)
    assert.equal(out.kind, 'reset')
    // the deadline is 5 s; the margin absorbs a heavily loaded CI machine, while a missing
    // deadline would let the ~50-byte frame trickle in for ~50 s and then be answered
    assert.ok(out.ms < LIST.deadlineMs - 5000, `cut after ${out.ms} ms`)
    assert.equal(out.data, '')
  })

  it('unknown protocol version: not supported', async () => {
    await assert.rejects(mallory.dialProtocol(target, '/procmesh/list/9.9.9'), (err: Error) => /protocol|supported/i.test(`${err.name} ${err.message}`))
    await stillServes()
  })

  it('1,000 concurrent list requests from one peer: excess refused, another peer still answered promptly', async () => {
    // raw streams, as a flooding peer opens them: procmesh's own client would queue these behind
    // the target's cap and share identical reads, so it never floods
    const flood = Array.from({ length: 1000 }, async () => {
      try {
        const stream = await open(LIST.id)
        stream.send(frame(JSON.stringify({ type: 'list' })))
        const out = await drain(stream, 30_000)
        return out.kind === 'closed' && out.data.includes('"status":"ok"') ? 'ok' : 'refused'
      } catch {
        return 'refused'
      }
    })
    const t0 = Date.now()
    await stillServes()
    const honestMs = Date.now() - t0
    const results = await Promise.all(flood)
    const refused = results.filter(r => r === 'refused').length
    assert.ok(refused > 0, 'some of the flood must be refused')
    assert.ok(honestMs < 5000, `honest request took ${honestMs} ms`)
    await stillServes()
  })
})
