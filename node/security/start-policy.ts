/**
 * The start policy: which commands this node starts at all, whoever asks (the
 * local user included). It limits the blast radius of a compromised operator.
 * A JSON file, `policy.json` in the home unless `procmesh node --policy FILE`:
 *
 *     { "start": "any" }                      // the default when there is no file
 *     { "start": "allowlist",
 *       "allow": [ { "name": "uptime", "executable": "/usr/bin/uptime" },
 *                  { "name": "short sleeps", "argvPrefix": ["sleep", "1"] } ],
 *       "deny":  [ { "name": "no shells", "executable": "sh" } ] }
 *
 * Deny rules are checked first, in both modes. Allow rules match argv[0] literally
 * (no PATH lookup, so "uptime" allows argv[0] "uptime" but not "/tmp/x/uptime");
 * deny rules without a slash also match by the basename of argv[0], so "sh" denies
 * "/bin/sh" too. A deny list is only a speed bump (a copy of sh has another name);
 * an allowlist is the boundary. A refusal names the rule that refused, or the
 * allowlist that nothing matched.
 *
 * Edits take effect on the next start (a stat per start). A file that breaks while
 * the node runs refuses every start until it is fixed (fail closed).
 */
import { readFileSync, statSync, type Stats } from 'node:fs'
import { basename } from 'node:path'
import { errorMessage, errnoCode } from '../../protocols/errors.js'
import { MAX_ARG_BYTES } from '../../protocols/messages.js'
import { expectArray, expectOneOf, expectRecord, expectString, optional } from '../../protocols/validate.js'
import type { Logger } from '../logger.js'

/** A policy file is a screenful of rules; the cap bounds a broken one. */
export const MAX_POLICY_FILE_BYTES = 256 * 1024
/** Rules per list: far more than a hand-written policy needs. */
export const MAX_POLICY_RULES = 256
/** Elements of one argv prefix rule. */
export const MAX_POLICY_PREFIX_ARGS = 64

export interface PolicyRule {
  name: string
  executable?: string
  argvPrefix?: string[]
}

export interface StartPolicy {
  start: 'any' | 'allowlist'
  allow: PolicyRule[]
  deny: PolicyRule[]
}

export type PolicyDecision = { allowed: true, rule?: string } | { allowed: false, reason: string }

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
    if (exe !== undefined) rule.executable = exe
    if (prefix !== undefined && prefix.length > 0) rule.argvPrefix = prefix
    for (const key of Object.keys(r)) {
      if (!['name', 'executable', 'argvPrefix'].includes(key)) throw new StartPolicyError(`${p}.${key.slice(0, 40)}: unknown field`)
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

function describeRule (rule: PolicyRule): string {
  const parts: string[] = []
  if (rule.executable !== undefined) parts.push(`executable ${JSON.stringify(rule.executable)}`)
  if (rule.argvPrefix !== undefined) parts.push(`argv prefix ${JSON.stringify(rule.argvPrefix)}`)
  return parts.join(', ')
}

/** Decide a start (pure). `where` names the policy file in refusals. */
export function checkStartPolicy (policy: StartPolicy, argv: readonly string[], where: string): PolicyDecision {
  const denied = policy.deny.find(rule => matches(rule, argv, true))
  if (denied !== undefined) return { allowed: false, reason: `refused by start policy rule "${denied.name}" (deny ${describeRule(denied)}) in ${where}` }
  if (policy.start === 'any') return { allowed: true }
  const allowed = policy.allow.find(rule => matches(rule, argv, false))
  if (allowed !== undefined) return { allowed: true, rule: allowed.name }
  const names = policy.allow.map(r => `"${r.name}"`).join(', ')
  return { allowed: false, reason: `refused by start policy "allowlist" in ${where}: ${JSON.stringify(argv[0])} matches none of its allow rules (${names === '' ? 'none' : names})` }
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

  /** The decision for argv under the current file. */
  check (argv: readonly string[]): PolicyDecision {
    this.refresh()
    if (this.brokenReason !== undefined) return { allowed: false, reason: `refused: the start policy ${this.file} is broken (${this.brokenReason}); every start is refused until it is fixed` }
    return checkStartPolicy(this.policy, argv, this.file)
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
