/**
 * The managed-process supervisor (node/host/supervisor/): limits, output rings, the log files
 * processes write themselves, the state and records files, and the supervisor that ties them.
 */
export * from './supervisor/limits.js'
export { ByteRing, OutputBuffer, type OutputCursor } from './supervisor/output-buffer.js'
export { LogFiles, logFilePath } from './supervisor/log-files.js'
export { RecordsFile, type StoredRecord, type LastExit } from './supervisor/records-file.js'
export { Supervisor, newManagedId, startFingerprint, type ManagedInfo, type SupervisorEvent, type SupervisorInit } from './supervisor/supervisor.js'
