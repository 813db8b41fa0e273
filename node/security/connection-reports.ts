/**
 * Connections the gater refused and handshakes that failed, in the log and the audit log,
 * rate-limited per remote host: a stranger re-dialling every second must not flood the log
 * or rotate real decisions away. A node part: failures while the node is not serving (its
 * own shutdown cuts connections) are not the peer's fault and are not reported.
 */
import { moreSuffix, ReportThrottle } from '../report-throttle.js'
import type { AuditEntry, AuditEvent } from '../../protocols/audit.js'
import type { Logger } from '../logger.js'
import type { AuditLog } from './audit-log.js'
import { describePeer } from './authorizer.js'
import { describeHandshakeFailure, type FailedHandshake, type RefusedConnection } from './gater.js'

/** One log line (and audit line) per remote host per this interval for failed handshakes. */
export const HANDSHAKE_FAILURE_REPORT_INTERVAL_MS = 60_000
/** Remote hosts whose failures are being counted; past it the oldest is forgotten. */
export const MAX_TRACKED_FAILURE_SOURCES = 1024

/** The remote host part of a multiaddr (`/ip4/1.2.3.4`), the unit of failure rate limiting. */
export function hostOf (addr: string): string {
  const m = /^\/(ip4|ip6|dns4|dns6|dns)\/[^/]+/.exec(addr)
  return m !== null ? m[0] : addr
}

export interface ConnectionReportsInit {
  audit: AuditLog
  log: Logger
  nameOf: (peerId: string) => string | undefined
  entry: (event: AuditEvent, peerId: string | null, fields: Partial<AuditEntry> & Pick<AuditEntry, 'decision' | 'reason'>) => AuditEntry
}

export class ConnectionReports {
  readonly label = 'connection-reports'
  private readonly init: ConnectionReportsInit
  private readonly handshakes = new ReportThrottle({ windowMs: HANDSHAKE_FAILURE_REPORT_INTERVAL_MS, maxSources: MAX_TRACKED_FAILURE_SOURCES })
  private readonly refusals = new ReportThrottle()
  private serving = false

  constructor (init: ConnectionReportsInit) {
    this.init = init
  }

  start (): void { this.serving = true }
  stop (): void { this.serving = false }

  refused (e: RefusedConnection): void {
    // one line and one audit entry per peer a minute, however often it retries
    const t = this.refusals.take(e.peerId, Date.now())
    if (!t.report) return
    const more = moreSuffix(t.more, describePeer(e.peerId, this.init.nameOf(e.peerId)))
    this.init.log.warn('%s connection %s %s refused: %s%s', e.direction, e.direction === 'inbound' ? 'from' : 'to', describePeer(e.peerId, this.init.nameOf(e.peerId)), e.reason, more)
    this.init.audit.record(this.init.entry('connection', e.peerId, { addr: e.addr, decision: 'denied', reason: `${e.direction}: ${e.reason}${more}` }))
  }

  handshakeFailed (f: FailedHandshake): void {
    if (!this.serving) return
    const line = describeHandshakeFailure(f)
    this.init.log.debug('%s: %s', line, f.error)
    const key = hostOf(f.addr)
    const t = this.handshakes.take(key, Date.now())
    if (!t.report) return
    const more = moreSuffix(t.more, key)
    this.init.log.warn('%s%s', line, more)
    this.init.audit.record(this.init.entry('connection', null, { addr: f.addr, decision: 'denied', reason: `${line}${more}` }))
  }
}
