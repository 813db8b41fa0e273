/**
 * The lifecycle of `procmesh top`: the blessed screen, keys through the keymap into
 * the reducer, throttled redraws, and the effects (stop, start, logs) carried out
 * against the node. Quitting destroys the screen, which gives the terminal back.
 */
import { randomUUID } from 'node:crypto'
import type { Duplex } from 'node:stream'
import blessed, { type Widgets } from 'blessed'
import { errorMessage } from '../../protocols/errors.js'
import type { ControlClient } from '../control-client.js'
import { joinArgv } from './argv.js'
import { MeshDataSource, type Connect, type LogFollow } from './data.js'
import { resolveKey } from './keymap.js'
import { render, type TopWidgets } from './render.js'
import type { Action, ConnectionState, Effect, State } from './model.js'
import { deploymentsWanted, procHistoryTarget, psTarget, psTop, trailRangeQuery } from './selectors.js'
import { initialState, reduce } from './state.js'
import { ASCII_GLYPHS, UNICODE_GLYPHS, type Glyphs } from './widgets/glyphs.js'

export interface TopAppOptions {
  connect: Connect
  /** ps refresh period */
  intervalMs: number
  /** peers and history periods (defaults: 1 s and 10 s) */
  peersMs?: number
  historyMs?: number
  /** terminal streams; the process's stdin/stdout by default (Duplex: @types/blessed swaps the two types) */
  input?: Duplex
  output?: Duplex
  terminal?: string
  /** unicode glyphs; default: whatever blessed detects for the terminal */
  unicode?: boolean
  /** first line of the status bar, e.g. that a node was started */
  initialStatus?: string
  initialConnection?: ConnectionState
  /** quit cleanly on SIGTERM/SIGHUP/SIGINT (the command sets this; benches and tests do not) */
  handleSignals?: boolean
  /** redraws never come closer together than this, except right after a key */
  minFrameMs?: number
  /** called after every redraw with what it cost (benchmarks) */
  onRender?: (info: { ms: number, at: number }) => void
}

/** 20 redraws a second at most: smooth to the eye, cheap when data floods in. */
export const MIN_FRAME_MS = 50
const CLOCK_MS = 1000
/** Signals that end top the way q does, so the terminal is restored (Ctrl-C itself arrives as a key in raw mode). */
const QUIT_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGINT']
/** a restart waits up to 5 s for TERM, then KILL, then starts: the protocol's deadline plus margin */
const RESTART_TIMEOUT_MS = 40_000

function box (opts: Widgets.BoxOptions & { wrap: boolean }): Widgets.BoxElement {
  return blessed.box(opts)
}

function createWidgets (screen: Widgets.Screen): TopWidgets {
  const pane = (): Widgets.BoxElement => box({
    parent: screen, tags: true, wrap: false, border: { type: 'line' }, style: { border: { fg: 'grey' }, label: { bold: true } }
  })
  const line = (style: Widgets.Types.TStyle): Widgets.BoxElement => box({ parent: screen, height: 1, tags: true, wrap: false, style })
  return {
    screen,
    header: line({ fg: 'white', bg: 'blue' }),
    hosts: pane(),
    procs: pane(),
    details: pane(),
    status: line({}),
    footer: line({ fg: 'white', bg: 'black' }),
    dialog: box({ parent: screen, tags: true, wrap: false, hidden: true, border: { type: 'line' }, style: { border: { fg: 'yellow' }, bg: 'black', fg: 'white' } })
  }
}

/** blessed's own verdict (from the locale and terminfo); @types/blessed does not declare the field. */
function terminalSpeaksUnicode (screen: Widgets.Screen): boolean {
  const tput: unknown = screen.tput
  return typeof tput === 'object' && tput !== null && 'unicode' in tput && tput.unicode === true
}

export class TopApp {
  private readonly opts: TopAppOptions
  private state: State
  private screen?: Widgets.Screen
  private widgets?: TopWidgets
  private data?: MeshDataSource
  private glyphs: Glyphs = UNICODE_GLYPHS
  private renderTimer?: NodeJS.Timeout
  private renderImmediate?: NodeJS.Immediate
  private lastRender = 0
  private clock?: NodeJS.Timeout
  private logs?: { follow: LogFollow, managedId: string }
  private logsGeneration = 0
  private finish?: () => void
  private readonly onSignal = (): void => { this.dispatch({ type: 'quit' }) }
  private running = false

  constructor (opts: TopAppOptions) {
    this.opts = opts
    this.state = initialState({
      now: Date.now(),
      cols: 80,
      rows: 24,
      connection: opts.initialConnection,
      status: opts.initialStatus
    })
  }

  /** Open the screen and run until the user quits. */
  run (): Promise<void> {
    if (this.running) throw new Error('TopApp is already running')
    this.running = true
    const screen = blessed.screen({
      smartCSR: true,
      fullUnicode: true,
      autoPadding: false,
      warnings: false,
      title: 'procmesh top',
      input: this.opts.input,
      output: this.opts.output,
      terminal: this.opts.terminal
    })
    this.screen = screen
    this.glyphs = (this.opts.unicode ?? terminalSpeaksUnicode(screen)) ? UNICODE_GLYPHS : ASCII_GLYPHS
    this.widgets = createWidgets(screen)
    screen.on('keypress', (ch: string | undefined, key: Widgets.Events.IKeyEventArg | undefined) => { this.onKey(ch, key) })
    screen.on('resize', () => { this.dispatch({ type: 'resize', cols: screen.cols, rows: screen.rows }) })
    this.data = new MeshDataSource({
      connect: this.opts.connect,
      intervalMs: this.opts.intervalMs,
      peersMs: this.opts.peersMs,
      historyMs: this.opts.historyMs,
      dispatch: a => { this.dispatch(a) }
    })
    if (this.opts.handleSignals === true) {
      for (const sig of QUIT_SIGNALS) process.on(sig, this.onSignal)
    }
    const finished = new Promise<void>(resolve => { this.finish = resolve })
    this.dispatch({ type: 'resize', cols: screen.cols, rows: screen.rows })
    this.clock = setInterval(() => { this.dispatch({ type: 'tick', now: Date.now() }) }, CLOCK_MS)
    this.data.start()
    this.data.setTarget(psTarget(this.state), psTop(this.state))
    this.data.setRange(trailRangeQuery(this.state))
    return finished
  }

  /** The current state (tests and benchmarks look at it). */
  get current (): State {
    return this.state
  }

  /** Reduce an action, carry out its effects and schedule a redraw; keys redraw at once. */
  dispatch (action: Action, urgent = false): void {
    if (!this.running) return
    const before = psTarget(this.state)
    const topBefore = JSON.stringify(psTop(this.state))
    const { state, effects } = reduce(this.state, action)
    this.state = state
    for (const e of effects) this.carryOut(e)
    if (!this.running) return
    const after = psTarget(state)
    if (after !== before || JSON.stringify(psTop(state)) !== topBefore) this.data?.setTarget(after, psTop(state))
    // both compare with what they already fetch, so calling them on every action is cheap
    this.data?.setRange(trailRangeQuery(state))
    this.data?.setProcHistory(procHistoryTarget(state))
    this.data?.setDeployments(deploymentsWanted(state))
    this.invalidate(urgent)
  }

  /** Leave: stop polling and following, destroy the screen (restoring the terminal). */
  stop (): void {
    if (!this.running) return
    this.running = false
    if (this.opts.handleSignals === true) {
      for (const sig of QUIT_SIGNALS) process.off(sig, this.onSignal)
    }
    clearInterval(this.clock)
    clearTimeout(this.renderTimer)
    if (this.renderImmediate !== undefined) clearImmediate(this.renderImmediate)
    this.logs?.follow.cancel()
    this.logs = undefined
    this.data?.stop()
    this.screen?.destroy()
    this.finish?.()
  }

  private onKey (ch: string | undefined, key: Widgets.Events.IKeyEventArg | undefined): void {
    this.data?.noteInput()
    const action = resolveKey(this.state, key?.full, ch, { ctrl: key?.ctrl, meta: key?.meta })
    if (action !== undefined) this.dispatch(action, true)
  }

  private invalidate (urgent: boolean): void {
    if (this.renderImmediate !== undefined) return
    if (urgent) {
      clearTimeout(this.renderTimer)
      this.renderTimer = undefined
      // setImmediate: keys that arrived in the same read are all reduced before one redraw
      this.renderImmediate = setImmediate(() => { this.renderImmediate = undefined; this.draw() })
      return
    }
    if (this.renderTimer !== undefined) return
    const wait = Math.max(0, this.lastRender + (this.opts.minFrameMs ?? MIN_FRAME_MS) - Date.now())
    this.renderTimer = setTimeout(() => { this.renderTimer = undefined; this.draw() }, wait)
  }

  private draw (): void {
    const w = this.widgets
    if (!this.running || w === undefined) return
    const t0 = performance.now()
    try {
      render(w, this.state, this.glyphs)
      w.screen.render()
    } catch (err: unknown) {
      // a drawing bug must not leave the terminal in raw mode: say it and keep going
      this.state = { ...this.state, status: { text: `drawing failed: ${errorMessage(err)}`, level: 'error', at: Date.now() } }
    }
    this.lastRender = Date.now()
    this.opts.onRender?.({ ms: performance.now() - t0, at: performance.now() })
  }

  private carryOut (e: Effect): void {
    switch (e.kind) {
      case 'quit':
        this.stop()
        return
      case 'kill':
        this.kill(e).catch((err: unknown) => { this.dispatch({ type: 'status', text: `stop: ${errorMessage(err)}`, level: 'error' }) })
        return
      case 'run':
        this.start(e).catch((err: unknown) => { this.dispatch({ type: 'status', text: `start: ${errorMessage(err)}`, level: 'error' }) })
        return
      case 'followLogs':
        this.followLogs(e).catch((err: unknown) => {
          this.dispatch({ type: 'logEnd', managedId: e.managedId, text: `logs unavailable: ${errorMessage(err)}`, failed: true })
        })
        return
      case 'restart':
        this.restart(e).catch((err: unknown) => { this.dispatch({ type: 'status', text: `restart: ${errorMessage(err)}`, level: 'error' }) })
        return
      case 'stopLogs':
        this.logsGeneration++
        this.logs?.follow.cancel()
        this.logs = undefined
    }
  }

  private async kill (e: Extract<Effect, { kind: 'kill' }>): Promise<void> {
    const t = e.target
    try {
      const r = await this.node().kill({ target: t.peerId, pid: t.pid, startTime: t.startTime, signal: e.signal, tree: e.tree })
      const outcome = r.result === 'gone'
        ? 'it had already exited (its pid now names another process or none), nothing was signalled'
        : r.result === 'exited' ? 'it exited' : `signalled${r.signalled.length > 1 ? ` ${r.signalled.length} processes` : ''}`
      this.dispatch({ type: 'status', text: `${t.hostName}: SIG${e.signal} to ${t.name} (pid ${t.pid}): ${outcome}`, level: r.result === 'gone' ? 'error' : 'info' })
      this.data?.refreshNow()
    } catch (err: unknown) {
      // the target's own words: "forbidden: ... missing role control", "pid ... not found"
      this.dispatch({ type: 'status', text: `${t.hostName}: stopping ${t.name} (pid ${t.pid}) failed: ${errorMessage(err)}`, level: 'error' })
    }
  }

  private async restart (e: Extract<Effect, { kind: 'restart' }>): Promise<void> {
    try {
      const r = await this.node().restart({ target: e.peerId, ref: e.managedId }, { timeoutMs: RESTART_TIMEOUT_MS })
      this.dispatch({ type: 'status', text: `${e.hostName}: restarted ${e.name} (${r.managedId}) as pid ${r.pid}` })
      this.data?.refreshNow()
    } catch (err: unknown) {
      this.dispatch({ type: 'status', text: `${e.hostName}: restarting ${e.name} (${e.managedId}) failed: ${errorMessage(err)}`, level: 'error' })
    }
  }

  private async start (e: Extract<Effect, { kind: 'run' }>): Promise<void> {
    const what = joinArgv(e.argv)
    try {
      const r = await this.node().run({ target: e.peerId, argv: e.argv, requestId: `top-${randomUUID()}` })
      this.dispatch({ type: 'status', text: `${e.hostName}: started ${what} as pid ${r.pid} (managed ${r.managedId})` })
      this.data?.refreshNow()
    } catch (err: unknown) {
      this.dispatch({ type: 'status', text: `${e.hostName}: starting ${what} failed: ${errorMessage(err)}`, level: 'error' })
    }
  }

  private async followLogs (e: Extract<Effect, { kind: 'followLogs' }>): Promise<void> {
    const data = this.data
    if (data === undefined) return
    this.logs?.follow.cancel()
    const gen = ++this.logsGeneration
    const { follow, done } = await data.followLogs(e.peerId, e.managedId, chunk => {
      this.dispatch({ type: 'logData', managedId: e.managedId, data: chunk })
    })
    if (gen !== this.logsGeneration || !this.running) { follow.cancel(); return }
    this.logs = { follow, managedId: e.managedId }
    try {
      const end = await done
      const how = end.exitCode !== null ? `exited with code ${end.exitCode}` : end.signal !== null ? `killed by ${end.signal}` : end.exited ? 'exited' : 'ended'
      this.dispatch({ type: 'logEnd', managedId: e.managedId, text: `process ${how}${end.truncated ? ' (older output was dropped)' : ''}`, failed: end.exitCode !== 0 && end.exitCode !== null })
    } catch (err: unknown) {
      // cancelling closes the connection on purpose: nothing to report then
      if (gen === this.logsGeneration) this.dispatch({ type: 'logEnd', managedId: e.managedId, text: `logs stopped: ${errorMessage(err)}`, failed: true })
    }
  }

  private node (): ControlClient {
    if (this.data === undefined) throw new Error('not running')
    return this.data.node()
  }
}
