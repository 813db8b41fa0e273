/**
 * The overlays of the modals: help, the signal picker, the confirmation, the start prompt.
 */
import { SIGNALS, type SignalName } from '../../../protocols/messages.js'
import { bindingLabel, helpBlocks, helpSections, KEYMAP } from '../keymap.js'
import { deploymentsVisible, helpLayout } from '../layout.js'
import type { DeploymentsView, Modal, ProcRef } from '../model.js'
import { deploymentsLines } from './deployments.js'
import { ASCII_GLYPHS, type Glyphs } from './glyphs.js'
import { esc, fit, sanitize, textWidth } from './text.js'

export const SIGNAL_NOTES: Readonly<Record<SignalName, string>> = {
  TERM: 'terminate: ask it to exit (the default)',
  KILL: 'kill: end it at once, no clean-up',
  INT: 'interrupt, as Ctrl-C does',
  HUP: 'hang up: many daemons reload',
  QUIT: 'quit, with a core dump',
  USR1: 'user signal 1',
  USR2: 'user signal 2',
  STOP: 'pause it',
  CONT: 'resume it'
}

export interface Dialog { title: string, lines: string[], width: number, height: number }

/** What some overlays show besides the modal: the deployments list, the time, the glyphs. */
export interface DialogData { deployments?: DeploymentsView, now: number, g: Glyphs }

/** The deployments overlay is at most this wide: wider rows are harder to follow. */
const DEPLOYMENTS_MAX_WIDTH = 140

/** The overlay for a modal (the filter prompt lives on the status line instead). */
export function dialogFor (m: Modal, cols: number, rows: number, data: DialogData = { now: 0, g: ASCII_GLYPHS }): Dialog | undefined {
  const maxW = Math.max(20, cols - 4)
  switch (m.kind) {
    case 'deployments': {
      // it covers the panes at 80 columns: every column it can get goes to the hosts
      const w = Math.min(Math.max(20, cols - 2), DEPLOYMENTS_MAX_WIDTH)
      const body = deploymentsLines(data.deployments, w - 2, data.now, data.g)
      const visible = deploymentsVisible(rows, body.note !== undefined)
      const scroll = Math.max(0, Math.min(m.scroll, body.lines.length - visible))
      const shown = body.lines.slice(scroll, scroll + visible)
      const count = data.deployments !== undefined ? ` (${data.deployments.list.length})` : ''
      const more = body.lines.length > visible ? `, lines ${scroll + 1}-${scroll + shown.length} of ${body.lines.length}: Up/Down` : ''
      const lines = [body.header, ...shown, ...(body.note !== undefined ? [body.note] : [])]
      return { title: ` Deployments${count}${more} · Esc closes `, lines, width: w, height: lines.length + 2 }
    }
    case 'filter':
    case 'search':
      return undefined
    case 'confirmRestart': {
      const w = Math.min(maxW, 70)
      const lines = [
        `{bold}Restart ${esc(sanitize(m.name))} (${esc(m.managedId)}) on ${esc(sanitize(m.hostName))}?{/bold}`,
        m.running ? esc('It is stopped first (TERM, KILL after 5 s), then started again with the same id.') : esc('It is not running: it is started again with the same id.'),
        '',
        '{green-fg}y{/green-fg}: yes, restart it     {red-fg}n{/red-fg}/Esc/Enter: no'
      ]
      return { title: ' Confirm restart ', lines, width: w, height: lines.length + 2 }
    }
    case 'help': {
      const hl = helpLayout(cols, rows, helpBlocks())
      const sections = helpSections()
      const keyW = Math.max(...KEYMAP.map(b => textWidth(bindingLabel(b)))) + 2
      // every line padded to exactly the column width, so two columns line up without measuring tags
      const block = (i: number): string[] => {
        const sec = sections[i]
        return [
          `{bold}${esc(fit(sec.title, hl.colWidth))}{/bold}`,
          ...sec.lines.map(([k, d]) => `  {cyan-fg}${esc(fit(k, keyW))}{/cyan-fg}${esc(fit(d, Math.max(1, hl.colWidth - keyW - 2)))}`),
          ' '.repeat(hl.colWidth)
        ]
      }
      let lines: string[]
      if (hl.twoColumns) {
        const left = sections.slice(0, hl.rightFrom).flatMap((_, i) => block(i))
        const right = sections.slice(hl.rightFrom).flatMap((_, i) => block(hl.rightFrom + i))
        lines = Array.from({ length: hl.lines }, (_, i) => `${left[i] ?? ' '.repeat(hl.colWidth)} │ ${right[i] ?? ''}`)
      } else {
        lines = sections.flatMap((_, i) => block(i))
      }
      const scroll = Math.min(m.scroll, hl.maxScroll)
      const shown = lines.slice(scroll, scroll + hl.visible)
      const more = hl.maxScroll > 0 ? ` (${scroll + 1}-${scroll + shown.length} of ${lines.length}: Up/Down scroll)` : ''
      return { title: ` Help: procmesh top${more} `, lines: shown, width: hl.width, height: shown.length + 2 }
    }
    case 'signal': {
      const t = m.target
      if ((m.others ?? []).length > 0) {
        const all = [t, ...(m.others ?? [])]
        const lines = [
          esc(`Stop ${all.length} marked processes on ${new Set(all.map(x => x.peerId)).size} host(s)`),
          '',
          ...SIGNALS.map((sig, i) => {
            const text = esc(` ${i + 1} ${fit(sig, 5)} ${SIGNAL_NOTES[sig]} `)
            return i === m.index ? `{inverse}${text}{/inverse}` : text
          }),
          '',
          `${m.tree ? '[x]' : '[ ]'} also their children (t)`,
          '{grey-fg}Enter: next (you confirm before anything is sent) · Esc: cancel{/grey-fg}'
        ]
        return { title: ' Stop marked processes ', lines, width: Math.min(maxW, 70), height: lines.length + 2 }
      }
      const lines = [
        esc(`Stop ${sanitize(t.name)} (pid ${t.pid}) on ${sanitize(t.hostName)}`),
        esc(fit(sanitize(t.cmd), Math.min(maxW, 70) - 2)),
        '',
        ...SIGNALS.map((sig, i) => {
          const text = esc(` ${i + 1} ${fit(sig, 5)} ${SIGNAL_NOTES[sig]} `)
          return i === m.index ? `{inverse}${text}{/inverse}` : text
        }),
        '',
        `${m.tree ? '[x]' : '[ ]'} also its children (t)`,
        '{grey-fg}Enter: next (you confirm before anything is sent) · Esc: cancel{/grey-fg}'
      ]
      return { title: ' Stop a process ', lines, width: Math.min(maxW, 70), height: lines.length + 2 }
    }
    case 'confirm': {
      const t = m.target
      if ((m.others ?? []).length > 0) {
        const w = Math.min(maxW, 80)
        const lines = [
          `{bold}Send SIG${m.signal} to ${1 + (m.others ?? []).length} processes${m.tree ? ' and all their children' : ''}?{/bold}`,
          '',
          ...selectionLines([t, ...(m.others ?? [])], w - 2, MAX_CONFIRM_HOST_LINES).map(esc),
          '',
          '{green-fg}y{/green-fg}: yes, send it     {red-fg}n{/red-fg}/Esc/Enter: no'
        ]
        return { title: ' Confirm ', lines, width: w, height: lines.length + 2 }
      }
      const lines = [
        `{bold}Send SIG${m.signal} to ${esc(sanitize(t.name))} (pid ${t.pid})${m.tree ? ' and all its children' : ''}{/bold}`,
        `{bold}on host ${esc(sanitize(t.hostName))}?{/bold}`,
        esc(fit(sanitize(t.cmd), Math.min(maxW, 70) - 2)),
        '',
        '{green-fg}y{/green-fg}: yes, send it     {red-fg}n{/red-fg}/Esc/Enter: no'
      ]
      return { title: ' Confirm ', lines, width: Math.min(maxW, 70), height: lines.length + 2 }
    }
    case 'start': {
      const w = Math.min(maxW, 90)
      const draft = Array.from(sanitize(m.draft))
      const room = w - 8
      const shown = draft.length > room ? '…' + draft.slice(draft.length - room + 1).join('') : draft.join('')
      const lines = [
        esc(`Start a process on ${sanitize(m.hostName)}`),
        '{grey-fg}Words split like a shell would (quotes, backslashes), but no shell runs:{/grey-fg}',
        '{grey-fg}no $VARIABLES, globs, pipes or redirection.{/grey-fg}',
        '',
        `{bold}argv>{/bold} ${esc(shown)}{inverse} {/inverse}`,
        m.error !== undefined ? `{red-fg}${esc(fit(m.error, w - 2))}{/red-fg}` : '',
        '{grey-fg}Enter: start · Esc: cancel · Ctrl-U: clear{/grey-fg}'
      ]
      return { title: ' Start ', lines, width: w, height: lines.length + 2 }
    }
  }
}

/** Hosts listed one per line in the confirmation of a marked stop; the rest are counted. */
const MAX_CONFIRM_HOST_LINES = 10

/** `host: pid pid pid` per host of a selection (pure), at most `maxLines` lines, each fitted to `width`. */
export function selectionLines (refs: readonly ProcRef[], width: number, maxLines: number): string[] {
  const byHost = new Map<string, { name: string, pids: number[] }>()
  for (const r of refs) {
    const h = byHost.get(r.peerId) ?? { name: r.hostName, pids: [] }
    h.pids.push(r.pid)
    byHost.set(r.peerId, h)
  }
  const hosts = [...byHost.values()]
  const shown = hosts.length > maxLines ? hosts.slice(0, maxLines - 1) : hosts
  const lines = shown.map(h => fit(`${sanitize(h.name)}: pid ${h.pids.sort((a, b) => a - b).join(' ')}`, width).trimEnd())
  if (shown.length < hosts.length) {
    const rest = hosts.slice(shown.length)
    lines.push(`… and ${rest.reduce((n, h) => n + h.pids.length, 0)} more on ${rest.length} more hosts`)
  }
  return lines
}
