/**
 * Split a typed command line into argv the way a POSIX shell tokenises words, and
 * nothing more: quotes and backslashes group and escape, but there is no expansion,
 * no globbing, no pipes or redirection, and nothing is ever handed to a shell.
 * `$HOME`, `*.log`, `|` and `>` reach the program literally.
 */

export class ArgvSyntaxError extends Error {
  override name = 'ArgvSyntaxError'
}

/** Characters that would mean something to a shell; we pass them on literally and say so. */
const SHELL_OPERATORS = new Set(['|', '||', '&', '&&', ';', '>', '>>', '<', '2>', '2>&1', '$(', '`'])

/**
 * Words of `line`: whitespace separates; '...' is literal; "..." allows \" \\ \$ \` and
 * backslash-newline; outside quotes a backslash escapes the next character. `''` is an
 * empty argument. Throws ArgvSyntaxError on an unterminated quote or a trailing backslash.
 */
export function splitArgv (line: string): string[] {
  const out: string[] = []
  let word = ''
  // a word exists once anything (even an empty quote) was seen, so '' yields an empty argument
  let inWord = false
  let i = 0
  while (i < line.length) {
    const c = line[i]
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inWord) { out.push(word); word = ''; inWord = false }
      i++
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1)
      if (end < 0) throw new ArgvSyntaxError(`unterminated ' quote starting at column ${i + 1}`)
      word += line.slice(i + 1, end)
      inWord = true
      i = end + 1
    } else if (c === '"') {
      let j = i + 1
      let closed = false
      while (j < line.length) {
        const d = line[j]
        if (d === '"') { closed = true; break }
        if (d === '\\' && j + 1 < line.length) {
          const e = line[j + 1]
          if (e === '"' || e === '\\' || e === '$' || e === '`') { word += e; j += 2; continue }
          if (e === '\n') { j += 2; continue }
        }
        word += d
        j++
      }
      if (!closed) throw new ArgvSyntaxError(`unterminated " quote starting at column ${i + 1}`)
      inWord = true
      i = j + 1
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new ArgvSyntaxError('trailing backslash')
      if (line[i + 1] !== '\n') { word += line[i + 1]; inWord = true }
      i += 2
    } else {
      word += c
      inWord = true
      i++
    }
  }
  if (inWord) out.push(word)
  return out
}

/**
 * Unquoted words a user may have meant for a shell (pipes, redirections, `&&`): the
 * caller shows a note, since they are passed to the program as plain arguments.
 */
export function shellLookalikes (line: string): string[] {
  const found: string[] = []
  // only bare words count: a quoted '|' was clearly meant literally
  for (const raw of line.split(/[ \t]+/)) {
    if (SHELL_OPERATORS.has(raw) || raw.startsWith('$(')) found.push(raw)
  }
  return found
}

/** Render argv back as one line that splitArgv turns into the same argv (for display and history). */
export function joinArgv (argv: readonly string[]): string {
  return argv.map(a => a !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`).join(' ')
}
