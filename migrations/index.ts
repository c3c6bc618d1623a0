import type { Migration, MigrationProvider } from 'kysely'
import * as initial from './2026-11-25-001-initial.js'

/**
 * Every migration, by name. Kysely runs them in name order; names start with an ISO date.
 * Listed statically so the compiled package needs no directory scanning at run time.
 */
const migrations: Record<string, Migration> = {
  '2026-11-25-001-initial': initial,
}

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
}
