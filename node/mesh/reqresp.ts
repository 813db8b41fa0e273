/**
 * Serving and calling the request/response protocols (Lodestar reqresp style):
 * a protocol is a descriptor from protocols/ plus a handler. The server reads one
 * length-prefixed request within the read deadline, validates it, checks the
 * caller's role against the authenticated remote peer, runs the handler under the
 * protocol deadline and always closes (or resets) the stream. Bad input becomes an
 * INVALID_REQUEST response naming the problem; anything unexpected a SERVER_ERROR.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import { ProcmeshError, checkAnswer, errorMessage, plainCause, plainDuration, toProcmeshError } from '../../protocols/errors.js'
import { MAX_QUEUED_REQUESTS_PER_PEER } from '../../protocols/limits.js'
import {
  decodeFramePayload, encodeFrame, errorFrame, moreFrame, okFrame, parseResponseFrame,
  type ProtocolDescriptor, type ResponseFrame, type Role
} from '../../protocols/wire.js'
import type { ProcmeshLibp2p } from './libp2p.js'
import type { Logger } from '../logger.js'
import { deadlineSignal } from './deadline.js'

/** Writing one response frame must finish within this (ms): a client that never reads is cut. */
export const WRITE_DEADLINE_MS = 10_000
/** Max bytes a varint length prefix may take (2^35): more is a frame error. */
export const MAX_LENGTH_PREFIX_BYTES = 5

export interface RequestContext {
  remotePeer: PeerId
  connection: Connection
  /** aborted at the deadline or when the stream closes */
  signal: AbortSignal
  /** send an intermediate `more` frame (streaming responses) */
  more: (result: unknown) => Promise<void>
  /** lift the protocol deadline (a follow that lasts until the process exits) */
  extendDeadline: () => void
}

export type RequestHandler<Req> = (req: Req, ctx: RequestContext) => Promise<unknown>

/** Decides whether a peer holds a role here; returns the reason when it does not. */
export type Authorizer = (remotePeer: PeerId, role: Role, protocol: string) => string | undefined

export interface ServeOptions {
  authorize: Authorizer
  log: Logger
  /** notified for every denied request (audit) */
  onDenied?: (remotePeer: PeerId, protocol: string, reason: string) => void
  /** notified for every request refused at validation (audit): it was answered INVALID_REQUEST */
  onInvalid?: (remotePeer: PeerId, protocol: string, reason: string) => void
}

/** Errors of @libp2p/utils' length-prefixed reader for a frame whose prefix is broken or over the cap. */
const BAD_LENGTH_ERRORS: ReadonlySet<string> = new Set(['InvalidDataLengthError', 'InvalidDataLengthLengthError', 'InvalidMessageLengthError'])

function errorName (err: unknown): string {
  return err instanceof Error ? err.name : ''
}

/**
 * The varint length prefix, refused as soon as it runs past MAX_LENGTH_PREFIX_BYTES. The
 * library's reader checks its length-length only once a varint ends, so a prefix of endless
 * continuation bytes kept the stream until the read deadline.
 */
function boundedVarint (buf: { readonly byteLength: number, get: (index: number) => number }): number {
  let value = 0
  let scale = 1
  for (let i = 0; i < buf.byteLength; i++) {
    const b = buf.get(i)
    value += (b & 0x7f) * scale
    if ((b & 0x80) === 0) return value
    if (i + 1 >= MAX_LENGTH_PREFIX_BYTES) {
      const err = new Error(`length prefix longer than ${MAX_LENGTH_PREFIX_BYTES} bytes`)
      err.name = 'InvalidDataLengthLengthError'
      throw err
    }
    scale *= 128
  }
  // the reader's signal for "not enough bytes yet"
  throw new RangeError('incomplete length prefix')
}

/** Frame-level breakage (bad prefix, oversized, truncated): the stream is reset, not answered. */
function isFrameError (err: unknown): boolean {
  const name = errorName(err)
  return BAD_LENGTH_ERRORS.has(name) || name === 'UnexpectedEOFError' || name === 'StreamStateError'
}

export async function serveProtocol<Req, Res> (libp2p: ProcmeshLibp2p, desc: ProtocolDescriptor<Req, Res>, handler: RequestHandler<Req>, opts: ServeOptions): Promise<void> {
  await libp2p.handle(desc.id, (stream: Stream, connection: Connection) => {
    handleStream(desc, handler, opts, stream, connection).catch((err: unknown) => {
      opts.log.debug('%s: stream from %s ended with %s', desc.id, connection.remotePeer.toString(), errorMessage(err))
    })
  }, { maxInboundStreams: desc.maxInboundStreams, maxOutboundStreams: desc.maxOutboundStreams })
}

async function handleStream<Req, Res> (desc: ProtocolDescriptor<Req, Res>, handler: RequestHandler<Req>, opts: ServeOptions, stream: Stream, connection: Connection): Promise<void> {
  const remotePeer = connection.remotePeer
  const lp = lpStream(stream, { maxDataLength: desc.maxRequestBytes, maxLengthLength: MAX_LENGTH_PREFIX_BYTES, lengthDecoder: boundedVarint })
  const abort = new AbortController()
  let deadline: NodeJS.Timeout | undefined = setTimeout(() => { abort.abort(new ProcmeshError('TIMEOUT', `${desc.id}: deadline of ${desc.deadlineMs} ms passed`)) }, desc.deadlineMs)
  const onClose = (): void => { abort.abort(new ProcmeshError('UNAVAILABLE', 'stream closed')) }
  stream.addEventListener('close', onClose, { once: true })
  try {
    let request: Req
    try {
      const read = deadlineSignal(desc.readDeadlineMs, abort.signal, `${desc.id}: no whole request within ${desc.readDeadlineMs} ms`)
      const bytes = await lp.read({ signal: read.signal }).finally(read.clear)
      request = desc.validateRequest(decodeFramePayload(bytes.subarray(), 'request'))
    } catch (err: unknown) {
      if (isFrameError(err) || abort.signal.aborted || (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError'))) {
        opts.log.debug('%s: broken request from %s: %s', desc.id, remotePeer.toString(), errorMessage(err))
        stream.abort(err instanceof Error ? err : new Error(String(err)))
        return
      }
      const invalid = toProcmeshError(err, 'INVALID_REQUEST')
      opts.onInvalid?.(remotePeer, desc.id, invalid.message)
      await writeFrame(lp, errorFrame(invalid))
      await stream.close().catch(() => {})
      return
    }
    const denied = opts.authorize(remotePeer, desc.role, desc.id)
    if (denied !== undefined) {
      opts.onDenied?.(remotePeer, desc.id, denied)
      await writeFrame(lp, errorFrame(new ProcmeshError('FORBIDDEN', denied)))
      await stream.close().catch(() => {})
      return
    }
    const ctx: RequestContext = {
      remotePeer,
      connection,
      signal: abort.signal,
      more: async result => { await writeFrame(lp, moreFrame(result), abort.signal) },
      extendDeadline: () => { clearTimeout(deadline); deadline = undefined }
    }
    let frame: ResponseFrame
    try {
      frame = okFrame(await handler(request, ctx))
    } catch (err: unknown) {
      const pe = toProcmeshError(err)
      if (pe.code === 'SERVER_ERROR') opts.log.error('%s handler failed: %s', desc.id, errorMessage(err))
      frame = errorFrame(pe)
    }
    if (stream.status !== 'open') return
    await writeFrame(lp, frame)
    await stream.close({ signal: AbortSignal.timeout(WRITE_DEADLINE_MS) }).catch(() => { stream.abort(new Error('close timed out')) })
  } catch (err: unknown) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    throw err
  } finally {
    clearTimeout(deadline)
    stream.removeEventListener('close', onClose)
  }
}

async function writeFrame (lp: LengthPrefixedStream<Stream>, frame: unknown, signal?: AbortSignal): Promise<void> {
  const write = deadlineSignal(WRITE_DEADLINE_MS, signal)
  try {
    await lp.write(encodeFrame(frame), { signal: write.signal })
  } finally {
    write.clear()
  }
}

export interface RequestOptions {
  signal?: AbortSignal
  timeoutMs?: number
  /** receives each `more` frame's result (streaming responses) */
  onMore?: (result: unknown) => void
  /** the peer's name in the mesh view: messages users read name the host, not its peer id */
  peerName?: string
  /** the longest this request may wait for a free stream to the peer (default: its whole timeout) */
  queueWaitMs?: number
}

/** The peer does not serve the protocol (an older node): callers may fall back to an older one. */
export class NotServedError extends ProcmeshError {
  override name = 'NotServedError'
  constructor (message: string) {
    super('PROTOCOL_ERROR', message)
  }
}


/**
 * The request never left this node (no connection, no free stream in time, or cancelled
 * before it was sent): the peer cannot have acted on it. Anything else that fails after the
 * request was written leaves its outcome unknown to the caller.
 */
export class UndeliveredError extends ProcmeshError {
  override name = 'UndeliveredError'
}

/** What users call a protocol in messages: `/procmesh/logs-follow/1.0.0` -> "logs-follow". */
function protocolName (id: string): string {
  return id.split('/')[2] ?? id
}

/**
 * Outbound requests of this node, one lane per peer and protocol. The peer serves at most
 * its protocol's `maxInboundStreams` streams from one connection and resets the rest, so
 * this node's own clients (CLI, TUI, web page, fan-outs, history pulls) take turns here, in
 * order, each bounded by its own deadline, instead of failing because another client is busy.
 * The caps still protect the peer: no more than its cap is ever open from here, and a
 * flooding peer that ignores them is reset by libp2p on the serving side.
 */
export class RequestLanes {
  private readonly lanes = new Map<string, { active: number, waiting: Array<() => void> }>()
  private readonly maxQueued: number

  constructor (maxQueued = MAX_QUEUED_REQUESTS_PER_PEER) {
    this.maxQueued = maxQueued
  }

  /** Requests waiting in the lane (for messages and tests). */
  waiting (key: string): number {
    return this.lanes.get(key)?.waiting.length ?? 0
  }

  /**
   * Wait for one of `limit` slots of the lane; resolves to its release. Throws BUSY when the
   * queue is full; rejects with the signal's reason when it aborts first.
   */
  async acquire (key: string, limit: number, signal: AbortSignal): Promise<() => void> {
    let lane = this.lanes.get(key)
    if (lane === undefined) {
      lane = { active: 0, waiting: [] }
      this.lanes.set(key, lane)
    }
    const l = lane
    let released = false
    const release = (): void => {
      if (released) return
      released = true
      const next = l.waiting.shift()
      if (next !== undefined) { next(); return }
      l.active--
      if (l.active === 0) this.lanes.delete(key)
    }
    if (l.active < limit) { l.active++; return release }
    if (l.waiting.length >= this.maxQueued) throw new ProcmeshError('BUSY', `${l.waiting.length} requests already wait`)
    signal.throwIfAborted()
    await new Promise<void>((resolve, reject) => {
      // the slot passes from the releasing request to this one: `active` stays as it is
      const grant = (): void => { signal.removeEventListener('abort', onAbort); resolve() }
      const onAbort = (): void => {
        const i = l.waiting.indexOf(grant)
        if (i >= 0) l.waiting.splice(i, 1)
        reject(signal.reason)
      }
      l.waiting.push(grant)
      signal.addEventListener('abort', onAbort, { once: true })
    })
    return release
  }
}

/**
 * The lanes of one libp2p node. Kept beside the node rather than passed in, so every caller
 * of request() (control methods, history pulls, summary pulls, invites, audit fan-outs) shares
 * them without each having to be given the same object.
 */
const LANES = new WeakMap<ProcmeshLibp2p, RequestLanes>()

export function lanesOf (libp2p: ProcmeshLibp2p): RequestLanes {
  let lanes = LANES.get(libp2p)
  if (lanes === undefined) {
    lanes = new RequestLanes()
    LANES.set(libp2p, lanes)
  }
  return lanes
}

/** Identical read requests to one peer in flight now: a second caller shares the first's answer. */
const SHARED = new WeakMap<ProcmeshLibp2p, Map<string, Promise<unknown>>>()

/** Wait for `promise`, but give up when `signal` aborts (the promise itself goes on). */
async function untilAborted<T> (promise: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted()
  let onAbort: (() => void) | undefined
  try {
    return await Promise.race([promise, new Promise<never>((_resolve, reject) => {
      onAbort = () => { reject(signal.reason) }
      signal.addEventListener('abort', onAbort, { once: true })
    })])
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
  }
}

/**
 * Send one request to `peer` and return its validated result; errors are ProcmeshErrors whose
 * messages name the host (`opts.peerName`) and the cause in plain words.
 *
 * The request waits its turn for one of the peer's streams of this protocol (RequestLanes), and
 * identical read-only requests in flight at the same moment (50 clients asking `ps all`) share
 * one exchange: a read answers the same to each of them.
 */
export async function request<Req, Res> (libp2p: ProcmeshLibp2p, peer: PeerId, desc: ProtocolDescriptor<Req, Res>, req: Req, opts: RequestOptions = {}): Promise<Res> {
  const timeoutMs = opts.timeoutMs ?? desc.deadlineMs + 2000
  if (desc.role !== 'read' || opts.onMore !== undefined) return await queuedRequest(libp2p, peer, desc, req, opts, timeoutMs)
  let shared = SHARED.get(libp2p)
  if (shared === undefined) {
    shared = new Map()
    SHARED.set(libp2p, shared)
  }
  const key = `${peer.toString()} ${desc.id} ${JSON.stringify(req)} ${timeoutMs}`
  let flight = shared.get(key) as Promise<Res> | undefined
  if (flight === undefined) {
    const map = shared
    // the shared exchange is not cancelled by one caller leaving: it has only its deadline
    const started = queuedRequest(libp2p, peer, desc, req, { ...opts, signal: undefined }, timeoutMs)
    flight = started
    map.set(key, started)
    started.then(() => { map.delete(key) }, () => { map.delete(key) })
  }
  return opts.signal !== undefined ? await untilAborted(flight, opts.signal) : await flight
}

async function queuedRequest<Req, Res> (libp2p: ProcmeshLibp2p, peer: PeerId, desc: ProtocolDescriptor<Req, Res>, req: Req, opts: RequestOptions, timeoutMs: number): Promise<Res> {
  const who = opts.peerName ?? peer.toString()
  const what = protocolName(desc.id)
  const timeout = AbortSignal.timeout(timeoutMs)
  const signal = opts.signal !== undefined ? AbortSignal.any([opts.signal, timeout]) : timeout
  const lanes = lanesOf(libp2p)
  const lane = `${peer.toString()} ${desc.id}`
  const queueWaitMs = Math.min(timeoutMs, opts.queueWaitMs ?? timeoutMs)
  const wait = queueWaitMs < timeoutMs ? deadlineSignal(queueWaitMs, signal) : undefined
  let release: () => void
  try {
    release = await lanes.acquire(lane, desc.maxInboundStreams, wait?.signal ?? signal)
  } catch (err: unknown) {
    if (err instanceof ProcmeshError) throw new UndeliveredError('BUSY', `${who}: ${err.message} for a ${what} stream from this node; try again shortly`)
    if (opts.signal?.aborted === true) throw new UndeliveredError('TIMEOUT', `${what} request to ${who} cancelled`)
    if (!timeout.aborted) {
      throw new UndeliveredError('BUSY', `${who} already serves this node ${desc.maxInboundStreams} ${what} streams, the most it allows at once; none ended within ${plainDuration(queueWaitMs)}`)
    }
    throw new UndeliveredError('TIMEOUT', `${who} did not answer within ${plainDuration(timeoutMs)} (the request waited for its turn behind ${desc.maxInboundStreams} others from this node the whole time)`)
  } finally {
    wait?.clear()
  }
  try {
    return await exchange(libp2p, peer, desc, req, opts, { who, what, timeoutMs, timeout, signal })
  } finally {
    release()
  }
}

interface ExchangeContext { who: string, what: string, timeoutMs: number, timeout: AbortSignal, signal: AbortSignal }

async function exchange<Req, Res> (libp2p: ProcmeshLibp2p, peer: PeerId, desc: ProtocolDescriptor<Req, Res>, req: Req, opts: RequestOptions, c: ExchangeContext): Promise<Res> {
  const { who, what, timeoutMs, timeout, signal } = c
  let stream: Stream
  try {
    stream = await libp2p.dialProtocol(peer, desc.id, { signal })
  } catch (err: unknown) {
    if (timeout.aborted) {
      // connected but no stream opened: the peer's node hangs; not connected: it cannot be reached
      const connected = libp2p.getConnections(peer).length > 0
      throw new UndeliveredError('TIMEOUT', connected ? `${who} did not answer within ${plainDuration(timeoutMs)}` : `cannot reach ${who}: no connection within ${plainDuration(timeoutMs)}`)
    }
    if (opts.signal?.aborted === true) throw new UndeliveredError('TIMEOUT', `${what} request to ${who} cancelled`)
    if (errorName(err) === 'UnsupportedProtocolError') throw new NotServedError(`${who} runs a procmesh that does not serve ${what} requests (an older version?)`)
    throw new UndeliveredError('UNAVAILABLE', `cannot reach ${who}: ${plainCause(err)}`)
  }
  // maxBufferSize: a whole frame is buffered before it is decoded, and @libp2p/utils' 4 MiB default, not
  // maxResponseBytes, refused LIST answers of hosts with 13,000+ processes (issue 17)
  const lp = lpStream(stream, { maxDataLength: desc.maxResponseBytes, maxLengthLength: MAX_LENGTH_PREFIX_BYTES, lengthDecoder: boundedVarint, maxBufferSize: desc.maxResponseBytes + MAX_LENGTH_PREFIX_BYTES })
  try {
    await lp.write(encodeFrame(req), { signal })
    for (;;) {
      const bytes = await lp.read({ signal })
      // what the peer sent is checked as its answer: a failure is the peer's PROTOCOL_ERROR
      const frame = checkAnswer(() => parseResponseFrame(decodeFramePayload(bytes.subarray(), 'response')))
      if (frame.status === 'error') throw new ProcmeshError(frame.code, frame.message)
      if (frame.status === 'more') { opts.onMore?.(frame.result); continue }
      const result = checkAnswer(() => desc.validateResult(frame.result))
      await stream.close({ signal: AbortSignal.timeout(1000) }).catch(() => { stream.abort(new Error('close timed out')) })
      return result
    }
  } catch (err: unknown) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    if (err instanceof ProcmeshError) throw err
    if (BAD_LENGTH_ERRORS.has(errorName(err))) throw new ProcmeshError('FRAME_ERROR', `${who} sent a ${what} answer over ${desc.maxResponseBytes} bytes or with a broken length prefix`)
    if (timeout.aborted) throw new ProcmeshError('TIMEOUT', `${who} did not answer within ${plainDuration(timeoutMs)}`)
    if (opts.signal?.aborted === true) throw new ProcmeshError('TIMEOUT', `${what} request to ${who} cancelled`)
    throw new ProcmeshError('UNAVAILABLE', `${who} stopped answering: ${plainCause(err)}`)
  }
}
