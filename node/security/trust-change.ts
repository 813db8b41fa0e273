/**
 * The one way the trust file is changed by hand and read back: `procmesh trust add/remove/list`
 * through a running node and, without one, on the home's files directly (cli/commands/trust.ts).
 * Both write the same entry and the same audit line.
 */
import type { TrustAddResult, TrustListResult, TrustRemoveResult } from '../../protocols/control.js'
import type { AuditEntry } from '../../protocols/audit.js'
import { ProcmeshError } from '../../protocols/errors.js'
import { auditId, type AuditLog } from './audit-log.js'
import { describePeer } from './authorizer.js'
import type { TrustFile, TrustRole, TrustStore } from './trust-store.js'

/** Who changed it, for the audit line: this node (via its socket), or nobody (null) without a node. */
export interface TrustChanger {
  by: string | null
  byName: string | null
  /** the local user behind it (control-socket requests) */
  local?: Pick<AuditEntry, 'localUid' | 'localUser' | 'localPid'>
}

function trustAudit (audit: AuditLog, who: TrustChanger, peerId: string, role: TrustRole, reason: string): void {
  audit.record({ id: auditId(), time: Date.now(), event: 'trust', peerId: who.by, name: who.byName, via: 'local', ...who.local, subject: peerId, role, decision: 'allowed', reason: `${reason}${who.by === null ? ' (offline)' : ''}` })
}

/** Grant `role` to a peer (`name`: the name the caller knows it by, kept in the entry), and audit it. */
export function grantTrust (store: TrustStore, audit: AuditLog, peerId: string, name: string | undefined, role: TrustRole, who: TrustChanger): TrustAddResult {
  const known = store.update(tf => {
    const existing = tf.peers[peerId]
    const n = name ?? existing?.name
    tf.peers[peerId] = { ...existing, role, source: existing?.source ?? 'trust', addedAt: Date.now(), ...(n !== undefined ? { name: n } : {}) }
    return n
  })
  trustAudit(audit, who, peerId, role, `trust add: ${describePeer(peerId, known)} now holds ${role}`)
  return { peerId, name: known ?? null, role }
}

/** Remove a peer's entry (it keeps read as a mesh member), and audit it; NOT_FOUND when there is none. */
export function removeTrust (store: TrustStore, audit: AuditLog, peerId: string, name: string | undefined, who: TrustChanger): TrustRemoveResult {
  const removed = store.update(tf => {
    const had = tf.peers[peerId]
    delete tf.peers[peerId]
    return had
  })
  const known = name ?? removed?.name
  if (removed === undefined) throw new ProcmeshError('NOT_FOUND', `${describePeer(peerId, known)} has no entry in the trust file`)
  trustAudit(audit, who, peerId, 'read', `trust remove: ${describePeer(peerId, known)} no longer holds ${removed.role}`)
  return { peerId, name: known ?? null, removed: removed.role }
}

/** `trust list`: the entries (named by `nameOf` first, else the file), pending invites and claims. */
export function trustList (tf: Readonly<TrustFile>, nameOf: (peerId: string) => string | undefined = () => undefined): TrustListResult {
  return {
    peers: Object.entries(tf.peers).map(([peerId, e]) => ({ peerId, name: nameOf(peerId) ?? e.name ?? null, role: e.role, source: e.source, addedAt: e.addedAt })),
    invites: tf.invites.map(i => ({ id: i.id, role: i.role, expiresAt: i.expiresAt })),
    claims: tf.claims.map(c => ({ admin: c.admin, role: c.role, expiresAt: c.expiresAt }))
  }
}

/** A trust-file entry named `name`, when exactly one has it. */
export function trustEntryNamed (tf: Readonly<TrustFile>, name: string): string | undefined {
  const found = Object.entries(tf.peers).filter(([, e]) => e.name === name)
  return found.length === 1 ? found[0][0] : undefined
}
