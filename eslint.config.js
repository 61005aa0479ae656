// ESLint: type-aware rules that the formatter cannot check (floating promises, type-only imports).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // bench/scratch: throwaway measurement scripts, ignored by git too
  {
    ignores: ['**/node_modules/**', '**/dist/**', 'data/**', 'apps/web/**', 'bench/scratch/**', '**/*.js', '**/*.mjs'],
  },
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
