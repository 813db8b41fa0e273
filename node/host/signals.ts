/**
 * Signal names as the mesh protocols carry them (`TERM`) and as Node and the kernel know them
 * (`SIGTERM`), in one place.
 */
import type { SignalName } from '../../protocols/messages.js'

/** The Node signal for a protocol signal name: `TERM` -> `SIGTERM`. */
export function toNodeSignal (name: SignalName): NodeJS.Signals {
  return `SIG${name}`
}

/**
 * Signals after which waiting for the process to exit makes no sense: they pause or resume it.
 * A grace period (then KILL) with one of these is a caller's mistake, not a stop.
 */
export const NON_TERMINATING_SIGNALS: ReadonlySet<SignalName> = new Set<SignalName>(['STOP', 'CONT'])
