// The two stores every store test runs on: embedded PGlite in a temporary directory (a copy of
// PGlite's initialised directory: support/pglite-template.ts), and a real
// PostgreSQL named by WINPV_TEST_PG_URL (.ci/run installs Debian's postgresql, starts a cluster and
// exports it). Each PostgreSQL test gets its own schema, so test files can run side by side.
import { rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { freshPgliteStore } from '../support/pglite-template';

export interface StoreTarget {
  name: 'pglite' | 'postgres';
  /** Why the target cannot run here (outside CI); under CI=true a missing PostgreSQL is not skipped, it fails. */
  skip: string | false;
  /** A fresh, empty store target; cleanup drops it. */
  make(): Promise<{ target: string; cleanup(): Promise<void> }>;
}

const pgUrl = process.env.WINPV_TEST_PG_URL;

export const STORE_TARGETS: StoreTarget[] = [
  {
    name: 'pglite',
    skip: false,
    async make() {
      const { root, target } = await freshPgliteStore('winpv-results-');
      return { target, cleanup: async () => rmSync(root, { recursive: true, force: true }) };
    },
  },
  {
    name: 'postgres',
    skip: pgUrl || process.env.CI ? false : 'PostgreSQL not running: install the Debian package postgresql and export WINPV_TEST_PG_URL (.ci/run does both)',
    async make() {
      if (!pgUrl) throw new Error('WINPV_TEST_PG_URL is not set: .ci/run must start PostgreSQL (Debian package postgresql) and export it');
      const { Client } = await import('pg');
      const schema = `t_${randomBytes(6).toString('hex')}`;
      const admin = new Client({ connectionString: pgUrl, connectionTimeoutMillis: 10_000 });
      await admin.connect();
      await admin.query(`CREATE SCHEMA ${schema}`);
      await admin.end();
      const sep = pgUrl.includes('?') ? '&' : '?';
      return {
        target: `${pgUrl}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
        async cleanup() {
          const c = new Client({ connectionString: pgUrl, connectionTimeoutMillis: 10_000 });
          await c.connect();
          await c.query(`DROP SCHEMA ${schema} CASCADE`);
          await c.end();
        },
      };
    },
  },
];
