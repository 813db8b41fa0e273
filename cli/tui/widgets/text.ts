/**
 * Text primitives of the widgets: remote text made safe, blessed tags escaped, cells fitted
 * to a width, columns that drop the least important first. Pure.
 */
import type { Glyphs } from './glyphs.js'

// CSI and OSC sequences, then any other control character
const ANSI_SEQUENCE = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?/g
const CONTROL_CHARS = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g

/** Remote text made safe to draw: escape sequences removed, control characters shown as `?`. */
export function sanitize (text: string): string {
  return text.replace(ANSI_SEQUENCE, '').replace(/\t/g, ' ').replace(CONTROL_CHARS, '?')
}

/** Escape blessed's tag braces. */
export function esc (text: string): string {
  return text.replace(/[{}]/g, c => c === '{' ? '{open}' : '{close}')
}

export function stripTags (line: string): string {
  return line.replace(/\{\/?[a-z-]*\}/g, m => m === '{open}' ? '{' : m === '{close}' ? '}' : '')
}

export function textWidth (text: string): number {
  let n = 0
  for (const _ of text) n++
  return n
}

/** Exactly `width` characters: cut with an ellipsis, or padded. */
export function fit (text: string, width: number, align: 'left' | 'right' = 'left', ellipsis = '…'): string {
  if (width <= 0) return ''
  const chars = Array.from(text)
  if (chars.length > width) return width === 1 ? chars[0] : chars.slice(0, width - 1).join('') + ellipsis
  const pad = ' '.repeat(width - chars.length)
  return align === 'right' ? pad + text : text + pad
}

export function styled (text: string, style: string | undefined): string {
  const e = esc(text)
  if (style === undefined || style === '') return e
  const open = style.split(' ').map(s => `{${s}}`).join('')
  const close = style.split(' ').reverse().map(s => `{/${s}}`).join('')
  return open + e + close
}

// ---- columns ----

export interface Column<T> {
  header: string
  width: number
  /** a narrow terminal shrinks the column down to this before it drops any column (default: width) */
  minWidth?: number
  align?: 'left' | 'right'
  /** higher survives longer when the terminal is narrow */
  priority: number
  /** the one column that takes what is left (at least `width`) */
  flex?: boolean
  cell: (row: T) => string
  style?: (row: T) => string | undefined
}

/**
 * The columns that fit `width`, with sizes: shrinkable columns give up their slack first,
 * then the lowest priorities are dropped; width won back goes to the shrunk columns (highest
 * priority first), then to the flex column.
 */
export function fitColumns<T> (columns: ReadonlyArray<Column<T>>, width: number): Array<Column<T> & { size: number }> {
  let kept = [...columns]
  const min = (c: Column<T>): number => Math.min(c.width, c.minWidth ?? c.width)
  const need = (cols: ReadonlyArray<Column<T>>, w: (c: Column<T>) => number): number => cols.reduce((n, c) => n + w(c), 0) + Math.max(0, cols.length - 1)
  while (kept.length > 1 && need(kept, min) > width) {
    const lowest = kept.reduce((lo, c) => c.priority < lo.priority ? c : lo)
    kept = kept.filter(c => c !== lowest)
  }
  const sizes = new Map(kept.map(c => [c, min(c)]))
  let spare = Math.max(0, width - need(kept, min))
  for (const c of [...kept].sort((a, b) => b.priority - a.priority)) {
    const grow = Math.min(spare, c.width - min(c))
    sizes.set(c, min(c) + grow)
    spare -= grow
  }
  return kept.map(c => ({ ...c, size: (sizes.get(c) ?? c.width) + (c.flex === true ? spare : 0) }))
}

export function headerLine<T> (cols: ReadonlyArray<Column<T> & { size: number }>): string {
  return cols.map(c => fit(c.header, c.size, c.align)).join(' ')
}

export function rowLine<T> (cols: ReadonlyArray<Column<T> & { size: number }>, row: T, g: Glyphs): string {
  return cols.map(c => styled(fit(c.cell(row), c.size, c.align, g.ellipsis), c.style?.(row))).join(' ')
}

/** Highlight a whole line (the selection): inverse when its pane has the focus. */
export function highlight (line: string, focused: boolean): string {
  return focused ? `{inverse}${line}{/inverse}` : `{underline}${line}{/underline}`
}

/** Cut text into lines of at most `width` characters. */
export function wrap (text: string, width: number): string[] {
  if (width <= 0) return []
  const chars = Array.from(text)
  const out: string[] = []
  for (let i = 0; i < chars.length; i += width) out.push(chars.slice(i, i + width).join(''))
  return out.length > 0 ? out : ['']
}
