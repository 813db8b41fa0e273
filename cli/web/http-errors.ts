/**
 * Errors of the web API: every failure is an HTTP status plus the JSON body
 * `{ error: { code, message } }`, the same shape the CLI prints with --json.
 */
import { ProcmeshError, errorMessage, type ErrorCode } from '../../protocols/errors.js'

/** HTTP-only failures, next to the mesh's own error codes. */
export type WebErrorCode = ErrorCode | 'UNAUTHORIZED' | 'PAYLOAD_TOO_LARGE' | 'UNSUPPORTED_MEDIA_TYPE' | 'METHOD_NOT_ALLOWED'

export class HttpError extends Error {
  override name = 'HttpError'
  readonly status: number
  readonly code: WebErrorCode
  readonly headers: Readonly<Record<string, string>>

  constructor (status: number, code: WebErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message)
    this.status = status
    this.code = code
    this.headers = headers
  }

  toJSON (): { error: { code: WebErrorCode, message: string } } {
    return { error: { code: this.code, message: this.message } }
  }
}

/**
 * The status of each error the node (or a target behind it) can answer. The web
 * server is a gateway in front of the node: failures to reach or understand the
 * upstream are 502/504, a missing node is 503, and the target's own verdicts
 * (denied, not found, bad request) keep their meaning.
 */
export const STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = {
  INVALID_REQUEST: 400,
  AMBIGUOUS_PEER: 400,
  FORBIDDEN: 403,
  REFUSED: 403,
  OS_DENIED: 403,
  NOT_FOUND: 404,
  UNKNOWN_PEER: 404,
  GONE: 410,
  SPAWN_FAILED: 422,
  BUSY: 429,
  SERVER_ERROR: 502,
  PROTOCOL_ERROR: 502,
  FRAME_ERROR: 502,
  PEER_OFFLINE: 502,
  UNAVAILABLE: 502,
  NO_NODE: 503,
  TIMEOUT: 504,
  OUTCOME_UNKNOWN: 504
}

/** Anything thrown while serving a request, as an HttpError (node errors keep their code and message). */
export function httpErrorFrom (err: unknown): HttpError {
  if (err instanceof HttpError) return err
  if (err instanceof ProcmeshError) return new HttpError(STATUS_BY_CODE[err.code], err.code, err.message)
  return new HttpError(500, 'SERVER_ERROR', `procmesh web: ${errorMessage(err)}`)
}

export function badRequest (message: string): HttpError {
  return new HttpError(400, 'INVALID_REQUEST', message)
}

export function notFound (message: string): HttpError {
  return new HttpError(404, 'NOT_FOUND', message)
}

export function methodNotAllowed (method: string, path: string, allowed: readonly string[]): HttpError {
  return new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${path} (allowed: ${allowed.join(', ')})`, { Allow: allowed.join(', ') })
}

export const CONTROL_DISABLED_MESSAGE = 'control is disabled; start procmesh web with --allow-control'

export function controlDisabled (): HttpError {
  return new HttpError(403, 'FORBIDDEN', CONTROL_DISABLED_MESSAGE)
}
