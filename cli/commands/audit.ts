import type { AuditEntry } from '../../protocols/audit.js'
import type { AuditTargetEntry } from '../../protocols/control.js'
import { MAX_AUDIT_ENTRIES } from '../../protocols/messages.js'
import { UsageError, parsePositiveInt } from '../args.js'
import { str, type CommandSpec } from '../command.js'
import { isNoNode, withClient } from '../control-client.js'
import { shortId, table } from '../format.js'

const DEFAULT_LIMIT = 50

/** What an entry is about, in one cell. */
export function auditSubject (e: AuditEntry): string {
  if (e.argv !== undefined) return e.argv.map(a => /^[A-Za-z0-9_./:=@%+-]+$/.test(a) ? a : JSON.stringify(a)).join(' ')
  if (e.pid !== undefined) return `pid ${e.pid}${e.signal !== undefined ? ` ${e.signal}` : ''}`
  if (e.subject !== undefined) return `${shortId(e.subject)}${e.role !== undefined ? ` -> ${e.role}` : ''}`
  if (e.addr !== undefined) return e.addr
  return ''
}

/** The local user behind a control-socket action, as ` uid 1000 alice pid 42`. */
function localWho (e: AuditEntry): string {
  if (e.localUid === undefined) return ''
  return ` uid ${e.localUid}${e.localUser !== undefined ? ` ${e.localUser}` : ''}${e.localPid !== undefined ? ` pid ${e.localPid}` : ''}`
}

export function auditTable (entries: AuditEntry[], node?: string): string {
  const headers = [...(node !== undefined ? ['NODE'] : []), 'TIME', 'EVENT', 'PEER', 'DECISION', 'WHAT', 'RESULT', 'REASON']
  const rows = entries.map(e => [
    ...(node !== undefined ? [node] : []),
    new Date(e.time).toISOString(),
    e.event,
    e.peerId === null ? '-' : `${e.name ?? '?'} ${shortId(e.peerId)}${e.via === 'local' ? ` (local${localWho(e)})` : ''}`,
    e.decision,
    auditSubject(e),
    e.result ?? '',
    e.reason
  ])
  return table(headers, rows)
}

export const auditCommand: CommandSpec = {
  usage: 'procmesh audit [TARGET] [--limit N] [--home DIR] [--json]\n' +
    '  start/stop decisions, refusals, denied connections and trust changes of a node (default: this one)',
  options: {
    limit: { type: 'string' }
  },
  positionals: [0, 1],
  async run (ctx, values, positionals) {
    const limitText = str(values, 'limit')
    const limit = limitText !== undefined ? parsePositiveInt(limitText, '--limit') : DEFAULT_LIMIT
    if (limit > MAX_AUDIT_ENTRIES) throw new UsageError(`--limit: at most ${MAX_AUDIT_ENTRIES}`)
    const target = positionals[0] ?? 'self'
    let results: AuditTargetEntry[]
    try {
      results = await withClient(ctx.home, async c => await c.audit({ target, limit }))
    } catch (err: unknown) {
      if (!isNoNode(err) || target !== 'self') throw err
      // no node: this home's own log can still be read
      const { readAuditLog } = await import('../../node/security/audit-log.js')
      const { homePaths } = await import('../../node/setup/home.js')
      const { homePeerId } = await import('../../node/security/invite.js')
      results = [{ peerId: await homePeerId(ctx.home) ?? '', name: 'self', entries: readAuditLog(homePaths(ctx.home).audit, limit) }]
    }
    if (ctx.json) {
      ctx.out(JSON.stringify(results))
    } else {
      const group = results.length > 1
      const blocks = results.filter(r => 'entries' in r).map(r => 'entries' in r ? auditTable(r.entries, group ? r.name : undefined) : '')
      if (blocks.length > 0) ctx.out(blocks.join('\n\n'))
    }
    const failed = results.flatMap(r => 'error' in r ? [`${r.name}: ${r.error.message}`] : [])
    if (failed.length > 0) {
      ctx.err(`procmesh audit: ${failed.join('; ')}`)
      if (failed.length === results.length) return 1
    }
    return 0
  }
}
