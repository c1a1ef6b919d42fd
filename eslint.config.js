// @ts-check
import tseslint from 'typescript-eslint';

/** What src-main/core may not import: the outside world goes through ports (src-main/core/ports.ts). */
const CORE_FORBIDDEN = [
  { group: ['electron', 'electron/*'], message: 'core is pure: Electron belongs in src-main/electron' },
  { group: ['node:*'], message: 'core is pure: use a port (src-main/core/ports.ts) for the outside world' },
  {
    group: ['fs', 'fs/*', 'path', 'os', 'child_process', 'net', 'http', 'https', 'crypto', 'events', 'stream', 'worker_threads', 'process', 'timers', 'util'],
    message: 'core is pure: Node built-ins belong in src-main/adapters',
  },
  { group: ['better-sqlite3', 'drizzle-orm', 'drizzle-orm/*'], message: 'core is pure: the database is behind TaskStore' },
  { group: ['systeminformation', 'ws', 'execa'], message: 'core is pure: telemetry and processes are behind ports' },
  { group: ['**/adapters/**', '**/server/**', '**/api/**', '**/cli/**', '**/electron/**'], message: 'core does not depend on outer layers' },
];

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', 'drizzle/**', 'bench/results/**', 'resources/agents/**', 'test/fixtures/agents/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['src-main/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: CORE_FORBIDDEN }],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'core is pure: configuration comes in through the Manager' },
        { name: 'setTimeout', message: 'core uses the injected Clock' },
        { name: 'setInterval', message: 'core uses the injected Clock' },
        { name: 'require', message: 'core is pure' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'core uses the injected Clock' },
        { object: 'Math', property: 'random', message: 'core uses the injected Clock' },
      ],
    },
  },
  {
    // The headless entry and everything it reaches must never import electron.
    files: ['src-main/**/*.ts', 'contracts/**/*.ts'],
    ignores: ['src-main/electron/**', 'src-main/main.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['electron', 'electron/*', 'trpc-electron/*', '**/electron/**'], message: 'only src-main/electron and src-main/main.ts may import electron; the headless entry must run in plain Node' }] }],
    },
  },
  {
    files: ['src-main/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: CORE_FORBIDDEN }],
    },
  },
  {
    // electron-builder hooks are CommonJS.
    files: ['**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
