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
import { ProcmeshError, checkAnswer, errorMessage, toProcmeshError } from '../../protocols/errors.js'
import {
  decodeFramePayload, encodeFrame, errorFrame, moreFrame, okFrame, parseResponseFrame,
  type ProtocolDescriptor, type ResponseFrame, type Role
} from '../../protocols/wire.js'
import type { ProcmeshLibp2p } from './libp2p.js'
import type { Logger } from '../logger.js'

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
  const lp = lpStream(stream, { maxDataLength: desc.maxRequestBytes, maxLengthLength: MAX_LENGTH_PREFIX_BYTES })
  const abort = new AbortController()
  let deadline: NodeJS.Timeout | undefined = setTimeout(() => { abort.abort(new ProcmeshError('TIMEOUT', `${desc.id}: deadline of ${desc.deadlineMs} ms passed`)) }, desc.deadlineMs)
  const onClose = (): void => { abort.abort(new ProcmeshError('UNAVAILABLE', 'stream closed')) }
  stream.addEventListener('close', onClose, { once: true })
  try {
    let request: Req
    try {
      const bytes = await lp.read({ signal: AbortSignal.any([abort.signal, AbortSignal.timeout(desc.readDeadlineMs)]) })
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
  const timeout = AbortSignal.timeout(WRITE_DEADLINE_MS)
  await lp.write(encodeFrame(frame), { signal: signal !== undefined ? AbortSignal.any([signal, timeout]) : timeout })
}

export interface RequestOptions {
  signal?: AbortSignal
  timeoutMs?: number
  /** receives each `more` frame's result (streaming responses) */
  onMore?: (result: unknown) => void
}

/** Send one request to `peer` and return its validated result; errors are ProcmeshErrors. */
export async function request<Req, Res> (libp2p: ProcmeshLibp2p, peer: PeerId, desc: ProtocolDescriptor<Req, Res>, req: Req, opts: RequestOptions = {}): Promise<Res> {
  const timeoutMs = opts.timeoutMs ?? desc.deadlineMs + 2000
  const timeout = AbortSignal.timeout(timeoutMs)
  const signal = opts.signal !== undefined ? AbortSignal.any([opts.signal, timeout]) : timeout
  let stream: Stream
  try {
    stream = await libp2p.dialProtocol(peer, desc.id, { signal })
  } catch (err: unknown) {
    if (timeout.aborted) throw new ProcmeshError('TIMEOUT', `no connection to ${peer.toString()} within ${timeoutMs} ms`)
    if (errorName(err) === 'UnsupportedProtocolError') throw new ProcmeshError('PROTOCOL_ERROR', `peer does not support ${desc.id}`)
    throw new ProcmeshError('UNAVAILABLE', `cannot reach ${peer.toString()}: ${errorMessage(err)}`)
  }
  // maxBufferSize: a whole frame is buffered before it is decoded, and @libp2p/utils' 4 MiB default, not
  // maxResponseBytes, refused LIST answers of hosts with 13,000+ processes (issue 17)
  const lp = lpStream(stream, { maxDataLength: desc.maxResponseBytes, maxLengthLength: MAX_LENGTH_PREFIX_BYTES, maxBufferSize: desc.maxResponseBytes + MAX_LENGTH_PREFIX_BYTES })
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
    if (BAD_LENGTH_ERRORS.has(errorName(err))) throw new ProcmeshError('FRAME_ERROR', `${desc.id}: ${peer.toString()} sent a response frame over ${desc.maxResponseBytes} bytes or with a broken length prefix`)
    if (timeout.aborted) throw new ProcmeshError('TIMEOUT', `${desc.id}: no answer from ${peer.toString()} within ${timeoutMs} ms`)
    if (opts.signal?.aborted === true) throw new ProcmeshError('TIMEOUT', `${desc.id}: cancelled`)
    throw new ProcmeshError('UNAVAILABLE', `${desc.id} to ${peer.toString()} failed: ${errorMessage(err)}`)
  }
}
