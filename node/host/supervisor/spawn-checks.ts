/**
 * Checks done before anything is recorded or spawned: the cwd exists, argv[0] names an executable
 * file (resolved as execvp would), so a bad start is a clear error and the spawn runs exactly the
 * file that was checked.
 */
import { constants as fsConstants, type Stats } from 'node:fs'
import { access, stat } from 'node:fs/promises'
import { isAbsolute, join, resolve as resolvePath } from 'node:path'
import { ProcmeshError, errnoCode, errorMessage } from '../../../protocols/errors.js'

export async function checkCwd (cwd: string): Promise<string> {
  if (!isAbsolute(cwd)) throw new ProcmeshError('INVALID_REQUEST', `cwd ${cwd}: must be an absolute path`)
  let info: Stats
  try {
    info = await stat(cwd)
  } catch (err: unknown) {
    const code = errnoCode(err)
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ProcmeshError('SPAWN_FAILED', `cwd ${cwd}: no such directory`)
    if (code === 'EACCES') throw new ProcmeshError('SPAWN_FAILED', `cwd ${cwd}: permission denied`)
    throw new ProcmeshError('SPAWN_FAILED', `cwd ${cwd}: ${errorMessage(err)}`)
  }
  if (!info.isDirectory()) throw new ProcmeshError('SPAWN_FAILED', `cwd ${cwd}: not a directory`)
  return cwd
}

/**
 * The file argv[0] names, resolved as execvp would (a name with a slash is a path relative to
 * cwd; otherwise the PATH the child gets), so a missing or non-executable command is a clear
 * error before anything is recorded, and the spawn runs exactly the file we checked. Empty and
 * relative PATH entries are skipped: they mean "the cwd", a classic way to run the wrong binary.
 */
export async function resolveCommand (command: string, path: string, cwd: string): Promise<string> {
  if (command.includes('/')) {
    const file = resolvePath(cwd, command)
    await checkExecutable(file, command)
    return file
  }
  let notExecutable: string | undefined
  for (const dir of path.split(':')) {
    if (dir === '' || !isAbsolute(dir)) continue
    const file = join(dir, command)
    let info: Stats
    try {
      info = await stat(file)
    } catch {
      continue
    }
    if (!info.isFile()) continue
    try {
      await access(file, fsConstants.X_OK)
      return file
    } catch {
      notExecutable ??= file
    }
  }
  if (notExecutable !== undefined) throw new ProcmeshError('SPAWN_FAILED', `not executable: ${notExecutable}`)
  throw new ProcmeshError('SPAWN_FAILED', `command not found: ${command}`)
}

async function checkExecutable (file: string, command: string): Promise<void> {
  let info: Stats
  try {
    info = await stat(file)
  } catch {
    throw new ProcmeshError('SPAWN_FAILED', `command not found: ${command}`)
  }
  if (info.isDirectory()) throw new ProcmeshError('SPAWN_FAILED', `not executable: ${file} (a directory)`)
  try {
    await access(file, fsConstants.X_OK)
  } catch {
    throw new ProcmeshError('SPAWN_FAILED', `not executable: ${file}`)
  }
}

