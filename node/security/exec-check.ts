/**
 * What a start request would really run, worked out before the start policy decides
 * (issue 17, finding 1). Matching argv literally is not enough: the program that runs
 * is chosen by PATH and cwd, and an allowed program can be told by its environment to
 * run other code (`GIT_CONFIG_*` with `core.fsmonitor`, `PYTHONWARNINGS` + `BROWSER`,
 * a planted `uptime` first on the request's PATH, `./run.sh` from a chosen cwd).
 *
 * So under a restrictive policy (anything but `"start": "any"`) a start is checked
 * against the file it would execute, resolved the way execvp does with the NODE's own
 * PATH (the request may not set PATH), argv[0] must be a bare name or an absolute
 * path, and the request's env may only carry names the matching rule lists. The
 * supervisor resolves argv[0] on the same PATH (the node's spawn environment, which
 * the request can no longer change) and the same absolute path, so it runs the very
 * file the policy matched.
 *
 * The resolution is synchronous (a few stats per start) so the decision and the audit
 * line stay one step.
 */
import { accessSync, constants as fsConstants, realpathSync, statSync } from 'node:fs'
import { isAbsolute, join, resolve as resolvePath } from 'node:path'
import { AUDIT_MAX_ARG_BYTES, AUDIT_MAX_ENV_PATHS, clip } from '../../protocols/audit.js'

/** Env names whose values are search paths or code locations: audited with their value. */
export const PATH_LIKE_ENV = /(^|_)(PATH|LIB|LIBS|HOME|DIR|PREFIX)$|^(PERL5LIB|RUBYLIB|RUBYOPT|CLASSPATH|GIT_EXEC_PATH|GIT_DIR)$/

export interface ExecRequest {
  argv: readonly string[]
  env?: Readonly<Record<string, string>>
  cwd?: string
}

/** Resolve to the real absolute file, or undefined when it does not exist or is not an executable file. */
function executableFile (file: string): string | undefined {
  try {
    const real = realpathSync(file)
    if (!statSync(real).isFile()) return undefined
    accessSync(real, fsConstants.X_OK)
    return real
  } catch {
    return undefined
  }
}

/**
 * The real path of the file `command` names, as execvp would find it: a name with a
 * slash relative to `cwd`, a bare name on `pathVar` (empty and relative PATH entries
 * are skipped, as the supervisor does). Undefined when nothing executable is found.
 */
export function resolveExecutable (command: string, pathVar: string, cwd: string): string | undefined {
  if (command === '') return undefined
  if (command.includes('/')) return executableFile(resolvePath(cwd, command))
  for (const dir of pathVar.split(':')) {
    if (dir === '' || !isAbsolute(dir)) continue
    const found = executableFile(join(dir, command))
    if (found !== undefined) return found
  }
  return undefined
}

/** argv[0] is relative when it has a slash but does not start with one (`./run.sh`, `bin/x`). */
export function isRelativeExecutable (command: string): boolean {
  return command.includes('/') && !isAbsolute(command)
}

/** The env entries worth recording with their value (search paths, code locations), clipped. */
export function pathLikeEnv (env: Readonly<Record<string, string>> | undefined): Record<string, string> | undefined {
  if (env === undefined) return undefined
  const out: Record<string, string> = {}
  let n = 0
  for (const [k, v] of Object.entries(env)) {
    if (!PATH_LIKE_ENV.test(k)) continue
    out[k] = clip(v, AUDIT_MAX_ARG_BYTES)
    if (++n >= AUDIT_MAX_ENV_PATHS) break
  }
  return n === 0 ? undefined : out
}

/**
 * What the audit line records about the file a request would run: the executable the
 * supervisor would resolve (with the request's PATH and cwd when the policy lets them
 * count, so `any` nodes show planted binaries too), and PATH-like env values.
 */
export function execFacts (req: ExecRequest, nodePath: string, defaultCwd: string): { executable?: string, envPaths?: Record<string, string> } {
  const argv0 = req.argv[0] ?? ''
  const pathVar = req.env?.PATH ?? nodePath
  const executable = resolveExecutable(argv0, pathVar, req.cwd ?? defaultCwd)
  const envPaths = pathLikeEnv(req.env)
  return {
    ...(executable !== undefined ? { executable } : {}),
    ...(envPaths !== undefined ? { envPaths } : {})
  }
}
