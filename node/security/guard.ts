/**
 * The guard around process control: roles, --readonly, the start policy and the audit
 * line of every start, stop, restart and remove, allowed or denied, whichever door
 * (mesh or control socket) the request came through.
 */
import { clipArgv, type AuditEntry } from '../../protocols/audit.js'
import { findManaged } from '../../protocols/managed.js'
import { ProcmeshError, errorMessage, toProcmeshError } from '../../protocols/errors.js'
import type { Role } from '../../protocols/wire.js'
import type { ProcessControl } from '../host/host-services.js'
import { refusalReason } from '../host/process-control.js'
import { AuditWriteError } from './audit-log.js'
import { checkRole, effectiveRole } from './authorizer.js'
import { execFacts } from './exec-check.js'
import type { NodeSecurity } from './security.js'
import { DEFAULT_NODE_PATH } from './start-policy.js'

/** cwd of a start whose request names none (the supervisor's default). */
export const START_DEFAULT_CWD = '/'

/** `control` with every start, stop, restart and remove decided and audited by `sec`. */
export function guardProcessControl (sec: NodeSecurity, control: ProcessControl): ProcessControl {
  const decide = makeDecide(sec)
  return {
    start: async (req, requestedBy) => {
      const spawnPath = sec.spawnPath ?? DEFAULT_NODE_PATH
      // what would really run, and the env that steers where programs are found: audited either way
      const facts = execFacts(req, spawnPath, START_DEFAULT_CWD)
      const base = sec.entry('start', requestedBy, { ...await sec.localCaller(requestedBy), decision: 'denied', reason: '', argv: clipArgv(req.argv), ...(req.env !== undefined ? { envKeys: Object.keys(req.env) } : {}), ...(req.cwd !== undefined ? { cwd: req.cwd } : {}), ...facts })
      return await decide(base, requestedBy, 'exec', () => {
        const d = sec.policy.check(req, spawnPath)
        return d.allowed ? { rule: d.rule } : { refused: d.reason }
      }, async () => await control.start(req, requestedBy), r => `started pid ${r.pid} (managed id ${r.managedId})`, 'not started')
    },
    stop: async (req, requestedBy) => {
      const base = sec.entry('stop', requestedBy, { ...await sec.localCaller(requestedBy), decision: 'denied', reason: '', pid: req.pid, signal: req.signal })
      // pid <= 1, the node and its parent are refused before the decision, so the audit says refused
      // (not "allowed" with a failed result, issue 17 finding 15)
      return await decide(base, requestedBy, 'control', () => {
        const refused = refusalReason(req.pid, process.pid, process.ppid)
        return refused !== undefined ? { refused } : {}
      }, async () => await control.stop(req, requestedBy),
        r => `${r.result}${r.signalled.length > 0 ? ` (signalled ${r.signalled.join(', ')})` : ''}`, 'not signalled')
    },
    restart: async (req, requestedBy) => {
      // the command that runs again is the record's: the start policy judges it as it is now
      const record = findManaged(control.managed(), req.ref)
      const base = sec.entry('restart', requestedBy, { ...await sec.localCaller(requestedBy), decision: 'denied', reason: '', ...(record !== undefined ? { managedId: record.managedId, argv: clipArgv(record.argv) } : {}) })
      return await decide(base, requestedBy, 'exec', () => {
        if (record === undefined) return {}
        const d = sec.policy.check(record.argv)
        return d.allowed ? { rule: d.rule } : { refused: d.reason }
      }, async () => await control.restart(req, requestedBy), r => `restarted: pid ${r.pid} (managed id ${r.managedId})`, 'not restarted')
    },
    remove: async (req, requestedBy) => {
      const record = findManaged(control.managed(), req.ref)
      const base = sec.entry('remove', requestedBy, { ...await sec.localCaller(requestedBy), decision: 'denied', reason: '', ...(record !== undefined ? { managedId: record.managedId, pid: record.pid } : {}) })
      return await decide(base, requestedBy, 'control', () => ({}), async () => await control.remove(req, requestedBy),
        r => `removed ${r.managedId}${r.stopped ? ' (its process was stopped)' : ''}`, 'not removed')
    },
    logs: async (req, onChunk, signal) => await control.logs(req, onChunk, signal),
    managedByPid: () => control.managedByPid(),
    managed: () => control.managed()
  }
}

type Decide = <T>(base: AuditEntry, requestedBy: string, needed: Role, policy: () => { rule?: string, refused?: string },
  act: () => Promise<T>, describe: (result: T) => string, nothingDone: string) => Promise<T>

function makeDecide (sec: NodeSecurity): Decide {
  return async (base, requestedBy, needed, policy, act, describe, nothingDone) => {
    const local = requestedBy === sec.selfId
    const granted = effectiveRole(requestedBy, sec.selfId, sec.trust.entry(requestedBy)?.role)
    const deny = (code: 'FORBIDDEN' | 'REFUSED', reason: string): never => {
      sec.audit.record({ ...base, decision: 'denied', reason, result: nothingDone })
      throw new ProcmeshError(code, reason)
    }
    const forbidden = checkRole({ peerId: requestedBy, name: base.name ?? undefined, granted, needed, nodeName: sec.nodeName })
    if (forbidden !== undefined) deny('FORBIDDEN', forbidden)
    if (sec.readonly) deny('REFUSED', `refused: ${sec.nodeName} is read-only (--readonly): it starts and stops nothing, whatever the trust file says`)
    const p = policy()
    if (p.refused !== undefined) deny('REFUSED', p.refused)
    const reason = `${local ? 'local control socket (this node)' : `holds ${granted}`}${p.rule !== undefined ? `; start policy rule "${p.rule}"` : ''}`
    const allowed: AuditEntry = { ...base, decision: 'allowed', reason, result: 'pending' }
    try {
      // recorded before acting: no start or stop happens that the log does not show
      sec.audit.append(allowed)
    } catch (err: unknown) {
      const msg = err instanceof AuditWriteError ? err.message : errorMessage(err)
      sec.log.error('%s', msg)
      throw new ProcmeshError('SERVER_ERROR', `${nothingDone}: the decision could not be recorded (${msg})`)
    }
    try {
      const result = await act()
      sec.audit.record({ ...allowed, time: Date.now(), result: describe(result) })
      return result
    } catch (err: unknown) {
      const pe = toProcmeshError(err)
      sec.audit.record({ ...allowed, time: Date.now(), result: `failed: ${pe.code}: ${pe.message}` })
      throw err
    }
  }
}

/**
 * What the supervisor did on its own (an exit, a restart by policy, a crash loop), in the audit
 * log: nobody asked, so the peer is null (or the peer whose request caused it).
 */
export function recordSupervisorEvent (sec: NodeSecurity, event: 'exit' | 'restart', fields: { by: string | null, managedId: string, pid: number, reason: string, result: string, argv?: string[] }): void {
  sec.audit.record(sec.entry(event, fields.by, {
    decision: 'allowed',
    reason: fields.reason,
    result: fields.result,
    managedId: fields.managedId,
    pid: fields.pid,
    ...(fields.argv !== undefined ? { argv: clipArgv(fields.argv) } : {})
  }))
}
