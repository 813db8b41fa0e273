/**
 * Request/response framing for the mesh protocols: one request frame, then one
 * response frame (or several `more` frames and a final one for streams). Frames are
 * varint-length-prefixed UTF-8 JSON with a hard per-protocol size cap.
 */
import { ERROR_CODES, InvalidFieldError, ProcmeshError, isErrorCode, type ErrorCode } from './errors.js'
import { expectRecord, expectString } from './validate.js'

export type Role = 'read' | 'control' | 'exec'
export const ROLES: readonly Role[] = ['read', 'control', 'exec']
/** What a trust entry grants a peer on this node: a role, or `none` (its connections are refused). */
export type TrustRole = 'none' | Role
export const TRUST_ROLES: readonly TrustRole[] = ['none', 'read', 'control', 'exec']

export interface ProtocolDescriptor<Req, Res> {
  id: string
  /** the role a peer needs on the target to use this protocol */
  role: Role
  /** hard cap of a request frame, checked on the length prefix before allocating */
  maxRequestBytes: number
  /** hard cap of each response frame */
  maxResponseBytes: number
  /** the server must have read the request within this (ms): slowloris writers are cut */
  readDeadlineMs: number
  /** the whole exchange (handle + write) must finish within this (ms) unless streaming */
  deadlineMs: number
  /** inbound streams of this protocol per connection; more are reset by libp2p */
  maxInboundStreams: number
  /** outbound streams of this protocol per connection */
  maxOutboundStreams: number
  validateRequest: (value: unknown) => Req
  validateResult: (value: unknown) => Res
}

/** Every response frame carries a status; only these values exist, and none is the default. */
export type ResponseFrame =
  | { status: 'ok', result: unknown }
  | { status: 'more', result: unknown }
  | { status: 'error', code: ErrorCode, message: string }

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeFrame (value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value))
}

/** Parse a frame's payload as JSON; a broken payload is an INVALID_REQUEST naming the problem. */
export function decodeFramePayload (bytes: Uint8Array, what: string): unknown {
  let text: string
  try {
    text = decoder.decode(bytes)
  } catch {
    throw new InvalidFieldError(what, 'not valid UTF-8')
  }
  try {
    return JSON.parse(text)
  } catch {
    throw new InvalidFieldError(what, 'not valid JSON')
  }
}

export function okFrame (result: unknown): ResponseFrame { return { status: 'ok', result } }
export function moreFrame (result: unknown): ResponseFrame { return { status: 'more', result } }
export function errorFrame (err: ProcmeshError): ResponseFrame { return { status: 'error', code: err.code, message: err.message } }

/**
 * Validate a response frame. A missing or unknown status, or an error frame with
 * an unknown code, is a PROTOCOL_ERROR: never success.
 */
export function parseResponseFrame (value: unknown): ResponseFrame {
  const rec = expectRecord(value, 'response')
  if (rec.status === 'ok' || rec.status === 'more') {
    if (!('result' in rec)) throw new ProcmeshError('PROTOCOL_ERROR', 'response.result: missing')
    return { status: rec.status, result: rec.result }
  }
  if (rec.status === 'error') {
    const message = expectString(rec.message, 'response.message', { maxBytes: 4096 })
    if (!isErrorCode(rec.code)) throw new ProcmeshError('PROTOCOL_ERROR', `response.code: unknown error code ${JSON.stringify(rec.code)} (known: ${ERROR_CODES.join(', ')})`)
    return { status: 'error', code: rec.code, message }
  }
  throw new ProcmeshError('PROTOCOL_ERROR', `response.status: ${rec.status === undefined ? 'missing' : `unknown status ${JSON.stringify(rec.status)}`}`)
}

/** Check that a request is of the expected message type (protocol versions are in the id). */
export function expectType (rec: Record<string, unknown>, type: string): void {
  if (rec.type !== type) throw new InvalidFieldError('type', `unknown message type ${JSON.stringify(rec.type)}, expected ${JSON.stringify(type)}`)
}
