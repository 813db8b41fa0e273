/**
 * Error codes shared by the mesh protocols, the control API and the CLI.
 * There is deliberately no "OK" member here: success is a separate status, so a
 * missing or unknown code can never read as success.
 */
export const ERROR_CODES = [
  'INVALID_REQUEST', // the request failed validation; the message names the field
  'FRAME_ERROR', // the frame itself was broken (bad prefix, oversized, truncated)
  'FORBIDDEN', // the authenticated peer lacks the role; the message names it
  'NOT_FOUND', // pid, managed id or method not found
  'GONE', // the process ended or its start time no longer matches
  'REFUSED', // refused by policy (pid 1, the node itself, start policy, readonly)
  'SPAWN_FAILED', // command not found, not executable, bad cwd
  'OS_DENIED', // the operating system refused (EPERM)
  'TIMEOUT', // a deadline passed
  'BUSY', // a concurrency limit was reached
  'UNKNOWN_PEER', // TARGET matched no peer
  'AMBIGUOUS_PEER', // TARGET matched several peers
  'PEER_OFFLINE', // the peer is known but not reachable
  'UNAVAILABLE', // could not reach the peer or service
  'OUTCOME_UNKNOWN', // a request that changes state reached the peer, but its answer did not come back
  'NO_NODE', // no node is running for this home
  'PROTOCOL_ERROR', // the remote answered something that is not a valid response
  'SERVER_ERROR' // anything unexpected on the serving side
] as const

export type ErrorCode = typeof ERROR_CODES[number]

const CODE_SET: ReadonlySet<string> = new Set(ERROR_CODES)

export function isErrorCode (value: unknown): value is ErrorCode {
  return typeof value === 'string' && CODE_SET.has(value)
}

/** An error with a code that crosses process and network boundaries unchanged. */
export class ProcmeshError extends Error {
  override name = 'ProcmeshError'
  readonly code: ErrorCode

  constructor (code: ErrorCode, message: string) {
    super(message)
    this.code = code
  }

  toJSON (): { code: ErrorCode, message: string } {
    return { code: this.code, message: this.message }
  }
}

/** Thrown by validators: the message always starts with the path of the bad field. */
export class InvalidFieldError extends ProcmeshError {
  override name = 'InvalidFieldError'
  constructor (path: string, problem: string) {
    super('INVALID_REQUEST', `${path}: ${problem}`)
  }
}

/** The `code` of a Node.js system error (`ENOENT`, `EACCES` …), or undefined for anything else. */
export function errnoCode (err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined
  return typeof err.code === 'string' ? err.code : undefined
}

export function errorMessage (err: unknown): string {
  if (err instanceof Error) return err.message
  return String(err)
}

/**
 * Check something a remote answered (a peer's response, the node's result). A failed
 * check is the remote's PROTOCOL_ERROR: the validators speak of INVALID_REQUEST,
 * which would blame the caller's own request. `context` prefixes the message.
 */
export function checkAnswer<T> (check: () => T, context?: string): T {
  try {
    return check()
  } catch (err: unknown) {
    const message = context !== undefined ? `${context}: ${errorMessage(err)}` : errorMessage(err)
    if (err instanceof ProcmeshError && err.code === 'PROTOCOL_ERROR' && context === undefined) throw err
    throw new ProcmeshError('PROTOCOL_ERROR', message)
  }
}

/** Turn anything thrown into a ProcmeshError, keeping codes we already gave. */
export function toProcmeshError (err: unknown, fallback: ErrorCode = 'SERVER_ERROR'): ProcmeshError {
  if (err instanceof ProcmeshError) return err
  return new ProcmeshError(fallback, errorMessage(err))
}

/** Operating-system error codes as a user reads them (never a raw errno in what a user sees). */
const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused (no procmesh node listens at its address)',
  ECONNRESET: 'the connection was reset',
  ECONNABORTED: 'the connection was aborted',
  EPIPE: 'the connection was closed',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'no route to the host',
  EHOSTDOWN: 'the host is down',
  ENETUNREACH: 'its network is unreachable',
  ENETDOWN: 'the network is down',
  EADDRINUSE: 'the address is already in use by another program',
  EADDRNOTAVAIL: 'the address is not one of this host\'s',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exhausted',
  EROFS: 'the file system is read-only',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'it is a directory',
  ENAMETOOLONG: 'the path is too long',
  EMFILE: 'too many open files in this process',
  ENFILE: 'too many open files on this host'
}

/** libp2p failures as a user reads them. */
const LIBP2P_TEXT: Readonly<Record<string, string>> = {
  NoValidAddressesError: 'no address to dial it is known',
  ConnectionClosedError: 'the connection closed',
  MuxerClosedError: 'the connection closed',
  StreamResetError: 'it reset the stream',
  StreamAbortedError: 'the stream was aborted',
  StreamStateError: 'the stream was already closed',
  DialDeniedError: 'this node\'s trust settings deny connections to it',
  EncryptionFailedError: 'the secure handshake failed (a different mesh key, or not a procmesh node)',
  InvalidCryptoExchangeError: 'the secure handshake failed (a different mesh key, or not a procmesh node)',
  UnexpectedEOFError: 'the connection ended in the middle of an answer'
}

/** A plain-language cause for a failure from the OS or libp2p, without errno names or stack noise. */
export function plainCause (err: unknown): string {
  const seen = new Set<unknown>()
  const visit = (e: unknown): string | undefined => {
    if (e === null || e === undefined || seen.has(e)) return undefined
    seen.add(e)
    const code = errnoCode(e)
    if (code !== undefined && ERRNO_TEXT[code] !== undefined) return ERRNO_TEXT[code]
    if (e instanceof Error && LIBP2P_TEXT[e.name] !== undefined) return LIBP2P_TEXT[e.name]
    if (e instanceof AggregateError) for (const inner of e.errors) { const t = visit(inner); if (t !== undefined) return t }
    if (e instanceof Error && e.cause !== undefined) return visit(e.cause)
    return undefined
  }
  const known = visit(err)
  if (known !== undefined) return known
  // an unknown errno: keep the OS's words, drop the "ECODE: syscall path" framing
  const text = errorMessage(err).replace(/^E[A-Z0-9]+: /, '').replace(/, (open|mkdir|bind|listen|connect|unlink|rename|write|stat|lstat|chmod|access) .*$/, '')
  return text === '' ? 'unknown cause' : text
}

/** A duration as a user reads it in a message: "800 ms", "15 s", "2 min". */
export function plainDuration (ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 120_000) return `${Math.round(ms / 100) / 10} s`
  return `${Math.round(ms / 60_000)} min`
}
