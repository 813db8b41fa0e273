/** The node's own log: one line per event on stderr (or a file), with a level and a time. */
import { format } from 'node:util'
import { safeText } from '../protocols/text.js'

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const
export type LogLevel = typeof LOG_LEVELS[number]
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export interface Logger {
  debug: (fmt: string, ...args: unknown[]) => void
  info: (fmt: string, ...args: unknown[]) => void
  warn: (fmt: string, ...args: unknown[]) => void
  error: (fmt: string, ...args: unknown[]) => void
}

export function createLogger (opts: { level?: LogLevel, write?: (line: string) => void, component?: string } = {}): Logger {
  const min = LEVELS[opts.level ?? 'info']
  const write = opts.write ?? ((line: string) => { process.stderr.write(line) })
  const prefix = opts.component !== undefined ? ` ${opts.component}` : ''
  const emit = (level: LogLevel) => (fmt: string, ...args: unknown[]): void => {
    if (LEVELS[level] < min) return
    // arguments may be remote text (names, addresses, reasons): a log line stays one line, without escapes
    write(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)}${prefix} ${format(fmt, ...args.map(a => typeof a === 'string' ? safeText(a) : a))}\n`)
  }
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') }
}

/** A logger that drops everything, for tests. */
export const silentLogger: Logger = { debug () {}, info () {}, warn () {}, error () {} }
