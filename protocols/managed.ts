/**
 * Managed processes (pure): names, restart policies, states and the record `procmesh ls` shows,
 * with their limits and validators. The supervisor, the mesh protocols and the CLI import these.
 */
import { InvalidFieldError } from './errors.js'
import { expectArray, expectBoolean, expectInt, expectNumber, expectOneOf, expectRecord, expectString, optional } from './validate.js'

// ---- names ----
/**
 * A managed process's name: unique per host, usable wherever a managed id is. It starts with a
 * letter, so it is never a pid (all digits), and uses the managed-id alphabet, so the `logs`
 * request's `managedId` field can carry either. Names shaped like a managed id are refused.
 */
export const MANAGED_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/
/** What newManagedId() makes: `m` + base-36 ms time + 10 base-36 random digits. */
export const MANAGED_ID_SHAPE = /^m[0-9a-z]{16,20}$/

export function validateManagedName (value: unknown, path = 'name'): string {
  const name = expectString(value, path, { maxBytes: 63 })
  if (!MANAGED_NAME_PATTERN.test(name)) throw new InvalidFieldError(path, `${JSON.stringify(name.slice(0, 70))}: a name starts with a letter and holds letters, digits, _ and - (at most 63)`)
  if (MANAGED_ID_SHAPE.test(name)) throw new InvalidFieldError(path, `${JSON.stringify(name)}: looks like a managed id; choose another name`)
  return name
}

/** A reference to a managed process on one host: its managed id, its name, or its current pid. */
export const MANAGED_REF_PATTERN = /^[A-Za-z0-9_-]{1,64}$/

export function validateManagedRef (value: unknown, path = 'ref'): string {
  return expectString(value, path, { pattern: MANAGED_REF_PATTERN })
}

// ---- restart policies ----
export const RESTART_POLICIES = ['no', 'on-failure', 'always'] as const
export type RestartPolicyName = typeof RESTART_POLICIES[number]

/**
 * How a managed process is brought back. Delays grow exponentially from backoffMs (x2 per unstable
 * run, capped at backoffMaxMs, +-20% jitter so processes that crashed together do not restart in
 * lockstep); a run that lasted STABLE_UPTIME_MS resets the delay and the budget. maxRestarts
 * unstable restarts in a row put the record in `crash-loop`, where it stays until restarted by hand.
 */
export interface RestartPolicy {
  restart: RestartPolicyName
  maxRestarts: number
  backoffMs: number
  backoffMaxMs: number
}

/**
 * A run at least this long was stable (ms): pm2's `min_uptime` and supervisord's `startsecs` both
 * default to one second; a process that lives that long got past its start-up and its next crash
 * is a new incident, not part of a loop.
 */
export const STABLE_UPTIME_MS = 1000
/**
 * Unstable restarts in a row before the crash-loop state: pm2 allows 16 (`max_restarts`),
 * supervisord 3 (`startretries`); 10 at the default backoff is about 100 s of trying.
 */
export const DEFAULT_MAX_RESTARTS = 10
export const MAX_MAX_RESTARTS = 10_000
/**
 * The first delay (ms). systemd's `RestartSec` defaults to 100 ms; pm2 and supervisord restart a
 * process that was running at once. 100 ms keeps a crash nearly invisible while a hot loop of a
 * process that dies at once costs at most 10 forks a second before the delay grows.
 */
export const DEFAULT_BACKOFF_MS = 100
export const DEFAULT_BACKOFF_MAX_MS = 60_000
/** The smallest first delay: a process that exits at once must not become a fork loop. */
export const MIN_BACKOFF_MS = 10
/** The largest delay either bound may name. */
export const MAX_BACKOFF_MS = 60 * 60 * 1000
/** Jitter: a delay is multiplied by a random factor in [1 - J, 1 + J]. */
export const BACKOFF_JITTER = 0.2

export const NO_RESTART: RestartPolicy = Object.freeze({ restart: 'no', maxRestarts: DEFAULT_MAX_RESTARTS, backoffMs: DEFAULT_BACKOFF_MS, backoffMaxMs: DEFAULT_BACKOFF_MAX_MS })

export function validateRestartPolicy (value: unknown, path = 'policy'): RestartPolicy {
  const r = expectRecord(value, path)
  const policy: RestartPolicy = {
    restart: expectOneOf(r.restart, `${path}.restart`, RESTART_POLICIES),
    maxRestarts: optional(r.maxRestarts, v => expectInt(v, `${path}.maxRestarts`, { min: 0, max: MAX_MAX_RESTARTS })) ?? DEFAULT_MAX_RESTARTS,
    backoffMs: optional(r.backoffMs, v => expectInt(v, `${path}.backoffMs`, { min: MIN_BACKOFF_MS, max: MAX_BACKOFF_MS })) ?? DEFAULT_BACKOFF_MS,
    backoffMaxMs: optional(r.backoffMaxMs, v => expectInt(v, `${path}.backoffMaxMs`, { min: MIN_BACKOFF_MS, max: MAX_BACKOFF_MS })) ?? DEFAULT_BACKOFF_MAX_MS
  }
  if (policy.backoffMaxMs < policy.backoffMs) throw new InvalidFieldError(`${path}.backoffMaxMs`, `must be >= backoffMs (${policy.backoffMs})`)
  return policy
}

/** Whether an exit is followed by a restart under the policy (pure). unknown: exited while no node watched. */
export function wantsRestart (policy: RestartPolicyName, exit: { code: number | null, signal: string | null, unknown: boolean }): boolean {
  if (policy === 'always') return true
  if (policy === 'no') return false
  // on-failure: an exit we could not observe is treated as a failure (nothing says it succeeded)
  return exit.unknown || exit.signal !== null || exit.code !== 0
}

/**
 * The delay before restart number `unstable` (1 = the first after a stable run), before jitter:
 * backoffMs * 2^(unstable-1), capped (pure).
 */
export function backoffDelay (policy: Pick<RestartPolicy, 'backoffMs' | 'backoffMaxMs'>, unstable: number, random: number = Math.random()): number {
  const exp = Math.min(policy.backoffMaxMs, policy.backoffMs * 2 ** Math.max(0, Math.min(40, unstable - 1)))
  const jittered = exp * (1 - BACKOFF_JITTER + 2 * BACKOFF_JITTER * random)
  return Math.round(Math.max(MIN_BACKOFF_MS, Math.min(policy.backoffMaxMs, jittered)))
}

// ---- states and the record ----
/**
 * running: alive; restarting: exited, a restart is scheduled; crash-loop: the restart budget is
 * spent; exited: ended and not coming back (policy no, or on-failure after success); stopped:
 * stopped through procmesh (never restarted).
 */
export const MANAGED_STATES = ['running', 'restarting', 'crash-loop', 'exited', 'stopped'] as const
export type ManagedState = typeof MANAGED_STATES[number]

/** One managed process as `procmesh ls` shows it (and the managed-list protocol carries it). */
export interface ManagedProcess {
  managedId: string
  name: string | null
  argv: string[]
  /** the current (or last) pid and its start time (ms epoch) */
  pid: number
  startTime: number
  state: ManagedState
  policy: RestartPolicy
  /** restarts done by the policy (or by `restart`) since the record was made */
  restarts: number
  /** the peer whose request made the record */
  requestedBy: string
  /** how the last run ended; exitCode and signal null when unknown */
  lastExit: { code: number | null, signal: string | null, at: number, whileDown: boolean } | null
  /** when a scheduled restart happens (state restarting) */
  nextRestartAt: number | null
  /** figures of the running process from the latest sample, when it is in it */
  cpuPercent: number | null
  rss: number | null
}

export const MAX_MANAGED_LIST = 10_000

/** How a managed process last ended (null: it never did), as the node stores and sends it. */
export function validateLastExit (value: unknown, path: string): ManagedProcess['lastExit'] {
  if (value === null) return null
  const e = expectRecord(value, path)
  return {
    code: e.code === null ? null : expectInt(e.code, `${path}.code`),
    signal: e.signal === null ? null : expectString(e.signal, `${path}.signal`, { maxBytes: 16 }),
    at: expectNumber(e.at, `${path}.at`, { min: 0 }),
    whileDown: expectBoolean(e.whileDown, `${path}.whileDown`)
  }
}

export function validateManagedProcess (value: unknown, path: string): ManagedProcess {
  const r = expectRecord(value, path)
  const nullableNumber = (v: unknown, p: string): number | null => v === null || v === undefined ? null : expectNumber(v, p, { min: 0 })
  const lastExit = r.lastExit === undefined ? null : validateLastExit(r.lastExit, `${path}.lastExit`)
  return {
    managedId: expectString(r.managedId, `${path}.managedId`, { pattern: MANAGED_REF_PATTERN }),
    name: r.name === null ? null : validateManagedName(r.name, `${path}.name`),
    argv: expectArray(r.argv, `${path}.argv`, 1024).map((a, i) => expectString(a, `${path}.argv[${i}]`, { maxBytes: 64 * 1024 })),
    pid: expectInt(r.pid, `${path}.pid`, { min: 0 }),
    startTime: expectNumber(r.startTime, `${path}.startTime`, { min: 0 }),
    state: expectOneOf(r.state, `${path}.state`, MANAGED_STATES),
    policy: validateRestartPolicy(r.policy, `${path}.policy`),
    restarts: expectInt(r.restarts, `${path}.restarts`, { min: 0 }),
    requestedBy: expectString(r.requestedBy, `${path}.requestedBy`, { maxBytes: 256 }),
    lastExit,
    nextRestartAt: nullableNumber(r.nextRestartAt, `${path}.nextRestartAt`),
    cpuPercent: nullableNumber(r.cpuPercent, `${path}.cpuPercent`),
    rss: nullableNumber(r.rss, `${path}.rss`)
  }
}

/**
 * The record a reference names, as every node resolves it: a managed id first, then a name,
 * then a pid (the running record with that pid, else the last one that had it).
 */
export function findManaged<T extends Pick<ManagedProcess, 'managedId' | 'name' | 'pid' | 'state'>> (records: readonly T[], ref: string): T | undefined {
  const byId = records.find(r => r.managedId === ref) ?? records.find(r => r.name === ref)
  if (byId !== undefined || !/^\d+$/.test(ref)) return byId
  const pid = Number(ref)
  return records.find(r => r.pid === pid && r.state === 'running') ?? records.find(r => r.pid === pid)
}
