/**
 * The start policy: which commands this node starts at all, whoever asks (the
 * local user included). It limits the blast radius of a compromised operator.
 * A JSON file, `policy.json` in the home unless `procmesh node --policy FILE`:
 *
 *     { "start": "any" }                      // the default when there is no file
 *     { "start": "allowlist",
 *       "allow": [ { "name": "uptime", "executable": "/usr/bin/uptime" },
 *                  { "name": "short sleeps", "argvPrefix": ["sleep", "1"] },
 *                  { "name": "git status", "argvPrefix": ["git", "status"], "env": ["GIT_PAGER"] } ],
 *       "deny":  [ { "name": "no shells", "executable": "sh" } ] }
 *
 * Deny rules are checked first, in both modes. Under the allowlist a start is matched
 * against the FILE it would run (node/security/exec-check.ts): argv[0] is resolved on
 * the node's own PATH (never the request's: a request setting PATH is refused, and so
 * is a relative argv[0] such as "./run.sh") and compared, as a real path, with the
 * rule's executable (or its argvPrefix[0]) resolved the same way; so "uptime" allows
 * argv[0] "uptime" and "/usr/bin/uptime" but never a planted "/tmp/x/uptime". The
 * request's env may only carry names the matching rule lists in "env": an allowed
 * program told by its env to run other code (GIT_CONFIG_*, PYTHONWARNINGS + BROWSER)
 * is not the allowed program. Deny rules without a slash also match by the basename
 * of argv[0], so "sh" denies "/bin/sh" too. A deny list is only a speed bump (a copy
 * of sh has another name); an allowlist is the boundary. A refusal names the rule
 * that refused, or the allowlist that nothing matched.
 *
 * Edits take effect on the next start (a stat per start). A file that breaks while
 * the node runs refuses every start until it is fixed (fail closed).
 */
import { readFileSync, statSync, type Stats } from 'node:fs'
import { basename, isAbsolute } from 'node:path'
import { errorMessage, errnoCode } from '../../protocols/errors.js'
import { MAX_ARG_BYTES } from '../../protocols/messages.js'
import { expectArray, expectOneOf, expectRecord, expectString, optional } from '../../protocols/validate.js'
import type { Logger } from '../logger.js'
import { isRelativeExecutable, resolveExecutable, type ExecRequest } from './exec-check.js'

/** A policy file is a screenful of rules; the cap bounds a broken one. */
export const MAX_POLICY_FILE_BYTES = 256 * 1024
/** Rules per list: far more than a hand-written policy needs. */
export const MAX_POLICY_RULES = 256
/** Elements of one argv prefix rule. */
export const MAX_POLICY_PREFIX_ARGS = 64

/** Env names one allow rule may list. */
export const MAX_POLICY_ENV_NAMES = 64
/** The node's PATH when a caller names none (the supervisor's default). */
export const DEFAULT_NODE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

export interface PolicyRule {
  name: string
  executable?: string
  argvPrefix?: string[]
  /** allow rules: env names a request may set (none when absent) */
  env?: string[]
}

export interface StartPolicy {
  start: 'any' | 'allowlist'
  allow: PolicyRule[]
  deny: PolicyRule[]
}

export type PolicyDecision = { allowed: true, rule?: string, executable?: string } | { allowed: false, reason: string }

export const ALLOW_ANY: StartPolicy = Object.freeze({ start: 'any', allow: [], deny: [] })

export class StartPolicyError extends Error {
  override name = 'StartPolicyError'
}

function parseRules (value: unknown, path: string): PolicyRule[] {
  return expectArray(value ?? [], path, MAX_POLICY_RULES).map((v, i) => {
    const p = `${path}[${i}]`
    const r = expectRecord(v, p)
    const rule: PolicyRule = { name: optional(r.name, x => expectString(x, `${p}.name`, { maxBytes: 128, minLength: 1, noNul: true })) ?? p }
    const exe = optional(r.executable, x => expectString(x, `${p}.executable`, { maxBytes: 4096, minLength: 1, noNul: true }))
    const prefix = optional(r.argvPrefix, x => expectArray(x, `${p}.argvPrefix`, MAX_POLICY_PREFIX_ARGS).map((a, j) => expectString(a, `${p}.argvPrefix[${j}]`, { maxBytes: MAX_ARG_BYTES, noNul: true })))
    if (exe === undefined && (prefix === undefined || prefix.length === 0)) throw new StartPolicyError(`${p}: needs "executable" or a non-empty "argvPrefix"`)
    const env = optional(r.env, x => expectArray(x, `${p}.env`, MAX_POLICY_ENV_NAMES).map((a, j) => expectString(a, `${p}.env[${j}]`, { pattern: /^[A-Za-z_][A-Za-z0-9_]{0,127}$/ })))
    if (exe !== undefined) rule.executable = exe
    if (prefix !== undefined && prefix.length > 0) rule.argvPrefix = prefix
    if (env !== undefined) rule.env = env
    for (const command of [exe, prefix?.[0]]) {
      if (command !== undefined && isRelativeExecutable(command)) throw new StartPolicyError(`${p}: ${JSON.stringify(command.slice(0, 80))} is a relative path; name a command (found on the node's PATH) or an absolute path`)
    }
    for (const key of Object.keys(r)) {
      if (!['name', 'executable', 'argvPrefix', 'env'].includes(key)) throw new StartPolicyError(`${p}.${key.slice(0, 40)}: unknown field`)
    }
    return rule
  })
}

/** Parse and validate a policy file; errors name the field. */
export function parseStartPolicy (text: string): StartPolicy {
  let raw: unknown
  try { raw = JSON.parse(text) } catch { throw new StartPolicyError('not valid JSON') }
  const r = expectRecord(raw, 'policy')
  for (const key of Object.keys(r)) {
    if (!['start', 'allow', 'deny'].includes(key)) throw new StartPolicyError(`policy.${key.slice(0, 40)}: unknown field`)
  }
  const policy: StartPolicy = {
    start: expectOneOf(r.start, 'policy.start', ['any', 'allowlist'] as const),
    allow: parseRules(r.allow, 'allow'),
    deny: parseRules(r.deny, 'deny')
  }
  if (policy.start === 'any' && policy.allow.length > 0) throw new StartPolicyError('policy.allow: only meaningful with "start": "allowlist"')
  return policy
}

function matches (rule: PolicyRule, argv: readonly string[], loose: boolean): boolean {
  if (rule.executable !== undefined) {
    const exe = rule.executable
    const ok = argv[0] === exe || (loose && !exe.includes('/') && basename(argv[0]) === exe)
    if (!ok) return false
  }
  if (rule.argvPrefix !== undefined) {
    const prefix = rule.argvPrefix
    if (argv.length < prefix.length || prefix.some((a, i) => argv[i] !== a)) return false
  }
  return true
}

/**
 * An allow rule against the resolved file (`file`, a real path): the rule's command
 * resolves on the node's PATH to the same file, and the rest of an argvPrefix matches
 * literally.
 */
function matchesResolved (rule: PolicyRule, argv: readonly string[], file: string, nodePath: string): boolean {
  for (const command of [rule.executable, rule.argvPrefix?.[0]]) {
    if (command !== undefined && resolveExecutable(command, nodePath, '/') !== file) return false
  }
  const prefix = rule.argvPrefix
  if (prefix !== undefined && (argv.length < prefix.length || prefix.some((a, i) => i > 0 && argv[i] !== a))) return false
  return true
}

function describeRule (rule: PolicyRule): string {
  const parts: string[] = []
  if (rule.executable !== undefined) parts.push(`executable ${JSON.stringify(rule.executable)}`)
  if (rule.argvPrefix !== undefined) parts.push(`argv prefix ${JSON.stringify(rule.argvPrefix)}`)
  return parts.join(', ')
}

/**
 * Decide a start (pure but for a few stats resolving commands). `where` names the
 * policy file in refusals; `nodePath` is the PATH the node starts processes with.
 * An allowed decision under the allowlist carries the file that will run.
 */
export function checkStartPolicy (policy: StartPolicy, request: ExecRequest | readonly string[], where: string, nodePath = DEFAULT_NODE_PATH): PolicyDecision {
  const req: ExecRequest = isArgv(request) ? { argv: request } : request
  const argv = req.argv
  const denied = policy.deny.find(rule => matches(rule, argv, true) || denyMatchesFile(rule, req, nodePath))
  if (denied !== undefined) return { allowed: false, reason: `refused by start policy rule "${denied.name}" (deny ${describeRule(denied)}) in ${where}` }
  if (policy.start === 'any') return { allowed: true }
  const argv0 = argv[0] ?? ''
  if (isRelativeExecutable(argv0)) {
    return { allowed: false, reason: `refused by start policy "allowlist" in ${where}: ${JSON.stringify(argv0)} is a relative path (it would depend on the cwd); use a command name or an absolute path` }
  }
  if (req.env?.PATH !== undefined) {
    return { allowed: false, reason: `refused by start policy "allowlist" in ${where}: env.PATH may not be set (commands are found on the node's own PATH)` }
  }
  const file = resolveExecutable(argv0, nodePath, '/')
  const names = policy.allow.map(r => `"${r.name}"`).join(', ')
  const none = `matches none of its allow rules (${names === '' ? 'none' : names})`
  if (file === undefined) {
    return { allowed: false, reason: `refused by start policy "allowlist" in ${where}: ${JSON.stringify(argv0)} is not an executable file${isAbsolute(argv0) ? '' : ' on the node\'s PATH'}, so it ${none}` }
  }
  const envNames = Object.keys(req.env ?? {})
  let envRefusal: string | undefined
  for (const rule of policy.allow) {
    if (!matchesResolved(rule, argv, file, nodePath)) continue
    const extra = envNames.filter(n => !(rule.env ?? []).includes(n))
    if (extra.length === 0) return { allowed: true, rule: rule.name, executable: file }
    envRefusal ??= `refused by start policy "allowlist" in ${where}: rule "${rule.name}" allows ${file} but not env ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ` (and ${extra.length - 5} more)` : ''} (an allow rule lists the env names a request may set in "env")`
  }
  if (envRefusal !== undefined) return { allowed: false, reason: envRefusal }
  return { allowed: false, reason: `refused by start policy "allowlist" in ${where}: ${JSON.stringify(argv0)} (${file}) ${none}` }
}

function isArgv (r: ExecRequest | readonly string[]): r is readonly string[] {
  return Array.isArray(r)
}

/** A deny rule naming a command also catches the same file under another name or path. */
function denyMatchesFile (rule: PolicyRule, req: ExecRequest, nodePath: string): boolean {
  if (rule.executable === undefined) return false
  const denied = resolveExecutable(rule.executable, nodePath, '/')
  if (denied === undefined) return false
  const file = resolveExecutable(req.argv[0] ?? '', req.env?.PATH ?? nodePath, req.cwd ?? '/')
  return file === denied && rule.argvPrefix === undefined
}

function signature (st: Stats | undefined): string {
  return st === undefined ? 'missing' : `${st.ino}:${st.size}:${st.mtimeMs}`
}

function statOrUndefined (file: string): Stats | undefined {
  try { return statSync(file) } catch (err: unknown) {
    if (errnoCode(err) === 'ENOENT') return undefined
    throw err
  }
}

function readPolicy (file: string, st: Stats | undefined): StartPolicy {
  if (st === undefined) return ALLOW_ANY
  if (st.size > MAX_POLICY_FILE_BYTES) throw new StartPolicyError(`larger than ${MAX_POLICY_FILE_BYTES} bytes`)
  return parseStartPolicy(readFileSync(file, 'utf8'))
}

/** The policy file with reload on change. */
export class StartPolicyFile {
  readonly file: string
  /** a missing file means allow any only when the path is the default one */
  private readonly required: boolean
  private readonly log?: Logger
  private policy: StartPolicy = ALLOW_ANY
  private sig = ''
  private brokenReason?: string

  constructor (file: string, opts: { required?: boolean, log?: Logger } = {}) {
    this.file = file
    this.required = opts.required ?? false
    this.log = opts.log
  }

  /** Load at start: a broken (or, with --policy, missing) file is an error naming it. */
  load (): StartPolicy {
    const st = statOrUndefined(this.file)
    if (st === undefined && this.required) throw new StartPolicyError(`start policy ${this.file} does not exist`)
    try {
      this.policy = readPolicy(this.file, st)
    } catch (err: unknown) {
      throw new StartPolicyError(`start policy ${this.file}: ${errorMessage(err)}`)
    }
    this.sig = signature(st)
    return this.policy
  }

  /** The decision for a start under the current file; `nodePath` is the PATH the node starts processes with. */
  check (request: ExecRequest | readonly string[], nodePath = DEFAULT_NODE_PATH): PolicyDecision {
    this.refresh()
    if (this.brokenReason !== undefined) return { allowed: false, reason: `refused: the start policy ${this.file} is broken (${this.brokenReason}); every start is refused until it is fixed` }
    return checkStartPolicy(this.policy, request, this.file, nodePath)
  }

  /** True under a policy other than `any` (the file as last loaded). */
  get restrictive (): boolean {
    return this.policy.start !== 'any'
  }

  private refresh (): void {
    let st: Stats | undefined
    try { st = statOrUndefined(this.file) } catch (err: unknown) { this.brokenReason = errorMessage(err); return }
    const sig = signature(st)
    if (sig === this.sig) return
    this.sig = sig
    try {
      if (st === undefined && this.required) throw new StartPolicyError('the file was removed')
      this.policy = readPolicy(this.file, st)
      this.brokenReason = undefined
      this.log?.info('start policy %s reloaded (start: %s)', this.file, this.policy.start)
    } catch (err: unknown) {
      this.brokenReason = errorMessage(err)
      this.log?.error('start policy %s is broken (%s): refusing every start until it is fixed', this.file, this.brokenReason)
    }
  }
}
