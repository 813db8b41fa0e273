/** What every command gets: resolved home, output mode and writers. */
import { ControlClient } from './control-client.js'

export interface CliIO {
  out: (text: string) => void
  err: (text: string) => void
  env: NodeJS.ProcessEnv
}

export interface CliContext extends CliIO {
  home: string
  json: boolean
  connect: () => Promise<ControlClient>
}

export function createContext (io: CliIO, home: string, json: boolean): CliContext {
  return { ...io, home, json, connect: async () => ControlClient.connect(home) }
}
