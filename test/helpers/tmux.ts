/**
 * A real terminal inside a simulated host: a tmux server started in the host's namespaces (so the
 * TUI it runs, and anything that starts, live in that host), driven from the test with
 * send-keys and read with capture-pane. The server listens on a socket path the test chooses
 * (`-S`), never the user's default socket, so a developer's own tmux is never touched.
 */
import { spawnSync } from 'node:child_process'
import type { TestContext } from 'node:test'
import type { SimHost } from '../../testkit/sim-hosts.js'
import { waitFor } from '../../testkit/sim-hosts.js'

/** One tmux command is milliseconds; this only bounds a wedged server. */
const TMUX_TIMEOUT_MS = 10_000
/** A key sent right after Esc would reach the program as Meta-key: pause as a person would. */
const ESCAPE_PAUSE_MS = 200
const SCREEN_POLL_MS = 150

/** Undefined when tmux can run here; otherwise why not. */
export function tmuxSkipReason (): string | undefined {
  return spawnSync('tmux', ['-V']).error !== undefined ? 'tmux is not installed (apt-get install tmux; .ci/run installs it)' : undefined
}

/**
 * For node:test: true if tmux can run. Otherwise skips the test, or throws under CI=true, where
 * the terminal tests must run (.ci/run installs tmux).
 */
export function requireTmux (t: Pick<TestContext, 'skip'>): boolean {
  const reason = tmuxSkipReason()
  if (reason === undefined) return true
  if (process.env.CI === 'true') throw new Error(`terminal tests need tmux under CI=true: ${reason}`)
  t.skip(reason)
  return false
}

export interface TmuxOptions {
  /** the server's socket path (`tmux -S`): somewhere the test removes afterwards */
  socket: string
  session: string
  /** what the pane runs (tmux hands it to `sh -c`), usually an interactive shell */
  command: string
  cols?: number
  rows?: number
  /** the pane's working directory */
  cwd?: string
}

export class HostTerminal {
  readonly host: SimHost
  readonly socket: string
  readonly session: string
  /** the last screen captured, for failure messages */
  last = ''

  constructor (host: SimHost, socket: string, session: string) {
    this.host = host
    this.socket = socket
    this.session = session
  }

  /** Start a detached session in the host running `opts.command`. */
  static async open (host: SimHost, opts: TmuxOptions): Promise<HostTerminal> {
    const term = new HostTerminal(host, opts.socket, opts.session)
    const args = ['new-session', '-d', '-x', String(opts.cols ?? 160), '-y', String(opts.rows ?? 45), '-s', opts.session]
    if (opts.cwd !== undefined) args.push('-c', opts.cwd)
    await term.tmux(...args, opts.command)
    return term
  }

  /** Run a tmux command against this server, inside the host; its stdout. */
  async tmux (...args: string[]): Promise<string> {
    const r = await this.host.exec(['tmux', '-S', this.socket, ...args], { timeoutMs: TMUX_TIMEOUT_MS })
    if (r.code !== 0) throw new Error(`tmux ${args.join(' ')} in ${this.host.name} exited ${String(r.code ?? r.signal)}: ${r.stderr.trim()}`)
    return r.stdout
  }

  async screen (): Promise<string> {
    this.last = await this.tmux('capture-pane', '-p', '-t', this.session)
    return this.last
  }

  /** Type text literally (no key-name lookup). */
  async type (text: string): Promise<void> {
    await this.tmux('send-keys', '-t', this.session, '-l', text)
  }

  /** Press named keys (Enter, Tab, Escape, ...). */
  async keys (...names: string[]): Promise<void> {
    await this.tmux('send-keys', '-t', this.session, ...names)
  }

  async escape (): Promise<void> {
    await this.keys('Escape')
    await new Promise(resolve => setTimeout(resolve, ESCAPE_PAUSE_MS))
  }

  /** The program in the foreground of the pane (`node`, `bash`, ...). */
  async paneCommand (): Promise<string> {
    return (await this.tmux('display-message', '-p', '-t', this.session, '#{pane_current_command}')).trim()
  }

  async resize (cols: number, rows: number): Promise<void> {
    await this.tmux('resize-window', '-t', this.session, '-x', String(cols), '-y', String(rows))
  }

  /**
   * Wait until the screen matches, and return it. `onScreen` sees every capture on the way (to
   * catch something shown only for a moment). The error carries the last screen.
   */
  async see (pattern: RegExp, what: string, timeoutMs = 10_000, onScreen?: (screen: string) => void): Promise<string> {
    try {
      return await waitFor(async () => {
        const s = await this.screen()
        onScreen?.(s)
        return pattern.test(s) ? s : undefined
      }, { timeoutMs, intervalMs: SCREEN_POLL_MS, what: `${what} on the screen in ${this.host.name}` })
    } catch (err: unknown) {
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- screen ---\n${this.last}`)
    }
  }

  /** Stop the server (and what runs in its panes); quiet if it is already gone. */
  async kill (): Promise<void> {
    await this.host.exec(['tmux', '-S', this.socket, 'kill-server'], { timeoutMs: TMUX_TIMEOUT_MS }).catch(() => undefined)
  }
}

/** Text matched literally inside a RegExp. */
export function escapeRegExp (s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** A string safe inside single quotes of a POSIX shell command line. */
export function shQuote (s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}
