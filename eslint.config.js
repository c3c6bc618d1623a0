// ESLint: correctness rules only. Formatting is Prettier's (`npm run format:check`), so no stylistic rule is on.
// TypeScript files get typescript-eslint's type-checked recommendations: the rules that matter most here are
// no-floating-promises and no-misused-promises (a socket send or a store write whose promise nobody awaits).
import js from '@eslint/js'
import { defineConfig, globalIgnores } from 'eslint/config'
import globals from 'globals'
import tseslint from 'typescript-eslint'

export default defineConfig(
  globalIgnores(['dist/', 'coverage/', '.tap/', '.node24/']),
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // tap runs the subtests that `t.test()` queues in order and awaits them itself; awaiting each is noise.
          allowForKnownSafeCalls: [{ from: 'package', package: '@tapjs/test', name: ['test', 'todo', 'skip', 'only'] }],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // Fastify plugins, hooks and handlers are async by contract, with or without an await inside.
      '@typescript-eslint/require-await': 'off',
      // ws hands `message` handlers a Buffer under its default binaryType, which no socket here changes; its
      // RawData type also names ArrayBuffer (binaryType 'arraybuffer'), whose toString() would say [object ArrayBuffer].
      '@typescript-eslint/no-base-to-string': [
        'error',
        { ignoredTypeNames: ['Error', 'RegExp', 'URL', 'URLSearchParams', 'ArrayBuffer'] },
      ],
      // `_` marks a parameter or binding kept for its position; `{ omitted, ...rest }` drops a field.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // The server's own scripts and this file run on Node.
    files: ['**/*.js', '**/*.mjs'],
    ignores: ['demo/**'],
    languageOptions: { globals: globals.node },
  },
  {
    // The demo page runs in the browser, as an ES module.
    files: ['demo/**/*.js'],
    languageOptions: { globals: globals.browser },
  },
)
