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

/** The ledger's pool is core's own: outside core, resources are read as the published ResourceView. */
const POOL_IS_CORES = {
  group: ['**/core/ledger/pool', '**/core/ledger/pool.js'],
  message: 'read manager.resources() (the ResourceView); only core builds a pool',
};

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
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['electron', 'electron/*', 'trpc-electron/*', '**/electron/**'],
              message: 'only src-main/electron and src-main/main.ts may import electron; the headless entry must run in plain Node',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src-main/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: CORE_FORBIDDEN }],
    },
  },
  {
    // Layering: the API uses core (through the Manager) and contracts, never adapters or the
    // composition root; its services are the ApiServices interface (api/services.ts).
    files: ['src-main/api/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/adapters/**'], message: 'the API never uses adapters: add what it needs to ApiServices (api/services.ts)' },
            {
              group: ['**/app', '**/app.js', '**/server/**', '**/cli/**', '**/electron/**', 'electron', 'electron/*'],
              message: 'the API depends on core and contracts only',
            },
            POOL_IS_CORES,
          ],
        },
      ],
    },
  },
  {
    // Outside core, nothing builds a pool (the lint keeps "free" to one definition, the ledger's).
    files: ['src-main/**/*.ts'],
    ignores: ['src-main/core/**', 'src-main/api/**', 'src-main/electron/**', 'src-main/main.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            POOL_IS_CORES,
            {
              group: ['electron', 'electron/*', 'trpc-electron/*', '**/electron/**'],
              message: 'only src-main/electron and src-main/main.ts may import electron; the headless entry must run in plain Node',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src-main/electron/**/*.ts', 'src-main/main.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [POOL_IS_CORES] }] },
  },
  {
    // The store is reached through the Manager's queries (manager.queries), never directly.
    files: ['src-main/api/**/*.ts', 'src-main/server/**/*.ts', 'src-main/electron/**/*.ts', 'src-main/cli/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: "MemberExpression[property.name='store']", message: 'read tasks through manager.queries; change them through the Manager' },
      ],
    },
  },
  {
    // The renderer imports values from contracts only (types from anywhere: the router's type).
    files: ['src-renderer/**/*.ts', 'src-renderer/**/*.tsx'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/src-main/**'], allowTypeImports: true, message: 'the renderer imports values from contracts/ only' }] },
      ],
    },
  },
  {
    // A promise nobody awaits hides its failure: every one is awaited, returned, or marked `void`.
    files: ['src-main/**/*.ts', 'src-renderer/**/*.ts', 'src-renderer/**/*.tsx', 'src-preload/**/*.ts'],
    languageOptions: { parserOptions: { project: ['./tsconfig.json', './tsconfig.web.json'], tsconfigRootDir: import.meta.dirname } },
    rules: { '@typescript-eslint/no-floating-promises': 'error' },
  },
  {
    // Soft size rule: a core file past about 300 lines is doing two jobs.
    files: ['src-main/core/**/*.ts'],
    rules: { 'max-lines': ['warn', { max: 300, skipBlankLines: true, skipComments: true }] },
  },
  {
    // electron-builder hooks are CommonJS.
    files: ['**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
